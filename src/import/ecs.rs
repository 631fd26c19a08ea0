//! Live ECS services turned into stack.yaml text: each service's task
//! definition (command, environment, secrets as `aws` sources, health
//! check, cpu and memory), its desired count and deployment settings, and
//! its target group's health check, with the image left to the build, so
//! that `geno render` for the same environment gives back what runs.
//! What geno's rendering cannot say the same way (another family name,
//! a second container, a log stream prefix of its own…) is listed: the
//! next promotion would change it. Pure: the caller reads AWS.

use super::{flow, q};
use crate::deploy::taskdef::{TargetGroup, TaskDefinition};

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
    pub target_group: Option<TargetGroup>,
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
    let env = &live.env;
    let mut notes = Vec::new();
    let mut note = |what: &str, why: String| {
        notes.push(Note {
            what: what.to_string(),
            why,
        })
    };
    // The stack's name: what the families say (`STACK-SERVICE-ENV`).
    let stack_name = stack.map(str::to_string).unwrap_or_else(|| {
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
    });
    let templated = |s: &str| template_env(s, env);
    let mut out = String::new();
    let mut line = |indent: usize, text: String| {
        out.push_str(&"  ".repeat(indent));
        out.push_str(&text);
        out.push('\n');
    };
    line(
        0,
        format!(
            "# Read from the ECS services of `{env}` (cluster {}) by `geno init --from-ecs`.",
            live.cluster
        ),
    );
    line(
        0,
        "# The image is the build's: the next `geno promote` pins its digest. `# geno:` lines mark choices.".into(),
    );
    line(0, format!("name: {}", q(&stack_name)));
    line(0, String::new());
    line(0, "image: { context: . }".into());

    // Secrets: one declaration per name, its source from `valueFrom`.
    let mut secrets: Vec<(String, String, String)> = Vec::new(); // name, store, source
    for s in &live.services {
        let Some(c) = s.task_definition.main_container() else {
            continue;
        };
        for sec in &c.secrets {
            let (store, source) = secret_source(&sec.value_from, env);
            match secrets.iter().find(|(n, _, _)| *n == sec.name) {
                Some((_, st, src)) if *st != store || *src != source => note(
                    &s.ecs_service,
                    format!(
                        "secret {} reads {}, another service reads {src}; stack.yaml has one source per name",
                        sec.name, sec.value_from
                    ),
                ),
                Some(_) => {}
                None => secrets.push((sec.name.clone(), store, source)),
            }
        }
    }
    if !secrets.is_empty() {
        line(0, String::new());
        line(0, "secrets:".into());
        for (name, store, source) in &secrets {
            line(1, format!("{}:", q(name)));
            line(
                2,
                "# geno: a local value is generated; give it a template if the app needs a shape."
                    .into(),
            );
            line(2, "local: { generate: { length: 32 } }".into());
            line(2, format!("aws: {{ {store}: {} }}", q(source)));
        }
    }

    line(0, String::new());
    line(0, "services:".into());
    let mut groups: Vec<(String, String, &TargetGroup)> = Vec::new(); // key, service, group
    let mut roles: Option<(Option<String>, Option<String>)> = None;
    let mut log_group: Option<String> = None;
    for s in &live.services {
        let td = &s.task_definition;
        let Some(c) = td.main_container() else {
            note(
                &s.ecs_service,
                "its task definition has no container".into(),
            );
            continue;
        };
        let name = c.name.clone();
        let family = format!("{stack_name}-{name}-{env}");
        if td.family != family {
            note(
                &s.ecs_service,
                format!(
                    "family {} is not {family}: geno names families STACK-SERVICE-ENV, so the next promotion registers {family}",
                    td.family
                ),
            );
        }
        for other in td.container_definitions.iter().filter(|o| o.name != name) {
            note(
                &s.ecs_service,
                format!(
                    "container {} beside {name} is not carried: geno renders one container per task",
                    other.name
                ),
            );
        }
        let these_roles = (td.execution_role_arn.clone(), td.task_role_arn.clone());
        match &roles {
            None => roles = Some(these_roles),
            Some(r) if *r != these_roles => note(
                &s.ecs_service,
                "its IAM roles differ from the first service's; stack.yaml has one pair per environment".into(),
            ),
            _ => {}
        }
        if td
            .runtime_platform
            .as_ref()
            .is_none_or(|p| p.cpu_architecture != "X86_64" || p.operating_system_family != "LINUX")
        {
            note(
                &s.ecs_service,
                "runtimePlatform is not X86_64/LINUX; geno renders X86_64/LINUX".into(),
            );
        }
        match c.log_configuration.as_ref() {
            Some(l) if l.log_driver == "awslogs" => {
                let group = l.options.get("awslogs-group").cloned().unwrap_or_default();
                match &log_group {
                    None => log_group = Some(group),
                    Some(g) if *g != group => note(
                        &s.ecs_service,
                        format!(
                            "it logs to {group}, not {g}; stack.yaml has one log group per environment"
                        ),
                    ),
                    _ => {}
                }
                if l.options.get("awslogs-stream-prefix") != Some(&name) {
                    note(
                        &s.ecs_service,
                        format!(
                            "its awslogs stream prefix is not `{name}`; geno renders the service's name"
                        ),
                    );
                }
            }
            _ => note(
                &s.ecs_service,
                "it does not log with awslogs; geno renders awslogs to the environment's log group"
                    .into(),
            ),
        }
        if c.memory_reservation.is_some() {
            note(
                &s.ecs_service,
                "its container sets memoryReservation; geno sizes the task only".into(),
            );
        }

        line(1, format!("{}:", q(&name)));
        if let Some(cmd) = &c.command {
            line(
                2,
                format!("command: {}", flow(cmd.iter().map(String::as_str))),
            );
        }
        let ports: Vec<String> = c
            .port_mappings
            .iter()
            .map(|p| p.container_port.to_string())
            .collect();
        if !ports.is_empty() {
            line(
                2,
                "# geno: not published locally; add HOST:CONTAINER to reach it from this machine."
                    .into(),
            );
            line(2, format!("ports: [{}]", ports.join(", ")));
        }
        if !c.environment.is_empty() {
            line(2, "environment:".into());
            for kv in &c.environment {
                line(3, format!("{}: {}", q(&kv.name), q(&kv.value)));
            }
        }
        if !c.secrets.is_empty() {
            line(
                2,
                format!(
                    "secrets: {}",
                    flow(c.secrets.iter().map(|s| s.name.as_str()))
                ),
            );
        }
        if let Some(h) = &c.health_check {
            line(2, "healthcheck:".into());
            line(
                3,
                format!("test: {}", flow(h.command.iter().map(String::as_str))),
            );
            line(3, format!("interval: {}s", h.interval));
            line(3, format!("timeout: {}s", h.timeout));
            line(3, format!("retries: {}", h.retries));
            if let Some(sp) = h.start_period {
                line(3, format!("start_period: {sp}s"));
            }
        }
        line(2, "ecs:".into());
        line(3, format!("service: {}", q(&templated(&s.ecs_service))));
        let repository = repository_of(&c.image).unwrap_or_else(|| {
            note(
                &s.ecs_service,
                format!(
                    "image {} is not in an ECR repository; set `ecs.repository`",
                    c.image
                ),
            );
            format!("{stack_name}-{name}-{env}")
        });
        line(3, format!("repository: {}", q(&templated(&repository))));
        line(3, format!("cpu: {}", td.cpu));
        line(3, format!("memory: {}", td.memory));
        line(3, format!("desired_count: {}", s.desired.max(0)));
        if let Some(p) = s.min_healthy_percent {
            line(3, format!("min_healthy_percent: {p}"));
        }
        if let Some(p) = s.max_percent {
            line(3, format!("max_percent: {p}"));
        }
        if let Some((enable, rollback)) = s.circuit_breaker {
            line(
                3,
                format!("circuit_breaker: {{ enable: {enable}, rollback: {rollback} }}"),
            );
        }
        if let Some(g) = s.grace_period {
            line(3, format!("health_check_grace_period: {g}s"));
        }
        if let Some(tg) = &s.target_group {
            let key = tg
                .name
                .strip_prefix(&format!("{stack_name}-"))
                .and_then(|k| k.strip_suffix(&format!("-{env}")))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    note(
                        &tg.name,
                        format!(
                            "target group {} is not named {stack_name}-GROUP-{env}; geno renders {stack_name}-{name}-{env}",
                            tg.name
                        ),
                    );
                    name.clone()
                });
            line(3, format!("target_group: {}", q(&key)));
            groups.push((key, name.clone(), tg));
        }
    }

    if !groups.is_empty() {
        line(0, String::new());
        line(0, "load_balancer:".into());
        line(1, "# geno: the ALB's listener rules are not read: every path goes to the first group; route as the ALB does.".into());
        line(1, "listeners:".into());
        line(2, "- port: 8080".into());
        line(3, "rules:".into());
        line(4, "- priority: 10".into());
        line(5, "conditions: { path: [\"/*\"] }".into());
        line(5, format!("action: {{ forward: {} }}", q(&groups[0].0)));
        line(3, "default_action:".into());
        line(
            4,
            "fixed_response: { status: 404, content_type: text/plain, body: \"no rule matches\" }"
                .into(),
        );
        line(1, "target_groups:".into());
        for (key, service, tg) in &groups {
            line(2, format!("{}:", q(key)));
            line(3, format!("service: {}", q(service)));
            line(3, format!("port: {}", tg.container_port));
            line(3, "health_check:".into());
            line(4, format!("path: {}", q(&tg.health_check_path)));
            if tg.health_check_port != "traffic-port" && !tg.health_check_port.is_empty() {
                line(4, format!("port: {}", tg.health_check_port));
            }
            line(
                4,
                format!("interval: {}s", tg.health_check_interval_seconds),
            );
            line(4, format!("timeout: {}s", tg.health_check_timeout_seconds));
            line(
                4,
                format!("healthy_threshold: {}", tg.healthy_threshold_count),
            );
            line(
                4,
                format!("unhealthy_threshold: {}", tg.unhealthy_threshold_count),
            );
            line(4, format!("matcher: {}", q(&tg.matcher.http_code)));
            line(
                3,
                format!("deregistration_delay: {}s", tg.deregistration_delay_seconds),
            );
        }
    }

    let (exec_role, task_role) = roles.unwrap_or_default();
    line(0, String::new());
    line(0, "environments:".into());
    line(1, "local: {}".into());
    line(1, format!("{}:", q(env)));
    line(2, "aws:".into());
    line(3, format!("region: {}", q(&live.region)));
    line(3, format!("account_id: {}", q(&live.account_id)));
    line(3, format!("cluster: {}", q(&templated(&live.cluster))));
    if let Some(r) = exec_role {
        line(3, format!("execution_role_arn: {}", q(&templated(&r))));
    }
    if let Some(r) = task_role {
        line(3, format!("task_role_arn: {}", q(&templated(&r))));
    }
    line(
        3,
        format!(
            "log_group: {}",
            q(&templated(
                &log_group.unwrap_or_else(|| format!("/ecs/{stack_name}-{env}"))
            ))
        ),
    );
    Converted {
        text: out,
        stack_name,
        notes,
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

/// (`ssm` | `secrets_manager`, source) from a `valueFrom`.
fn secret_source(value_from: &str, env: &str) -> (String, String) {
    if value_from.starts_with("arn:aws:secretsmanager:") {
        return ("secrets_manager".into(), value_from.to_string());
    }
    let name = crate::deploy::live::ssm_name(value_from);
    ("ssm".into(), template_env(&name, env))
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
            ("ssm".to_string(), "/app/${GENO_ENV}/token".to_string())
        );
        let sm = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf";
        assert_eq!(
            secret_source(sm, "demo"),
            ("secrets_manager".to_string(), sm.to_string())
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
