//! What ECS gets for an environment: one `RegisterTaskDefinition` input, one
//! `UpdateService` input and the target group's health check per app service,
//! and a task definition per job those services wait for (`migrate`), which
//! promote runs once as a one-off task before it updates them; and the ALB
//! listener's rules, which infra/ creates and preflight compares.
//!
//! Field names and types follow the ECS and ELBv2 API references (cpu and
//! memory are strings, durations whole seconds), so the JSON can be sent as
//! it is. Built from `spec::container_spec`, the same mapping `geno up` uses.

use serde_json::{Map, Value, json};

use crate::spec::{ContainerSpec, container_spec};
use crate::stack::model::{Chosen, Condition, Network, ServiceKind, VolumeOnEcs};
use crate::stack::strategy::Strategy;
use crate::stack::{Action, AwsEnvironment, Stack};

/// What image the task definitions name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageChoice {
    /// Not chosen yet: a tag that says so (`geno promote` pins a digest).
    Unpinned,
    /// A manifest digest; each service gets `REGISTRY/REPOSITORY@DIGEST`.
    Digest(String),
    /// A manifest digest per build (a stack with several): each service
    /// gets its build's.
    Digests(crate::spec::Images),
    /// A full reference used for every service as given.
    Reference(String),
}

/// The tag of an unpinned rendering; nothing is ever pushed under it.
pub const UNPINNED_TAG: &str = "unpinned";

impl ImageChoice {
    /// `sha256:…` is a digest, `repo@sha256:…` a reference, and
    /// `BUILD=sha256:…,BUILD=sha256:…` a digest per build; anything else
    /// is refused because task definitions are only ever pinned by digest.
    pub fn parse(text: &str) -> Result<ImageChoice, RenderError> {
        if text.contains('=') {
            let mut digests = crate::spec::Images::new();
            for pair in text.split(',') {
                match pair.split_once('=') {
                    Some((build, d)) if !build.is_empty() && is_digest(d) => {
                        digests.insert(build.to_string(), d.to_string());
                    }
                    _ => return Err(RenderError::BadImage(text.to_string())),
                }
            }
            return Ok(ImageChoice::Digests(digests));
        }
        if is_digest(text) {
            return Ok(ImageChoice::Digest(text.to_string()));
        }
        match text.rsplit_once('@') {
            Some((repo, digest)) if !repo.is_empty() && is_digest(digest) => {
                Ok(ImageChoice::Reference(text.to_string()))
            }
            _ => Err(RenderError::BadImage(text.to_string())),
        }
    }
}

pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("environment `{0}` has no `aws` section, so there is nothing to render for ECS")]
    NoAws(String),
    #[error(
        "`{0}` is not an image digest: expected `sha256:<64 hex>`, `repository@sha256:<64 hex>` or `BUILD=sha256:<64 hex>,…`"
    )]
    BadImage(String),
    #[error("secret `{secret}` has no `aws` source for environment `{env}`")]
    NoSecretSource { secret: String, env: String },
    #[error("no digest for `{build}` (what `{service}` runs): name one as `{build}=sha256:…`")]
    NoDigest { build: String, service: String },
}

