//! Networks, volumes, containers and images of a stack: create, inspect,
//! stop and remove, always by label.

use std::collections::HashMap;

use bollard::models::{
    ContainerStateStatusEnum, HealthStatusEnum, NetworkCreateRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListNetworksOptions, ListVolumesOptions,
    RemoveContainerOptions, RemoveVolumeOptions, StopContainerOptions,
};
use futures_util::StreamExt;

use super::files::FileIn;
use super::{DockerError, Engine, is_not_found, labels, short_reason};
use crate::local::init;
use crate::local::plan::{DesiredContainer, Observation};

/// The network a stack runs on, and what was removed to leave only it.
#[derive(Debug, Default)]
pub struct NetworkRepair {
    pub id: String,
    pub duplicates_removed: usize,
    /// Containers that were on a removed duplicate (`up` recreates them).
    pub containers_removed: Vec<String>,
}

fn stack_filter(stack: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{}={stack}", labels::STACK)],
    )])
}

impl Engine {
    /// The stack's network, made if missing. Networks are found by label
    /// and exact name and acted on by ID: when two or more carry the name
    /// (two `up`s raced, or an older geno or a person made them), the one
    /// with containers attached (else the oldest) is kept, the others are
    /// removed with the containers on them, which `up` then recreates.
    pub async fn ensure_network(
        &self,
        stack: &str,
        name: &str,
    ) -> Result<NetworkRepair, DockerError> {
        let mut same: Vec<_> = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(HashMap::from([(
                    "name".to_string(),
                    vec![name.to_string()],
                )])),
            }))
            .await?
            .into_iter()
            // The name filter matches substrings; compare exactly.
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| {
                Some((
                    n.id?,
                    n.created
                        .map(|t| t.unix_timestamp_nanos())
                        .unwrap_or_default(),
                ))
            })
            .collect();
        if same.is_empty() {
            let created = self
                .docker
                .create_network(NetworkCreateRequest {
                    name: name.to_string(),
                    driver: Some("bridge".into()),
                    labels: Some(HashMap::from([(
                        labels::STACK.to_string(),
                        stack.to_string(),
                    )])),
                    ..Default::default()
                })
                .await?;
            return Ok(NetworkRepair {
                id: created.id,
                ..Default::default()
            });
        }
        // Oldest first; the list does not say who is attached, inspect does.
        same.sort_by_key(|a| a.1);
        let mut attached = Vec::new();
        for (id, _) in &same {
            let n = self
                .docker
                .inspect_network(id, None::<bollard::query_parameters::InspectNetworkOptions>)
                .await?;
            attached.push(n.containers.unwrap_or_default());
        }
        let keep = attached.iter().position(|c| !c.is_empty()).unwrap_or(0);
        let mut removed = Vec::new();
        for (i, (id, _)) in same.iter().enumerate() {
            if i == keep {
                continue;
            }
            for (cid, c) in &attached[i] {
                self.stop_and_remove(cid, 10).await?;
                removed.push(c.name.clone().unwrap_or_else(|| cid.clone()));
            }
            self.remove_network(id).await?;
        }
        Ok(NetworkRepair {
            id: same[keep].0.clone(),
            duplicates_removed: same.len() - 1,
            containers_removed: removed,
        })
    }

    pub async fn ensure_volume(
        &self,
        stack: &str,
        volume: &str,
        name: &str,
    ) -> Result<(), DockerError> {
        // Create is idempotent for an existing local volume of the same name.
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_string()),
                labels: Some(HashMap::from([
                    (labels::STACK.to_string(), stack.to_string()),
                    (labels::VOLUME.to_string(), volume.to_string()),
                ])),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// (ID, name) of every network labelled with the stack.
    pub async fn stack_networks(&self, stack: &str) -> Result<Vec<(String, String)>, DockerError> {
        let nets = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(stack_filter(stack)),
            }))
            .await?;
        Ok(nets
            .into_iter()
            .filter_map(|n| Some((n.id?, n.name.unwrap_or_default())))
            .collect())
    }

    pub async fn stack_volumes(
        &self,
        stack: &str,
    ) -> Result<Vec<(String, Option<String>)>, DockerError> {
        let vols = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(stack_filter(stack)),
            }))
            .await?;
        Ok(vols
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.name, v.labels.get(labels::VOLUME).cloned()))
            .collect())
    }

    /// The images the stack's builds left (labelled with the stack), by ID.
    pub async fn stack_images(
        &self,
        stack: &str,
    ) -> Result<Vec<crate::local::images::BuiltImage>, DockerError> {
        let images = self
            .docker
            .list_images(Some(bollard::query_parameters::ListImagesOptions {
                filters: Some(stack_filter(stack)),
                ..Default::default()
            }))
            .await?;
        Ok(images
            .into_iter()
            .map(|i| crate::local::images::BuiltImage {
                id: i.id,
                created: i.created,
                size: i.size,
            })
            .collect())
    }

    /// Removes an image by ID with all its tags; an image a container
    /// still uses stays (the engine refuses), which is not an error here.
    pub async fn remove_image(&self, id: &str) -> Result<bool, DockerError> {
        match self
            .docker
            .remove_image(
                id,
                Some(bollard::query_parameters::RemoveImageOptions {
                    force: true,
                    noprune: false,
                    ..Default::default()
                }),
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if super::is_not_found(&e) => Ok(false),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a network by its ID (a name may be ambiguous).
    pub async fn remove_network(&self, id: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(id).await {
            Err(e) if is_not_found(&e) => Ok(()),
            other => Ok(other?),
        }
    }

    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: false }))
            .await
        {
            Err(e) if is_not_found(&e) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Creates (labelled from the start) and starts a container.
    pub async fn create_and_start(
        &self,
        stack: &str,
        d: &DesiredContainer,
        kind: &str,
    ) -> Result<String, DockerError> {
        self.create_and_start_as(stack, d, kind, &d.name).await
    }

    /// Creates and starts `d` under another name (a release rehearsed
    /// beside the one it replaces), labelled as `d` itself, so once renamed
    /// to `d`'s name it is `d`.
    pub async fn create_and_start_as(
        &self,
        stack: &str,
        d: &DesiredContainer,
        kind: &str,
        name: &str,
    ) -> Result<String, DockerError> {
        let mut body = super::container::create_body(stack, d, kind);
        if d.init.is_some() {
            self.under_init(d, &mut body).await?;
        }
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                }),
                body,
            )
            .await?;
        if d.init.is_some() {
            // Before it starts: its entrypoint is the init.
            let init = FileIn {
                path: init::PATH.to_string(),
                data: init::BINARY.to_vec(),
                mode: 0o755,
            };
            self.put_files(&created.id, std::slice::from_ref(&init))
                .await?;
        }
        self.docker.start_container(&created.id, None).await?;
        Ok(created.id)
    }

    /// `body` made to run its program under geno's init: the program is
    /// what Docker would have run (the image's entrypoint and command where
    /// stack.yaml gives none), stopped by the image's stop signal.
    async fn under_init(
        &self,
        d: &DesiredContainer,
        body: &mut bollard::models::ContainerCreateBody,
    ) -> Result<(), DockerError> {
        let config = self.docker.inspect_image(&d.image).await?.config;
        let config = config.unwrap_or_default();
        let (entrypoint, command) = init::program(
            d.entrypoint.as_deref(),
            d.command.as_deref(),
            config.entrypoint.as_deref().unwrap_or_default(),
            config.cmd.as_deref().unwrap_or_default(),
        );
        let stop = config.stop_signal.as_deref().and_then(init::signal_number);
        body.entrypoint = Some(init::entrypoint(&entrypoint, stop));
        body.cmd = Some(command);
        Ok(())
    }

    /// Gives container `id` the name `name`.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), DockerError> {
        self.docker
            .rename_container(
                id,
                bollard::query_parameters::RenameContainerOptions {
                    name: name.to_string(),
                },
            )
            .await?;
        Ok(())
    }

    /// Starts a container (one that runs already is left as it is).
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        match self.docker.start_container(id, None).await {
            // 304: already started.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Stops and starts a container as it is (SIGTERM, SIGKILL after
    /// `grace` seconds); its ID, name and address stay.
    pub async fn restart(&self, id: &str, grace: u64) -> Result<(), DockerError> {
        self.stop(id, grace).await?;
        self.start(id).await
    }

    /// Restarts the process of a container that runs under geno's init,
    /// in place: what the init said (old and new process, how the old one
    /// ended), or why it could not (no init in the container, or the init
    /// failed), for the caller to restart the container instead.
    pub async fn respawn(
        &self,
        id: &str,
        restart: &init::Restart,
    ) -> Result<init::Restarted, String> {
        match self.exec_capture(id, init::restart_request(restart)).await {
            Ok((0, out, _)) => init::Restarted::read(&out)
                .ok_or_else(|| format!("geno's init answered `{}`", out.trim())),
            Ok((init::NOT_SUPERVISED, ..)) => Err("it has no geno init".into()),
            Ok((code, out, err)) => Err(format!(
                "geno's init answered {code}: {}",
                err.trim()
                    .lines()
                    .chain(out.trim().lines())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; the container stays
    /// (and its restart policy does not bring it back).
    pub async fn stop(&self, id: &str, grace: u64) -> Result<(), DockerError> {
        match self
            .docker
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(grace.min(i32::MAX as u64) as i32),
                    signal: None,
                }),
            )
            .await
        {
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; then remove.
    pub async fn stop_and_remove(&self, id: &str, grace: u64) -> Result<(), DockerError> {
        match self.stop(id, grace).await {
            Err(DockerError::Api(e)) if is_not_found(&e) => return Ok(()),
            other => other?,
        }
        self.remove(id).await
    }

    pub async fn remove(&self, id: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: false,
                    link: false,
                }),
            )
            .await
        {
            Err(e) if is_not_found(&e) => Ok(()),
            // 409: removal already in progress.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    pub async fn observe(&self, id: &str) -> Result<Observation, DockerError> {
        let c = self.inspect(id).await?;
        let state = c.state.unwrap_or_default();
        let health = state.health.as_ref();
        let status = |s: &ContainerStateStatusEnum| s.to_string();
        Ok(Observation {
            state: state.status.as_ref().map(status).unwrap_or_default(),
            health: health
                .and_then(|h| h.status.as_ref())
                .and_then(|s| match s {
                    HealthStatusEnum::STARTING => Some("starting".to_string()),
                    HealthStatusEnum::HEALTHY => Some("healthy".to_string()),
                    HealthStatusEnum::UNHEALTHY => Some("unhealthy".to_string()),
                    _ => None,
                }),
            exit_code: state.exit_code,
            health_output: health
                .and_then(|h| h.log.as_ref())
                .and_then(|l| l.last())
                .and_then(|r| r.output.clone()),
            running_for: state
                .started_at
                .as_deref()
                .and_then(super::since)
                .unwrap_or_default(),
            oom_killed: state.oom_killed.unwrap_or(false),
            restarts: c.restart_count.unwrap_or(0),
            // The engine knows nothing of geno's probes; `up` says.
            ready_by_probe: false,
            memory_limit_mib: c
                .host_config
                .and_then(|h| h.memory)
                .filter(|m| *m > 0)
                .map(|m| m as u64 / (1024 * 1024)),
            optional: c
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(super::labels::ESSENTIAL))
                .is_some_and(|e| e == "false"),
        })
    }

    /// Makes an external image available: present, or pulled. A machine
    /// without a registry gets a message that says what to do instead.
    pub async fn ensure_image(
        &self,
        reference: &str,
        variable_hint: &str,
    ) -> Result<(), DockerError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let (image, tag) = match reference.rsplit_once(':') {
            Some((i, t)) if !t.contains('/') => (i, t),
            _ => (reference, "latest"),
        };
        let mut pull = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(image.to_string()),
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            None,
            None,
        );
        while let Some(item) = pull.next().await {
            if let Err(e) = item {
                return Err(DockerError::Unavailable {
                    image: reference.to_string(),
                    reason: short_reason(&e),
                    hint: variable_hint.to_string(),
                });
            }
        }
        Ok(())
    }
}
