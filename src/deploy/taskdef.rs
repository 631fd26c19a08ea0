//! The typed form of what geno sends ECS — a task definition and a service
//! update — read strictly from `render::ecs` output, and the comparison of a
//! rendered task definition with a live one.
//!
//! Strict (`deny_unknown_fields`) on purpose: a field `geno render` prints but
//! the ECS adapter does not send would make `geno diff` report a change that
//! promote can never apply. A unit test parses every rendering.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::change::{Change, diff_values};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskDefinition {
    pub family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    pub network_mode: String,
    pub requires_compatibilities: Vec<String>,
    pub cpu: String,
    pub memory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<RuntimePlatform>,
    pub container_definitions: Vec<ContainerDefinition>,
    /// Volumes its containers mount (ephemeral or EFS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    /// `None`: the task's own (ephemeral) storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efs_volume_configuration: Option<EfsVolumeConfiguration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EfsVolumeConfiguration {
    pub file_system_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// `ENABLED`: EFS traffic encrypted in transit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_encryption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_config: Option<EfsAuthorization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EfsAuthorization {
    pub access_point_id: String,
    /// `ENABLED`: mounted with the task role.
    pub iam: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountPoint {
    pub source_volume: String,
    pub container_path: String,
    pub read_only: bool,
}

