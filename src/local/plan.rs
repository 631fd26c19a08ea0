//! Desired containers, the reconcile plan against what exists, and how a
//! service's containers add up to a state `geno up` can wait on.
//!
//! Pure: the Docker adapter supplies observations and carries out actions.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::spec::HealthSpec;
use crate::stack::{Condition, ServiceKind};

/// One container as geno wants it. Its hash is the identity used to decide
/// whether an existing container can stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredContainer {
    pub name: String,
    pub service: String,
    pub replica: u32,
    pub kind: ServiceKind,
    /// An image ID (the stack image) or reference (external images).
    pub image: String,
    /// Only when set, so the hash of a container without one is as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// Plain variables and secret values, sorted by name.
    pub env: Vec<(String, String)>,
    pub health: Option<HealthSpec>,
    pub ports: Vec<PortBinding>,
    pub mounts: Vec<Mount>,
    pub network: String,
    pub aliases: Vec<String>,
    pub stop_grace_secs: u64,
    /// ECS replaces the task of a long-running service whose container
    /// exits; locally the engine restarts it (with its back-off). Jobs and
    /// one-off runs are never restarted.
    pub restart: bool,
    /// Set only when stack.yaml says `local.restart` (so the hash of a
    /// container without it is as before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<crate::stack::LocalRestart>,
    /// The task's `cpu` and `memory` (ECS), as the container's quota and
    /// limit, so what Fargate would kill is killed here too.
    pub limits: Option<Limits>,
    /// Part of a task with sidecars: whether its exit stops the task.
    /// (Fields of tasks are only set there, so other hashes stay as before.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub essential: Option<bool>,
    /// A sidecar: its name, and the container whose network it joins
    /// (the service's own of the same replica).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joins: Option<String>,
    /// Runs its command under geno's init (`local::init`), of this
    /// version: a service whose watch rules restart it, so an edit
    /// restarts the process, not the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

/// Task-size limits of a container, from the service's `ecs` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// ECS CPU units (1024 = one vCPU).
    pub cpu_units: u32,
    pub memory_mib: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortBinding {
    pub container: u16,
    pub host: Option<u16>,
    pub host_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    /// A volume name or an absolute host path.
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub volume: bool,
}

impl DesiredContainer {
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a desired container always serializes");
        hex::encode(&Sha256::digest(&json)[..16])
    }
}

/// Names of the Docker objects of a stack.
pub mod names {
    pub fn container(stack: &str, service: &str, replica: u32) -> String {
        format!("{stack}-{service}-{replica}")
    }
    /// A sidecar's container: its task's (the service's container) and
    /// its own name after a dot, which no service or sidecar name has.
    pub fn sidecar(task: &str, sidecar: &str) -> String {
        format!("{task}.{sidecar}")
    }
    /// The task and the sidecar a container name says, for a sidecar's.
    pub fn sidecar_of(container: &str) -> Option<(&str, &str)> {
        container.split_once('.')
    }
    pub fn network(stack: &str) -> String {
        format!("{stack}-net")
    }
    pub fn volume(stack: &str, volume: &str) -> String {
        format!("{stack}_{volume}")
    }
}

