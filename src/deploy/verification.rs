//! Verification records: this image passed this stack definition's smoke
//! suite locally. `geno smoke` writes one; `geno promote` refuses an image
//! without one for the same definition (unless forced). Pure:
//! `state::verifications` keeps them as `.geno/<stack>/verified/<id>.json`.

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

/// Where the record of `image_id` is kept under `state_dir`.
pub fn path(state_dir: &Path, stack: &str, image_id: &str) -> PathBuf {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    state_dir
        .join(stack)
        .join("verified")
        .join(format!("{hex}.json"))
}

/// What reading an image's record found.
pub enum Found {
    None,
    Unreadable { path: PathBuf, reason: String },
    Record(Verification),
}

/// Whether what was found lets `image_id` be promoted with `stack` as it
/// is now.
pub fn judge(stack: &Stack, image_id: &str, found: Found) -> Result<Verification, Unverified> {
    let short = short_id(image_id).to_string();
    let v = match found {
        Found::None => return Err(Unverified::Never { short }),
        Found::Unreadable { path, reason } => return Err(Unverified::Unreadable { path, reason }),
        Found::Record(v) => v,
    };
    if v.definition_hash != crate::spec::definition_hash(stack) {
        return Err(Unverified::OtherDefinition {
            short,
            at: v.passed_at,
        });
    }
    Ok(v)
}

/// Records and stacks for tests here and in `state::verifications`.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// A record of `image_id` passing `stack`'s suite, for tests.
    pub fn passed(stack: &Stack, image_id: &str) -> Verification {
        Verification {
            image_id: image_id.to_string(),
            definition_hash: crate::spec::definition_hash(stack),
            stack: stack.name.clone(),
            environment: "local".into(),
            passed_at: "2026-11-23T10:00:00Z".into(),
            geno_version: "0".into(),
            steps: vec![],
        }
    }

    /// A small stack, for tests.
    pub fn test_stack(command: &str) -> Stack {
        use crate::stack::load::{Source, load_source};
        let text = format!(
            "name: v\nimage: {{context: .}}\nservices:\n  web:\n    command: [{command}]\n"
        );
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text,
        };
        load_source(
            source,
            "local",
            &std::collections::BTreeMap::new(),
            &std::collections::BTreeMap::new(),
        )
        .unwrap()
        .stack
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{passed, test_stack as stack};
    use super::*;

    #[test]
    fn a_record_counts_only_for_its_image_and_its_definition() {
        let s = stack("serve");
        let short = "0123456789ab";
        let id = format!("sha256:{short}cdef");
        assert_eq!(
            judge(&s, &id, Found::None).unwrap_err().to_string(),
            format!(
                "image {short} has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
            )
        );
        let v = passed(&s, &id);
        assert_eq!(judge(&s, &id, Found::Record(v.clone())).unwrap(), v);
        assert!(matches!(
            judge(&stack("other"), &id, Found::Record(v)),
            Err(Unverified::OtherDefinition { at, .. }) if at == "2026-11-23T10:00:00Z"
        ));
    }
}
