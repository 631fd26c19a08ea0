//! The values `infra/` must share with stack.yaml, as a Terraform variables
//! file (JSON): service, repository, family and target group names, container
//! ports, sizing, target group health checks, listener rules, SSM parameter
//! names, the Service Connect namespace, what each role must allow. Terraform reads them; nobody types them twice.

use serde_json::{Map, Value, json};

use super::ecs::RenderError;
use crate::stack::{Action, AwsSecret, Stack};

pub fn render(stack: &Stack, env: &str) -> Result<Value, RenderError> {
    let environment = stack.environments.get(env);
    let aws = environment
        .and_then(|e| e.aws.as_ref())
        .ok_or_else(|| RenderError::NoAws(env.to_string()))?;
    let role_name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();

    let mut services = Map::new();
    let mut parameters: Vec<String> = Vec::new();
    for (name, svc) in &stack.services {
        let Some(ecs) = &svc.ecs else { continue };
        let port = ecs
            .target_group
            .as_ref()
            .and_then(|tg| stack.load_balancer.as_ref()?.target_groups.get(tg))
            .map(|tg| tg.port)
            .or_else(|| svc.ports.first().map(|p| p.container));
        services.insert(
            name.clone(),
            json!({
                "ecs_service": ecs.service,
                "repository": ecs.repository,
                // An external image ECS pulls from where it came from starts
                // the bootstrap task definition infra/ registers.
                "image": if ecs.repository.is_none() { svc.image.clone() } else { None },
                "task_family": stack.task_family(name, env),
                "container_name": stack.container_name(name),
                "container_port": port,
                // A service that scales itself starts at its fewest tasks.
                "desired_count": match super::scaling::scaling_in(stack, name, env) {
                    Some(s) => s.min,
                    None => environment.and_then(|e| e.desired_count.get(name).copied()).unwrap_or(ecs.desired_count),
                },
                "cpu": ecs.cpu,
                "memory": ecs.memory,
                "min_healthy_percent": ecs.min_healthy_percent,
                "max_percent": ecs.max_percent,
                "circuit_breaker_enable": ecs.circuit_breaker.enable,
                "circuit_breaker_rollback": ecs.circuit_breaker.rollback,
                "health_check_grace_period": ecs.health_check_grace_period.map(|d| d.as_secs()),
                "target_group": ecs.target_group,
                "target_groups": super::ecs::routed_groups(stack, name).iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                "network": ecs.network.as_ref().map(network),
                "capacity": ecs.capacity.iter().map(|c| json!({ "provider": c.provider.name(), "weight": c.weight, "base": c.base })).collect::<Vec<_>>(),
            }),
        );
        // ECS's blue/green, canary or linear deployments: the strategy, and
        // the listener rule whose weights ECS moves.
        let alarms = super::scaling::alarms(stack, name, env, aws, ecs);
        if let Some(config) = super::ecs::strategy(ecs, stack.strategy_in(name, env), &alarms) {
            let production_rule = super::ecs::aws_listeners(stack)
                .into_iter()
                .flat_map(|(l, rules)| rules.into_iter().map(move |r| (l, r)))
                .find(|(_, r)| matches!(&r.action, Action::Forward(g) if Some(g) == ecs.target_group.as_ref()))
                .map(|(l, r)| rule_key(l.alb_port(), r.priority));
            services[name]["deployment"] = json!({
                "strategy": config["strategy"],
                "bake_time_in_minutes": config["bakeTimeInMinutes"],
                "canary": config.get("canaryConfiguration").map(|c| json!({
                    "percent": c["canaryPercent"], "bake_time_in_minutes": c["canaryBakeTimeInMinutes"],
                })),
                "linear": config.get("linearConfiguration").map(|c| json!({
                    "percent": c["stepPercent"], "bake_time_in_minutes": c["stepBakeTimeInMinutes"],
                })),
            });
            services[name]["production_rule"] = json!(production_rule);
        }
        for secret in &svc.secrets {
            if let Some(AwsSecret::Ssm(p)) = stack.secrets.get(secret).and_then(|s| s.aws.as_ref())
                && !p.starts_with("arn:")
                && !parameters.contains(p)
            {
                parameters.push(p.clone());
            }
        }
    }
    parameters.sort();
    // One repository may hold the image of several services: created once,
    // keyed by the first service that pushes to it (as before repositories
    // could be shared, so Terraform's addresses stay).
    let mut repositories = Map::new();
    // The log groups services name besides the environment's, each once.
    let mut log_groups: Vec<String> = Vec::new();
    for (name, svc) in &stack.services {
        let Some(ecs) = &svc.ecs else { continue };
        if let Some(repo) = &ecs.repository
            && !repositories.values().any(|r| r == &json!(repo))
        {
            repositories.insert(name.clone(), json!(repo));
        }
        // A sidecar's own repository, keyed `SERVICE/SIDECAR`.
        for (car, c) in &svc.sidecars {
            if let Some(repo) = &c.repository
                && !repositories.values().any(|r| r == &json!(repo))
            {
                repositories.insert(format!("{name}/{car}"), json!(repo));
            }
        }
        let group = stack.log_group(name, aws);
        if group != aws.log_group && !log_groups.contains(&group) {
            log_groups.push(group);
        }
    }

    let mut target_groups = Map::new();
    let mut rules = Vec::new();
    let mut listeners = Map::new();
    if let Some(lb) = &stack.load_balancer {
        for (name, tg) in &lb.target_groups {
            // Only groups whose service runs on ECS exist in the cloud.
            if !stack.group_on_ecs(name) {
                continue;
            }
            let hc = &tg.health_check;
            let alternate = shifts_traffic(stack, name, env).then(|| {
                crate::stack::strategy::alternate_name(&stack.target_group_name(name, env))
            });
            target_groups.insert(
                name.clone(),
                json!({
                    "name": stack.target_group_name(name, env),
                    "port": tg.port,
                    "deregistration_delay": tg.deregistration_delay.as_secs(),
                    "health_check": {
                        "path": hc.path,
                        "port": hc.port.map(|p| p.to_string()).unwrap_or_else(|| "traffic-port".into()),
                        "interval": hc.interval.as_secs(),
                        "timeout": hc.timeout.as_secs(),
                        "healthy_threshold": hc.healthy_threshold,
                        "unhealthy_threshold": hc.unhealthy_threshold,
                        "matcher": hc.matcher,
                    },
                }),
            );
            if let Some(alternate) = alternate {
                target_groups[name]["alternate"] = json!(alternate);
            }
        }
        for (listener, aws_rules) in super::ecs::aws_listeners(stack) {
            let key = listener.alb_port().to_string();
            for rule in aws_rules {
                let mut r = action(&rule.action);
                r["listener"] = json!(key);
                r["priority"] = json!(rule.priority);
                r["path_patterns"] = json!(rule.conditions.path);
                r["host_headers"] = json!(rule.conditions.host);
                r["methods"] = json!(rule.conditions.method);
                if matches!(&rule.action, Action::Forward(g) if shifts_traffic(stack, g, env)) {
                    // ECS moves its weights: infra/ keeps it apart.
                    r["shifted"] = json!(true);
                }
                rules.push(r);
            }
            let https = listener.protocol == crate::stack::ListenerProtocol::Https;
            listeners.insert(
                key,
                json!({
                    "port": listener.alb_port(),
                    "protocol": listener.protocol.name(),
                    "certificate_arn": if https { json!(aws.certificate_arn) } else { Value::Null },
                    "ssl_policy": if https {
                        json!(listener.ssl_policy.as_deref().unwrap_or(crate::stack::DEFAULT_SSL_POLICY))
                    } else {
                        Value::Null
                    },
                    "default_action": action(&listener.default_action),
                }),
            );
        }
    }
    Ok(json!({
        "stack": stack.name,
        "environment": env,
        "region": aws.region,
        "account_id": aws.account_id,
        "cluster_name": aws.cluster,
        "log_group": aws.log_group,
        "service_log_groups": log_groups,
        "repositories": repositories,
        "namespace": stack.namespace(env),
        "service_connect": aws.service_connect,
        "execution_role_name": role_name(&aws.execution_role_arn),
        "task_role_name": role_name(&aws.task_role_arn),
        "load_balancer_name": stack.load_balancer_name(env),
        "idle_timeout": stack.load_balancer.as_ref().map(|l| l.idle_timeout.as_secs()).unwrap_or(60),
        "services": services,
        "target_groups": target_groups,
        "listeners": listeners,
        "listener_rules": rules,
        "ssm_parameters": parameters,
        "execution_role_statements": crate::deploy::iam::execution_statements(stack, env),
        "task_role_statements": crate::deploy::iam::task_statements(stack),
    }))
}

