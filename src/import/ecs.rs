//! Live ECS services turned into stack.yaml text: each service's task
//! definition (command, environment, secrets as `aws` sources, health
//! check, cpu and memory), its desired count and deployment settings, and
//! its target group's health check, with the image left to the build, so
//! that `geno render` for the same environment gives back what runs.
//! Names of a hand-made deployment's own (families, log groups and stream
//! prefixes, target groups) are kept as `ecs.family`, `ecs.log_group`…;
//! what geno's rendering cannot say the same way (a second container…) is
//! listed: the next promotion would change it. Built as the model's types (`Stack`)
//! and written by `stack::emit`, so a field the model gains is carried by
//! setting it here. Pure: the caller reads AWS.

use indexmap::IndexMap;

use crate::deploy::taskdef::{
    AwsVpc, CapacityProviderItem, ContainerDefinition, ECS_STOP_TIMEOUT,
    TargetGroup as LiveTargetGroup, TaskDefinition,
};
use crate::stack::emit::{self, Node};
use crate::stack::{
    Action, AlbHealthCheck, AwsEnvironment, AwsSecret, CircuitBreaker, Command, Condition,
    Conditions, DependsOn, Dur, EcsService, Environment, FixedResponse, HealthCheck, HealthTest,
    ImageBuild, Listener, LoadBalancer, LocalSecret, Platform, Port, Rule, Secret, Service,
    Sidecar, Stack, TargetGroup,
    model::{CapacityProvider, CapacityShare, Chosen, Network},
};

/// One live service, as ECS and the ALB describe it.
#[derive(Debug, Clone)]
pub struct LiveService {
    pub ecs_service: String,
    pub desired: i32,
    pub min_healthy_percent: Option<i32>,
    pub max_percent: Option<i32>,
    /// (enable, rollback)
    pub circuit_breaker: Option<(bool, bool)>,
    pub grace_period: Option<i32>,
    pub task_definition: TaskDefinition,
    pub target_group: Option<LiveTargetGroup>,
    /// Whether its PRIMARY deployment uses Service Connect.
    pub service_connect: bool,
    /// Where its tasks run.
    pub network: Option<AwsVpc>,
    /// Its capacity provider strategy; empty on a launch type.
    pub capacity: Vec<CapacityProviderItem>,
    /// Its deployment configuration as ECS reports it, for the strategy.
    pub deployment: Option<crate::deploy::taskdef::DeploymentConfiguration>,
}

/// A live deployment configuration's strategy as stack.yaml writes it, and
/// its bake (`bakeTimeInMinutes`) when the strategy has one.
pub fn strategy_of(
    dc: Option<&crate::deploy::taskdef::DeploymentConfiguration>,
) -> (crate::stack::strategy::Strategy, Option<Dur>) {
    use crate::stack::strategy::{Shift, Strategy};
    let Some(dc) = dc.filter(|d| d.shifts_traffic()) else {
        return (Strategy::Rolling, None);
    };
    let minutes = |m: i32| Dur::secs(m.max(0) as u64 * 60);
    let strategy = match (
        dc.strategy(),
        &dc.canary_configuration,
        &dc.linear_configuration,
    ) {
        ("CANARY", Some(c), _) => Strategy::Canary(Shift {
            percent: c.canary_percent.0,
            bake: minutes(c.canary_bake_time_in_minutes),
        }),
        ("LINEAR", _, Some(l)) => Strategy::Linear(Shift {
            percent: l.step_percent.0,
            bake: minutes(l.step_bake_time_in_minutes),
        }),
        _ => Strategy::BlueGreen,
    };
    (strategy, dc.bake_time_in_minutes.map(minutes))
}

/// An environment's services and where they run.
#[derive(Debug, Clone)]
pub struct LiveEnvironment {
    pub env: String,
    pub region: String,
    pub account_id: String,
    pub cluster: String,
    pub services: Vec<LiveService>,
}

/// Something live that stack.yaml cannot say the way it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The ECS service or target group it is about.
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    pub stack_name: String,
    pub notes: Vec<Note>,
}

