//! Verification records: these images passed this stack definition's
//! smoke suite locally, together. `geno smoke` writes one per image, each
//! naming every image of the run; `geno promote` refuses images without a
//! record that covers them all for the same definition (unless forced).
//! Pure: `state::verifications` keeps them as
//! `.geno/<stack>/verified/<id>.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids::short_id;
use crate::spec::Images;
use crate::stack::Stack;

impl Verification {
    /// The images the run vouched for, by build.
    pub fn covered(&self) -> Images {
        if self.images.is_empty() {
            Images::from([(
                crate::stack::DEFAULT_BUILD.to_string(),
                self.image_id.clone(),
            )])
        } else {
            self.images.clone()
        }
    }
}

/// What `geno promote` looks for: this image passed this definition's smoke suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The image, for a stack with one build (`image:`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// The image of each build, for a stack with `builds:`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub images: Images,
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
    #[error(
        "image {short} of build `{build}` passed `geno smoke` on {at}, but beside {beside}; run `geno up && geno smoke` with these images (or --force)"
    )]
    Apart {
        short: String,
        build: String,
        at: String,
        /// `image bbbb… of build `web`, not cccc…`.
        beside: String,
    },
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

/// Whether the record found for `chosen[build]` lets every chosen image
/// be promoted with `stack` as it is now: the same definition, and the
/// same image of every other build.
pub fn judge(
    stack: &Stack,
    chosen: &Images,
    build: &str,
    found: Found,
) -> Result<Verification, Unverified> {
    let short = short_id(chosen.get(build).map(String::as_str).unwrap_or_default()).to_string();
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
    let covered = v.covered();
    for (other, id) in chosen {
        if covered.get(other) != Some(id) {
            let ran = covered
                .get(other)
                .map(|i| format!("image {}", short_id(i)))
                .unwrap_or_else(|| "no image".into());
            return Err(Unverified::Apart {
                short,
                build: build.to_string(),
                at: v.passed_at,
                beside: format!("{ran} of build `{other}`, not {}", short_id(id)),
            });
        }
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
            images: Images::new(),
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
        let chosen = crate::spec::only_image(&id);
        assert_eq!(
            judge(&s, &chosen, "image", Found::None)
                .unwrap_err()
                .to_string(),
            format!(
                "image {short} has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
            )
        );
        let v = passed(&s, &id);
        assert_eq!(
            judge(&s, &chosen, "image", Found::Record(v.clone())).unwrap(),
            v
        );
        assert!(matches!(
            judge(&stack("other"), &chosen, "image", Found::Record(v)),
            Err(Unverified::OtherDefinition { at, .. }) if at == "2026-11-23T10:00:00Z"
        ));
    }

    #[test]
    fn a_record_of_several_builds_counts_only_beside_the_same_images() {
        let s = stack("serve");
        let id = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let ran = Images::from([("api".into(), id('a')), ("web".into(), id('b'))]);
        let v = Verification {
            image_id: String::new(),
            images: ran.clone(),
            ..passed(&s, "")
        };
        assert_eq!(judge(&s, &ran, "api", Found::Record(v.clone())).unwrap(), v);
        // Promote may need fewer builds than the run covered.
        let api_only = Images::from([("api".into(), id('a'))]);
        assert!(judge(&s, &api_only, "api", Found::Record(v.clone())).is_ok());
        let other_web = Images::from([("api".into(), id('a')), ("web".into(), id('c'))]);
        assert_eq!(
            judge(&s, &other_web, "api", Found::Record(v))
                .unwrap_err()
                .to_string(),
            "image aaaaaaaaaaaa of build `api` passed `geno smoke` on 2026-11-23T10:00:00Z, but beside image bbbbbbbbbbbb of build `web`, not cccccccccccc; run `geno up && geno smoke` with these images (or --force)"
        );
    }
}