/// The containers a stack wants locally: every replica of every service,
/// from the same `container_spec` the ECS rendering uses, plus local values.
pub fn desired_containers(
    stack: &crate::stack::Stack,
    images: &crate::spec::Images,
    secrets: &std::collections::BTreeMap<String, String>,
    stack_dir: &std::path::Path,
) -> Vec<DesiredContainer> {
    let mut out = Vec::new();
    for (name, svc) in &stack.services {
        let spec = crate::spec::container_spec(name, svc);
        let image = match &spec.image {
            crate::spec::ImageRef::External(r) => r.clone(),
            crate::spec::ImageRef::Stack => stack
                .build_of(name)
                .and_then(|b| images.get(b))
                .cloned()
                .unwrap_or_default(),
        };
        let env = env_of(&spec, secrets);
        let ports: Vec<PortBinding> = svc
            .ports
            .iter()
            .map(|p| PortBinding {
                container: p.container,
                host: p.host,
                host_ip: p.host_ip.clone(),
            })
            .collect();
        let mounts: Vec<Mount> = svc
            .volumes
            .iter()
            .chain(&svc.local.volumes)
            .filter_map(|v| {
                let parts: Vec<&str> = v.split(':').collect();
                let (src, dst) = (parts.first()?, parts.get(1)?);
                let read_only = parts.get(2) == Some(&"ro");
                let volume = !(src.starts_with('.') || src.starts_with('/'));
                let source = if volume {
                    names::volume(&stack.name, src)
                } else {
                    let p = stack_dir.join(src);
                    std::path::absolute(&p).unwrap_or(p).display().to_string()
                };
                Some(Mount {
                    source,
                    target: dst.to_string(),
                    read_only,
                    volume,
                })
            })
            .collect();
        // The task's network is the service's container's: it publishes
        // its sidecars' ports too.
        let mut ports = ports;
        for car in svc.sidecars.values() {
            ports.extend(car.ports.iter().map(|p| PortBinding {
                container: p.container,
                host: p.host,
                host_ip: p.host_ip.clone(),
            }));
        }
        let task = !svc.sidecars.is_empty();
        for replica in 1..=svc.replicas {
            let d = DesiredContainer {
                name: names::container(&stack.name, name, replica),
                service: name.clone(),
                replica,
                kind: svc.kind,
                image: image.clone(),
                entrypoint: spec.entrypoint.clone(),
                command: spec.command.clone(),
                env: env.clone(),
                health: spec.health.clone(),
                ports: ports.clone(),
                mounts: mounts.clone(),
                network: names::network(&stack.name),
                aliases: vec![name.clone()],
                stop_grace_secs: svc.stop_grace_period.as_secs(),
                restart: svc.kind == ServiceKind::Service,
                restart_policy: svc.local.restart,
                limits: svc
                    .ecs
                    .as_ref()
                    .filter(|_| svc.local.limits)
                    .map(|e| Limits {
                        cpu_units: e.cpu,
                        memory_mib: e.memory,
                    }),
                essential: task.then_some(true),
                sidecar: None,
                joins: None,
                init: crate::local::init::supervises(svc)
                    .then(|| crate::local::init::version().to_string()),
            };
            let owner = d.name.clone();
            out.push(d);
            for car_name in stack.task_order(name) {
                let car = &svc.sidecars[car_name];
                out.push(sidecar_container(
                    stack, name, svc, car_name, car, images, secrets, replica, &owner,
                ));
            }
        }
    }
    out
}

/// A container's variables: its plain ones and its secrets' values,
/// sorted by name.
fn env_of(
    spec: &crate::spec::ContainerSpec,
    secrets: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env = spec.environment.clone();
    for secret in &spec.secrets {
        if let Some(v) = secrets.get(secret) {
            env.push((secret.clone(), v.clone()));
        }
    }
    env.sort();
    env
}

/// One replica's sidecar, in the network of `owner` (its service's
/// container).
#[allow(clippy::too_many_arguments)]
fn sidecar_container(
    stack: &crate::stack::Stack,
    service: &str,
    svc: &crate::stack::Service,
    name: &str,
    car: &crate::stack::Sidecar,
    images: &crate::spec::Images,
    secrets: &std::collections::BTreeMap<String, String>,
    replica: u32,
    owner: &str,
) -> DesiredContainer {
    let spec = crate::spec::sidecar_spec(service, name, car);
    let image = match &spec.image {
        crate::spec::ImageRef::External(r) => r.clone(),
        crate::spec::ImageRef::Stack => stack
            .sidecar_build(service, name)
            .and_then(|b| images.get(b))
            .cloned()
            .unwrap_or_default(),
    };
    let env = env_of(&spec, secrets);
    let limits = svc.ecs.as_ref().filter(|_| svc.local.limits).and_then(|e| {
        // Its own share where it names one, else the task's.
        (car.cpu.is_some() || car.memory.is_some()).then(|| Limits {
            cpu_units: car.cpu.unwrap_or(e.cpu),
            memory_mib: car.memory.unwrap_or(e.memory),
        })
    });
    DesiredContainer {
        name: names::sidecar(owner, name),
        service: service.to_string(),
        replica,
        kind: svc.kind,
        image,
        entrypoint: spec.entrypoint,
        command: spec.command,
        env,
        health: spec.health,
        ports: Vec::new(),
        mounts: Vec::new(),
        network: names::network(&stack.name),
        aliases: Vec::new(),
        stop_grace_secs: spec.stop_grace_secs,
        restart: svc.kind == ServiceKind::Service,
        restart_policy: svc.local.restart,
        limits,
        essential: Some(car.essential),
        sidecar: Some(name.to_string()),
        joins: Some(owner.to_string()),
        init: None,
    }
}

