//! What geno keeps on disk of local verification: one record per image
//! that passed `geno smoke`, `.geno/<stack>/verified/<image-id>.json`,
//! written whole then renamed.

use std::path::{Path, PathBuf};

use crate::deploy::verification::{Found, Unverified, Verification, judge, path};
use crate::stack::Stack;

/// Writes the record for its image; returns where.
pub fn save(state_dir: &Path, v: &Verification) -> std::io::Result<PathBuf> {
    let path = path(state_dir, &v.stack, &v.image_id);
    std::fs::create_dir_all(path.parent().unwrap_or(state_dir))?;
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    // Written whole then renamed, so a record is never half there.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The image IDs verified for `stack`, newest first (unreadable records
/// are skipped: this feeds clean-up, which keeps rather than guesses).
pub fn verified_images(state_dir: &Path, stack: &str) -> Vec<String> {
    let dir = state_dir.join(stack).join("verified");
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Verification>(&t).ok())
        .map(|v| (v.passed_at, v.image_id))
        .collect();
    found.sort();
    found.into_iter().rev().map(|(_, id)| id).collect()
}

/// The record that lets `image_id` be promoted with `stack` as it is now.
pub fn check(state_dir: &Path, stack: &Stack, image_id: &str) -> Result<Verification, Unverified> {
    let path = path(state_dir, &stack.name, image_id);
    let found = match std::fs::read_to_string(&path) {
        Err(_) => Found::None,
        Ok(text) => match serde_json::from_str(&text) {
            Ok(v) => Found::Record(v),
            Err(e) => Found::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            },
        },
    };
    judge(stack, image_id, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::verification::fixtures::{passed, test_stack};

    #[test]
    fn a_saved_record_is_found_for_its_image_and_an_unreadable_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let s = test_stack("serve");
        let id = "sha256:0123456789abcdef".to_string();
        assert!(matches!(
            check(dir.path(), &s, &id),
            Err(Unverified::Never { .. })
        ));
        let v = passed(&s, &id);
        let at = save(dir.path(), &v).unwrap();
        assert_eq!(at, dir.path().join("v/verified/0123456789abcdef.json"));
        assert_eq!(check(dir.path(), &s, &id).unwrap(), v);
        assert_eq!(verified_images(dir.path(), "v"), std::slice::from_ref(&id));
        std::fs::write(&at, "{").unwrap();
        assert!(matches!(
            check(dir.path(), &s, &id),
            Err(Unverified::Unreadable { .. })
        ));
    }
}
