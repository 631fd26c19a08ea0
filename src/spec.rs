//! The one mapping from a stack service to what its container runs.
//!
//! `geno up` turns a `ContainerSpec` into a Docker container and `geno render`
//! into an ECS container definition; because both start here, the command,
//! environment, secret names and health check cannot drift apart.

use crate::stack::{HealthCheck, Service, Sidecar, Stack};

/// Image IDs (locally) or digests (on a registry) by build name.
pub type Images = std::collections::BTreeMap<String, String>;

/// `id` as the image of a stack's one build written as `image:`, for tests.
#[cfg(test)]
pub fn only_image(id: &str) -> Images {
    Images::from([(crate::stack::DEFAULT_BUILD.to_string(), id.to_string())])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// One of the stack's own images (built locally, pushed to ECR for
    /// ECS): which one, `Stack::build_of` says.
    Stack,
    /// An image named in stack.yaml (backing services).
    External(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub service: String,
    /// The sidecar of `service` this container is; `None` for the
    /// service's own.
    pub sidecar: Option<String>,
    pub image: ImageRef,
    /// `None` keeps the image's own ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// `None` keeps the image's own CMD.
    pub command: Option<Vec<String>>,
    /// Plain variables, sorted by name so renderings compare stably.
    pub environment: Vec<(String, String)>,
    /// Variables whose values are secrets: resolved locally by geno, read by
    /// ECS from SSM or Secrets Manager. Sorted by name.
    pub secrets: Vec<String>,
    pub container_ports: Vec<u16>,
    pub health: Option<HealthSpec>,
    /// How long a stop waits after SIGTERM before SIGKILL (`docker stop
    /// -t`, ECS's `stopTimeout`).
    pub stop_grace_secs: u64,
}

/// A container health check in the form both Docker and ECS take.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthSpec {
    /// `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub test: Vec<String>,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub retries: u32,
    pub start_period_secs: Option<u64>,
}

impl HealthSpec {
    pub fn from_check(hc: &HealthCheck) -> HealthSpec {
        HealthSpec {
            test: hc.test.0.clone(),
            interval_secs: hc.interval.as_secs(),
            timeout_secs: hc.timeout.as_secs(),
            retries: hc.retries,
            start_period_secs: hc.start_period.map(|d| d.as_secs()),
        }
    }
}

pub fn container_spec(name: &str, service: &Service) -> ContainerSpec {
    spec_of(
        name,
        None,
        Container {
            image: service.image.as_ref(),
            entrypoint: service.entrypoint.as_ref(),
            command: service.command.as_ref(),
            environment: &service.environment,
            secrets: &service.secrets,
            ports: &service.ports,
            healthcheck: service.healthcheck.as_ref(),
            stop_grace: service.stop_grace_period,
        },
    )
}

/// The spec of sidecar `name` of `service`.
pub fn sidecar_spec(service: &str, name: &str, car: &Sidecar) -> ContainerSpec {
    spec_of(
        service,
        Some(name),
        Container {
            image: car.image.as_ref(),
            entrypoint: car.entrypoint.as_ref(),
            command: car.command.as_ref(),
            environment: &car.environment,
            secrets: &car.secrets,
            ports: &car.ports,
            healthcheck: car.healthcheck.as_ref(),
            stop_grace: car.stop_grace_period,
        },
    )
}

/// What a service and a sidecar both say of their container.
struct Container<'a> {
    image: Option<&'a String>,
    entrypoint: Option<&'a crate::stack::Command>,
    command: Option<&'a crate::stack::Command>,
    environment: &'a indexmap::IndexMap<String, String>,
    secrets: &'a [String],
    ports: &'a [crate::stack::Port],
    healthcheck: Option<&'a HealthCheck>,
    stop_grace: crate::stack::Dur,
}

fn spec_of(service: &str, sidecar: Option<&str>, c: Container) -> ContainerSpec {
    let mut environment: Vec<(String, String)> = c
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    environment.sort();
    let mut secrets = c.secrets.to_vec();
    secrets.sort();
    secrets.dedup();
    ContainerSpec {
        service: service.to_string(),
        sidecar: sidecar.map(str::to_string),
        image: match c.image {
            Some(image) => ImageRef::External(image.clone()),
            None => ImageRef::Stack,
        },
        entrypoint: c.entrypoint.map(|e| e.0.clone()),
        command: c.command.map(|e| e.0.clone()),
        environment,
        secrets,
        container_ports: c.ports.iter().map(|p| p.container).collect(),
        health: c.healthcheck.map(HealthSpec::from_check),
        stop_grace_secs: c.stop_grace.as_secs(),
    }
}

/// Specs for every service, in stack order.
pub fn container_specs(stack: &Stack) -> Vec<ContainerSpec> {
    stack
        .services
        .iter()
        .map(|(name, svc)| container_spec(name, svc))
        .collect()
}

/// A hash of what must be the same wherever the stack's image runs: each
/// app service's command, ports, secret names, variable names and health
/// check. Values that legitimately differ per environment (variable values,
/// sizing, names) are left out, so a verification made locally still
/// applies when promoting the same image and definition to ECS.
pub fn definition_hash(stack: &Stack) -> String {
    use sha2::{Digest, Sha256};
    let services: Vec<serde_json::Value> = container_specs(stack)
        .into_iter()
        .filter(|s| s.image == ImageRef::Stack || stack.image_key(&s.service).is_some())
        .map(|s| {
            let mut v = serde_json::json!({
                "service": s.service,
                "command": s.command,
                "ports": s.container_ports,
                "secrets": s.secrets,
                "variables": s.environment.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                "health": s.health,
            });
            // Only when set, so a stack without one keeps its hash.
            if let Some(e) = &s.entrypoint {
                v["entrypoint"] = serde_json::json!(e);
            }
            if stack.names_builds() {
                v["build"] = serde_json::json!(stack.build_of(&s.service));
            }
            // Only when it has some, so a stack without keeps its hash.
            let sidecars: Vec<serde_json::Value> = stack
                .services
                .get(&s.service)
                .map(|svc| &svc.sidecars)
                .into_iter()
                .flatten()
                .map(|(name, car)| {
                    let c = sidecar_spec(&s.service, name, car);
                    serde_json::json!({
                        "name": name,
                        "image": stack.sidecar_key(&s.service, name),
                        "essential": car.essential,
                        "entrypoint": c.entrypoint,
                        "command": c.command,
                        "ports": c.container_ports,
                        "secrets": c.secrets,
                        "variables": c.environment.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                        "health": c.health,
                        "depends_on": car.depends_on,
                    })
                })
                .collect();
            if !sidecars.is_empty() {
                v["sidecars"] = serde_json::json!(sidecars);
            }

            v
        })
        .collect();
    let json = serde_json::to_vec(&services).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(json)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::load::{Source, load_source};

    fn load(env: &str) -> Stack {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/stack.yaml")).unwrap();
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text,
        };
        load_source(source, env, &Default::default(), &Default::default())
            .unwrap()
            .stack
    }

    #[test]
    fn definition_hash_is_the_same_across_environments_and_follows_commands() {
        let local = load("local");
        assert_eq!(definition_hash(&local), definition_hash(&load("demo")));
        assert_eq!(definition_hash(&local), definition_hash(&load("prod")));
        let mut changed = local.clone();
        changed
            .services
            .get_mut("api")
            .unwrap()
            .command
            .as_mut()
            .unwrap()
            .0
            .push("--reload".into());
        assert_ne!(definition_hash(&local), definition_hash(&changed));
    }
}