/// What the engine reports about an existing container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    pub id: String,
    pub name: String,
    pub service: Option<String>,
    pub hash: Option<String>,
    /// `service`, `job` or `run`.
    pub kind: String,
    /// Docker's state: created, running, exited, dead, …
    pub state: String,
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Exists, matches, and is running (or a job that completed): leave it.
    Keep {
        id: String,
        desired: DesiredContainer,
    },
    /// Exists and matches but is stopped: start it again.
    Start {
        id: String,
        desired: DesiredContainer,
    },
    Create {
        desired: DesiredContainer,
    },
    /// Differs from the definition (or a job that failed): remove, create.
    Replace {
        old: String,
        desired: DesiredContainer,
        why: String,
    },
    /// Belongs to no desired container (service removed, fewer replicas).
    Remove {
        id: String,
        name: String,
        /// Why it goes: not in stack.yaml any more, or its profile is off.
        why: String,
    },
    /// An existing container taken as it is, without comparing it with
    /// stack.yaml (`geno start`, `geno restart`).
    AsIs {
        id: String,
        name: String,
        service: String,
        how: InPlace,
        /// Seconds between SIGTERM and SIGKILL when it is restarted.
        grace_secs: u64,
    },
}

/// What `AsIs` does to its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InPlace {
    /// It runs (or a job completed): only wait for it.
    Leave,
    Start,
    /// Stop and start again (the load balancer drains it first).
    Restart,
    /// Its process restarted by geno's init, as `Restart` says; the
    /// container stays running (the load balancer drains it first). A
    /// container without the init is restarted instead.
    Respawn(crate::local::init::Restart),
}

impl Action {
    pub fn desired(&self) -> Option<&DesiredContainer> {
        match self {
            Action::Keep { desired, .. }
            | Action::Start { desired, .. }
            | Action::Create { desired }
            | Action::Replace { desired, .. } => Some(desired),
            Action::Remove { .. } | Action::AsIs { .. } => None,
        }
    }

    /// The service the container belongs to (`None` for a removal).
    pub fn service(&self) -> Option<&str> {
        match self {
            Action::AsIs { service, .. } => Some(service),
            other => other.desired().map(|d| d.service.as_str()),
        }
    }

    pub fn changes_something(&self) -> bool {
        !matches!(
            self,
            Action::Keep { .. }
                | Action::AsIs {
                    how: InPlace::Leave,
                    ..
                }
        )
    }
}