/// Converts `live`; `stack` names the stack when the families do not.
pub fn convert(live: &LiveEnvironment, stack: Option<&str>) -> Converted {
    let stack_name = stack.map(str::to_string).unwrap_or_else(|| name_of(live));
    let mut cx = Importing {
        env: &live.env,
        stack: &stack_name,
        notes: Vec::new(),
        roles: None,
        log_group: None,
        groups: Vec::new(),
        platform: None,
    };
    let secrets = cx.secrets(live);
    let mut services = IndexMap::new();
    for s in &live.services {
        if let Some((name, service)) = cx.service(s) {
            services.insert(name, service);
        }
    }
    let model = Stack {
        name: stack_name.clone(),
        image: Some(ImageBuild {
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            args: IndexMap::new(),
            target: None,
            // X86_64 is what geno renders when nothing is said.
            platform: cx.platform.filter(|p| *p != Platform::Amd64),
        }),
        builds: IndexMap::new(),
        volumes: IndexMap::new(),
        secrets,
        services,
        load_balancer: cx.load_balancer(),
        environments: cx.environments(live),
        smoke: Vec::new(),
    };
    let text = emit::write(
        &[
            format!(
                "Read from the ECS services of `{}` (cluster {}) by `geno init --from-ecs`.",
                live.env, live.cluster
            ),
            "The image is the build's: the next `geno promote` pins its digest. `# geno:` lines mark choices.".into(),
        ],
        &cx.document(&model),
    );
    let notes = cx.notes;
    Converted {
        text,
        stack_name,
        notes,
    }
}

