//! The Docker Engine adapter: the only module that talks to dockerd.
//!
//! Connection, labels every geno object carries, and thin wrappers that turn
//! bollard errors into messages a person can act on.

pub mod build;
pub mod container;
pub mod exec;
pub mod files;
pub mod objects;
pub mod push;

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{ListContainersOptions, LogsOptions};
use futures_util::StreamExt;

/// Label keys on every container, network, volume and image geno creates.
pub mod labels {
    /// The stack an object belongs to; `geno down` removes by this label.
    pub const STACK: &str = "geno.stack";
    pub const SERVICE: &str = "geno.service";
    pub const REPLICA: &str = "geno.replica";
    /// Hash of the container's resolved definition and image ID.
    pub const CONFIG_HASH: &str = "geno.config-hash";
    /// `service`, `job` or `run` (one-off).
    pub const KIND: &str = "geno.kind";
    pub const VOLUME: &str = "geno.volume";
    /// On an image of one of a stack's `builds:`: the build's name.
    pub const BUILD: &str = "geno.build";
    /// On a sidecar's container: the sidecar's name.
    pub const SIDECAR: &str = "geno.sidecar";
    /// On the containers of a task with sidecars: the task (its service's
    /// container's name), whether this one is essential, and the restart
    /// policy geno's task supervisor applies to the task (the engine's is
    /// `no` for them: a restarted container would leave the others without
    /// their network).
    pub const TASK: &str = "geno.task";
    pub const ESSENTIAL: &str = "geno.essential";
    pub const RESTART: &str = "geno.restart";
    /// On a container whose command runs under geno's init: its version.
    pub const INIT: &str = "geno.init";
}

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine at {socket} ({reason}); start dockerd, or point DOCKER_HOST at its socket"
    )]
    Unreachable { socket: String, reason: String },
    #[error("image `{image}` is not on this machine and cannot be pulled ({reason}); {hint}")]
    Unavailable {
        image: String,
        reason: String,
        hint: String,
    },
    /// The connection broke after geno had reached the engine: it stopped,
    /// restarted or died under the command.
    #[error(
        "lost the Docker engine at {socket} ({reason}); once it is back, run the command again: it picks up where this one stopped"
    )]
    Gone { socket: String, reason: String },
    #[error("Docker engine: {}", short_reason(.0))]
    Api(bollard::errors::Error),
    /// Preparing a request failed on this side (packing files, …).
    #[error("{0}")]
    Local(String),
}

impl From<bollard::errors::Error> for DockerError {
    /// An answer from the engine stays an API error; a connection that
    /// could not be made or broke means the engine went away.
    fn from(e: bollard::errors::Error) -> DockerError {
        use bollard::errors::Error as E;
        match e {
            E::IOError { .. }
            | E::HyperLegacyError { .. }
            | E::HyperResponseError { .. }
            | E::SocketNotFoundError(_)
            | E::RequestTimeoutError => DockerError::Gone {
                socket: socket_description(),
                reason: short_reason(&e),
            },
            other => DockerError::Api(other),
        }
    }
}

/// Where bollard will connect, for messages.
pub fn socket_description() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
}

impl Engine {
    /// Connects and negotiates the API version (this engine may be older
    /// than bollard's default).
    pub async fn connect() -> Result<Engine, DockerError> {
        let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
            socket: socket_description(),
            reason: short_reason(&e),
        };
        let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine { docker })
    }

    /// Every container of a stack with its labels read.
    pub async fn members(&self, stack: &str) -> Result<Vec<Member>, DockerError> {
        Ok(self
            .stack_containers(stack)
            .await?
            .iter()
            .map(Member::from_summary)
            .collect())
    }

    /// Every container of a stack, running or not.
    pub async fn stack_containers(
        &self,
        stack: &str,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={stack}", labels::STACK)],
        )]);
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        Ok(self.docker.list_containers(Some(opts)).await?)
    }

    pub async fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, DockerError> {
        Ok(self.docker.inspect_container(id, None).await?)
    }

    /// A container's CPU and memory counters now (one reading, no wait for
    /// a second); `None` when it is gone or not running.
    pub async fn sample(&self, id: &str) -> Result<Option<crate::local::top::Sample>, DockerError> {
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.docker.stats(id, Some(opts));
        let stats = match stream.next().await {
            None => return Ok(None),
            Some(Err(e)) if is_not_found(&e) => return Ok(None),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(s)) => s,
        };
        let cpu = stats.cpu_stats.unwrap_or_default();
        let memory = stats.memory_stats.unwrap_or_default();
        // As `docker stats` counts it: without the page cache it can drop.
        let cache = memory
            .stats
            .as_ref()
            .and_then(|s| {
                s.get("inactive_file")
                    .or_else(|| s.get("total_inactive_file"))
            })
            .copied()
            .unwrap_or(0);
        Ok(Some(crate::local::top::Sample {
            cpu_total: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
            system_total: cpu.system_cpu_usage.unwrap_or(0),
            cpus: cpu.online_cpus.unwrap_or(1),
            memory: memory.usage.unwrap_or(0).saturating_sub(cache),
            memory_limit: memory.limit.unwrap_or(0),
        }))
    }

    /// The last `n` lines a container wrote, stdout and stderr together.
    pub async fn tail_logs(&self, id: &str, n: usize) -> Vec<String> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: n.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(opts));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(chunk.as_ref()));
        }
        text.lines().map(str::to_string).collect()
    }
}

