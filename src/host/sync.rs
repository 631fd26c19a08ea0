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

/// Copies a service's changed files into each of its containers and
/// removes its deleted ones; a file that vanished since the batch was
/// made counts as deleted. The sync record is written first, so a watch
/// killed half-way still leaves the containers marked as drifted.
pub async fn sync(
    local: &LocalStack,
    containers: &[Member],
    work: &ServiceWork,
) -> anyhow::Result<Synced> {
    let mut files = Vec::new();
    let mut delete: Vec<String> = work
        .delete
        .iter()
        .map(|(_, target)| target.clone())
        .collect();
    for (rel, target) in &work.copy {
        let path = local.dir().join(rel);
        match std::fs::read(&path) {
            Ok(data) => {
                let mode = file_mode(&path);
                files.push(FileIn {
                    path: target.clone(),
                    data,
                    mode,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => delete.push(target.clone()),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }
    let state_dir = local.state_dir();
    let mut record = crate::state::synced::load(&state_dir, local.name());
    let touched: Vec<String> = files
        .iter()
        .map(|f| f.path.clone())
        .chain(delete.iter().cloned())
        .collect();
    for c in containers {
        record.add(&c.id, touched.iter().cloned());
    }
    keep(local, &mut record).await?;
    for c in containers {
        local.engine.put_files(&c.id, &files).await?;
        if c.running() {
            local.engine.remove_paths(&c.id, &delete).await?;
        }
    }
    Ok(Synced {
        copied: files.len(),
        deleted: delete.len(),
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