/// Whether ECS shifts the traffic of target group `key` between it and
/// an alternate: its service's own group, deployed blue/green, canary or
/// linear.
fn shifts_traffic(stack: &crate::stack::Stack, key: &str, env: &str) -> bool {
    stack
        .load_balancer
        .as_ref()
        .and_then(|lb| lb.target_groups.get(key))
        .is_some_and(|tg| {
            !stack.strategy_in(&tg.service, env).is_rolling()
                && stack
                    .ecs(&tg.service)
                    .and_then(|e| e.target_group.as_deref())
                    == Some(key)
        })
}

/// A listener rule's key in infra/ (`aws_lb_listener_rule`'s for_each):
/// its priority on port 80, `PORT-PRIORITY` on the others.
fn rule_key(port: u16, priority: u32) -> String {
    match port {
        80 => priority.to_string(),
        p => format!("{p}-{priority}"),
    }
}

/// A service's `ecs.network` for Terraform: IDs, or tags its data sources
/// look up (empty when not chosen that way).
fn network(net: &crate::stack::model::Network) -> Value {
    use crate::stack::model::Chosen;
    let ids = |c: &Chosen| match c {
        Chosen::Ids(ids) => json!(ids),
        Chosen::Tags { .. } => json!([]),
    };
    let tags = |c: &Chosen| match c {
        Chosen::Ids(_) => json!({}),
        Chosen::Tags { tags } => json!(tags),
    };
    json!({
        "public_ip": net.public_ip,
        "subnet_ids": ids(&net.subnets),
        "subnet_tags": tags(&net.subnets),
        "security_group_ids": ids(&net.security_groups),
        "security_group_tags": tags(&net.security_groups),
    })
}

/// An action as infra/'s listeners and rules take it: its type and the
/// one of target group, fixed response or redirect it has.
fn action(a: &Action) -> Value {
    let (kind, group, fixed, redirect) = match a {
        Action::Forward(g) => ("forward", json!(g), Value::Null, Value::Null),
        Action::FixedResponse(f) => (
            "fixed-response",
            Value::Null,
            json!({"status_code": f.status.to_string(), "content_type": f.content_type, "message_body": f.body}),
            Value::Null,
        ),
        Action::Redirect(r) => {
            let alb = super::ecs::alb_redirect(r);
            (
                "redirect",
                Value::Null,
                Value::Null,
                json!({
                    "protocol": alb["protocol"], "port": alb["port"], "host": alb["host"],
                    "path": alb["path"], "query": alb["query"], "status_code": alb["statusCode"],
                }),
            )
        }
    };
    json!({ "type": kind, "target_group": group, "fixed_response": fixed, "redirect": redirect })
}