pub fn plan(desired: &[DesiredContainer], actual: &[Actual]) -> Vec<Action> {
    let mut actions = Vec::new();
    for d in desired {
        let hash = d.hash();
        let action = match actual.iter().find(|a| a.name == d.name && a.kind != "run") {
            None => Action::Create { desired: d.clone() },
            Some(a) if a.hash.as_deref() != Some(hash.as_str()) => Action::Replace {
                old: a.id.clone(),
                desired: d.clone(),
                why: "definition changed".into(),
            },
            Some(a) => match (d.kind, a.state.as_str(), a.exit_code) {
                (_, "running", _) => Action::Keep {
                    id: a.id.clone(),
                    desired: d.clone(),
                },
                (ServiceKind::Job, "exited", Some(0)) => Action::Keep {
                    id: a.id.clone(),
                    desired: d.clone(),
                },
                // A non-essential sidecar that did its work, as ECS leaves it.
                (_, "exited", Some(0)) if d.essential == Some(false) => Action::Keep {
                    id: a.id.clone(),
                    desired: d.clone(),
                },
                (ServiceKind::Job, "exited", code) => Action::Replace {
                    old: a.id.clone(),
                    desired: d.clone(),
                    why: format!("last run exited with {}", code.unwrap_or(-1)),
                },
                (ServiceKind::Service, "exited" | "created", _) => Action::Start {
                    id: a.id.clone(),
                    desired: d.clone(),
                },
                (_, state, _) => Action::Replace {
                    old: a.id.clone(),
                    desired: d.clone(),
                    why: format!("container is {state}"),
                },
            },
        };
        actions.push(action);
    }
    follow_tasks(&mut actions);
    for a in actual {
        if a.kind == "run" {
            continue; // one-off containers are `geno run`'s and `geno down`'s
        }
        if !desired.iter().any(|d| d.name == a.name) {
            actions.push(Action::Remove {
                id: a.id.clone(),
                name: a.name.clone(),
                why: "no longer in stack.yaml".into(),
            });
        }
    }
    actions
}

/// A task's sidecars follow its service's container: a new one (created
/// or replaced) takes new sidecars, which join its network by ID; one
/// started again takes its sidecars with it, whose network went when it
/// stopped.
pub fn follow_tasks(actions: &mut [Action]) {
    #[derive(Clone, Copy, PartialEq)]
    enum Owner {
        New,
        Started,
    }
    let owners: std::collections::HashMap<String, Owner> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Create { desired } | Action::Replace { desired, .. } => {
                Some((desired.name.clone(), Owner::New))
            }
            Action::Start { desired, .. } => Some((desired.name.clone(), Owner::Started)),
            _ => None,
        })
        .collect();
    for a in actions.iter_mut() {
        let Some(owner) = a.desired().and_then(|d| d.joins.clone()) else {
            continue;
        };
        let Some(how) = owners.get(&owner).copied() else {
            continue;
        };
        let why = |verb: &str| format!("its task's container `{owner}` is {verb}");
        *a = match (
            std::mem::replace(
                a,
                Action::Remove {
                    id: String::new(),
                    name: String::new(),
                    why: String::new(),
                },
            ),
            how,
        ) {
            (Action::Keep { id, desired } | Action::Start { id, desired }, Owner::New) => {
                Action::Replace {
                    old: id,
                    desired,
                    why: why("new"),
                }
            }
            (Action::Keep { id, desired }, Owner::Started) => Action::AsIs {
                id,
                name: desired.name.clone(),
                service: desired.service.clone(),
                how: InPlace::Restart,
                grace_secs: desired.stop_grace_secs,
            },
            (other, _) => other,
        };
    }
}

/// One container's state as observed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observation {
    pub state: String,
    /// `starting`, `healthy`, `unhealthy`, or None without a health check.
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    /// The last health check's output, for failure messages.
    pub health_output: Option<String>,
    /// How long it has been running.
    pub running_for: std::time::Duration,
    /// The kernel killed it for exceeding its memory limit.
    pub oom_killed: bool,
    /// How often the engine restarted it after it exited.
    pub restarts: i64,
    /// geno's readiness probe (the health command, from the start) passed.
    pub ready_by_probe: bool,
    /// Its memory limit, if any (MiB).
    pub memory_limit_mib: Option<u64>,
    /// A non-essential container of a task: its exit stops nothing, and
    /// once it has exited the service is as ready as the rest make it.
    pub optional: bool,
}

impl Observation {
    /// For a container whose process geno's init restarted `ago`: Docker's
    /// health status (`healthy` still, until checks fail) and uptime are
    /// the container's and say nothing of the new process; it is
    /// `starting` until geno's probe passes, and has run for `ago`.
    pub fn since_process_restart(&mut self, ago: std::time::Duration) {
        if self.health.is_some()
            && !self.ready_by_probe
            && self.health.as_deref() != Some("unhealthy")
        {
            self.health = Some("starting".into());
        }
        self.running_for = ago;
    }

