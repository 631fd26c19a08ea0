//! The one mapping from a stack service to what its container runs.
//!
//! `geno up` turns a `ContainerSpec` into a Docker container and `geno render`
//! into an ECS container definition; because both start here, the command,
//! environment, secret names and health check cannot drift apart.

use crate::stack::{HealthCheck, Service, Stack};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// The stack's own image (built locally, pushed to ECR for ECS).
    Stack,
    /// An image named in stack.yaml (backing services).
    External(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub service: String,
    pub image: ImageRef,
    /// `None` keeps the image's own CMD.
    pub command: Option<Vec<String>>,
    /// Plain variables, sorted by name so renderings compare stably.
    pub environment: Vec<(String, String)>,
    /// Variables whose values are secrets: resolved locally by geno, read by
    /// ECS from SSM or Secrets Manager. Sorted by name.
    pub secrets: Vec<String>,
    pub container_ports: Vec<u16>,
    pub health: Option<HealthSpec>,
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
    let mut environment: Vec<(String, String)> = service
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    environment.sort();
    let mut secrets = service.secrets.clone();
    secrets.sort();
    secrets.dedup();
    ContainerSpec {
        service: name.to_string(),
        image: match &service.image {
            Some(image) => ImageRef::External(image.clone()),
            None => ImageRef::Stack,
        },
        command: service.command.as_ref().map(|c| c.0.clone()),
        environment,
        secrets,
        container_ports: service.ports.iter().map(|p| p.container).collect(),
        health: service.healthcheck.as_ref().map(HealthSpec::from_check),
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
