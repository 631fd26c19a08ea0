//! AWS on paper: a `Live` whose answers are tables a test fills in, for
//! unit tests of what preflight, diff and promote decide from what they
//! read; and a small deployed stack.yaml to read it against.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::aws::{AwsError, Identity, Live};
use crate::context::{Context, Settings};
use crate::deploy::connect::Namespace;
use crate::deploy::listener::{Found, Listener};
use crate::deploy::live::TargetHealth;
use crate::deploy::rollout::{RolloutState, ServiceStatus, test_deployment};
use crate::deploy::taskdef::{Plans, Selector, TargetGroup, TaskDefinition};
use crate::environment::Environment;
use crate::render::ecs::ImageChoice;
use crate::shell::{Shell, Verbosity};

/// What exists, by name.
#[derive(Default)]
pub struct Paper {
    pub account: String,
    /// `None`: the cluster does not exist.
    pub cluster: Option<String>,
    pub services: Vec<ServiceStatus>,
    /// ARN → task definition; a family's latest is its highest revision.
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    pub repositories: Vec<String>,
    pub log_groups: Vec<String>,
    pub parameters: Vec<String>,
    pub secrets: Vec<String>,
    pub roles: Vec<String>,
    pub target_groups: Vec<TargetGroup>,
    /// `None`: no ALB; else its listeners (none on a port: not there).
    pub listeners: Option<Vec<Listener>>,
    /// Target group name → the health of its targets.
    pub target_health: BTreeMap<String, Vec<TargetHealth>>,
    /// The Cloud Map namespaces.
    pub namespaces: Vec<Namespace>,
    /// Subnets and security groups: ID and tags.
    pub subnets: Vec<(String, Vec<(String, String)>)>,
    pub security_groups: Vec<(String, Vec<(String, String)>)>,
    /// Role ARN → its policy documents (a role in `roles` without an
    /// entry has none).
    pub policies: BTreeMap<String, Vec<serde_json::Value>>,
    /// Scalable targets by resource ID.
    pub scaling: BTreeMap<String, crate::deploy::scaling::Scaling>,
    /// Scaling activities by resource ID, newest first.
    pub activities: BTreeMap<String, Vec<crate::deploy::scaling::Activity>>,
    /// Metric alarms (all geno's).
    pub alarms: Vec<crate::deploy::scaling::Alarm>,
    /// Alarm name → its state and why, for those not `OK`.
    pub alarm_states: BTreeMap<String, (String, String)>,
    /// CloudWatch dashboards.
    pub dashboards: Vec<crate::deploy::scaling::Dashboard>,
    /// Metric name and statistic → its latest value.
    pub metrics: BTreeMap<(String, String), f64>,
    /// Target group name → its ARN and its load balancer's.
    pub groups: BTreeMap<String, (String, Option<String>)>,
    /// Every call, in order, as `Operation name`.
    pub calls: Mutex<Vec<String>>,
}

impl Paper {
    /// How many calls began with `operation`.
    pub fn calls_to(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with(operation))
            .count()
    }

    fn called(&self, what: String) {
        self.calls.lock().unwrap().push(what);
    }

    /// What EC2's filters pick: by ID, or carrying every tag (`*` in a
    /// value matches anything).
    fn chosen(all: &[(String, Vec<(String, String)>)], chosen: &Selector) -> Vec<String> {
        let glob = |pattern: &str, value: &str| match pattern.split_once('*') {
            None => pattern == value,
            Some((head, tail)) => {
                value.starts_with(head)
                    && value[head.len()..].ends_with(tail.trim_start_matches('*'))
            }
        };
        all.iter()
            .filter(|(id, tags)| match chosen {
                Selector::Ids(ids) => ids.contains(id),
                Selector::Tags(wanted) => wanted
                    .iter()
                    .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && glob(v, tv))),
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn missing(present: &[String], asked: &[String]) -> Vec<String> {
        asked
            .iter()
            .filter(|a| !present.contains(a))
            .cloned()
            .collect()
    }
}

impl Live for Paper {
    async fn identity(&self) -> Result<Identity, AwsError> {
        Ok(Identity {
            account: self.account.clone(),
            arn: format!("arn:aws:iam::{}:user/tester", self.account),
        })
    }

    async fn cluster_status(&self, cluster: &str) -> Result<Option<String>, AwsError> {
        self.called(format!("DescribeClusters {cluster}"));
        Ok(self.cluster.clone())
    }

