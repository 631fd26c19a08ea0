//! Files into the stack's containers for the edit loop (`geno up
//! --watch`), recorded before they are copied, and whether a container
//! still runs its image (`drift`), which `smoke` and `up` ask.

use std::collections::BTreeSet;

use super::LocalStack;
use crate::docker::files::FileIn;
use crate::docker::{Containers, Member};
use crate::local::drift::{SyncRecord, drifted};
use crate::local::watch::ServiceWork;

/// What a sync did to each container of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    pub copied: usize,
    pub deleted: usize,
}

/// A service's files to copy (read from the tree now) and its paths to
/// remove in its containers; a file that vanished since the batch was made
/// counts as deleted.
pub struct Files {
    pub copy: Vec<FileIn>,
    pub delete: Vec<String>,
}

impl Files {
    pub fn read(local: &LocalStack, work: &ServiceWork) -> anyhow::Result<Files> {
        let mut copy = Vec::new();
        let mut delete: Vec<String> = work
            .delete
            .iter()
            .map(|(_, target)| target.clone())
            .collect();
        for (rel, target) in &work.copy {
            let path = local.dir().join(rel);
            match std::fs::read(&path) {
                Ok(data) => copy.push(FileIn {
                    path: target.clone(),
                    data,
                    mode: file_mode(&path),
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => delete.push(target.clone()),
                Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
            }
        }
        Ok(Files { copy, delete })
    }

    fn touched(&self) -> impl Iterator<Item = String> + '_ {
        self.copy
            .iter()
            .map(|f| f.path.clone())
            .chain(self.delete.iter().cloned())
    }
}

/// Records the files a batch is about to put into containers, before it
/// does, so a watch killed half-way still leaves them marked as drifted:
/// `batch` is each service's containers with its files, `members` every
/// container of the stack (the record forgets the others).
pub fn record(
    local: &LocalStack,
    members: &[Member],
    batch: &[(&[Member], &Files)],
) -> anyhow::Result<()> {
    let state_dir = local.state_dir();
    let mut record = crate::state::synced::load(&state_dir, local.name());
    for (containers, files) in batch {
        for c in *containers {
            record.add(&c.id, files.touched());
        }
    }
    let existing: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    crate::state::synced::save(&mut record, &state_dir, local.name(), &existing)?;
    Ok(())
}

/// Copies a service's files into each of its containers at once and
/// removes its deleted ones (in those that run).
pub async fn put(
    local: &LocalStack,
    containers: &[Member],
    files: &Files,
) -> anyhow::Result<Synced> {
    let puts = containers.iter().map(|c| async move {
        local.engine.put_files(&c.id, &files.copy).await?;
        if c.running() {
            local.engine.remove_paths(&c.id, &files.delete).await?;
        }
        anyhow::Ok(())
    });
    for done in futures_util::future::join_all(puts).await {
        done?;
    }
    Ok(Synced {
        copied: files.copy.len(),
        deleted: files.delete.len(),
    })
}

/// Saves the sync record, forgetting containers that no longer exist.
async fn keep<E: Containers>(local: &LocalStack<E>, record: &mut SyncRecord) -> anyhow::Result<()> {
    let existing: Vec<String> = local
        .engine
        .members(local.name())
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    crate::state::synced::save(record, &local.state_dir(), local.name(), &existing)?;
    Ok(())
}

fn file_mode(path: &std::path::Path) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            // Readable by the image's unprivileged user, as COPY leaves code.
            return (meta.permissions().mode() & 0o777) | 0o444;
        }
    }
    0o644
}

/// A container that no longer runs only its image, and the files that differ.
#[derive(Debug, Clone)]
pub struct Drift {
    pub id: String,
    pub container: String,
    pub files: Vec<String>,
}

/// The stack's containers (of `members`) that differ from their image by
/// synced files: those geno recorded and those the engine lists under a
/// service's sync targets. Containers of services without watch rules or
/// records cost no engine call.
///
/// `thorough`: where this host cannot read the containers' storage (a
/// remote engine, or geno without root), ask the engine's change list,
/// which walks each whole container (2.5 s a container on fuse-overlayfs
/// here): `smoke` does, since a verification must not vouch for files put
/// in by hand; `up` and `ps` go by the record alone there.
pub async fn drift<E: Containers>(
    local: &LocalStack<E>,
    members: &[Member],
    thorough: bool,
) -> anyhow::Result<Vec<Drift>> {
    let record = crate::state::synced::load(&local.state_dir(), local.name());
    let mut out = Vec::new();
    for m in members.iter().filter(|m| m.sidecar.is_none()) {
        let targets: Vec<String> = local
            .loaded
            .declared
            .services
            .get(&m.service)
            .map(|s| {
                s.develop
                    .watch
                    .iter()
                    .filter_map(|r| r.target.clone())
                    .collect()
            })
            .unwrap_or_default();
        let recorded: Option<&BTreeSet<String>> = record.synced.get(&m.id);
        if targets.is_empty() && recorded.is_none() {
            continue;
        }
        let changed = local
            .engine
            .changes_under(&m.id, &targets, thorough)
            .await?
            .unwrap_or_default();
        let files = drifted(&changed, &targets, recorded);
        if !files.is_empty() {
            out.push(Drift {
                id: m.id.clone(),
                container: m.name.clone(),
                files,
            });
        }
    }
    out.sort_by(|a, b| a.container.cmp(&b.container));
    // What a thorough look found goes on record, so that `up`, which goes
    // by the record where it cannot read the storage, replaces it too.
    let unrecorded: Vec<&Drift> = out
        .iter()
        .filter(|d| {
            record
                .synced
                .get(&d.id)
                .is_none_or(|r| d.files.iter().any(|f| !r.contains(f)))
        })
        .collect();
    if thorough && !unrecorded.is_empty() {
        let mut record = record;
        for d in unrecorded {
            record.add(&d.id, d.files.iter().cloned());
        }
        keep(local, &mut record).await?;
    }
    Ok(out)
}

/// "api-1 runs 3 synced files, celery-1 runs 1" for a message.
pub fn describe(drift: &[Drift]) -> String {
    drift
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let n = d.files.len();
            if i == 0 {
                format!(
                    "{} runs {n} synced file{}",
                    d.container,
                    if n == 1 { "" } else { "s" }
                )
            } else {
                format!("{} runs {n}", d.container)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
