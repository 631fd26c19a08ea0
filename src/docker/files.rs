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

    /// The paths at or below `targets` that the container's writable layer
    /// holds (files added, changed or deleted there since it was created
    /// from its image). The engine's change list walks the whole container
    /// (2.5 s per container on fuse-overlayfs here), so where the storage
    /// driver's upper directory is readable from this host (a local engine
    /// with overlay or fuse-overlayfs) only the targets are walked there;
    /// otherwise the engine's list is filtered.
    /// `thorough: false` answers `None` where the upper directory cannot be
    /// read, instead of asking the engine for its slow list.
    pub async fn changes_under(
        &self,
        container: &str,
        targets: &[String],
        thorough: bool,
    ) -> Result<Option<Vec<String>>, DockerError> {
        let upper = self
            .inspect(container)
            .await?
            .graph_driver
            .and_then(|d| d.data.get("UpperDir").cloned())
            .map(std::path::PathBuf::from)
            .filter(|p| std::fs::read_dir(p).is_ok());
        let Some(upper) = upper else {
            if !thorough {
                return Ok(None);
            }
            let all = self.changes(container).await?;
            return Ok(Some(all.into_iter().map(|c| c.path).collect()));
        };
        let mut found = Vec::new();
        for t in targets {
            let inner = t.trim_matches('/');
            walk_upper(&upper, &upper.join(inner), &mut found);
        }
        Ok(Some(found))
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

/// Files (and whiteouts, for deleted files) under `at` in an overlay upper
/// directory, as container paths.
fn walk_upper(upper: &std::path::Path, at: &std::path::Path, out: &mut Vec<String>) {
    const AT_MOST: usize = 10_000;
    let Ok(meta) = std::fs::symlink_metadata(at) else {
        return;
    };
    let as_container_path = |p: &std::path::Path| {
        let rel = p
            .strip_prefix(upper)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        // An overlay whiteout may be a `.wh.NAME` file: it stands for NAME.
        let rel = match rel.rsplit_once('/') {
            Some((dir, name)) if name.starts_with(".wh.") => format!("{dir}/{}", &name[4..]),
            None if rel.starts_with(".wh.") => rel[4..].to_string(),
            _ => rel,
        };
        format!("/{rel}")
    };
    if !meta.is_dir() {
        out.push(as_container_path(at));
        return;
    }
    let Ok(entries) = std::fs::read_dir(at) else {
        return;
    };
    for e in entries.flatten() {
        if out.len() >= AT_MOST {
            return;
        }
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            walk_upper(upper, &p, out);
        } else if !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".wh..wh."))
        {
            out.push(as_container_path(&p));
        }
    }
}