    async fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<ServiceStatus>, Vec<String>), AwsError> {
        self.called(format!("DescribeServices {cluster}"));
        let found: Vec<ServiceStatus> = self
            .services
            .iter()
            .filter(|s| names.contains(&s.name))
            .cloned()
            .collect();
        let missing = names
            .iter()
            .filter(|n| !found.iter().any(|s| &s.name == *n))
            .cloned()
            .collect();
        Ok((found, missing))
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.called(format!("DescribeTaskDefinition {arn}"));
        self.task_definitions
            .get(arn)
            .cloned()
            .ok_or_else(|| AwsError::Other {
                operation: "DescribeTaskDefinition",
                reason: format!("no task definition {arn}"),
            })
    }

    async fn latest_task_definition(
        &self,
        family: &str,
    ) -> Result<Option<(String, TaskDefinition)>, AwsError> {
        self.called(format!("DescribeTaskDefinition {family}"));
        Ok(self
            .task_definitions
            .iter()
            .filter(|(_, td)| td.family == family)
            .max_by_key(|(arn, _)| arn.rsplit(':').next().and_then(|r| r.parse::<u32>().ok()))
            .map(|(arn, td)| (arn.clone(), td.clone())))
    }

    async fn missing_repositories(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        Ok(Paper::missing(&self.repositories, names))
    }

    async fn missing_parameters(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        Ok(Paper::missing(&self.parameters, names))
    }

    async fn missing_log_groups(&self, names: &[String]) -> Result<Vec<String>, AwsError> {
        self.called(format!("DescribeLogGroups {}", names.join(" ")));
        Ok(Paper::missing(&self.log_groups, names))
    }

    async fn missing_secrets(&self, ids: &[String]) -> Result<Vec<String>, AwsError> {
        Ok(Paper::missing(&self.secrets, ids))
    }

    async fn missing_roles(&self, arns: &[String]) -> Result<Vec<String>, AwsError> {
        Ok(Paper::missing(&self.roles, arns))
    }

    async fn target_health(&self, name: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        Ok(self.target_health.get(name).cloned())
    }

    async fn target_group(
        &self,
        name: &str,
        _container: (&str, i32),
    ) -> Result<Option<TargetGroup>, AwsError> {
        Ok(self.target_groups.iter().find(|g| g.name == name).cloned())
    }

    async fn role_policies(&self, arn: &str) -> Result<Option<Vec<serde_json::Value>>, AwsError> {
        self.called(format!("GetRolePolicies {arn}"));
        if !self.roles.iter().any(|r| r == arn) {
            return Ok(None);
        }
        Ok(Some(self.policies.get(arn).cloned().unwrap_or_default()))
    }
    async fn subnets(&self, chosen: &Selector) -> Result<Vec<String>, AwsError> {
        self.called(format!("DescribeSubnets {}", chosen.describe()));
        Ok(Paper::chosen(&self.subnets, chosen))
    }

    async fn security_groups(&self, chosen: &Selector) -> Result<Vec<String>, AwsError> {
        self.called(format!("DescribeSecurityGroups {}", chosen.describe()));
        Ok(Paper::chosen(&self.security_groups, chosen))
    }

    async fn scaling(
        &self,
        resource_id: &str,
    ) -> Result<Option<crate::deploy::scaling::Scaling>, AwsError> {
        self.called(format!("DescribeScalableTargets {resource_id}"));
        Ok(self.scaling.get(resource_id).cloned())
    }
    async fn scaling_activities(
        &self,
        resource_id: &str,
        n: usize,
    ) -> Result<Vec<crate::deploy::scaling::Activity>, AwsError> {
        self.called(format!("DescribeScalingActivities {resource_id}"));
        let all = self
            .activities
            .get(resource_id)
            .cloned()
            .unwrap_or_default();
        Ok(all.into_iter().take(n).collect())
    }
    async fn managed_alarms(
        &self,
        prefix: &str,
        _managed_by: &str,
    ) -> Result<Vec<crate::deploy::scaling::Alarm>, AwsError> {
        self.called(format!("DescribeAlarms {prefix}"));
        Ok(self
            .alarms
            .iter()
            .filter(|a| a.alarm_name.starts_with(prefix))
            .cloned()
            .collect())
    }
    async fn group_and_balancer(
        &self,
        name: &str,
    ) -> Result<Option<(String, Option<String>)>, AwsError> {
        self.called(format!("DescribeTargetGroups {name}"));
        Ok(self.groups.get(name).cloned())
    }
    async fn dashboard(
        &self,
        name: &str,
    ) -> Result<Option<crate::deploy::scaling::Dashboard>, AwsError> {
        self.called(format!("GetDashboard {name}"));
        Ok(self.dashboards.iter().find(|d| d.name == name).cloned())
    }
    async fn metric_data(
        &self,
        queries: &[serde_json::Value],
        _start: i64,
        _end: i64,
    ) -> Result<Vec<(String, Option<f64>)>, AwsError> {
        self.called(format!("GetMetricData {}", queries.len()));
        Ok(queries
            .iter()
            .map(|q| {
                let stat = &q["MetricStat"];
                let key = (
                    stat["Metric"]["MetricName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    stat["Stat"].as_str().unwrap_or_default().to_string(),
                );
                (
                    q["Id"].as_str().unwrap_or_default().to_string(),
                    self.metrics.get(&key).copied(),
                )
            })
            .collect())
    }
    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::deploy::scaling::AlarmState>, AwsError> {
        self.called(format!("DescribeAlarms {}", names.join(" ")));
        Ok(names
            .iter()
            .filter(|n| self.alarms.iter().any(|a| &a.alarm_name == *n))
            .map(|n| {
                let (value, reason) = self
                    .alarm_states
                    .get(n)
                    .cloned()
                    .unwrap_or(("OK".into(), "Threshold Crossed: no datapoints".into()));
                crate::deploy::scaling::AlarmState {
                    name: n.clone(),
                    value,
                    reason,
                }
            })
            .collect())
    }
    async fn namespaces(&self) -> Result<Vec<Namespace>, AwsError> {
        self.called("ListNamespaces".to_string());
        Ok(self.namespaces.clone())
    }
    async fn listener(&self, load_balancer: &str, port: i32) -> Result<Found, AwsError> {
        self.called(format!("DescribeListeners {load_balancer}:{port}"));
        Ok(match &self.listeners {
            None => Found::NoLoadBalancer,
            Some(ls) => match ls.iter().find(|l| l.port == port) {
                None => Found::NoListener,
                Some(l) => Found::Listener(Box::new(l.clone())),
            },
        })
    }
}