/// The rendering for one environment, as printed by `geno render`.
pub fn render(stack: &Stack, env: &str, image: &ImageChoice) -> Result<Value, RenderError> {
    let environment = stack.environments.get(env);
    let aws = environment
        .and_then(|e| e.aws.as_ref())
        .ok_or_else(|| RenderError::NoAws(env.to_string()))?;
    let mut services = Map::new();
    for (name, svc) in &stack.services {
        let Some(ecs) = &svc.ecs else { continue };
        let spec = container_spec(name, svc);
        let family = stack.task_family(name, env);
        let image_ref = image_ref(stack, name, aws, ecs.repository.as_deref(), image)?;
        let desired = environment
            .and_then(|e| e.desired_count.get(name).copied())
            .unwrap_or(ecs.desired_count);
        let container = container_definition(stack, env, aws, &spec, &image_ref)?;
        let mut containers = vec![container];
        let mut sidecar_images = Vec::new();
        for (car_name, car) in &svc.sidecars {
            let repository = car.repository.as_deref().or_else(|| {
                // The service's own build goes to the service's repository.
                (car.image.is_none() && stack.sidecar_build(name, car_name) == stack.build_of(name))
                    .then_some(ecs.repository.as_deref())
                    .flatten()
            });
            let key = stack.sidecar_key(name, car_name);
            let reference = image_for(aws, car.image.as_deref(), key.clone(), repository, image)
                .map_err(|build| RenderError::NoDigest {
                    build,
                    service: format!("{name}/{car_name}"),
                })?;
            let mut def = container_definition(
                stack,
                env,
                aws,
                &crate::spec::sidecar_spec(name, car_name, car),
                &reference,
            )?;
            def["essential"] = json!(car.essential);
            if let Some(cpu) = car.cpu {
                def["cpu"] = json!(cpu);
            }
            if let Some(memory) = car.memory {
                def["memory"] = json!(memory);
            }
            let waits = depends_on(&car.depends_on, stack.container_name(name), name);
            if !waits.is_empty() {
                def["dependsOn"] = Value::Array(waits);
            }
            containers.push(def);
            let mut entry = json!({ "name": car_name, "repository": repository });
            match &car.image {
                Some(reference) => entry["externalImage"] = json!(reference),
                None => entry["build"] = json!(key),
            }
            sidecar_images.push(entry);
        }
        let task_definition = fargate_task_definition(stack, name, &family, aws, ecs, containers);
        let mut service = json!({
            "cluster": aws.cluster,
            "service": ecs.service,
            "taskDefinition": family,
            "desiredCount": desired,
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {
                    "enable": ecs.circuit_breaker.enable,
                    "rollback": ecs.circuit_breaker.rollback,
                },
                "minimumHealthyPercent": ecs.min_healthy_percent,
                "maximumPercent": ecs.max_percent,
            },
        });
        if let Some(grace) = ecs.health_check_grace_period {
            service["healthCheckGracePeriodSeconds"] = json!(grace.as_secs());
        }
        let scaling = super::scaling::scaling(stack, name, env, aws, ecs);
        if scaling.is_some() {
            // Its count is the scaler's: promote keeps the one it has.
            if let Some(o) = service.as_object_mut() {
                o.remove("desiredCount");
            }
        }
        let alarms = super::scaling::alarms(stack, name, env, aws, ecs);
        let rollback: Vec<&str> = alarms
            .iter()
            .filter(|(_, r)| *r)
            .map(|(a, _)| a.alarm_name.as_str())
            .collect();
        if !rollback.is_empty() {
            service["deploymentConfiguration"]["alarms"] =
                json!({ "alarmNames": rollback, "enable": true, "rollback": true });
        }
        if let Some(Value::Object(fields)) = strategy(ecs, stack.strategy_in(name, env), &alarms) {
            for (k, v) in fields {
                service["deploymentConfiguration"][k] = v;
            }
        }
        if aws.service_connect {
            service["serviceConnectConfiguration"] = service_connect(stack, env, &spec);
        }
        if let Some(vpc) = ecs.network.as_ref().and_then(network) {
            service["networkConfiguration"] = vpc;
        }
        if !ecs.capacity.is_empty() {
            service["capacityProviderStrategy"] = ecs
                .capacity
                .iter()
                .map(|c| json!({ "capacityProvider": c.provider.name(), "weight": c.weight, "base": c.base }))
                .collect();
        }
        let mut entry = json!({
            "repository": ecs.repository,
            "taskDefinition": task_definition,
            "service": service,
        });
        key_entry(stack, name, &mut entry);
        if let Some(scaling) = &scaling {
            entry["scaling"] = json!(scaling);
        }
        if !alarms.is_empty() {
            entry["alarms"] = alarms.iter().map(|(a, _)| json!(a)).collect();
        }
        if let Some(bake) = ecs.bake {
            entry["bakeSeconds"] = json!(bake.as_secs());
        }
        if !sidecar_images.is_empty() {
            entry["sidecars"] = Value::Array(sidecar_images);
        }
        if let Some(net) = &ecs.network {
            entry["placement"] = json!({
                "publicIp": net.public_ip,
                "subnets": selector(&net.subnets),
                "securityGroups": selector(&net.security_groups),
            });
        }
        let groups: Vec<Value> = routed_groups(stack, name)
            .into_iter()
            .map(|(key, tg)| {
                let hc = &tg.health_check;
                json!({
                    "name": stack.target_group_name(key, env),
                    "protocol": "HTTP",
                    "port": tg.port,
                    "targetType": "ip",
                    "healthCheckProtocol": "HTTP",
                    "healthCheckPath": hc.path,
                    "healthCheckPort": hc.port.map(|p| p.to_string()).unwrap_or_else(|| "traffic-port".into()),
                    "healthCheckIntervalSeconds": hc.interval.as_secs(),
                    "healthCheckTimeoutSeconds": hc.timeout.as_secs(),
                    "healthyThresholdCount": hc.healthy_threshold,
                    "unhealthyThresholdCount": hc.unhealthy_threshold,
                    "matcher": { "HttpCode": hc.matcher },
                    "deregistrationDelaySeconds": tg.deregistration_delay.as_secs(),
                    "containerName": stack.container_name(name),
                    "containerPort": tg.port,
                })
            })
            .collect();
        if !groups.is_empty() {
            entry["targetGroups"] = Value::Array(groups);
        }
        services.insert(name.clone(), entry);
    }
    let mut jobs = Map::new();
    for (name, svc) in &stack.services {
        if svc.kind != ServiceKind::Job {
            continue;
        }
        // The ECS services that wait for this job to succeed: it runs
        // before they are updated, sized and networked like the first.
        let dependents: Vec<(&String, &crate::stack::model::EcsService)> = stack
            .services
            .iter()
            .filter(|(_, s)| s.depends_on.0.get(name) == Some(&Condition::CompletedSuccessfully))
            .filter_map(|(n, s)| s.ecs.as_ref().map(|e| (n, e)))
            .collect();
        let Some((_, first)) = dependents.first() else {
            continue;
        };
        let spec = container_spec(name, svc);
        let image_ref = image_ref(stack, name, aws, first.repository.as_deref(), image)?;
        let mut container = container_definition(stack, env, aws, &spec, &image_ref)?;
        // The whole task's memory, which is what Fargate gives a task's only
        // container anyway; stated because RunTask emulators (moto) size a
        // task from its containers.
        container["memoryReservation"] = json!(first.memory);
        let task_definition = fargate_task_definition(
            stack,
            name,
            &stack.task_family(name, env),
            aws,
            first,
            vec![container],
        );
        let mut entry = json!({
            "taskDefinition": task_definition,
            "runsBefore": dependents.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            "networkFrom": first.service,
        });
        key_entry(stack, name, &mut entry);
        jobs.insert(name.clone(), entry);
    }
    let mut rendering = json!({
        "environment": env,
        "region": aws.region,
        "accountId": aws.account_id,
        "cluster": aws.cluster,
        "imagePinned": !matches!(image, ImageChoice::Unpinned),
        "services": services,
        "jobs": jobs,
    });
    let listeners = listeners(stack, env, aws);
    if !listeners.is_empty() {
        rendering["listeners"] = Value::Array(listeners);
    }
    if let Some(d) = super::scaling::dashboard(stack, env, aws) {
        rendering["dashboard"] = d;
    }
    Ok(rendering)
}