    /// Why it stopped: its exit code, or the limit it exceeded.
    pub fn stopped_because(&self) -> String {
        match (self.oom_killed, self.memory_limit_mib) {
            (true, Some(mib)) => format!("was killed: it exceeded its {mib} MiB (ecs.memory)"),
            (true, None) => "was killed: out of memory".to_string(),
            _ => format!("exited with code {}", self.exit_code.unwrap_or(-1)),
        }
    }
}

/// A service without a health check counts as ready once its containers
/// have run this long: a process that dies on a bad config does so within
/// it, and `up` should fail for that rather than report success.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a service stands during `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Waiting,
    /// Running; a health check (if any) has not passed yet.
    Started,
    /// Running and healthy (or running, with no health check).
    Ready,
    /// A job that exited 0.
    Completed,
    Failed(String),
}

pub fn progress(kind: ServiceKind, has_health: bool, containers: &[Observation]) -> Progress {
    if containers.is_empty() {
        return Progress::Waiting;
    }
    let mut all_ready = true;
    let mut any_started = false;
    for o in containers {
        if o.optional && matches!(o.state.as_str(), "exited" | "dead") {
            continue;
        }
        match (kind, o.state.as_str()) {
            (ServiceKind::Job, "exited") => match o.exit_code {
                Some(0) => return Progress::Completed,
                _ => return Progress::Failed(o.stopped_because()),
            },
            (ServiceKind::Service, "exited" | "dead") => {
                return Progress::Failed(o.stopped_because());
            }
            // Restarted by the engine while `up` waits: it crashed.
            (ServiceKind::Service, "running") if o.restarts > 0 && o.running_for < SETTLE => {
                // Running again, its exit code is reset: say what is known.
                return Progress::Failed(if o.oom_killed {
                    format!("{}; restarted {} time(s)", o.stopped_because(), o.restarts)
                } else {
                    format!("exited and was restarted {} time(s)", o.restarts)
                });
            }
            (_, "running") => {
                any_started = true;
                match o.health.as_deref() {
                    Some("unhealthy") => {
                        let output = o.health_output.as_deref().unwrap_or("").trim();
                        return Progress::Failed(if output.is_empty() {
                            "health check failing".into()
                        } else {
                            format!("health check failing: {output}")
                        });
                    }
                    Some("healthy") => {}
                    // Docker's first check is still to come; the same
                    // command already passed.
                    Some("starting") if o.ready_by_probe => {}
                    _ if has_health => all_ready = false,
                    _ if o.running_for < SETTLE => all_ready = false,
                    _ => {}
                }
            }
            (_, "restarting") => {
                return Progress::Failed(format!("{}; restarting", o.stopped_because()));
            }
            _ => all_ready = false,
        }
    }
    match (kind, any_started, all_ready) {
        (ServiceKind::Job, true, _) => Progress::Started,
        (ServiceKind::Service, true, true) => Progress::Ready,
        (_, true, false) => Progress::Started,
        (_, false, _) => Progress::Waiting,
    }
}

/// Whether a dependency's progress lets a dependent start.
pub fn satisfied(condition: Condition, dep: &Progress) -> bool {
    match condition {
        Condition::Started => matches!(
            dep,
            Progress::Started | Progress::Ready | Progress::Completed
        ),
        Condition::Healthy => matches!(dep, Progress::Ready),
        Condition::CompletedSuccessfully => matches!(dep, Progress::Completed),
    }
}