/// A deployed stack: `web` behind target group `web`, `worker`, a job
/// `setup` both wait for, a secret in SSM and one in Secrets Manager;
/// environment `demo` on AWS.
pub const STACK: &str = r#"name: shop
image: { context: . }
x-app: &app
  secrets: [TOKEN, API_KEY]
  environment: { GREETING: hello }
services:
  setup:
    kind: job
    command: [python3, -c, "print('ok')"]
  web:
    <<: *app
    depends_on: { setup: completed_successfully }
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    ecs: { service: "shop-web-${GENO_ENV}", repository: shop-web, cpu: 256, memory: 512, desired_count: 2, target_group: web }
  worker:
    <<: *app
    depends_on: { setup: completed_successfully }
    command: [python3, -c, "import time; time.sleep(100000)"]
    iam:
      - { actions: ["s3:GetObject", "s3:PutObject"], resources: ["arn:aws:s3:::shop-${GENO_ENV}-uploads/*"] }
    ecs: { service: "shop-worker-${GENO_ENV}", repository: shop-worker, cpu: 256, memory: 512, desired_count: 1 }
secrets:
  TOKEN:
    local: { generate: { length: 16 } }
    aws: { ssm: "/shop/${GENO_ENV}/token" }
  API_KEY:
    local: { generate: { length: 16 } }
    aws: { secrets_manager: "shop-${GENO_ENV}-api-key" }
load_balancer:
  listeners:
    - port: 8080
      rules:
        - priority: 10
          conditions: { path: ["/*"] }
          action: { forward: web }
      default_action:
        fixed_response: { status: 404, content_type: text/plain, body: "no route" }
  target_groups:
    web:
      service: web
      port: 8000
      health_check: { path: /, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }
environments:
  local: {}
  demo:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: "shop-${GENO_ENV}"
      execution_role_arn: "arn:aws:iam::123456789012:role/shop-exec"
      task_role_arn: "arn:aws:iam::123456789012:role/shop-task"
      log_group: "/ecs/shop-${GENO_ENV}"
"#;

pub const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// `demo` of the paper stack, opened as a verb would (the context's shell
/// a buffer), and its plans pinned to `DIGEST`.
pub fn demo() -> (tempfile::TempDir, Context, Environment, Plans) {
    open(STACK, "demo")
}

