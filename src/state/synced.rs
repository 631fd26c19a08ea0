//! What geno keeps on disk of the edit loop: the files `geno up --watch`
//! synced into each container, `.geno/<stack>/synced.json`, recorded
//! before they are copied so a watch killed mid-way is still on record.

use std::path::Path;

use crate::local::drift::SyncRecord;

/// The record, or an empty one (a record that does not parse is replaced;
/// the engine's change list still tells drift).
pub fn load(state_dir: &Path, stack: &str) -> SyncRecord {
    std::fs::read_to_string(SyncRecord::path(state_dir, stack))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes the record whole then renamed, keeping only containers in
/// `existing`.
pub fn save(
    record: &mut SyncRecord,
    state_dir: &Path,
    stack: &str,
    existing: &[String],
) -> std::io::Result<()> {
    record.keep_only(existing);
    let path = SyncRecord::path(state_dir, stack);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(record).unwrap_or_default())?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_record_keeps_only_containers_that_exist_and_an_unreadable_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = SyncRecord::default();
        r.add("a", ["/app/x.py".to_string()]);
        r.add("gone", ["/app/y.py".to_string()]);
        save(&mut r, dir.path(), "s", &["a".to_string()]).unwrap();
        let back = load(dir.path(), "s");
        assert_eq!(back.synced.len(), 1);
        assert!(back.synced["a"].contains("/app/x.py"));
        std::fs::write(SyncRecord::path(dir.path(), "s"), "{").unwrap();
        assert_eq!(load(dir.path(), "s"), SyncRecord::default());
    }
}
