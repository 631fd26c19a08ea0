//! What geno keeps on disk of a deployed environment: its promotion,
//! rollback and scale records, one JSON file each under
//! `.geno/<stack>/promotions/<env>/`, and its smoke runs beside them. Each
//! file is written whole then renamed, so a record is never half there.

use std::path::{Path, PathBuf};

use crate::deploy::record::{Kind, Record};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read promotion records in {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("promotion record {} is not valid", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write promotion record {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where an environment's records are kept.
pub fn dir(state_dir: &Path, stack: &str, env: &str) -> PathBuf {
    state_dir.join(stack).join("promotions").join(env)
}

pub fn save(dir: &Path, record: &Record) -> Result<PathBuf, RecordError> {
    let path = dir.join(format!("{}.json", record.id));
    let write = |source| RecordError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    // Written whole then renamed, so a record is never half there.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    Ok(path)
}

/// Smoke runs against an environment, beside its promotion records.
pub fn smoke_dir(dir: &Path) -> PathBuf {
    dir.join("smoke")
}

/// Saves a smoke run's report (any JSON) as `smoke/<id>.json`, whole.
pub fn save_smoke(dir: &Path, id: &str, run: &serde_json::Value) -> Result<PathBuf, RecordError> {
    let dir = smoke_dir(dir);
    let path = dir.join(format!("{id}.json"));
    let write = |source| RecordError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(write)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(run).unwrap_or_default()).map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    Ok(path)
}

/// The newest smoke run on record, if any (an unreadable one counts as none).
pub fn latest_smoke(dir: &Path) -> Option<serde_json::Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(smoke_dir(dir))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let text = std::fs::read_to_string(paths.last()?).ok()?;
    serde_json::from_str(&text).ok()
}

/// All records of an environment, oldest first.
pub fn load_all(dir: &Path) -> Result<Vec<Record>, RecordError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(RecordError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| RecordError::Read {
            path: path.clone(),
            source,
        })?;
        let record: Record =
            serde_json::from_str(&text).map_err(|source| RecordError::Parse { path, source })?;
        out.push(record);
    }
    out.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Every image ID a promotion of `stack` carried, to any environment
/// (unreadable records are skipped: this feeds clean-up).
pub fn promoted_images(state_dir: &Path, stack: &str) -> std::collections::BTreeSet<String> {
    let root = state_dir.join(stack).join("promotions");
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|env| load_all(&env.path()).ok())
        .flatten()
        .filter(|r| r.kind == Kind::Promote)
        .flat_map(|r| {
            r.carried()
                .into_iter()
                .map(|(_, id, _)| id.to_string())
                .filter(|id| !id.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::id_for;

    #[test]
    fn saved_records_load_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["2026-11-22T10:00:00Z", "2026-11-21T10:00:00Z"] {
            let mut r = Record::begin(Kind::Promote, "genonaut", "demo", "genonaut-demo");
            r.started_at = id.into();
            r.id = id_for(id, &Kind::Promote);
            save(dir.path(), &r).unwrap();
        }
        let ids: Vec<String> = load_all(dir.path())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["2026-11-21T100000Z", "2026-11-22T100000Z"]);
        assert!(load_all(&dir.path().join("none")).unwrap().is_empty());
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        let err = load_all(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("bad.json") && err.contains("not valid"),
            "{err}"
        );
    }

    #[test]
    fn a_smoke_run_is_kept_beside_the_records_and_the_newest_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(latest_smoke(dir.path()), None);
        save_smoke(
            dir.path(),
            "2026-11-21T100000Z",
            &serde_json::json!({"passed": false}),
        )
        .unwrap();
        let at = save_smoke(
            dir.path(),
            "2026-11-22T100000Z",
            &serde_json::json!({"passed": true}),
        )
        .unwrap();
        assert_eq!(at, dir.path().join("smoke").join("2026-11-22T100000Z.json"));
        assert_eq!(
            latest_smoke(dir.path()),
            Some(serde_json::json!({"passed": true}))
        );
        // Smoke runs are not promotion records.
        assert!(load_all(dir.path()).unwrap().is_empty());
    }
}