/// Environment `env` of the stack `text`, as `demo` opens the paper stack.
pub fn open(text: &str, env: &str) -> (tempfile::TempDir, Context, Environment, Plans) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, text).unwrap();
    let ctx = Context::new(
        Settings {
            file,
            env_file: None,
            vars: BTreeMap::new(),
            verbose: 0,
            profiles: Vec::new(),
        },
        Shell::buffer(Verbosity::Normal, false),
    );
    let env = Environment::open(&ctx, env, None).unwrap_or_else(|e| panic!("{e:#}\n{text}"));
    let plans = env.plans(&ImageChoice::Digest(DIGEST.to_string())).unwrap();
    (dir, ctx, env, plans)
}

pub fn arn(family: &str, revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}")
}

/// Everything infra/ creates, and every service on its rendered task
/// definition at its rendered count: nothing to do.
pub fn in_order(plans: &Plans) -> Paper {
    let mut paper = Paper {
        account: "123456789012".into(),
        cluster: Some("ACTIVE".into()),
        repositories: vec!["shop-web".into(), "shop-worker".into()],
        log_groups: plans.log_groups(),
        parameters: vec!["/shop/demo/token".into()],
        secrets: vec!["shop-demo-api-key".into()],
        roles: vec![
            "arn:aws:iam::123456789012:role/shop-exec".into(),
            "arn:aws:iam::123456789012:role/shop-task".into(),
        ],
        listeners: Some(plans.listeners.clone()),
        dashboards: plans.dashboard.iter().cloned().collect(),
        ..Paper::default()
    };
    let everything = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }],
    });
    for role in &paper.roles {
        paper
            .policies
            .insert(role.clone(), vec![everything.clone()]);
    }
    for plan in &plans.services {
        let td = arn(&plan.task_definition.family, 3);
        // A service that scales itself runs within its range.
        let count = match &plan.scaling {
            Some(s) => crate::deploy::scaling::kept_count(1, s),
            None => plan.update.desired_count.unwrap_or(1),
        };
        if let Some(s) = &plan.scaling {
            paper.scaling.insert(s.resource_id.clone(), s.clone());
        }
        paper.alarms.extend(plan.alarms.clone());
        paper
            .task_definitions
            .insert(td.clone(), plan.task_definition.clone());
        paper.services.push(ServiceStatus {
            name: plan.update.service.clone(),
            status: "ACTIVE".into(),
            task_definition: td.clone(),
            desired: count,
            running: count,
            pending: 0,
            deployments: vec![test_deployment(
                "d",
                "PRIMARY",
                &td,
                RolloutState::Completed,
                1,
            )],
            events: Vec::new(),
            deployment: plan.update.deployment_configuration.clone(),
            grace_period_seconds: plan.update.health_check_grace_period_seconds,
            service_connect: plan.update.service_connect_configuration.clone(),
            target_groups: plan.target_groups.iter().map(|g| g.name.clone()).collect(),
            network: plan
                .update
                .network_configuration
                .as_ref()
                .map(|n| n.awsvpc_configuration.clone()),
            capacity: plan
                .update
                .capacity_provider_strategy
                .clone()
                .unwrap_or_default(),
            // infra/ gives a service ECS shifts traffic for its alternates.
            alternates: if plan.shifts_traffic() {
                plan.target_groups
                    .iter()
                    .map(|g| {
                        let alternate = crate::stack::strategy::alternate_name(&g.name);
                        (g.name.clone(), alternate)
                    })
                    .collect()
            } else {
                Vec::new()
            },
            production_rule: None,
        });
        for ns in plan
            .update
            .service_connect_configuration
            .iter()
            .filter_map(|sc| sc.namespace.clone())
        {
            if !paper.namespaces.iter().any(|n| n.name == ns) {
                paper.namespaces.push(Namespace {
                    arn: format!(
                        "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-{}",
                        paper.namespaces.len()
                    ),
                    name: ns,
                });
            }
        }
        paper.target_groups.extend(plan.target_groups.clone());
        if plan.shifts_traffic() {
            // infra/'s alternate beside each, checking health alike.
            paper
                .target_groups
                .extend(plan.target_groups.iter().map(|g| TargetGroup {
                    name: crate::stack::strategy::alternate_name(&g.name),
                    ..g.clone()
                }));
        }
    }
    paper
}
