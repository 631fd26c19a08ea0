//! Where each field of stack.yaml goes on ECS, or why it stays on this
//! machine: the contract a test holds every field of the JSON schema to
//! (a field with no row fails it), the table the README prints, and the
//! notes `validate` and `render` print when a deployed service sets a field
//! that stays local. Pure.

use serde_json::Value;

use crate::stack::Stack;

/// Where a field goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Into what geno sends ECS (task definition, service update).
    Ecs(&'static str),
    /// Into the variables infra/ takes (`render --format tfvars`), and
    /// compared by preflight.
    Infra(&'static str),
    /// The image: built once, pushed and run by digest.
    Build(&'static str),
    /// What geno checks before and after a promotion.
    Check(&'static str),
    /// This machine only, and why. `note`: said when a deployed service
    /// sets it, since the reader may expect it on ECS.
    Local { why: &'static str, note: bool },
}

impl Reach {
    fn column(self) -> (&'static str, &'static str) {
        match self {
            Reach::Ecs(w) => ("ECS", w),
            Reach::Infra(w) => ("infra/ (tfvars)", w),
            Reach::Build(w) => ("image", w),
            Reach::Check(w) => ("checks", w),
            Reach::Local { why, .. } => ("local only", why),
        }
    }
}

const fn local(why: &'static str) -> Reach {
    Reach::Local { why, note: false }
}

const fn local_noted(why: &'static str) -> Reach {
    Reach::Local { why, note: true }
}

/// Every field, by its schema path (`*` a map key, `[]` a list item); a
/// path ending in `/**` covers the fields beneath it too.
#[rustfmt::skip]
pub const FIELDS: &[(&str, Reach)] = &[
    ("name", Reach::Ecs("prefix of task families, target groups, the ALB and the Service Connect namespace")),
    ("image/**", Reach::Build("built once (BuildKit); every app service's image, pushed to each repository and pinned by digest")),
    ("image.platform", Reach::Ecs("task definition `runtimePlatform.cpuArchitecture` (X86_64 unset); BuildKit builds for it; promote refuses an image of another architecture before pushing")),
    ("builds/**", Reach::Build("one image per build (BuildKit), each verified by the same smoke run and pushed to its services' repositories under its own digest")),
    ("builds.*.platform", Reach::Ecs("`runtimePlatform.cpuArchitecture` of the tasks that run the build; BuildKit builds for it; promote refuses an image of another architecture")),
    ("volumes", Reach::Ecs("Docker volumes locally; on ECS what each one's `ecs` says")),
    ("volumes.*.description", local("a note for people")),
    ("volumes.*.ecs/**", Reach::Ecs("task `volumes` (EFS, or the task's own storage) and container `mountPoints`")),
    ("secrets", Reach::Ecs("the names of the variables a container reads from a store")),
    ("secrets.*.description", local("a note for people")),
    ("secrets.*.local/**", local("how geno makes the value on this machine; ECS reads `aws`")),
    ("secrets.*.aws/**", Reach::Ecs("container `secrets[].valueFrom` (SSM or Secrets Manager ARN); SSM names in tfvars; preflight checks each exists")),
    ("services", Reach::Ecs("a service with `ecs` is an ECS service; a job its services wait for, a one-off task")),
    ("services.*.image", Reach::Ecs("container `image` of a deployed service, pinned at promote to the digest of the image that ran here: mirrored to `ecs.repository`, or pulled as it was pulled here")),
    ("services.*.build", Reach::Ecs("the container `image`: the build's digest in the service's repository")),
    ("services.*.kind", Reach::Ecs("a job runs as a one-off task before the services that wait for it")),
    ("services.*.entrypoint", Reach::Ecs("container `entryPoint`; the container's ENTRYPOINT locally")),
    ("services.*.command", Reach::Ecs("container `command`")),
    ("services.*.ports", Reach::Ecs("container `portMappings`, and a Service Connect alias `SERVICE:PORT` each")),
    ("services.*.ports[].container", Reach::Ecs("`portMappings[].containerPort`")),
    ("services.*.ports[].host", local_noted("published on this machine; on ECS the ALB and Service Connect reach the container port")),
    ("services.*.ports[].host_ip", local_noted("the address a published port binds on this machine")),
    ("services.*.environment", Reach::Ecs("container `environment`; a value naming a service is checked against where it runs")),
    ("services.*.secrets", Reach::Ecs("container `secrets`")),
    ("services.*.healthcheck/**", Reach::Ecs("container `healthCheck`, the same check as locally")),
    ("services.*.depends_on/**", Reach::Ecs("`completed_successfully` on a job: promote runs the job first; other conditions order `geno up` only (ECS starts services independently)")),
    ("services.*.replicas", local_noted("containers on this machine; ECS runs `ecs.desired_count` tasks (per environment: `environments.E.desired_count`)")),
    ("services.*.volumes", Reach::Ecs("container `mountPoints`; refused where ECS has nothing to mount (a directory of this machine, a volume with no `ecs`)")),
    ("services.*.stop_grace_period", Reach::Ecs("container `stopTimeout` (at most 120 s: refused above for a deployed service)")),
    ("services.*.ecs/**", Reach::Ecs("the ECS service and its task: name, repository, cpu and memory, desired count, deployment configuration, health check grace period, target group")),
    ("services.*.ecs.family", Reach::Ecs("the task definition family (default `STACK-SERVICE-ENV`); tfvars")),
    ("services.*.ecs.container", Reach::Ecs("the container's name in the task definition (default: the service's); tfvars, the target group attachment")),
    ("services.*.ecs.log_group", Reach::Ecs("the container's awslogs group (default: the environment's); tfvars `service_log_groups`; preflight checks it exists")),
    ("services.*.ecs.network/**", Reach::Ecs("the service's `networkConfiguration.awsvpcConfiguration` (tags found in EC2 at promote); tfvars `network`; preflight checks the subnets and groups exist")),
    ("services.*.ecs.capacity/**", Reach::Ecs("the service's `capacityProviderStrategy` (a change forces new tasks); tfvars `capacity`; the cluster gets FARGATE and FARGATE_SPOT")),
    ("services.*.ecs.scaling/**", Reach::Ecs("Application Auto Scaling: the service's scalable target (min, max), a target tracking policy per metric and its scheduled actions, applied at promote; the service's count is then the scaler's (promote keeps it within min and max)")),
    ("services.*.ecs.alarms/**", Reach::Ecs("CloudWatch metric alarms `SERVICE-NAME`, put at promote; those with `rollback` go into `deploymentConfiguration.alarms` and promote watches them through the rollout and the bake")),
    ("services.*.ecs.bake", Reach::Check("how long promote watches the rollback alarms after the rollout; one that fires rolls every changed service back. With a blue/green, canary or linear strategy: `deploymentConfiguration.bakeTimeInMinutes`, how long ECS keeps the old tasks")),
    ("services.*.ecs.strategy/**", Reach::Ecs("`deploymentConfiguration.strategy` with its `canaryConfiguration` / `linearConfiguration`, applied at promote, which reports each lifecycle stage and the production rule's weights; tfvars `deployment` and the alternate target group, the rule ECS moves and its role (infra/); preflight checks the service has them")),
    ("services.*.ecs.log_stream_prefix", Reach::Ecs("the container's awslogs stream prefix (default: the service's name)")),
    ("services.*.iam/**", Reach::Infra("the task role's policy (`task_role_statements`); preflight checks the role allows it; refused on a service that does not deploy")),
    ("services.*.profiles", local("which services `geno up` starts; every service with `ecs` deploys")),
    ("services.*.local/**", local("how it runs on this machine (resource limits, local-only mounts)")),
    ("services.*.local.restart", local_noted("the engine's restart policy here; ECS always replaces a task whose container stops")),
    ("services.*.develop/**", local("the edit loop of `geno up --watch`")),
    ("services.*.sidecars", Reach::Ecs("more containers in the service's task definition, after its own; locally they join its container's network and start after it")),
    ("services.*.sidecars.*.image", Reach::Ecs("the container's `image`, pinned at promote as a service's external image is")),
    ("services.*.sidecars.*.build", Reach::Ecs("the container's `image`: the build's digest in its repository")),
    ("services.*.sidecars.*.repository", Reach::Ecs("the ECR repository its image is pushed to; tfvars `repositories`")),
    ("services.*.sidecars.*.essential", Reach::Ecs("container `essential`; locally geno's task supervisor stops and restarts the task when an essential one exits")),
    ("services.*.sidecars.*.entrypoint", Reach::Ecs("container `entryPoint`")),
    ("services.*.sidecars.*.command", Reach::Ecs("container `command`")),
    ("services.*.sidecars.*.ports", Reach::Ecs("container `portMappings` (no Service Connect name: other services reach the service's own ports)")),
    ("services.*.sidecars.*.ports[].container", Reach::Ecs("`portMappings[].containerPort`")),
    ("services.*.sidecars.*.ports[].host", local_noted("published on this machine by the task's network (its service's container)")),
    ("services.*.sidecars.*.ports[].host_ip", local_noted("the address a published port binds on this machine")),
    ("services.*.sidecars.*.environment", Reach::Ecs("container `environment`")),
    ("services.*.sidecars.*.secrets", Reach::Ecs("container `secrets`")),
    ("services.*.sidecars.*.healthcheck/**", Reach::Ecs("container `healthCheck`, the same check as locally")),
    ("services.*.sidecars.*.depends_on/**", Reach::Ecs("container `dependsOn` (START, HEALTHY, SUCCESS); locally the same order")),
    ("services.*.sidecars.*.cpu", Reach::Ecs("container `cpu`; locally its CPU quota")),
    ("services.*.sidecars.*.memory", Reach::Ecs("container `memory`; locally its memory limit")),
    ("services.*.sidecars.*.stop_grace_period", Reach::Ecs("container `stopTimeout`")),
    ("load_balancer", Reach::Infra("the ALB infra/ creates")),
    ("load_balancer.name", Reach::Infra("the ALB's name (default `STACK-ENV`); tfvars `load_balancer_name`; preflight finds the listener on it")),
    ("load_balancer.listeners", Reach::Infra("one ALB listener each (`listeners`; preflight compares protocol, certificate, rules and default action)")),
    ("load_balancer.listeners[].port", local("the port on this machine; on the ALB, `alb_port`")),
    ("load_balancer.listeners[].protocol", Reach::Infra("the ALB listener's protocol; HTTPS ends TLS with `aws.certificate_arn` there and geno's development certificate here")),
    ("load_balancer.listeners[].alb_port", Reach::Infra("the ALB listener's port (80 for HTTP, 443 for HTTPS unless set); a redirect to it lands on `port` here")),
    ("load_balancer.listeners[].ssl_policy", Reach::Infra("the HTTPS listener's TLS policy on the ALB; locally rustls's safe defaults")),
    ("load_balancer.listeners[].bind", local("the address on this machine")),
    ("load_balancer.listeners[].rules/**", Reach::Infra("ALB listener rules (`listener_rules`; preflight compares them); a rule to a local-only service stays local")),
    ("load_balancer.listeners[].default_action/**", Reach::Infra("the listener's default action")),
    ("load_balancer.target_groups/**", Reach::Infra("ALB target groups and their health checks (preflight compares them), each attached to its service")),
    ("load_balancer.target_groups.*.name", Reach::Infra("the ALB target group's name (default `STACK-GROUP-ENV`, at most 32 characters)")),
    ("load_balancer.idle_timeout", Reach::Infra("the ALB's idle timeout")),
    ("environments", Reach::Ecs("each one but `local` is a deployment")),
    ("environments.*.variables", Reach::Ecs("interpolated into stack.yaml for the environment: they reach ECS through the fields they fill")),
    ("environments.*.aws", Reach::Ecs("where the environment runs")),
    ("environments.*.aws.dashboard", Reach::Ecs("CloudWatch dashboard `STACK-ENV` (PutDashboard at promote): per service CPU and memory, requests, 5xx and p50/p99 behind the load balancer, and every alarm")),
    ("environments.*.aws.certificate_arn", Reach::Infra("the HTTPS listeners' ACM certificate (`listeners`; preflight compares it)")),
    ("environments.*.aws.region", Reach::Ecs("the AWS region of every call; the awslogs region")),
    ("environments.*.aws.account_id", Reach::Ecs("ARNs and the ECR registry; preflight checks the credentials are for it")),
    ("environments.*.aws.cluster", Reach::Ecs("the cluster of every service update")),
    ("environments.*.aws.execution_role_arn", Reach::Ecs("task definition `executionRoleArn`; the role name in tfvars")),
    ("environments.*.aws.task_role_arn", Reach::Ecs("task definition `taskRoleArn`; the role name in tfvars")),
    ("environments.*.aws.log_group", Reach::Ecs("the awslogs group of every container; tfvars")),
    ("environments.*.aws.url", Reach::Check("where `geno smoke --env` sends its requests")),
    ("environments.*.aws.registry", Reach::Build("a registry to push to instead of ECR")),
    ("environments.*.aws.namespace", Reach::Ecs("the Service Connect namespace of every service; tfvars")),
    ("environments.*.aws.service_connect", Reach::Ecs("whether services get Service Connect")),
    ("environments.*.aws.kms_key_arn", Reach::Infra("`kms:Decrypt` for the execution role (`execution_role_statements`); preflight checks it; refused when no deployed service reads a secret")),
    ("environments.*.alarms/**", Reach::Ecs("the service's alarms in this environment, in place of its `ecs.alarms` (refused in an environment without `aws`)")),
    ("environments.*.strategy/**", Reach::Ecs("the service's deployment strategy in this environment, in place of its `ecs.strategy` (refused in an environment without `aws`)")),
    ("environments.*.scaling/**", Reach::Ecs("the service's scaling in this environment, in place of its `ecs.scaling` (refused in an environment without `aws`)")),
    ("environments.*.desired_count", Reach::Ecs("the services' desired counts in this environment")),
    ("environments.*.profiles", local("which optional services `geno up` starts")),
    ("smoke/**", Reach::Check("run by `geno smoke` before a promotion is allowed, and against the environment with `--env`")),
];

/// The row for `path` (a schema path): the longest entry that names it
/// or, with `/**`, a field above it.
pub fn reach(path: &str) -> Option<Reach> {
    FIELDS
        .iter()
        .filter(|(p, _)| match p.strip_suffix("/**") {
            Some(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            }
            None => *p == path,
        })
        .max_by_key(|(p, _)| p.len())
        .map(|(_, r)| *r)
}

/// The README's table.
pub fn markdown() -> String {
    let mut out = String::from("| field | goes to | where, or why not |\n|---|---|---|\n");
    for (path, r) in FIELDS {
        let (to, what) = r.column();
        let shown = match path.strip_suffix("/**") {
            Some(p) => format!("`{p}` and beneath"),
            None => format!("`{path}`"),
        };
        out.push_str(&format!("| {shown} | {to} | {what} |\n"));
    }
    out
}

/// What a stack sets that stays on this machine although the reader may
/// expect it on ECS: local-only fields with a note set on a deployed
/// service. As `(path, why)`.
pub fn local_only_set(stack: &Stack) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let doc = serde_json::to_value(stack).unwrap_or(Value::Null);
    for (name, svc) in doc["services"].as_object().into_iter().flatten() {
        if !stack.deploys(name) {
            continue;
        }
        let mut svc = svc.clone();
        // Written in their short form: read from the model.
        if let Some(fields) = svc.as_object_mut() {
            fields.remove("ports");
        }
        walk(&svc, &format!("services.{name}"), "services.*", &mut out);
        for (i, port) in stack.services[name].ports.iter().enumerate() {
            if port.host.is_some()
                && let Some(Reach::Local { why, .. }) = reach("services.*.ports[].host")
            {
                out.push((format!("services.{name}.ports[{i}]"), why));
            }
        }
        for (car, c) in &stack.services[name].sidecars {
            for (i, port) in c.ports.iter().enumerate() {
                if port.host.is_some()
                    && let Some(Reach::Local { why, .. }) =
                        reach("services.*.sidecars.*.ports[].host")
                {
                    out.push((format!("services.{name}.sidecars.{car}.ports[{i}]"), why));
                }
            }
        }
    }
    out
}

/// The note `validate` and `render` print for what `local_only_set`
/// finds, one line per field; `None` when there is nothing to say.
pub fn local_only_note(stack: &Stack) -> Option<String> {
    let set = local_only_set(stack);
    if set.is_empty() {
        return None;
    }
    let lines: Vec<String> = set
        .iter()
        .map(|(path, why)| format!("  {path}: {why}"))
        .collect();
    Some(format!(
        "not rendered for ECS (local only; README: \"Where each field of stack.yaml goes\"):\n{}",
        lines.join("\n")
    ))
}

fn walk(v: &Value, concrete: &str, schema: &str, out: &mut Vec<(String, &'static str)>) {
    if let Some(Reach::Local { why, note: true }) = reach(schema) {
        out.push((concrete.to_string(), why));
        return;
    }
    match v {
        Value::Object(fields) => {
            for (k, child) in fields {
                walk(
                    child,
                    &format!("{concrete}.{k}"),
                    &format!("{schema}.{k}"),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(
                    child,
                    &format!("{concrete}[{i}]"),
                    &format!("{schema}[]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_row_wins_and_a_subtree_row_covers_what_is_beneath() {
        assert!(matches!(
            reach("services.*.ports[].host"),
            Some(Reach::Local { note: true, .. })
        ));
        assert!(matches!(
            reach("services.*.ports[].container"),
            Some(Reach::Ecs(_))
        ));
        assert!(matches!(
            reach("services.*.ecs.circuit_breaker.rollback"),
            Some(Reach::Ecs(_))
        ));
        assert!(matches!(
            reach("smoke[].http.expect.status"),
            Some(Reach::Check(_))
        ));
        // `image/**` covers `image.args` but not `images`.
        assert!(matches!(reach("image.args"), Some(Reach::Build(_))));
        assert_eq!(reach("images"), None);
        assert_eq!(reach("services.*.nothing"), None);
    }

    /// Every property path of the JSON schema (`*` a map key, `[]` a list
    /// item), through `$ref`s and `anyOf`s.
    fn schema_paths() -> Vec<String> {
        let schema = serde_json::to_value(schemars::schema_for!(Stack)).unwrap();
        let defs = schema["$defs"].clone();
        let mut out = Vec::new();
        fn walk(n: &Value, defs: &Value, path: &str, depth: u32, out: &mut Vec<String>) {
            let mut n = n;
            while let Some(r) = n.get("$ref").and_then(Value::as_str) {
                n = &defs[r.rsplit('/').next().unwrap()];
            }
            if depth > 16 {
                return;
            }
            for key in ["anyOf", "oneOf", "allOf"] {
                for sub in n[key].as_array().into_iter().flatten() {
                    walk(sub, defs, path, depth + 1, out);
                }
            }
            for (k, v) in n["properties"].as_object().into_iter().flatten() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if !out.contains(&p) {
                    out.push(p.clone());
                }
                walk(v, defs, &p, depth + 1, out);
            }
            if n["additionalProperties"].is_object() {
                walk(
                    &n["additionalProperties"],
                    defs,
                    &format!("{path}.*"),
                    depth + 1,
                    out,
                );
            }
            if n["items"].is_object() {
                walk(&n["items"], defs, &format!("{path}[]"), depth + 1, out);
            }
        }
        walk(&schema, &defs, "", 0, &mut out);
        out
    }

    #[test]
    fn every_field_of_the_schema_reaches_ecs_or_says_why_not() {
        let paths = schema_paths();
        assert!(paths.len() > 100, "{paths:?}");
        let missing: Vec<&String> = paths.iter().filter(|p| reach(p).is_none()).collect();
        assert!(
            missing.is_empty(),
            "fields with neither a rendering nor a reason in render::fidelity::FIELDS: {missing:?}"
        );
        // And no row is about a field that is gone.
        for (row, _) in FIELDS {
            let field = row.strip_suffix("/**").unwrap_or(row);
            assert!(
                paths.iter().any(|p| p == field),
                "no field `{field}` in the schema"
            );
        }
    }

    #[test]
    fn the_readme_prints_the_table() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        assert!(
            readme.contains(&markdown()),
            "README.md's table of where each field goes is stale; paste render::fidelity::markdown():\n{}",
            markdown()
        );
    }

    #[test]
    fn what_a_deployed_service_sets_that_stays_local_is_said() {
        let text = r#"
name: shop
image: {}
services:
  web:
    command: [serve]
    ports: ["8001:8000", 9000]
    ecs: { service: web, repository: shop, cpu: 256, memory: 512 }
  worker:
    command: [work]
    replicas: 2
    local: { restart: "no" }
    ecs: { service: worker, repository: shop, cpu: 256, memory: 512 }
  cache:
    image: redis:7
    ports: ["6379:6379"]
load_balancer:
  listeners:
    - { port: 8080, default_action: { forward: web } }
    - { port: 8081, alb_port: 8081, default_action: { forward: web } }
  target_groups:
    web: { service: web, port: 8000, health_check: { path: / } }
"#;
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        let empty = std::collections::BTreeMap::new();
        let stack = crate::stack::load::load_source(source, "local", &empty, &empty)
            .unwrap()
            .stack;
        let said: Vec<String> = local_only_set(&stack).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            said,
            [
                "services.web.ports[0]",
                "services.worker.replicas",
                "services.worker.local.restart"
            ]
        );
    }
}