/// What `up` decides from the engine: the stack's containers, the files
/// synced into one, and removing one. The bollard client in production,
/// a table in tests (`host::paper`), so what `up` replaces is a unit test.
pub trait Containers: Sync {
    /// Every container of a stack with its labels read.
    fn members(
        &self,
        stack: &str,
    ) -> impl std::future::Future<Output = Result<Vec<Member>, DockerError>> + Send;
    /// The files changed in `container` under `targets` (see
    /// `Engine::changes_under`).
    fn changes_under(
        &self,
        container: &str,
        targets: &[String],
        thorough: bool,
    ) -> impl std::future::Future<Output = Result<Option<Vec<String>>, DockerError>> + Send;
    /// Stops (after `grace` seconds) and removes; gone already is fine.
    fn stop_and_remove(
        &self,
        id: &str,
        grace: u64,
    ) -> impl std::future::Future<Output = Result<(), DockerError>> + Send;
}

impl Containers for Engine {
    async fn members(&self, stack: &str) -> Result<Vec<Member>, DockerError> {
        Engine::members(self, stack).await
    }
    async fn changes_under(
        &self,
        container: &str,
        targets: &[String],
        thorough: bool,
    ) -> Result<Option<Vec<String>>, DockerError> {
        Engine::changes_under(self, container, targets, thorough).await
    }
    async fn stop_and_remove(&self, id: &str, grace: u64) -> Result<(), DockerError> {
        Engine::stop_and_remove(self, id, grace).await
    }
}

/// A container of a stack as the listing describes it, labels read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub service: String,
    pub replica: u32,
    /// `service`, `job` or `run`.
    pub kind: String,
    pub hash: Option<String>,
    /// Docker's state: created, running, exited, …
    pub state: String,
    /// The listing's status text (`Exited (3) 5 seconds ago`).
    pub status: String,
    /// Published ports as `IP:HOST->CONTAINER`.
    pub ports: Vec<String>,
    /// A sidecar of `service`'s task: its name.
    pub sidecar: Option<String>,
    /// Its command runs under geno's init (of this version): a restart
    /// restarts the process in place.
    pub init: Option<String>,
}

impl Member {
    pub fn from_summary(c: &ContainerSummary) -> Member {
        let label = |k: &str| c.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let mut ports: Vec<String> = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                let public = p.public_port?;
                Some(format!(
                    "{}:{public}->{}",
                    p.ip.clone().unwrap_or_default(),
                    p.private_port
                ))
            })
            .collect();
        ports.sort();
        ports.dedup();
        Member {
            id: c.id.clone().unwrap_or_default(),
            name: c
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            service: label(labels::SERVICE).unwrap_or_default(),
            replica: label(labels::REPLICA)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
            kind: label(labels::KIND).unwrap_or_else(|| "service".into()),
            hash: label(labels::CONFIG_HASH),
            state: c.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.clone().unwrap_or_default(),
            ports,
            sidecar: label(labels::SIDECAR),
            init: label(labels::INIT),
        }
    }

    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

/// bollard's errors in one line, without the debug noise.
pub fn short_reason(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        E::IOError { err } => err.to_string(),
        E::HyperResponseError { err } => with_cause(err),
        E::HyperLegacyError { err } => with_cause(err),
        other => other.to_string(),
    }
}

/// An error and, where it has one, its first cause's text: hyper's own
/// text ("client error (Connect)") says little without it.
fn with_cause(e: &dyn std::error::Error) -> String {
    let mut root = e.source();
    while let Some(next) = root.and_then(|r| r.source()) {
        root = Some(next);
    }
    match root {
        Some(r) => format!("{e}: {r}"),
        None => e.to_string(),
    }
}

/// Time since a Docker timestamp (`2026-11-22T16:35:37.875251763Z`); None
/// for the zero time of a container that never started.
pub fn since(timestamp: &str) -> Option<std::time::Duration> {
    humantime::parse_rfc3339_weak(timestamp)
        .ok()?
        .elapsed()
        .ok()
}

/// A 404 from the engine: the object does not exist.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_timestamps() {
        assert!(since("2020-11-22T16:35:37.875251763Z").unwrap().as_secs() > 86_400);
        assert_eq!(since("0001-01-01T00:00:00Z"), None);
    }
}