/// The listeners that reach AWS, each with the rules that do, in
/// stack.yaml's order: rules whose action answers or redirects, or
/// forwards to a group of a service on ECS; the other groups exist only
/// locally. Empty without a load balancer.
pub fn aws_listeners(stack: &Stack) -> Vec<(&crate::stack::Listener, Vec<&crate::stack::Rule>)> {
    let Some(lb) = stack.load_balancer.as_ref() else {
        return Vec::new();
    };
    lb.listeners
        .iter()
        .map(|listener| {
            let rules = listener
                .rules
                .iter()
                .filter(|r| match &r.action {
                    Action::Forward(group) => stack.group_on_ecs(group),
                    Action::FixedResponse(_) | Action::Redirect(_) => true,
                })
                .collect();
            (listener, rules)
        })
        .collect()
}

/// A redirect as the ALB stores it: every part filled in (unset parts
/// keep the request's), the status as `HTTP_301`.
pub fn alb_redirect(r: &crate::stack::Redirect) -> Value {
    json!({
        "protocol": r.protocol.map(|p| p.name().to_string()).unwrap_or_else(|| "#{protocol}".into()),
        "port": r.port.map(|p| p.to_string()).unwrap_or_else(|| "#{port}".into()),
        "host": r.host.clone().unwrap_or_else(|| "#{host}".into()),
        "path": r.path.clone().unwrap_or_else(|| "/#{path}".into()),
        "query": r.query.clone().unwrap_or_else(|| "#{query}".into()),
        "statusCode": format!("HTTP_{}", r.status),
    })
}

/// The target groups that route to service `name`, by their stack.yaml
/// key: its `ecs.target_group` first, then the others in stack.yaml's
/// order. Every one is attached to the ECS service (infra/ does it).
pub fn routed_groups<'a>(
    stack: &'a Stack,
    name: &str,
) -> Vec<(&'a String, &'a crate::stack::TargetGroup)> {
    let Some(lb) = &stack.load_balancer else {
        return Vec::new();
    };
    let main = stack
        .services
        .get(name)
        .and_then(|s| s.ecs.as_ref())
        .and_then(|e| e.target_group.as_ref());
    let mut out: Vec<_> = lb
        .target_groups
        .iter()
        .filter(|(key, tg)| tg.service == name || Some(*key) == main)
        .collect();
    out.sort_by_key(|(key, _)| Some(*key) != main);
    out
}

/// The ALB listeners infra/ creates (port 80 for HTTP, 443 for HTTPS,
/// unless `alb_port` says) with the rules that reach AWS, in
/// `deploy::listener::Listener`'s shape.
fn listeners(stack: &Stack, env: &str, aws: &AwsEnvironment) -> Vec<Value> {
    let action = |a: &Action| match a {
        Action::Forward(group) => json!({ "forward": stack.target_group_name(group, env) }),
        Action::FixedResponse(f) => json!({ "fixedResponse": {
            "statusCode": f.status.to_string(),
            "contentType": f.content_type,
            "messageBody": f.body,
        }}),
        Action::Redirect(r) => json!({ "redirect": alb_redirect(r) }),
    };
    aws_listeners(stack)
        .into_iter()
        .map(|(listener, rules)| {
            let rules: Vec<Value> = rules
                .iter()
                .map(|r| {
                    let c = &r.conditions;
                    let conditions: Vec<Value> = [
                        ("path-pattern", &c.path),
                        ("host-header", &c.host),
                        ("http-request-method", &c.method),
                    ]
                    .into_iter()
                    .filter(|(_, values)| !values.is_empty())
                    .map(|(field, values)| json!({ "field": field, "values": values }))
                    .collect();
                    json!({ "priority": r.priority, "conditions": conditions, "action": action(&r.action) })
                })
                .collect();
            let mut out = json!({
                "loadBalancer": stack.load_balancer_name(env),
                "port": listener.alb_port(),
                "rules": rules,
                "defaultAction": action(&listener.default_action),
            });
            if listener.protocol == crate::stack::ListenerProtocol::Https {
                out["protocol"] = json!("HTTPS");
                out["certificate"] = json!(aws.certificate_arn);
                out["sslPolicy"] = json!(
                    listener
                        .ssl_policy
                        .as_deref()
                        .unwrap_or(crate::stack::DEFAULT_SSL_POLICY)
                );
            }
            out
        })
        .collect()
}

