//! Whether a container still runs its image, pure: the files synced into
//! it by `geno up --watch` (as geno recorded them before copying, so a
//! watch killed mid-way is still on record) together with what the engine
//! reports changed under the service's sync targets (which also catches a
//! `docker cp` made by hand). A drifted container's smoke run vouches for
//! nothing: its image is not what ran.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Container ID → container paths geno synced into it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub synced: BTreeMap<String, BTreeSet<String>>,
}

impl SyncRecord {
    pub fn path(state_dir: &Path, stack: &str) -> PathBuf {
        state_dir.join(stack).join("synced.json")
    }

    /// Only the containers in `existing`, and only those with files.
    pub fn keep_only(&mut self, existing: &[String]) {
        self.synced
            .retain(|id, paths| existing.contains(id) && !paths.is_empty());
    }

    pub fn add(&mut self, container: &str, paths: impl IntoIterator<Item = String>) {
        self.synced
            .entry(container.to_string())
            .or_default()
            .extend(paths);
    }
}

/// The files by which a container differs from its image: recorded syncs,
/// and the engine's changes (`changed`: paths it lists) at or below a sync
/// target. Directories the engine lists only because something below them
/// changed are left out, so the count is of files.
pub fn drifted(
    changed: &[String],
    targets: &[String],
    recorded: Option<&BTreeSet<String>>,
) -> Vec<String> {
    let under = |p: &str| {
        targets.iter().any(|t| {
            let t = t.trim_end_matches('/');
            p == t || p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/'))
        })
    };
    let mut found: BTreeSet<String> = changed.iter().filter(|p| under(p)).cloned().collect();
    if let Some(r) = recorded {
        found.extend(r.iter().cloned());
    }
    let all: Vec<String> = found.iter().cloned().collect();
    found
        .into_iter()
        .filter(|p| {
            !all.iter().any(|q| {
                q.len() > p.len() && q.starts_with(p.as_str()) && q.as_bytes()[p.len()] == b'/'
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn files_under_a_sync_target_count_and_their_parent_directories_do_not() {
        let changed = s(&[
            "/usr/sbin/docker-init",
            "/tmp/pymp-abc",
            "/app",
            "/app/genonaut",
            "/app/genonaut/api",
            "/app/genonaut/api/main.py",
            "/app/genonaut/api/new.py",
            "/app/genonautx/other.py",
        ]);
        assert_eq!(
            drifted(&changed, &s(&["/app/genonaut/api/"]), None),
            s(&["/app/genonaut/api/main.py", "/app/genonaut/api/new.py"])
        );
        assert!(drifted(&s(&["/tmp/pymp-abc", "/app"]), &s(&["/app/genonaut"]), None).is_empty());
    }

    #[test]
    fn a_recorded_sync_counts_even_where_the_engine_sees_nothing_under_a_target() {
        let recorded: BTreeSet<String> = ["/srv/old-rule/x.py".to_string()].into();
        assert_eq!(
            drifted(&[], &s(&["/app/genonaut"]), Some(&recorded)),
            s(&["/srv/old-rule/x.py"])
        );
    }

    #[test]
    fn the_record_forgets_containers_that_are_gone_and_empty_ones() {
        let mut r = SyncRecord::default();
        r.add("a", s(&["/app/x.py"]));
        r.add("b", s(&["/app/y.py"]));
        r.add("c", Vec::new());
        r.keep_only(&s(&["a", "c"]));
        assert_eq!(r.synced.keys().collect::<Vec<_>>(), ["a"]);
        assert!(r.synced["a"].contains("/app/x.py"));
    }
}
