//! Which of a stack's built images to keep: the build the containers run
//! (or the current source gives), the images of the last few local
//! verifications (what `geno promote` may still push), and every image a
//! promotion on record carried; the rest are old builds. Pure.

use std::collections::BTreeSet;

/// One image the stack's builds left, as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub id: String,
    /// Seconds since the UNIX epoch.
    pub created: i64,
    pub size: i64,
}

/// How many verified images stay beside the current one.
pub const KEEP_VERIFIED: usize = 5;

/// What must stay, whatever the count.
#[derive(Debug, Clone, Default)]
pub struct Keep {
    /// Run by a container of the stack, or the current build.
    pub in_use: BTreeSet<String>,
    /// Verified locally, newest first.
    pub verified: Vec<String>,
    /// Carried by a promotion on record, to any environment.
    pub promoted: BTreeSet<String>,
}

/// The images to remove, oldest first.
pub fn to_remove<'a>(images: &'a [BuiltImage], keep: &Keep) -> Vec<&'a BuiltImage> {
    let verified: BTreeSet<&String> = keep.verified.iter().take(KEEP_VERIFIED).collect();
    let mut out: Vec<&BuiltImage> = images
        .iter()
        .filter(|i| {
            !keep.in_use.contains(&i.id)
                && !verified.contains(&i.id)
                && !keep.promoted.contains(&i.id)
        })
        .collect();
    out.sort_by_key(|i| (i.created, i.id.clone()));
    out
}

/// `3 images (412 MB)`.
pub fn describe(removed: &[&BuiltImage]) -> String {
    let bytes: i64 = removed.iter().map(|i| i.size.max(0)).sum();
    format!(
        "{} image{} ({:.0} MB)",
        removed.len(),
        if removed.len() == 1 { "" } else { "s" },
        bytes as f64 / 1_000_000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, created: i64) -> BuiltImage {
        BuiltImage {
            id: id.into(),
            created,
            size: 100_000_000,
        }
    }

    #[test]
    fn old_builds_go_and_what_runs_was_verified_or_promoted_stays() {
        let images: Vec<BuiltImage> = (0..10).map(|i| img(&format!("i{i}"), i)).collect();
        let keep = Keep {
            in_use: ["i9".to_string()].into(),
            verified: (0..8).rev().map(|i| format!("i{i}")).collect(),
            promoted: ["i0".to_string()].into(),
        };
        let gone: Vec<&str> = to_remove(&images, &keep)
            .iter()
            .map(|i| i.id.as_str())
            .collect();
        // i7..i3 are the last five verifications; i0 was promoted; i9 runs.
        assert_eq!(gone, ["i1", "i2", "i8"]);
        assert_eq!(describe(&to_remove(&images, &keep)), "3 images (300 MB)");
    }
}