/// How a service is reached on ECS: through Service Connect in the
/// environment's namespace, each container port at the service's own name
/// (`http://image-gen:8189` as locally, since Fargate tasks cannot search
/// a DNS domain). A service with no ports is a client only; every deployed
/// service is at least that, so it can call the others.
fn service_connect(stack: &Stack, env: &str, spec: &ContainerSpec) -> Value {
    let services: Vec<Value> = unique_ports(&spec.container_ports)
        .into_iter()
        .map(|p| {
            json!({
                "portName": port_name(&spec.service, p),
                "clientAliases": [{ "port": p, "dnsName": spec.service }],
            })
        })
        .collect();
    json!({
        "enabled": true,
        "namespace": stack.namespace(env),
        "services": services,
    })
}

/// A service's `networkConfiguration` when stack.yaml names its subnets and
/// security groups by ID; `None` when either is by tag (found in EC2 when
/// the environment is read: `environment::network`).
fn network(net: &Network) -> Option<Value> {
    let (Chosen::Ids(subnets), Chosen::Ids(groups)) = (&net.subnets, &net.security_groups) else {
        return None;
    };
    Some(json!({ "awsvpcConfiguration": {
        "subnets": subnets,
        "securityGroups": groups,
        "assignPublicIp": if net.public_ip { "ENABLED" } else { "DISABLED" },
    }}))
}

/// Subnets or groups as the rendering's `placement` carries them.
fn selector(chosen: &Chosen) -> Value {
    match chosen {
        Chosen::Ids(ids) => json!({ "ids": ids }),
        Chosen::Tags { tags } => {
            json!({ "tags": tags.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>() })
        }
    }
}

/// The name of a container's port mapping, which Service Connect refers to.
pub fn port_name(service: &str, port: u16) -> String {
    format!("{service}-{port}")
}

fn unique_ports(ports: &[u16]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    for p in ports {
        if !out.contains(p) {
            out.push(*p);
        }
    }
    out
}

/// A Fargate task definition, sized by `ecs`: the service's (or job's)
/// container first, then its sidecars.
fn fargate_task_definition(
    stack: &Stack,
    service: &str,
    family: &str,
    aws: &AwsEnvironment,
    ecs: &crate::stack::model::EcsService,
    containers: Vec<Value>,
) -> Value {
    let volumes = containers
        .first()
        .map(|c| task_volumes(stack, c))
        .unwrap_or_default();
    let mut td = json!({
        "family": family,
        "taskRoleArn": aws.task_role_arn,
        "executionRoleArn": aws.execution_role_arn,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": ecs.cpu.to_string(),
        "memory": ecs.memory.to_string(),
        "runtimePlatform": {
            "cpuArchitecture": stack
                .build_of(service)
                .and_then(|b| stack.build(b))
                .and_then(|b| b.platform)
                .map(|p| p.ecs_arch())
                .unwrap_or("X86_64"),
            "operatingSystemFamily": "LINUX",
        },
        "containerDefinitions": containers,
    });
    if !volumes.is_empty() {
        td["volumes"] = Value::Array(volumes);
    }
    td
}

/// The mounts of a deployed container: each named volume with an `ecs`
/// source (validation refuses the others on a deployed service; a
/// service's `local.volumes` stay on this machine).
fn mount_points(stack: &Stack, name: &str) -> Vec<Value> {
    let Some(svc) = stack.services.get(name) else {
        return Vec::new();
    };
    svc.volumes
        .iter()
        .filter_map(|v| {
            let parts: Vec<&str> = v.split(':').collect();
            let (src, dst) = (*parts.first()?, *parts.get(1)?);
            stack.volumes.get(src)?.ecs.as_ref()?;
            Some(json!({
                "sourceVolume": src,
                "containerPath": dst,
                "readOnly": parts.get(2) == Some(&"ro"),
            }))
        })
        .collect()
}

/// The task's volumes: one per volume its container mounts.
fn task_volumes(stack: &Stack, container: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for m in container["mountPoints"].as_array().into_iter().flatten() {
        let name = m["sourceVolume"].as_str().unwrap_or_default();
        if out.iter().any(|v| v["name"] == name) {
            continue;
        }
        let mut volume = json!({ "name": name });
        if let Some(VolumeOnEcs::Efs(efs)) = stack.volumes.get(name).and_then(|v| v.ecs.as_ref()) {
            let mut config = json!({
                "fileSystemId": efs.file_system_id,
                "transitEncryption": "ENABLED",
            });
            if let Some(root) = &efs.root_directory {
                config["rootDirectory"] = json!(root);
            }
            if let Some(ap) = &efs.access_point_id {
                config["authorizationConfig"] = json!({ "accessPointId": ap, "iam": "ENABLED" });
            }
            volume["efsVolumeConfiguration"] = config;
        }
        out.push(volume);
    }
    out
}

