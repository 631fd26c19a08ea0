//! What geno keeps on disk of local readiness: when each container first
//! passed its probe, `.geno/<stack>/ready.json`, a cache of facts `up`
//! re-establishes.

use std::path::Path;

use crate::local::readiness::ReadyRecord;

/// The record, or an empty one when there is none or it does not parse.
pub fn load(state_dir: &Path, stack: &str) -> ReadyRecord {
    std::fs::read_to_string(ReadyRecord::path(state_dir, stack))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Written whole then renamed; only the containers in `keep` stay.
pub fn save(
    record: &ReadyRecord,
    state_dir: &Path,
    stack: &str,
    keep: &[String],
) -> std::io::Result<()> {
    let mut kept = record.clone();
    kept.after_start.retain(|id, _| keep.contains(id));
    let path = ReadyRecord::path(state_dir, stack);
    std::fs::create_dir_all(path.parent().unwrap_or(state_dir))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&kept)?)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_only_the_containers_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = ReadyRecord::default();
        r.after_start.insert("a".into(), 4.5);
        r.after_start.insert("gone".into(), 1.0);
        save(&r, dir.path(), "s", &["a".to_string()]).unwrap();
        let back = load(dir.path(), "s");
        assert_eq!(back.after_start.len(), 1);
        assert_eq!(back.after_start["a"], 4.5);
        std::fs::write(ReadyRecord::path(dir.path(), "s"), "{").unwrap();
        assert_eq!(load(dir.path(), "s"), ReadyRecord::default());
    }
}
