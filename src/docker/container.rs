//! A desired container as the Engine API's create body, and back from what
//! the engine reports.

use crate::stack::LocalRestart;
use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, MountType, NetworkingConfig,
    PortBinding as DockerPortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use super::labels;
use crate::local::plan::{Actual, DesiredContainer};
use crate::stack::ServiceKind;

const NANOS: i64 = 1_000_000_000;

pub fn kind_label(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Service => "service",
        ServiceKind::Job => "job",
    }
}

pub fn labels_for(stack: &str, d: &DesiredContainer, kind: &str) -> HashMap<String, String> {
    let mut out = HashMap::from([
        (labels::STACK.to_string(), stack.to_string()),
        (labels::SERVICE.to_string(), d.service.clone()),
        (labels::REPLICA.to_string(), d.replica.to_string()),
        (labels::CONFIG_HASH.to_string(), d.hash()),
        (labels::KIND.to_string(), kind.to_string()),
    ]);
    if let Some(essential) = d.essential {
        let task = d.joins.clone().unwrap_or_else(|| d.name.clone());
        out.insert(labels::TASK.into(), task);
        out.insert(labels::ESSENTIAL.into(), essential.to_string());
        let policy = d.restart_policy.unwrap_or(LocalRestart::UnlessStopped);
        out.insert(labels::RESTART.into(), policy.name().to_string());
    }
    if let Some(sidecar) = &d.sidecar {
        out.insert(labels::SIDECAR.into(), sidecar.clone());
    }
    if let Some(init) = &d.init {
        out.insert(labels::INIT.into(), init.clone());
    }
    out
}

/// The create body; labels go on at creation, so a container geno made is
/// findable by `geno down` from its first moment.
pub fn create_body(stack: &str, d: &DesiredContainer, kind: &str) -> ContainerCreateBody {
    let exposed: Vec<String> = d
        .ports
        .iter()
        .map(|p| format!("{}/tcp", p.container))
        .collect();
    let mut bindings: HashMap<String, Option<Vec<DockerPortBinding>>> = HashMap::new();
    for p in &d.ports {
        if let Some(host) = p.host {
            bindings
                .entry(format!("{}/tcp", p.container))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(DockerPortBinding {
                    host_ip: Some(p.host_ip.clone()),
                    host_port: Some(host.to_string()),
                });
        }
    }
    let mounts = d
        .mounts
        .iter()
        .map(|m| bollard::models::Mount {
            target: Some(m.target.clone()),
            source: Some(m.source.clone()),
            typ: Some(if m.volume {
                MountType::VOLUME
            } else {
                MountType::BIND
            }),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    // The same four numbers ECS gets, in the nanoseconds Docker counts in.
    let healthcheck = d.health.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(h.interval_secs as i64 * NANOS),
        timeout: Some(h.timeout_secs as i64 * NANOS),
        retries: Some(h.retries as i64),
        start_period: h.start_period_secs.map(|s| s as i64 * NANOS),
        ..Default::default()
    });
    const MIB: i64 = 1024 * 1024;
    // A sidecar joins its task's network: it has no endpoint, ports or
    // aliases of its own (its task's container publishes its ports).
    let (network_mode, networking_config) = match &d.joins {
        Some(owner) => (format!("container:{owner}"), None),
        None => (
            d.network.clone(),
            Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    d.network.clone(),
                    EndpointSettings {
                        aliases: Some(d.aliases.clone()),
                        ..Default::default()
                    },
                )])),
            }),
        ),
    };
    ContainerCreateBody {
        image: Some(d.image.clone()),
        entrypoint: d.entrypoint.clone(),
        cmd: d.command.clone(),
        env: Some(d.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(labels_for(stack, d, kind)),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        stop_timeout: Some(d.stop_grace_secs as i64),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: Some(mounts),
            network_mode: Some(network_mode),
            init: Some(true),
            restart_policy: Some(RestartPolicy {
                name: Some(match (d.restart, d.restart_policy) {
                    // geno's task supervisor restarts a task as a whole.
                    _ if d.essential.is_some() => RestartPolicyNameEnum::NO,
                    (false, _) => RestartPolicyNameEnum::NO,
                    (true, None | Some(LocalRestart::UnlessStopped)) => {
                        RestartPolicyNameEnum::UNLESS_STOPPED
                    }
                    (true, Some(LocalRestart::Always)) => RestartPolicyNameEnum::ALWAYS,
                    (true, Some(LocalRestart::OnFailure)) => RestartPolicyNameEnum::ON_FAILURE,
                    (true, Some(LocalRestart::No)) => RestartPolicyNameEnum::NO,
                }),
                maximum_retry_count: None,
            }),
            // Fargate has no swap: the limit is the memory, as there.
            memory: d.limits.map(|l| i64::from(l.memory_mib) * MIB),
            memory_swap: d.limits.map(|l| i64::from(l.memory_mib) * MIB),
            nano_cpus: d
                .limits
                .map(|l| i64::from(l.cpu_units) * 1_000_000_000 / 1024),
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    }
}

/// What `plan` needs from a container listing.
pub fn actual_from(m: &super::Member) -> Actual {
    Actual {
        id: m.id.clone(),
        name: m.name.clone(),
        service: Some(m.service.clone()).filter(|s| !s.is_empty()),
        hash: m.hash.clone(),
        kind: m.kind.clone(),
        state: m.state.clone(),
        exit_code: exit_code_from_status(Some(&m.status)),
    }
}

/// `Exited (3) 5 seconds ago` → 3; the listing carries no exit code field.
fn exit_code_from_status(status: Option<&str>) -> Option<i64> {
    let s = status?.strip_prefix("Exited (")?;
    s.split(')').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_status_text() {
        assert_eq!(
            exit_code_from_status(Some("Exited (0) 2 minutes ago")),
            Some(0)
        );
        assert_eq!(
            exit_code_from_status(Some("Exited (137) 1 second ago")),
            Some(137)
        );
        assert_eq!(exit_code_from_status(Some("Up 3 seconds (healthy)")), None);
    }

    #[test]
    fn the_restart_policy_is_stack_yamls_or_the_kinds_default() {
        let stack = crate::stack::Stack {
            services: [
                ("web".to_string(), crate::stack::Service::default()),
                (
                    "seed".to_string(),
                    crate::stack::Service {
                        local: crate::stack::LocalRun {
                            restart: Some(LocalRestart::No),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                ),
                (
                    "migrate".to_string(),
                    crate::stack::Service {
                        kind: ServiceKind::Job,
                        ..Default::default()
                    },
                ),
            ]
            .into_iter()
            .collect(),
            ..serde_json::from_value(serde_json::json!({ "name": "s", "services": {} })).unwrap()
        };
        let desired = crate::local::plan::desired_containers(
            &stack,
            &Default::default(),
            &Default::default(),
            "/p".as_ref(),
        );
        let policy = |service: &str| {
            let d = desired.iter().find(|d| d.service == service).unwrap();
            create_body("s", d, "service")
                .host_config
                .and_then(|h| h.restart_policy)
                .and_then(|p| p.name)
        };
        assert_eq!(policy("web"), Some(RestartPolicyNameEnum::UNLESS_STOPPED));
        assert_eq!(policy("seed"), Some(RestartPolicyNameEnum::NO));
        assert_eq!(policy("migrate"), Some(RestartPolicyNameEnum::NO));
        // Only a container that says `local.restart` hashes differently.
        let web = desired.iter().find(|d| d.service == "web").unwrap();
        assert!(
            !serde_json::to_string(web)
                .unwrap()
                .contains("restart_policy")
        );
    }
}