/// What a rendered service or job runs, when it is not the stack's one
/// image: `build` (one of `builds:`) or `externalImage` (its reference,
/// deployed as it is).
fn key_entry(stack: &Stack, name: &str, entry: &mut Value) {
    let Some(svc) = stack.services.get(name) else {
        return;
    };
    if let Some(reference) = &svc.image {
        entry["externalImage"] = json!(reference);
    } else if stack.names_builds() {
        entry["build"] = json!(stack.build_of(name));
    }
}

/// The image a container names. Pinned, a service on a build (or on an
/// external image mirrored to `repository`) gets `REGISTRY/REPOSITORY@DIGEST`;
/// an external image without a repository gets `IMAGE@DIGEST` where it
/// came from. Unpinned, a tag that says so, or the external reference as
/// written.
fn image_ref(
    stack: &Stack,
    service: &str,
    aws: &AwsEnvironment,
    repository: Option<&str>,
    image: &ImageChoice,
) -> Result<String, RenderError> {
    let external = stack.services.get(service).and_then(|s| s.image.as_deref());
    let key = stack.image_key(service);
    image_for(aws, external, key, repository, image).map_err(|build| RenderError::NoDigest {
        build,
        service: service.to_string(),
    })
}

/// The reference of a container running `external` (or a build), pinned
/// by `key` in `image`; `Err` with the key when `image` has no digest for it.
fn image_for(
    aws: &AwsEnvironment,
    external: Option<&str>,
    key: Option<String>,
    repository: Option<&str>,
    image: &ImageChoice,
) -> Result<String, String> {
    let in_repository = |d: &str| match (repository, external) {
        (Some(repo), _) => format!("{}/{repo}@{d}", aws.registry()),
        (None, Some(reference)) => {
            format!("{}@{d}", crate::deploy::origin::repository_of(reference))
        }
        (None, None) => d.to_string(),
    };
    let unpinned = match (external, repository) {
        (Some(reference), None) => reference.to_string(),
        (_, repo) => format!(
            "{}/{}:{UNPINNED_TAG}",
            aws.registry(),
            repo.unwrap_or_default()
        ),
    };
    Ok(match image {
        ImageChoice::Unpinned => unpinned,
        ImageChoice::Digest(_) | ImageChoice::Reference(_) if external.is_some() => unpinned,
        ImageChoice::Digest(d) => in_repository(d),
        ImageChoice::Digests(by_key) => {
            let key = key.unwrap_or_else(|| crate::stack::DEFAULT_BUILD.to_string());
            let Some(d) = by_key.get(&key) else {
                return Err(key);
            };
            if d.contains('@') {
                d.clone()
            } else {
                in_repository(d)
            }
        }
        ImageChoice::Reference(r) => r.clone(),
    })
}

/// A sidecar's `dependsOn`: the containers of its task it waits for (the
/// service's own by its container's name).
fn depends_on(deps: &crate::stack::DependsOn, container: &str, service: &str) -> Vec<Value> {
    deps.0
        .iter()
        .map(|(d, c)| {
            let name = if d == service { container } else { d.as_str() };
            let condition = match c {
                Condition::Started => "START",
                Condition::Healthy => "HEALTHY",
                Condition::CompletedSuccessfully => "SUCCESS",
            };
            json!({ "containerName": name, "condition": condition })
        })
        .collect()
}

fn container_definition(
    stack: &Stack,
    env: &str,
    aws: &AwsEnvironment,
    spec: &ContainerSpec,
    image: &str,
) -> Result<Value, RenderError> {
    let name = match &spec.sidecar {
        Some(sidecar) => sidecar.as_str(),
        None => stack.container_name(&spec.service),
    };
    let mut def = json!({
        "name": name,
        "image": image,
        "essential": true,
    });
    if let Some(entrypoint) = &spec.entrypoint {
        def["entryPoint"] = json!(entrypoint);
    }
    if let Some(command) = &spec.command {
        def["command"] = json!(command);
    }
    def["portMappings"] = unique_ports(&spec.container_ports)
        .into_iter()
        .map(|p| {
            let mut m = json!({ "containerPort": p, "protocol": "tcp" });
            if aws.service_connect && spec.sidecar.is_none() {
                m["name"] = json!(port_name(&spec.service, p));
            }
            m
        })
        .collect();
    def["environment"] = spec
        .environment
        .iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    let mut secrets = Vec::new();
    for name in &spec.secrets {
        let source = stack
            .secrets
            .get(name)
            .and_then(|s| s.aws.as_ref())
            .ok_or_else(|| RenderError::NoSecretSource {
                secret: name.clone(),
                env: env.to_string(),
            })?;
        secrets.push(json!({ "name": name, "valueFrom": value_from(aws, source) }));
    }
    def["secrets"] = Value::Array(secrets);
    if let Some(h) = &spec.health {
        let mut hc = json!({
            "command": h.test,
            "interval": h.interval_secs,
            "timeout": h.timeout_secs,
            "retries": h.retries,
        });
        if let Some(sp) = h.start_period_secs {
            hc["startPeriod"] = json!(sp);
        }
        def["healthCheck"] = hc;
    }
    def["stopTimeout"] = json!(spec.stop_grace_secs);
    let mounts = match spec.sidecar {
        Some(_) => Vec::new(),
        None => mount_points(stack, &spec.service),
    };
    if !mounts.is_empty() {
        def["mountPoints"] = Value::Array(mounts);
    }
    def["logConfiguration"] = json!({
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": stack.log_group(&spec.service, aws),
            "awslogs-region": aws.region,
            "awslogs-stream-prefix": stack.log_stream_prefix(&spec.service),
        }
    });
    Ok(def)
}