impl TaskDefinition {
    /// The essential container: the one geno renders for a service
    /// (sidecars come after it); the first when none says so.
    pub fn main_container(&self) -> Option<&ContainerDefinition> {
        self.container_definitions
            .iter()
            .find(|c| c.essential)
            .or(self.container_definitions.first())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimePlatform {
    pub cpu_architecture: String,
    pub operating_system_family: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    pub essential: bool,
    /// Soft memory limit (MiB); rendered for one-off tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i32>,
    /// A sidecar's own CPU units and hard memory limit (MiB), within the
    /// task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// The containers of the task this one waits for, and for what.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ContainerDependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub environment: Vec<NameValue>,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_configuration: Option<LogConfiguration>,
    /// Seconds between SIGTERM and SIGKILL (ECS: 30 when unset, at most
    /// 120 on Fargate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPoint>,
}

/// `dependsOn` of a container definition: `START`, `COMPLETE`, `SUCCESS`
/// or `HEALTHY` of another container of the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerDependency {
    pub container_name: String,
    pub condition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    /// What Service Connect calls the port (`SERVICE-PORT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub container_port: i32,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    pub command: Vec<String>,
    pub interval: i32,
    pub timeout: i32,
    pub retries: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfiguration {
    pub log_driver: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// The `UpdateService` input `geno render` prints for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceUpdate {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<DeploymentConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i32>,
    /// New tasks even on the same task definition (`geno restart --env`):
    /// they read secrets and parameters again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_new_deployment: Option<bool>,
    /// How the service reaches the others and is reached (Service Connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect_configuration: Option<ServiceConnect>,
    /// Where its tasks run, when stack.yaml says (`ecs.network`); by tag,
    /// filled in from EC2 before it is compared or sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,
    /// FARGATE / FARGATE_SPOT shares, when stack.yaml says (`ecs.capacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_provider_strategy: Option<Vec<CapacityProviderItem>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkConfiguration {
    pub awsvpc_configuration: AwsVpc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsVpc {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CapacityProviderItem {
    pub capacity_provider: String,
    pub weight: i32,
    pub base: i32,
}

/// A capacity provider strategy as one line (`FARGATE_SPOT 3, FARGATE 1
/// base 1`); an empty one is the launch type.
pub fn strategy_text(items: &[CapacityProviderItem]) -> String {
    if items.is_empty() {
        return "launch type FARGATE".into();
    }
    items
        .iter()
        .map(|i| match i.base {
            0 => format!("{} {}", i.capacity_provider, i.weight),
            b => format!("{} {} base {b}", i.capacity_provider, i.weight),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stack.yaml's choice of subnets and security groups for a service, as
/// the rendering carries it (`network`): IDs, or tags to find them by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    pub public_ip: bool,
    pub subnets: Selector,
    pub security_groups: Selector,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Selector {
    Ids(Vec<String>),
    /// (key, value) pairs, all of which a resource must carry.
    Tags(Vec<(String, String)>),
}

impl Selector {
    /// How a problem names it: `subnet-1, subnet-2` or `tags Name=web-*`.
    pub fn describe(&self) -> String {
        match self {
            Selector::Ids(ids) => ids.join(", "),
            Selector::Tags(tags) => format!(
                "tags {}",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A service's Service Connect configuration, as UpdateService takes it
/// and a deployment reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceConnect {
    pub enabled: bool,
    /// The Cloud Map namespace, by name or ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ports it answers on, each at one alias; none for a client only.
    #[serde(default)]
    pub services: Vec<ServiceConnectService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceConnectService {
    /// A port mapping's name in the task definition.
    pub port_name: String,
    #[serde(default)]
    pub client_aliases: Vec<ClientAlias>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientAlias {
    pub port: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
}

impl ServiceUpdate {
    /// Only the task definition changes: what a rollback sends, so it
    /// touches nothing else an operator may have set since.
    pub fn task_definition_only(cluster: &str, service: &str, task_definition: &str) -> Self {
        ServiceUpdate {
            cluster: cluster.into(),
            service: service.into(),
            task_definition: task_definition.into(),
            desired_count: None,
            deployment_configuration: None,
            health_check_grace_period_seconds: None,
            force_new_deployment: None,
            service_connect_configuration: None,
            network_configuration: None,
            capacity_provider_strategy: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentConfiguration {
    pub deployment_circuit_breaker: CircuitBreaker,
    pub minimum_healthy_percent: i32,
    pub maximum_percent: i32,
    /// The CloudWatch alarms that roll a deployment back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<DeploymentAlarms>,
    /// `BLUE_GREEN`, `CANARY` or `LINEAR`; unset, `ROLLING`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// How long ECS keeps the old tasks once all production traffic is on
    /// the new ones (not for `ROLLING`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time_in_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_configuration: Option<CanaryConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_configuration: Option<LinearConfiguration>,
}

impl DeploymentConfiguration {
    /// ECS's name of its strategy (`ROLLING` when unset).
    pub fn strategy(&self) -> &str {
        self.strategy.as_deref().unwrap_or("ROLLING")
    }

    /// Whether ECS shifts traffic between two target groups itself.
    pub fn shifts_traffic(&self) -> bool {
        self.strategy() != "ROLLING"
    }
}

/// A share of traffic in percent, as ECS takes it (0.1 steps); never NaN,
/// so it compares as a number should.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Percent(pub f64);

impl Eq for Percent {}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryConfiguration {
    pub canary_percent: Percent,
    pub canary_bake_time_in_minutes: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinearConfiguration {
    pub step_percent: Percent,
    pub step_bake_time_in_minutes: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentAlarms {
    pub alarm_names: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

/// The ALB target group of a service as stack.yaml defines it: what
/// promote's preflight compares with the live group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetGroup {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub target_type: String,
    pub health_check_protocol: String,
    pub health_check_path: String,
    pub health_check_port: String,
    pub health_check_interval_seconds: i32,
    pub health_check_timeout_seconds: i32,
    pub healthy_threshold_count: i32,
    pub unhealthy_threshold_count: i32,
    pub matcher: Matcher,
    pub deregistration_delay_seconds: i32,
    /// Where the service registers (not an attribute of the group).
    #[serde(skip_serializing)]
    pub container_name: String,
    #[serde(skip_serializing)]
    pub container_port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(rename = "HttpCode")]
    pub http_code: String,
}

/// How a live target group differs from stack.yaml, one line per field.
pub fn target_group_drift(live: &TargetGroup, wanted: &TargetGroup) -> Vec<String> {
    let live = serde_json::to_value(live).unwrap_or_default();
    let wanted = serde_json::to_value(wanted).unwrap_or_default();
    let mut out = Vec::new();
    diff_values("", Some(&live), Some(&wanted), &mut out);
    out.into_iter()
        .map(|c| {
            format!(
                "{} is {} (stack.yaml: {})",
                c.path,
                c.live.unwrap_or_else(|| "unset".into()),
                c.rendered.unwrap_or_else(|| "unset".into())
            )
        })
        .collect()
}

/// One app service of a rendering, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    /// The service's name in stack.yaml.
    pub name: String,
    /// Empty for an external image ECS pulls from where it came from.
    pub repository: String,
    /// What it runs as promote pins it: its build (`image` for the stack's
    /// one), or the key of its external image.
    pub build: String,
    /// The external image it runs, as stack.yaml names it.
    pub external: Option<String>,
    pub task_definition: TaskDefinition,
    pub update: ServiceUpdate,
    /// The ALB target groups routing to it, its own (`ecs.target_group`)
    /// first.
    pub target_groups: Vec<TargetGroup>,
    /// Where stack.yaml places its tasks, as written (`ecs.network`).
    pub placement: Option<Placement>,
    /// What its sidecars run, in the task definition's order.
    pub sidecars: Vec<SidecarImage>,
    /// How it scales itself, if it does.
    pub scaling: Option<super::scaling::Scaling>,
    /// Its CloudWatch alarms.
    pub alarms: Vec<super::scaling::Alarm>,
    /// `ecs.bake`, if set.
    pub bake: Option<std::time::Duration>,
}

impl ServicePlan {
    /// Whether ECS shifts its traffic between two target groups itself
    /// (blue/green, canary, linear).
    pub fn shifts_traffic(&self) -> bool {
        self.update
            .deployment_configuration
            .as_ref()
            .is_some_and(DeploymentConfiguration::shifts_traffic)
    }

    /// The alarms that roll a promotion of it back.
    pub fn rollback_alarms(&self) -> Vec<&super::scaling::Alarm> {
        let names = self
            .update
            .deployment_configuration
            .as_ref()
            .and_then(|d| d.alarms.as_ref())
            .map(|a| a.alarm_names.clone())
            .unwrap_or_default();
        self.alarms
            .iter()
            .filter(|a| names.contains(&a.alarm_name))
            .collect()
    }

    /// How long promote watches its rollback alarms once its rollout has
    /// completed: `ecs.bake`, or the longest time one of them takes to
    /// fire.
    pub fn bake(&self) -> std::time::Duration {
        if self.shifts_traffic() {
            // ECS bakes itself (`bakeTimeInMinutes`) before it calls the
            // rollout complete, and the watch runs until then.
            return std::time::Duration::ZERO;
        }
        self.bake.unwrap_or_else(|| {
            self.rollback_alarms()
                .iter()
                .map(|a| a.fires_after())
                .max()
                .unwrap_or_default()
        })
    }
}

/// The image of a sidecar, as promote pushes and pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarImage {
    /// Its container's name.
    pub name: String,
    /// Its build, or the key of its external image.
    pub build: String,
    /// Empty for an external image ECS pulls from where it came from.
    pub repository: String,
    pub external: Option<String>,
}

/// A job the services wait for, run once as a one-off task before they are
/// updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub name: String,
    /// The build whose image it runs, and the repository that image is
    /// pushed to for it (its first dependent's).
    pub build: String,
    pub repository: String,
    pub task_definition: TaskDefinition,
    /// The stack's services that wait for it.
    pub runs_before: Vec<String>,
    /// The ECS service whose network configuration the task uses.
    pub network_from: String,
}

/// A rendering, typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plans {
    pub services: Vec<ServicePlan>,
    pub jobs: Vec<JobPlan>,
    /// The ALB listeners stack.yaml routes through (none: it does not).
    pub listeners: Vec<super::listener::Listener>,
    /// The environment's CloudWatch dashboard, if it asks for one.
    pub dashboard: Option<super::scaling::Dashboard>,
}

impl Plans {
    /// Every task definition, services first.
    pub fn task_definitions(&self) -> impl Iterator<Item = &TaskDefinition> {
        self.services
            .iter()
            .map(|p| &p.task_definition)
            .chain(self.jobs.iter().map(|j| &j.task_definition))
    }

    /// Every awslogs group the task definitions write to, each once, in
    /// stack order.
    pub fn log_groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for td in self.task_definitions() {
            for c in &td.container_definitions {
                if let Some(g) = c
                    .log_configuration
                    .as_ref()
                    .and_then(|l| l.options.get("awslogs-group"))
                    && !out.contains(g)
                {
                    out.push(g.clone());
                }
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
#[error("rendering of service `{service}` does not match what geno sends ECS: {source}")]
pub struct PlanError {
    pub service: String,
    #[source]
    pub source: serde_json::Error,
}

/// What a rendered service or job runs, as promote pins it: its build
/// (named when the stack has `builds:`, else the stack's one) or the key of
/// its external image.
fn build_in(entry: &Value) -> String {
    if let Some(reference) = entry["externalImage"].as_str() {
        return crate::stack::external_key(reference);
    }
    entry["build"]
        .as_str()
        .unwrap_or(crate::stack::DEFAULT_BUILD)
        .to_string()
}

impl Plans {
    /// Every key the environment's services and jobs run, each once,
    /// services first.
    pub fn keys(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self
            .services
            .iter()
            .flat_map(|s| std::iter::once(&s.build).chain(s.sidecars.iter().map(|c| &c.build)))
            .chain(self.jobs.iter().map(|j| &j.build));
        for k in all {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }

    /// External images ECS pulls from where they came from: (key, reference).
    pub fn from_origin(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let all = self.services.iter().flat_map(|s| {
            std::iter::once((&s.build, &s.repository, &s.external)).chain(
                s.sidecars
                    .iter()
                    .map(|c| (&c.build, &c.repository, &c.external)),
            )
        });
        for (build, repository, external) in all {
            if let Some(reference) = external
                && repository.is_empty()
                && !out.iter().any(|(k, _)| k == build)
            {
                out.push((build.clone(), reference.clone()));
            }
        }
        out
    }

    /// Where each image must be pushed: (key, repository), each pair
    /// once, services first. An external image without a repository is
    /// pulled from where it came from: not here.
    pub fn pushes(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let pairs = self
            .services
            .iter()
            .flat_map(|s| {
                std::iter::once((&s.build, &s.repository))
                    .chain(s.sidecars.iter().map(|c| (&c.build, &c.repository)))
            })
            .chain(self.jobs.iter().map(|j| (&j.build, &j.repository)));
        for (b, r) in pairs {
            if !r.is_empty() && !out.iter().any(|(ob, or)| ob == b && or == r) {
                out.push((b.clone(), r.clone()));
            }
        }
        out
    }
}

/// The app services and jobs of a `render::ecs::render` result, in stack order.
pub fn plans(rendering: &Value) -> Result<Plans, PlanError> {
    let mut out = Plans::default();
    let services = rendering["services"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, entry) in services {
        let err = |source| PlanError {
            service: name.clone(),
            source,
        };
        out.services.push(ServicePlan {
            repository: entry["repository"].as_str().unwrap_or_default().to_string(),
            build: build_in(&entry),
            external: entry["externalImage"].as_str().map(str::to_string),
            task_definition: serde_json::from_value(entry["taskDefinition"].clone())
                .map_err(err)?,
            update: serde_json::from_value(entry["service"].clone()).map_err(err)?,
            target_groups: match entry.get("targetGroups") {
                Some(tg) => serde_json::from_value(tg.clone()).map_err(err)?,
                None => Vec::new(),
            },
            placement: match entry.get("placement") {
                Some(p) => Some(serde_json::from_value(p.clone()).map_err(err)?),
                None => None,
            },
            sidecars: entry["sidecars"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| SidecarImage {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    build: build_in(c),
                    repository: c["repository"].as_str().unwrap_or_default().to_string(),
                    external: c["externalImage"].as_str().map(str::to_string),
                })
                .collect(),
            scaling: match entry.get("scaling") {
                Some(v) => Some(serde_json::from_value(v.clone()).map_err(err)?),
                None => None,
            },
            alarms: match entry.get("alarms") {
                Some(v) => serde_json::from_value(v.clone()).map_err(err)?,
                None => Vec::new(),
            },
            bake: entry["bakeSeconds"]
                .as_u64()
                .map(std::time::Duration::from_secs),
            name,
        });
    }
    if let Some(listeners) = rendering.get("listeners") {
        out.listeners = serde_json::from_value(listeners.clone()).map_err(|source| PlanError {
            service: "load balancer".into(),
            source,
        })?;
    }
    if let Some(d) = rendering.get("dashboard") {
        out.dashboard = Some(super::scaling::Dashboard {
            name: d["name"].as_str().unwrap_or_default().to_string(),
            body: d["body"].clone(),
        });
    }
    let jobs = rendering["jobs"].as_object().cloned().unwrap_or_default();
    for (name, entry) in jobs {
        let task_definition =
            serde_json::from_value(entry["taskDefinition"].clone()).map_err(|source| {
                PlanError {
                    service: name.clone(),
                    source,
                }
            })?;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let runs_before = strings(&entry["runsBefore"]);
        // Its image goes to the repository of the first service it runs
        // before, whose task definition's image it names.
        let repository = out
            .services
            .iter()
            .find(|s| runs_before.first() == Some(&s.name))
            .map(|s| s.repository.clone())
            .unwrap_or_default();
        out.jobs.push(JobPlan {
            build: build_in(&entry),
            repository,
            task_definition,
            runs_before,
            network_from: entry["networkFrom"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name,
        });
    }
    Ok(out)
}

/// What ECS waits between SIGTERM and SIGKILL when a task definition
/// says nothing.
pub const ECS_STOP_TIMEOUT: i32 = 30;

/// Both sides in the form they are compared in: defaults ECS fills in on
/// read (a start period of 0) dropped, and those it applies unsaid (a stop
/// timeout of 30 s) said, so only real differences remain.
pub fn normalized(td: &TaskDefinition) -> TaskDefinition {
    let mut td = td.clone();
    for c in &mut td.container_definitions {
        c.stop_timeout.get_or_insert(ECS_STOP_TIMEOUT);
        if let Some(h) = &mut c.health_check
            && h.start_period == Some(0)
        {
            h.start_period = None;
        }
    }
    td
}

/// What registering `rendered` would change relative to `live`.
pub fn diff(live: &TaskDefinition, rendered: &TaskDefinition) -> Vec<Change> {
    let live = serde_json::to_value(normalized(live)).unwrap_or_default();
    let rendered = serde_json::to_value(normalized(rendered)).unwrap_or_default();
    let mut out = Vec::new();
    diff_values("", Some(&live), Some(&rendered), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::ecs::{ImageChoice, render};
    use crate::stack::{LoadOptions, load};

    fn rendering(env: &str) -> Value {
        let opts = LoadOptions::new(env);
        let loaded = load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stack.yaml"),
            &opts,
        )
        .unwrap();
        let d = format!("sha256:{}", "b".repeat(64));
        render(&loaded.stack, env, &ImageChoice::Digest(d)).unwrap()
    }

    #[test]
    fn every_rendering_is_what_the_adapter_sends() {
        for env in ["demo", "dev", "test", "prod"] {
            let plans = plans(&rendering(env)).unwrap();
            let names: Vec<&str> = plans.services.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["api", "celery", "image-gen"], "{env}");
            let jobs: Vec<(&str, Vec<String>, &str)> = plans
                .jobs
                .iter()
                .map(|j| {
                    (
                        j.name.as_str(),
                        j.runs_before.clone(),
                        j.network_from.as_str(),
                    )
                })
                .collect();
            let api = format!("genonaut-api-{env}");
            assert_eq!(
                jobs,
                [(
                    "migrate",
                    vec!["api".to_string(), "celery".to_string()],
                    api.as_str()
                )]
            );
            // Typed and back: nothing render prints is lost on the way.
            let r = rendering(env);
            for j in &plans.jobs {
                assert_eq!(
                    serde_json::to_value(&j.task_definition).unwrap(),
                    r["jobs"][&j.name]["taskDefinition"]
                );
            }
            for p in &plans.services {
                for (i, tg) in p.target_groups.iter().enumerate() {
                    let mut want = r["services"][&p.name]["targetGroups"][i].clone();
                    let fields = want.as_object_mut().unwrap();
                    fields.remove("containerName");
                    fields.remove("containerPort");
                    assert_eq!(serde_json::to_value(tg).unwrap(), want);
                }
                assert_eq!(
                    serde_json::to_value(&p.task_definition).unwrap(),
                    r["services"][&p.name]["taskDefinition"]
                );
                assert_eq!(
                    serde_json::to_value(&p.update).unwrap(),
                    r["services"][&p.name]["service"]
                );
            }
        }
    }

    #[test]
    fn target_group_drift_names_each_field() {
        let plans = plans(&rendering("demo")).unwrap().services;
        let wanted = plans[0].target_groups[0].clone();
        assert_eq!(wanted.name, "genonaut-api-demo");
        assert!(target_group_drift(&wanted, &wanted).is_empty());
        let mut live = wanted.clone();
        live.health_check_interval_seconds = 30;
        live.matcher.http_code = "200".into();
        live.container_port = 1; // not a group attribute
        assert_eq!(
            target_group_drift(&live, &wanted),
            [
                "healthCheckIntervalSeconds is 30 (stack.yaml: 15)",
                "matcher.HttpCode is 200 (stack.yaml: 200-299)"
            ]
        );
        assert!(
            plans[1].target_groups.is_empty(),
            "celery serves no traffic"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_service() {
        let mut r = rendering("demo");
        r["services"]["api"]["taskDefinition"]["pidMode"] = "host".into();
        let err = plans(&r).unwrap_err();
        assert_eq!(err.service, "api");
        assert!(err.to_string().contains("unknown field `pidMode`"), "{err}");
    }

    #[test]
    fn diff_names_each_changed_field() {
        let plans = plans(&rendering("demo")).unwrap().services;
        let live = plans[0].task_definition.clone();
        assert!(diff(&live, &live).is_empty());

        let mut rendered = live.clone();
        let c = &mut rendered.container_definitions[0];
        c.image = "r/genonaut-api-demo@sha256:new".into();
        c.environment.retain(|e| e.name != "LOG_LEVEL");
        c.environment.push(NameValue {
            name: "FEATURE".into(),
            value: "on".into(),
        });
        c.health_check.as_mut().unwrap().retries = 7;
        rendered.cpu = "1024".into();
        let mut live = live;
        // ECS reads back an unset start period as 0: not a change.
        live.container_definitions[0]
            .health_check
            .as_mut()
            .unwrap()
            .start_period
            .get_or_insert(0);
        let changes: Vec<String> = diff(&live, &rendered)
            .iter()
            .map(|c| c.to_string())
            .collect();
        let old_image = &live.container_definitions[0].image;
        assert_eq!(
            changes,
            [
                "~ cpu: 512 → 1024".to_string(),
                format!(
                    "~ containerDefinitions[api].image: {old_image} → r/genonaut-api-demo@sha256:new"
                ),
                "- containerDefinitions[api].environment[LOG_LEVEL]: INFO".into(),
                "+ containerDefinitions[api].environment[FEATURE]: on".into(),
                "~ containerDefinitions[api].healthCheck.retries: 3 → 7".into(),
            ]
        );
    }
}
