//! Verification records: this image passed this stack definition's smoke
//! suite locally, kept as `.geno/<stack>/verified/<image-id>.json`. `geno
//! smoke` writes one; `geno promote` refuses an image without one for the
//! same definition (unless forced).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids::short_id;
use crate::stack::Stack;

/// What `geno promote` looks for: this image passed this definition's smoke suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub image_id: String,
    pub definition_hash: String,
    pub stack: String,
    pub environment: String,
    pub passed_at: String,
    pub geno_version: String,
    pub steps: Vec<serde_json::Value>,
}

/// Why an image may not be promoted without `--force`.
#[derive(Debug, thiserror::Error)]
pub enum Unverified {
    #[error(
        "image {short} has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
    )]
    Never { short: String },
    #[error(
        "image {short} passed `geno smoke` on {at}, but for another definition of the stack (commands, ports, secrets or health checks changed since); run `geno up && geno smoke` again (or --force)"
    )]
    OtherDefinition { short: String, at: String },
    #[error("verification record {} is not valid: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
}

pub fn path(state_dir: &Path, stack: &str, image_id: &str) -> PathBuf {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    state_dir
        .join(stack)
        .join("verified")
        .join(format!("{hex}.json"))
}

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
    let short = short_id(image_id).to_string();
    let path = path(state_dir, &stack.name, image_id);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Err(Unverified::Never { short }),
    };
    let v: Verification = serde_json::from_str(&text).map_err(|e| Unverified::Unreadable {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if v.definition_hash != crate::spec::definition_hash(stack) {
        return Err(Unverified::OtherDefinition {
            short,
            at: v.passed_at,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::load::{Source, load_source};
    use std::collections::BTreeMap;

    fn stack(command: &str) -> Stack {
        let text = format!(
            "name: v\nimage: {{context: .}}\nservices:\n  web:\n    command: [{command}]\n"
        );
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text,
        };
        load_source(source, "local", &BTreeMap::new(), &BTreeMap::new())
            .unwrap()
            .stack
    }

    #[test]
    fn a_record_counts_only_for_its_image_and_definition() {
        let dir = tempfile::tempdir().unwrap();
        let s = stack("serve");
        let short = "0123456789ab";
        let id = format!("sha256:{short}cdef");
        let err = check(dir.path(), &s, &id).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "image {short} has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
            )
        );
        let v = Verification {
            image_id: id.clone(),
            definition_hash: crate::spec::definition_hash(&s),
            stack: "v".into(),
            environment: "local".into(),
            passed_at: "2026-11-23T10:00:00Z".into(),
            geno_version: "0".into(),
            steps: vec![],
        };
        let at = save(dir.path(), &v).unwrap();
        assert_eq!(at, dir.path().join(format!("v/verified/{short}cdef.json")));
        assert_eq!(check(dir.path(), &s, &id).unwrap(), v);
        assert!(matches!(
            check(dir.path(), &stack("other"), &id),
            Err(Unverified::OtherDefinition { at, .. }) if at == "2026-11-23T10:00:00Z"
        ));
        std::fs::write(&at, "{").unwrap();
        assert!(matches!(
            check(dir.path(), &s, &id),
            Err(Unverified::Unreadable { .. })
        ));
    }
}