use crate::deploy::iam::value_from;

/// How long the old tasks are kept once all traffic has moved: `ecs.bake`,
/// or the longest time one of the rollback `alarms` takes to fire.
pub fn bake(
    ecs: &crate::stack::model::EcsService,
    alarms: &[(crate::deploy::scaling::Alarm, bool)],
) -> std::time::Duration {
    ecs.bake.map(|b| b.0).unwrap_or_else(|| {
        alarms
            .iter()
            .filter(|(_, r)| *r)
            .map(|(a, _)| a.fires_after())
            .max()
            .unwrap_or_default()
    })
}

/// ECS's traffic-shifting strategy as deployment configuration fields
/// (`strategy`, `bakeTimeInMinutes`, `canaryConfiguration`…); `None` for a
/// rolling service. Bakes are whole minutes, rounded up; the default bake
/// is the longest time one of the rollback `alarms` takes to fire.
pub fn strategy(
    ecs: &crate::stack::model::EcsService,
    chosen: &Strategy,
    alarms: &[(crate::deploy::scaling::Alarm, bool)],
) -> Option<Value> {
    if chosen.is_rolling() {
        return None;
    }
    let bake = bake(ecs, alarms);
    let minutes = |d: std::time::Duration| d.as_secs().div_ceil(60);
    let mut config = json!({
        "strategy": chosen.ecs_name(),
        "bakeTimeInMinutes": minutes(bake),
    });
    match chosen {
        Strategy::Canary(shift) => {
            config["canaryConfiguration"] = json!({
                "canaryPercent": shift.percent,
                "canaryBakeTimeInMinutes": minutes(shift.bake.0),
            });
        }
        Strategy::Linear(shift) => {
            config["linearConfiguration"] = json!({
                "stepPercent": shift.percent,
                "stepBakeTimeInMinutes": minutes(shift.bake.0),
            });
        }
        Strategy::Rolling | Strategy::BlueGreen => {}
    }
    Some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_choices() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            ImageChoice::parse(&d).unwrap(),
            ImageChoice::Digest(d.clone())
        );
        let r = format!("reg/repo@{d}");
        assert_eq!(
            ImageChoice::parse(&r).unwrap(),
            ImageChoice::Reference(r.clone())
        );
        assert_eq!(
            ImageChoice::parse("repo:latest").unwrap_err().to_string(),
            "`repo:latest` is not an image digest: expected `sha256:<64 hex>`, `repository@sha256:<64 hex>` or `BUILD=sha256:<64 hex>,…`"
        );
        assert!(ImageChoice::parse(&format!("sha256:{}", "A".repeat(64))).is_err());
        let e = format!("sha256:{}", "e".repeat(64));
        assert_eq!(
            ImageChoice::parse(&format!("api={d},web={e}")).unwrap(),
            ImageChoice::Digests([("api".into(), d.clone()), ("web".into(), e)].into())
        );
        assert!(ImageChoice::parse("api=latest").is_err());
    }

    fn two_builds() -> Stack {
        let text = r#"
name: canvas
builds:
  api: { context: ., platform: linux/arm64 }
  web: { context: . }
services:
  migrate: { kind: job, build: api, command: [migrate] }
  api:
    build: api
    ecs: { service: api, repository: canvas-api, cpu: 256, memory: 512 }
  web:
    build: web
    depends_on: { migrate: completed_successfully }
    ecs: { service: web, repository: canvas-web, cpu: 256, memory: 512 }
environments:
  prod:
    aws:
      region: eu-west-1
      account_id: "123456789012"
      cluster: c
      execution_role_arn: arn:aws:iam::123456789012:role/x
      task_role_arn: arn:aws:iam::123456789012:role/t
      log_group: /ecs/canvas
"#;
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        crate::stack::load::load_source(source, "prod", &Default::default(), &Default::default())
            .unwrap()
            .stack
    }

    #[test]
    fn each_service_and_job_runs_its_own_builds_digest_and_platform() {
        let stack = two_builds();
        let (a, w) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let choice =
            ImageChoice::Digests([("api".into(), a.clone()), ("web".into(), w.clone())].into());
        let r = render(&stack, "prod", &choice).unwrap();
        let registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
        let image = |v: &Value| {
            v["containerDefinitions"][0]["image"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let arch = |v: &Value| v["runtimePlatform"]["cpuArchitecture"].clone();
        let api = &r["services"]["api"];
        assert_eq!(
            image(&api["taskDefinition"]),
            format!("{registry}/canvas-api@{a}")
        );
        assert_eq!(arch(&api["taskDefinition"]), "ARM64");
        assert_eq!(api["build"], "api");
        let web = &r["services"]["web"];
        assert_eq!(
            image(&web["taskDefinition"]),
            format!("{registry}/canvas-web@{w}")
        );
        assert_eq!(arch(&web["taskDefinition"]), "X86_64");
        // The job runs build api from the repository of web, which waits for it.
        let job = &r["jobs"]["migrate"];
        assert_eq!(
            image(&job["taskDefinition"]),
            format!("{registry}/canvas-web@{a}")
        );
        assert_eq!(arch(&job["taskDefinition"]), "ARM64");
        let plans = crate::deploy::taskdef::plans(&r).unwrap();
        assert_eq!(
            plans.pushes(),
            [
                ("api".to_string(), "canvas-api".to_string()),
                ("web".to_string(), "canvas-web".to_string()),
                ("api".to_string(), "canvas-web".to_string()),
            ]
        );
        let only_api = ImageChoice::Digests([("api".into(), a)].into());
        assert_eq!(
            render(&stack, "prod", &only_api).unwrap_err().to_string(),
            "no digest for `web` (what `web` runs): name one as `web=sha256:…`"
        );
    }

    #[test]
    fn https_and_redirect_listeners_render_as_the_alb_stores_them() {
        let text = r#"
name: shop
image: {}
services:
  web:
    ports: [8000]
    ecs: { service: web, repository: shop, cpu: 256, memory: 512 }
load_balancer:
  listeners:
    - port: 8080
      default_action: { redirect: { protocol: HTTPS, port: 443 } }
    - port: 8443
      protocol: HTTPS
      default_action: { forward: web }
  target_groups:
    web: { service: web, port: 8000, health_check: { path: / } }
environments:
  prod:
    aws:
      region: eu-west-1
      account_id: "123456789012"
      cluster: c
      execution_role_arn: arn:aws:iam::123456789012:role/x
      task_role_arn: arn:aws:iam::123456789012:role/t
      log_group: /ecs/shop
      certificate_arn: arn:aws:acm:eu-west-1:123456789012:certificate/abc
"#;
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        let stack = crate::stack::load::load_source(
            source,
            "prod",
            &Default::default(),
            &Default::default(),
        )
        .unwrap()
        .stack;
        let r = render(&stack, "prod", &ImageChoice::Unpinned).unwrap();
        assert_eq!(
            r["listeners"],
            json!([
                {
                    "loadBalancer": "shop-prod",
                    "port": 80,
                    "rules": [],
                    "defaultAction": { "redirect": {
                        "protocol": "HTTPS", "port": "443", "host": "#{host}",
                        "path": "/#{path}", "query": "#{query}", "statusCode": "HTTP_301",
                    }},
                },
                {
                    "loadBalancer": "shop-prod",
                    "port": 443,
                    "rules": [],
                    "defaultAction": { "forward": "shop-web-prod" },
                    "protocol": "HTTPS",
                    "certificate": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
                    "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                },
            ])
        );
        // What preflight reads back compares equal to what was rendered.
        let plans = crate::deploy::taskdef::plans(&r).unwrap();
        assert_eq!(plans.listeners.len(), 2);
        assert_eq!(plans.listeners[1].protocol, "HTTPS");
        let mut live = plans.listeners[1].clone();
        assert!(crate::deploy::listener::listener_drift(&live, &plans.listeners[1]).is_empty());
        live.certificate = Some("arn:aws:acm:eu-west-1:123456789012:certificate/old".into());
        assert_eq!(
            crate::deploy::listener::listener_drift(&live, &plans.listeners[1]),
            [
                "its certificate is arn:aws:acm:eu-west-1:123456789012:certificate/old, stack.yaml says arn:aws:acm:eu-west-1:123456789012:certificate/abc"
            ]
        );
        let tf = crate::render::tfvars::render(&stack, "prod").unwrap();
        assert_eq!(tf["listeners"]["443"]["protocol"], "HTTPS");
        assert_eq!(tf["listeners"]["80"]["default_action"]["type"], "redirect");
        assert_eq!(
            tf["listeners"]["80"]["default_action"]["redirect"]["status_code"],
            "HTTP_301"
        );
    }

    #[test]
    fn a_job_on_an_external_image_runs_before_its_service_mirrored_with_it() {
        let text = r#"
name: fa
image: {}
services:
  migrate: { kind: job, image: "flyway/flyway:10", command: [migrate] }
  web:
    depends_on: { migrate: completed_successfully }
    ecs: { service: web, repository: web, cpu: 256, memory: 512 }
environments:
  prod:
    aws:
      region: eu-west-1
      account_id: "123456789012"
      cluster: c
      execution_role_arn: arn:aws:iam::123456789012:role/x
      task_role_arn: arn:aws:iam::123456789012:role/t
      log_group: /ecs/fa
"#;
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        let stack = crate::stack::load::load_source(
            source,
            "prod",
            &Default::default(),
            &Default::default(),
        )
        .unwrap()
        .stack;
        assert!(stack.deploys("migrate") && stack.pins_by_key());
        let (a, b) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let choice = ImageChoice::Digests(
            [("image".into(), a), ("flyway/flyway:10".into(), b.clone())].into(),
        );
        let r = render(&stack, "prod", &choice).unwrap();
        let job = &r["jobs"]["migrate"]["taskDefinition"]["containerDefinitions"][0];
        assert_eq!(
            job["image"],
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@{b}")
        );
        let plans = crate::deploy::taskdef::plans(&r).unwrap();
        assert!(
            plans
                .pushes()
                .contains(&("flyway/flyway:10".to_string(), "web".to_string()))
        );
    }
}

#[cfg(test)]
mod sidecar_tests {
    use super::*;

    fn canvas() -> Stack {
        let text = r#"
name: drama
builds:
  canvas: { context: . }
  orchestrator: { context: ./orchestrator }
services:
  canvas:
    build: canvas
    ports: [9000]
    healthcheck: { test: "curl -f http://127.0.0.1:9000/health", interval: 10s }
    sidecars:
      orchestrator:
        build: orchestrator
        repository: drama-orchestrator
        ports: [8080]
        cpu: 256
        memory: 512
        secrets: [SUPABASE_URL]
        depends_on: { canvas: healthy }
      shipper:
        image: fluent/fluent-bit:3.0
        essential: false
    ecs:
      service: drama
      family: drama-backend
      container: canvas-service
      repository: drama-canvas
      cpu: 1024
      memory: 2048
secrets:
  SUPABASE_URL: { local: { generate: {} }, aws: { secrets_manager: backend/supabase-url } }
environments:
  prod:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: c
      execution_role_arn: arn:aws:iam::123456789012:role/x
      task_role_arn: arn:aws:iam::123456789012:role/t
      log_group: /ecs/drama
"#;
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        crate::stack::load::load_source(source, "prod", &Default::default(), &Default::default())
            .unwrap()
            .stack
    }

    #[test]
    fn sidecars_render_into_one_task_definition_each_pinned_by_its_own_key() {
        let stack = canvas();
        let (c, o, f) = (
            format!("sha256:{}", "c".repeat(64)),
            format!("sha256:{}", "d".repeat(64)),
            format!("sha256:{}", "f".repeat(64)),
        );
        let choice = ImageChoice::Digests(
            [
                ("canvas".into(), c.clone()),
                ("orchestrator".into(), o.clone()),
                ("fluent/fluent-bit:3.0".into(), f.clone()),
            ]
            .into(),
        );
        let r = render(&stack, "prod", &choice).unwrap();
        let td = &r["services"]["canvas"]["taskDefinition"];
        let registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let names: Vec<&str> = td["containerDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["canvas-service", "orchestrator", "shipper"]);
        let [main, orch, ship] = [0, 1, 2].map(|i| &td["containerDefinitions"][i]);
        assert_eq!(main["image"], format!("{registry}/drama-canvas@{c}"));
        assert_eq!(orch["image"], format!("{registry}/drama-orchestrator@{o}"));
        assert_eq!(ship["image"], format!("fluent/fluent-bit@{f}"));
        assert_eq!(
            orch["dependsOn"],
            json!([{ "containerName": "canvas-service", "condition": "HEALTHY" }])
        );
        assert_eq!(
            (orch["cpu"].clone(), orch["memory"].clone()),
            (json!(256), json!(512))
        );
        assert_eq!(orch["essential"], true);
        assert_eq!(ship["essential"], false);
        assert_eq!(orch["portMappings"][0]["containerPort"], 8080);
        assert_eq!(
            orch["secrets"],
            json!([{ "name": "SUPABASE_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:backend/supabase-url" }])
        );
        assert_eq!(orch["logConfiguration"], main["logConfiguration"]);
        let plans = crate::deploy::taskdef::plans(&r).unwrap();
        assert_eq!(
            plans.keys(),
            ["canvas", "orchestrator", "fluent/fluent-bit:3.0"]
        );
        assert_eq!(
            plans.pushes(),
            [
                ("canvas".to_string(), "drama-canvas".to_string()),
                ("orchestrator".to_string(), "drama-orchestrator".to_string())
            ]
        );
        assert_eq!(
            plans.from_origin(),
            [(
                "fluent/fluent-bit:3.0".to_string(),
                "fluent/fluent-bit:3.0".to_string()
            )]
        );
        // Without its digest, promote cannot pin it: said, by container.
        let short = ImageChoice::Digests([("canvas".into(), c)].into());
        assert_eq!(
            render(&stack, "prod", &short).unwrap_err().to_string(),
            "no digest for `orchestrator` (what `canvas/orchestrator` runs): name one as `orchestrator=sha256:…`"
        );
    }
}