/// The stack's name: what the families say (`STACK-SERVICE-ENV`), or the
/// cluster's name without the environment.
fn name_of(live: &LiveEnvironment) -> String {
    let env = &live.env;
    live.services
        .iter()
        .find_map(|s| {
            let container = s.task_definition.main_container()?.name.clone();
            s.task_definition
                .family
                .strip_suffix(&format!("-{container}-{env}"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            live.cluster
                .strip_suffix(&format!("-{env}"))
                .unwrap_or(&live.cluster)
                .to_string()
        })
}

/// One conversion under way: what the services read so far have in
/// common, and what stack.yaml cannot say as it is.
struct Importing<'a> {
    env: &'a str,
    stack: &'a str,
    notes: Vec<Note>,
    /// The first service's (execution, task) roles.
    roles: Option<(Option<String>, Option<String>)>,
    log_group: Option<String>,
    /// The first service's platform: the image's.
    platform: Option<Platform>,
    /// (key, service, group, its name when not geno's) of each routed
    /// service.
    groups: Vec<(String, String, &'a LiveTargetGroup, Option<String>)>,
}

impl<'a> Importing<'a> {
    fn note(&mut self, what: &str, why: String) {
        self.notes.push(Note {
            what: what.to_string(),
            why,
        })
    }

    fn templated(&self, s: &str) -> String {
        template_env(s, self.env)
    }

    /// One declaration per secret name, its source from `valueFrom`.
    fn secrets(&mut self, live: &LiveEnvironment) -> IndexMap<String, Secret> {
        let mut out: IndexMap<String, Secret> = IndexMap::new();
        for s in &live.services {
            // Every container's: sidecars read secrets too.
            let all = s.task_definition.container_definitions.iter();
            for sec in all.flat_map(|c| &c.secrets) {
                let source = secret_source(&sec.value_from, self.env);
                match out.get(&sec.name).and_then(|d| d.aws.as_ref()) {
                    Some(known) if *known != source => {
                        let known = match known {
                            AwsSecret::Ssm(p) | AwsSecret::SecretsManager(p) => p.clone(),
                        };
                        self.note(
                            &s.ecs_service,
                            format!(
                                "secret {} reads {}, another service reads {known}; stack.yaml has one source per name",
                                sec.name, sec.value_from
                            ),
                        )
                    }
                    Some(_) => {}
                    None => {
                        out.insert(
                            sec.name.clone(),
                            Secret {
                                description: None,
                                local: LocalSecret::Generate { length: 32 },
                                aws: Some(source),
                            },
                        );
                    }
                }
            }
        }
        out
    }

    /// A service's entry, named by its container; `None` when its task
    /// definition has no container.
    fn service(&mut self, s: &'a LiveService) -> Option<(String, Service)> {
        let td = &s.task_definition;
        let Some(c) = td.main_container() else {
            self.note(
                &s.ecs_service,
                "its task definition has no container".into(),
            );
            return None;
        };
        let name = c.name.clone();
        self.task_definition_notes(s, &name);
        let health = c.health_check.as_ref().map(health_of);
        let service = Service {
            entrypoint: c.entry_point.clone().map(Command),
            command: c.command.clone().map(Command),
            ports: ports_of(c),
            environment: environment_of(c),
            secrets: c.secrets.iter().map(|s| s.name.clone()).collect(),
            healthcheck: health,
            // ECS waits 30 s when the task definition says nothing.
            stop_grace_period: Dur::secs(c.stop_timeout.unwrap_or(ECS_STOP_TIMEOUT) as u64),
            ecs: Some(self.ecs(s, &name, &c.image)),
            sidecars: td
                .container_definitions
                .iter()
                .filter(|o| o.name != name)
                .map(|o| (o.name.clone(), self.sidecar(s, o)))
                .collect(),
            ..Service::default()
        };
        Some((name, service))
    }

    /// Another container of the task, as a sidecar: the image it runs (a
    /// build of the stack's cannot be told from an ECR image), and the rest
    /// as the task definition says.
    fn sidecar(&mut self, s: &LiveService, c: &ContainerDefinition) -> Sidecar {
        // Only an ECR image has a repository promote pushes to.
        let host = c.image.split('/').next().unwrap_or_default();
        let ecr = host.contains(".dkr.ecr.") && host.ends_with(".amazonaws.com");
        let repository = repository_of(&c.image).filter(|_| ecr);
        if let Some(repo) = &repository {
            self.note(
                &s.ecs_service,
                format!(
                    "sidecar {} runs {} from ECR repository {repo}; to build it here, add its context to `builds:` and give it `build:` instead of `image:`",
                    c.name, c.image
                ),
            );
        }
        let mut depends_on = DependsOn::default();
        for d in &c.depends_on {
            let condition = match d.condition.as_str() {
                "START" => Condition::Started,
                "HEALTHY" => Condition::Healthy,
                "SUCCESS" => Condition::CompletedSuccessfully,
                other => {
                    self.note(
                        &s.ecs_service,
                        format!("sidecar {} waits for {} to {other}: not carried (geno waits for START, HEALTHY or SUCCESS)", c.name, d.container_name),
                    );
                    continue;
                }
            };
            depends_on.0.insert(d.container_name.clone(), condition);
        }
        Sidecar {
            image: Some(c.image.clone()),
            build: None,
            repository,
            essential: c.essential,
            entrypoint: c.entry_point.clone().map(Command),
            command: c.command.clone().map(Command),
            ports: ports_of(c),
            environment: environment_of(c),
            secrets: c.secrets.iter().map(|s| s.name.clone()).collect(),
            healthcheck: c.health_check.as_ref().map(health_of),
            depends_on,
            cpu: c.cpu.map(|n| n as u32),
            memory: c.memory.map(|n| n as u32),
            stop_grace_period: Dur::secs(c.stop_timeout.unwrap_or(ECS_STOP_TIMEOUT) as u64),
        }
    }

    /// What a task definition says that stack.yaml renders otherwise.
    fn task_definition_notes(&mut self, s: &LiveService, name: &str) {
        let td = &s.task_definition;
        let these_roles = (td.execution_role_arn.clone(), td.task_role_arn.clone());
        match &self.roles {
            None => self.roles = Some(these_roles),
            Some(r) if *r != these_roles => self.note(
                &s.ecs_service,
                "its IAM roles differ from the first service's; stack.yaml has one pair per environment".into(),
            ),
            _ => {}
        }
        // ECS runs X86_64 when a task definition says nothing.
        let (arch, os) = td
            .runtime_platform
            .as_ref()
            .map(|p| {
                (
                    p.cpu_architecture.as_str(),
                    p.operating_system_family.as_str(),
                )
            })
            .unwrap_or(("X86_64", "LINUX"));
        match Platform::from_ecs_arch(arch).filter(|_| os == "LINUX") {
            None => self.note(
                &s.ecs_service,
                format!("runtimePlatform {arch}/{os} is not one geno builds for (linux/amd64, linux/arm64)"),
            ),
            Some(p) => match self.platform {
                None => self.platform = Some(p),
                Some(first) if first != p => self.note(
                    &s.ecs_service,
                    format!("it runs on {arch}, the first service on {}; the stack's image is built for one platform", first.ecs_arch()),
                ),
                Some(_) => {}
            },
        }
        if !td.volumes.is_empty() {
            self.note(
                &s.ecs_service,
                format!(
                    "its task volumes ({}) are not carried: declare each under `volumes` with `ecs` (ephemeral or EFS) and mount it in `services.{name}.volumes`",
                    td.volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        if let Some(c) = td.main_container() {
            self.logging_notes(s, c);
        }
    }

    /// The log group all services share, and how each logs.
    fn logging_notes(&mut self, s: &LiveService, c: &ContainerDefinition) {
        let name = &c.name;
        match c.log_configuration.as_ref() {
            // The first service's group is the environment's; another
            // group or stream prefix is the service's own (`ecs`).
            Some(l) if l.log_driver == "awslogs" => {
                if self.log_group.is_none() {
                    self.log_group = l.options.get("awslogs-group").cloned();
                }
                if !l.options.contains_key("awslogs-stream-prefix") {
                    self.note(
                        &s.ecs_service,
                        format!(
                            "it sets no awslogs stream prefix; geno renders one (`{name}`), so its streams will be named PREFIX/{name}/TASK"
                        ),
                    );
                }
            }
            _ => self.note(
                &s.ecs_service,
                "it does not log with awslogs; geno renders awslogs to the environment's log group"
                    .into(),
            ),
        }
        if c.memory_reservation.is_some() {
            self.note(
                &s.ecs_service,
                "its container sets memoryReservation; geno sizes the task only".into(),
            );
        }
    }

    /// How the service runs on ECS, and the target group key it is behind.
    fn ecs(&mut self, s: &'a LiveService, name: &str, image: &str) -> EcsService {
        let repository = repository_of(image).unwrap_or_else(|| {
            self.note(
                &s.ecs_service,
                format!("image {image} is not in an ECR repository; set `ecs.repository`"),
            );
            format!("{}-{name}-{}", self.stack, self.env)
        });
        let defaults = CircuitBreaker::default();
        let td = &s.task_definition;
        let logs = td
            .main_container()
            .and_then(|c| c.log_configuration.as_ref())
            .filter(|l| l.log_driver == "awslogs")
            .map(|l| &l.options);
        let own = |option: &str, default: Option<&str>| {
            logs.and_then(|o| o.get(option))
                .filter(|v| Some(v.as_str()) != default)
                .map(|v| template_env(v, self.env))
        };
        let log_group = own("awslogs-group", self.log_group.as_deref());
        let log_stream_prefix = own("awslogs-stream-prefix", Some(name));
        let default_family = format!("{}-{name}-{}", self.stack, self.env);
        let (strategy, bake) = strategy_of(s.deployment.as_ref());
        let capacity = s
            .capacity
            .iter()
            .filter_map(|c| {
                let provider = match c.capacity_provider.as_str() {
                    "FARGATE" => CapacityProvider::Fargate,
                    "FARGATE_SPOT" => CapacityProvider::FargateSpot,
                    other => {
                        self.note(
                            &s.ecs_service,
                            format!("capacity provider {other} is not carried: geno runs on FARGATE and FARGATE_SPOT"),
                        );
                        return None;
                    }
                };
                Some(CapacityShare {
                    provider,
                    weight: c.weight.max(0) as u32,
                    base: c.base.max(0) as u32,
                })
            })
            .collect();
        EcsService {
            // Its own placement, by ID: what runs now.
            network: s.network.as_ref().map(|v| Network {
                public_ip: v.assign_public_ip == "ENABLED",
                subnets: Chosen::Ids(v.subnets.clone()),
                security_groups: Chosen::Ids(v.security_groups.clone()),
            }),
            capacity,
            family: (td.family != default_family).then(|| self.templated(&td.family)),
            container: None,
            log_group,
            log_stream_prefix,
            service: self.templated(&s.ecs_service),
            repository: Some(self.templated(&repository)),
            cpu: s.task_definition.cpu.parse().unwrap_or_default(),
            memory: s.task_definition.memory.parse().unwrap_or_default(),
            desired_count: s.desired.max(0) as u32,
            min_healthy_percent: s.min_healthy_percent.unwrap_or(100).max(0) as u32,
            max_percent: s.max_percent.unwrap_or(200).max(0) as u32,
            circuit_breaker: s
                .circuit_breaker
                .map(|(enable, rollback)| CircuitBreaker { enable, rollback })
                .unwrap_or(defaults),
            health_check_grace_period: s.grace_period.map(|g| Dur::secs(g.max(0) as u64)),
            target_group: s.target_group.as_ref().map(|tg| self.group_key(tg, name)),
            scaling: None,
            alarms: Default::default(),
            bake,
            strategy,
        }
    }

    /// The key of a live target group: KEY of `STACK-KEY-ENV`, or the
    /// service's name with the group's own name kept; remembered for
    /// `load_balancer`.
    fn group_key(&mut self, tg: &'a LiveTargetGroup, name: &str) -> String {
        let geno_key = tg
            .name
            .strip_prefix(&format!("{}-", self.stack))
            .and_then(|k| k.strip_suffix(&format!("-{}", self.env)))
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        let (key, own) = match geno_key {
            Some(k) => (k, None),
            None => (name.to_string(), Some(self.templated(&tg.name))),
        };
        self.groups.push((key.clone(), name.to_string(), tg, own));
        key
    }

    /// The routed services' target groups, and one listener sending every
    /// path to the first (the ALB's rules are not read).
    fn load_balancer(&self) -> Option<LoadBalancer> {
        let (first, _, _, _) = self.groups.first()?;
        let target_groups = self
            .groups
            .iter()
            .map(|(key, service, tg, own)| {
                let port = (tg.health_check_port != "traffic-port")
                    .then(|| tg.health_check_port.parse().ok())
                    .flatten();
                let group = TargetGroup {
                    name: own.clone(),
                    service: service.clone(),
                    port: tg.container_port as u16,
                    health_check: AlbHealthCheck {
                        path: tg.health_check_path.clone(),
                        port,
                        interval: Dur::secs(tg.health_check_interval_seconds as u64),
                        timeout: Dur::secs(tg.health_check_timeout_seconds as u64),
                        healthy_threshold: tg.healthy_threshold_count as u32,
                        unhealthy_threshold: tg.unhealthy_threshold_count as u32,
                        matcher: tg.matcher.http_code.clone(),
                    },
                    deregistration_delay: Dur::secs(tg.deregistration_delay_seconds as u64),
                };
                (key.clone(), group)
            })
            .collect();
        Some(LoadBalancer {
            name: None,
            listeners: vec![Listener {
                port: 8080,
                protocol: Default::default(),
                alb_port: None,
                ssl_policy: None,
                bind: "127.0.0.1".into(),
                rules: vec![Rule {
                    priority: 10,
                    conditions: Conditions {
                        path: vec!["/*".into()],
                        ..Conditions::default()
                    },
                    action: Action::Forward(first.clone()),
                }],
                default_action: Action::FixedResponse(FixedResponse {
                    status: 404,
                    content_type: "text/plain".into(),
                    body: "no rule matches".into(),
                }),
            }],
            target_groups,
            idle_timeout: Dur::secs(60),
        })
    }

    /// `local`, and the environment read, with the roles and log group the
    /// services share.
    fn environments(&self, live: &LiveEnvironment) -> IndexMap<String, Environment> {
        let (exec_role, task_role) = self.roles.clone().unwrap_or_default();
        let role = |r: Option<String>| r.map(|r| self.templated(&r)).unwrap_or_default();
        let log_group = self
            .log_group
            .clone()
            .unwrap_or_else(|| format!("/ecs/{}-{}", self.stack, self.env));
        let aws = AwsEnvironment {
            region: live.region.clone(),
            account_id: live.account_id.clone(),
            cluster: self.templated(&live.cluster),
            execution_role_arn: role(exec_role),
            task_role_arn: role(task_role),
            log_group: self.templated(&log_group),
            url: None,
            registry: None,
            namespace: None,
            service_connect: live.services.iter().any(|s| s.service_connect),
            kms_key_arn: None,
            certificate_arn: None,
            dashboard: false,
        };
        let local = Environment {
            variables: IndexMap::new(),
            aws: None,
            desired_count: IndexMap::new(),
            scaling: IndexMap::new(),
            alarms: IndexMap::new(),
            strategy: IndexMap::new(),
            profiles: Vec::new(),
        };
        let mut deployed = local.clone();
        deployed.aws = Some(aws);
        IndexMap::from([
            ("local".to_string(), local),
            (self.env.to_string(), deployed),
        ])
    }

    /// The model as a document, with geno's comments; a role no task
    /// definition names is left out, for `geno validate` to ask for.
    fn document(&self, model: &Stack) -> Node {
        let mut root = Node::of(model);
        for name in model.secrets.keys() {
            root.comment(
                &["secrets", name, "local"],
                "geno: a local value is generated; give it a template if the app needs a shape.",
            );
        }
        for (name, service) in &model.services {
            if !service.ports.is_empty() {
                root.comment(
                    &["services", name, "ports"],
                    "geno: not published locally; add HOST:CONTAINER to reach it from this machine.",
                );
            }
        }
        root.comment(
            &["load_balancer", "listeners"],
            "geno: the ALB's listener rules are not read: every path goes to the first group; route as the ALB does.",
        );
        if !model.environments[self.env]
            .aws
            .as_ref()
            .is_some_and(|a| a.service_connect)
        {
            root.comment(
                &["environments", self.env, "aws", "service_connect"],
                "geno: the services found do not use Service Connect; remove this line (infra/ creates the namespace) so they reach each other at their stack.yaml names and ports.",
            );
        }
        if let Some(aws) = root.get_mut(&["environments", self.env, "aws"]) {
            for role in ["execution_role_arn", "task_role_arn"] {
                if aws.get_mut(&[role]) == Some(&mut Node::str("")) {
                    aws.remove(role);
                }
            }
        }
        root
    }
}

/// `…-demo`, `/demo/` and `-demo-` as `${GENO_ENV}`, so the text serves
/// every environment and renders this one as it is.
fn template_env(s: &str, env: &str) -> String {
    let mut out = s.replace(&format!("/{env}/"), "/${GENO_ENV}/");
    out = out.replace(&format!("-{env}-"), "-${GENO_ENV}-");
    if let Some(head) = out.strip_suffix(&format!("-{env}")) {
        out = format!("{head}-${{GENO_ENV}}");
    }
    out
}

/// Where a `valueFrom` reads: a Secrets Manager ARN as it is, an SSM
/// parameter by its name, templated by environment.
fn secret_source(value_from: &str, env: &str) -> AwsSecret {
    if value_from.starts_with("arn:aws:secretsmanager:") {
        return AwsSecret::SecretsManager(value_from.to_string());
    }
    let name = crate::deploy::live::ssm_name(value_from);
    AwsSecret::Ssm(template_env(&name, env))
}

/// A container definition's health check as stack.yaml writes it.
fn health_of(h: &crate::deploy::taskdef::HealthCheck) -> HealthCheck {
    HealthCheck {
        test: HealthTest(h.command.clone()),
        interval: Dur::secs(h.interval as u64),
        timeout: Dur::secs(h.timeout as u64),
        retries: h.retries as u32,
        start_period: h.start_period.map(|p| Dur::secs(p as u64)),
    }
}

/// Its container ports, unpublished here.
fn ports_of(c: &ContainerDefinition) -> Vec<Port> {
    c.port_mappings
        .iter()
        .map(|p| Port {
            container: p.container_port as u16,
            host: None,
            host_ip: "127.0.0.1".into(),
        })
        .collect()
}

fn environment_of(c: &ContainerDefinition) -> IndexMap<String, String> {
    c.environment
        .iter()
        .map(|kv| (kv.name.clone(), kv.value.clone()))
        .collect()
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:tag|@digest]` (or any
/// `REGISTRY/REPO…`) → `REPO`.
fn repository_of(image: &str) -> Option<String> {
    let (_, rest) = image.split_once('/')?;
    let repo = rest.split(['@']).next()?;
    let repo = match repo.rsplit_once(':') {
        Some((r, _)) => r,
        None => repo,
    };
    (!repo.is_empty()).then(|| repo.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::environment::paper;

    /// Each service as `live_services` reads it after a promotion.
    fn live(plans: &crate::deploy::taskdef::Plans) -> LiveEnvironment {
        let services = plans
            .services
            .iter()
            .map(|p| {
                let dc = p.update.deployment_configuration.as_ref().unwrap();
                LiveService {
                    ecs_service: p.update.service.clone(),
                    desired: p.update.desired_count.unwrap(),
                    min_healthy_percent: Some(dc.minimum_healthy_percent),
                    max_percent: Some(dc.maximum_percent),
                    circuit_breaker: Some((
                        dc.deployment_circuit_breaker.enable,
                        dc.deployment_circuit_breaker.rollback,
                    )),
                    grace_period: p.update.health_check_grace_period_seconds,
                    task_definition: p.task_definition.clone(),
                    target_group: p.target_groups.first().cloned(),
                    service_connect: p.update.service_connect_configuration.is_some(),
                    network: None,
                    capacity: Vec::new(),
                    deployment: Some(dc.clone()),
                }
            })
            .collect();
        LiveEnvironment {
            env: "demo".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            cluster: "shop-demo".into(),
            services,
        }
    }

    #[test]
    fn what_geno_deployed_reads_back_to_the_same_rendering() {
        let (_dir, _ctx, _env, plans) = paper::demo();
        let converted = convert(&live(&plans), None);
        assert_eq!(converted.stack_name, "shop");
        assert_eq!(converted.notes, []);
        let (_dir, _ctx, _env, again) = paper::open(&converted.text, "demo");
        assert_eq!(again.services, plans.services, "{}", converted.text);
    }

    #[test]
    fn a_canary_deployment_reads_back_as_its_strategy_and_bake() {
        let (_dir, _ctx, _env, plans) = paper::demo();
        let mut live = live(&plans);
        let dc = live.services[0].deployment.as_mut().unwrap();
        dc.strategy = Some("CANARY".into());
        dc.bake_time_in_minutes = Some(10);
        dc.canary_configuration = Some(crate::deploy::taskdef::CanaryConfiguration {
            canary_percent: crate::deploy::taskdef::Percent(12.5),
            canary_bake_time_in_minutes: 3,
        });
        let converted = convert(&live, None);
        for kept in [
            "strategy:",
            "canary:",
            "percent: 12.5",
            "bake: 3m",
            "bake: 10m",
        ] {
            assert!(converted.text.contains(kept), "{kept}:\n{}", converted.text);
        }
        // Rolling and blue/green, and a rolling service has no bake of ECS's.
        let blue_green = crate::deploy::taskdef::DeploymentConfiguration {
            strategy: Some("BLUE_GREEN".into()),
            canary_configuration: None,
            ..dc_of(&live)
        };
        assert_eq!(
            strategy_of(Some(&blue_green)),
            (
                crate::stack::strategy::Strategy::BlueGreen,
                Some(Dur::secs(600))
            )
        );
        let rolling = crate::deploy::taskdef::DeploymentConfiguration {
            strategy: None,
            ..dc_of(&live)
        };
        assert_eq!(
            strategy_of(Some(&rolling)),
            (crate::stack::strategy::Strategy::Rolling, None)
        );
    }

    fn dc_of(live: &LiveEnvironment) -> crate::deploy::taskdef::DeploymentConfiguration {
        live.services[0].deployment.clone().unwrap()
    }

    #[test]
    fn a_hand_made_deployments_own_names_read_back_to_the_same_rendering() {
        let (_dir, _ctx, _env, plans) = paper::demo();
        let mut live = live(&plans);
        let web = &mut live.services[0];
        web.task_definition.family = "web-server".into();
        web.target_group.as_mut().unwrap().name = "web-tg".into();
        let logs = |td: &mut TaskDefinition, group: &str| {
            let options = &mut td.container_definitions[0]
                .log_configuration
                .as_mut()
                .unwrap()
                .options;
            options.insert("awslogs-group".into(), group.into());
            options.insert("awslogs-stream-prefix".into(), "ecs".into());
        };
        logs(&mut web.task_definition, "/ecs/web-server");
        logs(&mut live.services[1].task_definition, "/ecs/demo/worker");
        // On Graviton: the image is built for it.
        for s in &mut live.services {
            s.task_definition
                .runtime_platform
                .as_mut()
                .unwrap()
                .cpu_architecture = "ARM64".into();
        }
        let converted = convert(&live, Some("shop"));
        assert_eq!(converted.notes, [], "{}", converted.text);
        for kept in [
            "family: web-server",
            "log_group: \"/ecs/${GENO_ENV}/worker\"",
            "log_stream_prefix: ecs",
            "name: web-tg",
            "platform: linux/arm64",
        ] {
            assert!(converted.text.contains(kept), "{kept}:\n{}", converted.text);
        }
        let (_dir, _ctx, _env, again) = paper::open(&converted.text, "demo");
        let wanted = plans_of(&live);
        assert_eq!(again.services.len(), 2);
        for (a, w) in again.services.iter().zip(&wanted) {
            assert_eq!(a.task_definition, w.0, "{}", converted.text);
            assert_eq!(a.target_groups.first(), w.1.as_ref());
        }
    }

    /// Each live service's task definition and first target group.
    fn plans_of(live: &LiveEnvironment) -> Vec<(TaskDefinition, Option<LiveTargetGroup>)> {
        live.services
            .iter()
            .map(|s| (s.task_definition.clone(), s.target_group.clone()))
            .collect()
    }

    #[test]
    fn a_task_with_several_containers_reads_back_with_its_sidecars() {
        let (_dir, _ctx, _env, plans) = paper::demo();
        let mut live = live(&plans);
        let web = &mut live.services[0].task_definition;
        let mut shipper = web.container_definitions[0].clone();
        shipper.name = "shipper".into();
        shipper.image = "public.example/fluent-bit@sha256:aa".into();
        shipper.essential = false;
        shipper.port_mappings.clear();
        shipper.health_check = None;
        shipper.cpu = Some(128);
        shipper.memory = Some(256);
        shipper.depends_on = vec![crate::deploy::taskdef::ContainerDependency {
            container_name: "web".into(),
            condition: "START".into(),
        }];
        web.container_definitions.push(shipper);
        let converted = convert(&live, Some("shop"));
        assert_eq!(converted.notes, [], "{}", converted.text);
        let (_dir, _ctx, _env, again) = paper::open(&converted.text, "demo");
        // Rendered again: the same two containers.
        let rendered = &again.services[0].task_definition.container_definitions;
        let names: Vec<&str> = rendered.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["web", "shipper"], "{}", converted.text);
        let (lived, back) = (
            &live.services[0].task_definition.container_definitions[1],
            &rendered[1],
        );
        assert_eq!(
            (back.essential, back.cpu, back.memory, &back.depends_on),
            (false, Some(128), Some(256), &lived.depends_on)
        );
        // An external image without a repository: as it was, until promote
        // pins the digest it ran here.
        assert_eq!(back.image, "public.example/fluent-bit@sha256:aa");
    }

    #[test]
    fn what_stack_yaml_cannot_say_is_noted_and_the_rest_still_loads() {
        let (_dir, _ctx, _env, plans) = paper::demo();
        let mut live = live(&plans);
        let web = &mut live.services[0];
        web.task_definition.execution_role_arn = None;
        web.task_definition.container_definitions[0]
            .log_configuration
            .as_mut()
            .unwrap()
            .options
            .remove("awslogs-stream-prefix");
        let converted = convert(&live, Some("shop"));
        let notes: Vec<String> = converted
            .notes
            .iter()
            .map(|n| format!("{}: {}", n.what, n.why))
            .collect();
        assert_eq!(
            notes,
            [
                "shop-web-demo: it sets no awslogs stream prefix; geno renders one (`web`), so its streams will be named PREFIX/web/TASK",
                "shop-worker-demo: its IAM roles differ from the first service's; stack.yaml has one pair per environment",
            ]
        );
        // The first service's roles are the environment's: it has no
        // execution role, so the text asks for one rather than invent it.
        assert!(
            !converted.text.contains("execution_role_arn"),
            "{}",
            converted.text
        );
    }

    #[test]
    fn names_are_templated_by_environment() {
        assert_eq!(
            template_env("genonaut-api-demo", "demo"),
            "genonaut-api-${GENO_ENV}"
        );
        assert_eq!(
            template_env("/app/demo/db-url", "demo"),
            "/app/${GENO_ENV}/db-url"
        );
        assert_eq!(
            template_env("arn:aws:iam::1:role/app-demo-exec", "demo"),
            "arn:aws:iam::1:role/app-${GENO_ENV}-exec"
        );
        assert_eq!(template_env("democracy", "demo"), "democracy");
    }

    #[test]
    fn secrets_and_repositories_are_read_back() {
        assert_eq!(
            secret_source("arn:aws:ssm:us-east-1:1:parameter/app/demo/token", "demo"),
            AwsSecret::Ssm("/app/${GENO_ENV}/token".to_string())
        );
        let sm = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf";
        assert_eq!(
            secret_source(sm, "demo"),
            AwsSecret::SecretsManager(sm.to_string())
        );
        assert_eq!(
            repository_of("1.dkr.ecr.us-east-1.amazonaws.com/app-web@sha256:ab").as_deref(),
            Some("app-web")
        );
        assert_eq!(
            repository_of("reg:5000/team/app:1.2").as_deref(),
            Some("team/app")
        );
        assert_eq!(repository_of("nginx"), None);
    }
}