/// The goal of `up` for a service: ready, or completed for a job.
pub fn done(kind: ServiceKind, p: &Progress) -> bool {
    match kind {
        ServiceKind::Service => matches!(p, Progress::Ready),
        ServiceKind::Job => matches!(p, Progress::Completed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(name: &str, kind: ServiceKind) -> DesiredContainer {
        DesiredContainer {
            name: name.into(),
            service: name.trim_end_matches("-1").into(),
            replica: 1,
            kind,
            image: "sha256:abc".into(),
            entrypoint: None,
            command: Some(vec!["run".into()]),
            env: vec![("A".into(), "1".into())],
            health: None,
            ports: vec![],
            mounts: vec![],
            network: "s-net".into(),
            aliases: vec!["x".into()],
            stop_grace_secs: 10,
            restart: kind == ServiceKind::Service,
            restart_policy: None,
            limits: None,
            essential: None,
            sidecar: None,
            joins: None,
            init: None,
        }
    }

    fn actual(d: &DesiredContainer, state: &str, exit: Option<i64>) -> Actual {
        Actual {
            id: format!("id-{}", d.name),
            name: d.name.clone(),
            service: Some(d.service.clone()),
            hash: Some(d.hash()),
            kind: if d.kind == ServiceKind::Job {
                "job".into()
            } else {
                "service".into()
            },
            state: state.into(),
            exit_code: exit,
        }
    }

    #[test]
    fn unchanged_running_stack_is_kept_whole() {
        let d = vec![
            desired("api-1", ServiceKind::Service),
            desired("migrate-1", ServiceKind::Job),
        ];
        let a = vec![
            actual(&d[0], "running", None),
            actual(&d[1], "exited", Some(0)),
        ];
        assert!(plan(&d, &a).iter().all(|x| !x.changes_something()));
    }

    #[test]
    fn only_the_changed_service_is_replaced() {
        let d = vec![
            desired("api-1", ServiceKind::Service),
            desired("web-1", ServiceKind::Service),
        ];
        let a = vec![
            actual(&d[0], "running", None),
            actual(&d[1], "running", None),
        ];
        let mut changed = d.clone();
        changed[1].env.push(("B".into(), "2".into()));
        let actions = plan(&changed, &a);
        assert!(matches!(actions[0], Action::Keep { .. }));
        assert!(
            matches!(&actions[1], Action::Replace { old, why, .. } if old == "id-web-1" && why == "definition changed")
        );
    }

    #[test]
    fn a_process_restarted_in_place_is_starting_until_probed_whatever_docker_says() {
        use std::time::Duration;
        let mut o = Observation {
            state: "running".into(),
            health: Some("healthy".into()),
            running_for: Duration::from_secs(600),
            ..Default::default()
        };
        o.since_process_restart(Duration::from_millis(300));
        assert_eq!(o.health.as_deref(), Some("starting"));
        assert_eq!(o.running_for, Duration::from_millis(300));
        o.ready_by_probe = true;
        o.health = Some("healthy".into());
        o.since_process_restart(Duration::from_secs(2));
        assert_eq!(o.health.as_deref(), Some("healthy"));
        // No health check: nothing to say but its uptime.
        let mut plain = Observation {
            state: "running".into(),
            running_for: Duration::from_secs(600),
            ..Default::default()
        };
        plain.since_process_restart(Duration::ZERO);
        assert_eq!(plain.health, None);
        assert_eq!(plain.running_for, Duration::ZERO);
    }

    #[test]
    fn stopped_services_restart_and_failed_jobs_rerun() {
        let d = vec![
            desired("api-1", ServiceKind::Service),
            desired("migrate-1", ServiceKind::Job),
        ];
        let a = vec![
            actual(&d[0], "exited", Some(137)),
            actual(&d[1], "exited", Some(1)),
        ];
        let actions = plan(&d, &a);
        assert!(matches!(actions[0], Action::Start { .. }));
        assert!(
            matches!(&actions[1], Action::Replace { why, .. } if why == "last run exited with 1")
        );
    }

    #[test]
    fn orphans_are_removed_and_run_containers_left_alone() {
        let d = vec![desired("api-1", ServiceKind::Service)];
        let old = desired("gone-1", ServiceKind::Service);
        let mut run = actual(&desired("api-run-1", ServiceKind::Service), "running", None);
        run.kind = "run".into();
        let a = vec![actual(&old, "running", None), run];
        let actions = plan(&d, &a);
        assert_eq!(actions.len(), 2);
        assert!(matches!(actions[0], Action::Create { .. }));
        assert!(matches!(&actions[1], Action::Remove { name, .. } if name == "gone-1"));
    }

    fn obs(state: &str, health: Option<&str>, exit: Option<i64>) -> Observation {
        Observation {
            state: state.into(),
            health: health.map(str::to_string),
            exit_code: exit,
            health_output: Some("connection refused\n".into()),
            running_for: SETTLE,
            ..Default::default()
        }
    }

    #[test]
    fn a_passed_probe_counts_as_healthy_until_docker_says_otherwise() {
        use ServiceKind::*;
        let mut o = obs("running", Some("starting"), None);
        assert_eq!(progress(Service, true, &[o.clone()]), Progress::Started);
        o.ready_by_probe = true;
        assert_eq!(progress(Service, true, &[o.clone()]), Progress::Ready);
        o.health = Some("unhealthy".into());
        assert!(matches!(progress(Service, true, &[o]), Progress::Failed(_)));
    }

    #[test]
    fn a_memory_kill_and_a_restart_under_up_are_failures_that_say_so() {
        use ServiceKind::*;
        let mut killed = obs("exited", None, Some(137));
        killed.oom_killed = true;
        killed.memory_limit_mib = Some(2048);
        assert_eq!(
            progress(Service, false, &[killed.clone()]),
            Progress::Failed("was killed: it exceeded its 2048 MiB (ecs.memory)".into())
        );
        killed.state = "restarting".into();
        assert_eq!(
            progress(Service, false, &[killed]),
            Progress::Failed(
                "was killed: it exceeded its 2048 MiB (ecs.memory); restarting".into()
            )
        );
        let mut again = obs("running", None, Some(3));
        again.restarts = 2;
        again.running_for = SETTLE / 4;
        assert_eq!(
            progress(Service, false, &[again.clone()]),
            Progress::Failed("exited and was restarted 2 time(s)".into())
        );
        // A restart long ago does not fail a later `up`.
        again.running_for = SETTLE * 30;
        assert_eq!(progress(Service, false, &[again]), Progress::Ready);
    }

    #[test]
    fn progress_of_services_and_jobs() {
        use ServiceKind::*;
        assert_eq!(
            progress(Service, true, &[obs("running", Some("starting"), None)]),
            Progress::Started
        );
        assert_eq!(
            progress(Service, true, &[obs("running", Some("healthy"), None)]),
            Progress::Ready
        );
        assert_eq!(
            progress(Service, false, &[obs("running", None, None)]),
            Progress::Ready
        );
        assert_eq!(
            progress(
                Service,
                true,
                &[
                    obs("running", Some("healthy"), None),
                    obs("running", Some("starting"), None)
                ]
            ),
            Progress::Started,
            "every replica must be healthy"
        );
        assert_eq!(
            progress(Service, true, &[obs("running", Some("unhealthy"), None)]),
            Progress::Failed("health check failing: connection refused".into())
        );
        assert_eq!(
            progress(Service, false, &[obs("exited", None, Some(3))]),
            Progress::Failed("exited with code 3".into())
        );
        assert_eq!(
            progress(Job, false, &[obs("running", None, None)]),
            Progress::Started
        );
        assert_eq!(
            progress(Job, false, &[obs("exited", None, Some(0))]),
            Progress::Completed
        );
        assert_eq!(
            progress(Job, false, &[obs("exited", None, Some(2))]),
            Progress::Failed("exited with code 2".into())
        );
        assert_eq!(
            progress(Service, false, &[obs("created", None, None)]),
            Progress::Waiting
        );
    }

    #[test]
    fn conditions() {
        assert!(satisfied(Condition::Started, &Progress::Started));
        assert!(!satisfied(Condition::Healthy, &Progress::Started));
        assert!(satisfied(Condition::Healthy, &Progress::Ready));
        assert!(!satisfied(
            Condition::CompletedSuccessfully,
            &Progress::Started
        ));
        assert!(satisfied(
            Condition::CompletedSuccessfully,
            &Progress::Completed
        ));
    }

    #[test]
    fn ecs_size_becomes_the_limit_unless_the_service_opts_out() {
        use crate::stack::load::{Source, load_source};
        let ecs = "ecs: {service: s, repository: r, cpu: 512, memory: 1024}";
        let text = format!(
            "name: l\nimage: {{context: .}}\nservices:\n  \
             a:\n    command: [a]\n    {ecs}\n  \
             b:\n    command: [b]\n    local: {{limits: false}}\n    {ecs}\n"
        );
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text,
        };
        let stack = load_source(source, "local", &Default::default(), &Default::default())
            .unwrap()
            .stack;
        let d = desired_containers(
            &stack,
            &crate::spec::only_image("sha256:i"),
            &Default::default(),
            "/p".as_ref(),
        );
        let limits: Vec<(&str, Option<Limits>)> =
            d.iter().map(|c| (c.service.as_str(), c.limits)).collect();
        assert_eq!(
            limits,
            vec![
                (
                    "a",
                    Some(Limits {
                        cpu_units: 512,
                        memory_mib: 1024
                    })
                ),
                ("b", None)
            ]
        );
    }

    fn task_stack() -> crate::stack::Stack {
        use crate::stack::load::{Source, load_source};
        let text = "name: t\nimage: {context: .}\nservices:\n  \
                    app:\n    ports: [\"127.0.0.1:8000:8000\"]\n    replicas: 1\n    \
                    sidecars:\n      \
                    late: {image: 'x:1', depends_on: {early: started}}\n      \
                    early: {ports: [\"127.0.0.1:9000:9000\"], essential: false}\n";
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        load_source(source, "local", &Default::default(), &Default::default())
            .unwrap()
            .stack
    }

    #[test]
    fn a_task_publishes_its_sidecars_ports_and_they_join_it_in_their_order() {
        let stack = task_stack();
        let d = desired_containers(
            &stack,
            &crate::spec::only_image("sha256:i"),
            &Default::default(),
            "/p".as_ref(),
        );
        let shape: Vec<(&str, Option<&str>, Option<bool>, &str)> = d
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.joins.as_deref(),
                    c.essential,
                    c.image.as_str(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("t-app-1", None, Some(true), "sha256:i"),
                ("t-app-1.early", Some("t-app-1"), Some(false), "sha256:i"),
                ("t-app-1.late", Some("t-app-1"), Some(true), "x:1"),
            ]
        );
        let published: Vec<u16> = d[0].ports.iter().map(|p| p.container).collect();
        assert_eq!(published, [8000, 9000]);
        assert!(d[1].ports.is_empty() && d[1].aliases.is_empty());
        assert_eq!(names::sidecar_of("t-app-1.late"), Some(("t-app-1", "late")));
    }

    #[test]
    fn sidecars_are_replaced_with_their_task_and_restarted_when_it_starts_again() {
        let stack = task_stack();
        let d = desired_containers(
            &stack,
            &crate::spec::only_image("sha256:i"),
            &Default::default(),
            "/p".as_ref(),
        );
        let running: Vec<Actual> = d.iter().map(|c| actual(c, "running", None)).collect();
        // All as they should be: kept.
        assert!(
            plan(&d, &running)
                .iter()
                .all(|a| matches!(a, Action::Keep { .. }))
        );
        // The task's container changed: its sidecars go with it.
        let mut changed = d.clone();
        changed[0].command = Some(vec!["new".into()]);
        let said: Vec<String> = plan(&changed, &running)
            .iter()
            .map(|a| match a {
                Action::Replace { desired, why, .. } => format!("replace {} ({why})", desired.name),
                Action::AsIs { name, .. } => format!("restart {name}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            said,
            [
                "replace t-app-1 (definition changed)",
                "replace t-app-1.early (its task's container `t-app-1` is new)",
                "replace t-app-1.late (its task's container `t-app-1` is new)",
            ]
        );
        // The task's container stopped: started, its sidecars restarted.
        let mut stopped = running.clone();
        stopped[0].state = "exited".into();
        let said: Vec<String> = plan(&d, &stopped)
            .iter()
            .map(|a| match a {
                Action::Start { desired, .. } => format!("start {}", desired.name),
                Action::AsIs { name, how, .. } => format!("{how:?} {name}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            said,
            [
                "start t-app-1",
                "Restart t-app-1.early",
                "Restart t-app-1.late"
            ]
        );
    }
}
