//! Files in containers: copying into one (a tar to the archive endpoint),
//! removing paths, and the engine's list of what changed in a container's
//! writable layer since it was created from its image.

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ChangeType;
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use futures_util::StreamExt;

use super::{DockerError, Engine};

/// One file to place in a container: its absolute path there, its bytes
/// and its mode.
pub struct FileIn {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// What the engine says changed in a container (`docker diff`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub path: String,
    /// `C` changed, `A` added, `D` deleted.
    pub kind: char,
}

impl Engine {
    /// Writes `files` into the container (running or stopped) in one
    /// archive, owned by root as the image's own code is; missing parent
    /// directories are created.
    pub async fn put_files(&self, container: &str, files: &[FileIn]) -> Result<(), DockerError> {
        if files.is_empty() {
            return Ok(());
        }
        let mut builder = tar::Builder::new(Vec::new());
        for f in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(f.data.len() as u64);
            header.set_mode(f.mode);
            header.set_mtime(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(
                    &mut header,
                    f.path.trim_start_matches('/'),
                    f.data.as_slice(),
                )
                .map_err(|e| DockerError::Local(format!("cannot pack {}: {e}", f.path)))?;
        }
        let tar = builder
            .into_inner()
            .map_err(|e| DockerError::Local(format!("cannot pack files: {e}")))?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(
                container,
                Some(options),
                bollard::body_full(bytes::Bytes::from(tar)),
            )
            .await?;
        Ok(())
    }

    /// Removes paths in a running container (as root: the image's code is
    /// root's); a path already gone is no error.
    pub async fn remove_paths(&self, container: &str, paths: &[String]) -> Result<(), DockerError> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
        cmd.extend(paths.iter().cloned());
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions::<String> {
                    cmd: Some(cmd),
                    user: Some("0".into()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let started = self.docker.start_exec(&created.id, None).await?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while output.next().await.is_some() {}
        }
        let code = self.exec_exit_code(&created.id).await?;
        if code != 0 {
            return Err(DockerError::Local(format!(
                "removing {} in the container exited with {code}",
                paths.join(", ")
            )));
        }
        Ok(())
    }

    /// The container's writable-layer changes against its image.
    pub async fn changes(&self, container: &str) -> Result<Vec<Changed>, DockerError> {
        let list = self.docker.container_changes(container).await?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .map(|c| Changed {
                path: c.path,
                kind: match c.kind {
                    ChangeType::_0 => 'C',
                    ChangeType::_1 => 'A',
                    ChangeType::_2 => 'D',
                },
            })
            .collect())
    }
}
