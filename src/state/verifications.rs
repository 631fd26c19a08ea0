//! What geno keeps on disk of local verification: one record per image
//! that passed `geno smoke`, `.geno/<stack>/verified/<image-id>.json`
//! (naming the run's other images too), written whole then renamed.

use std::path::{Path, PathBuf};

use crate::deploy::verification::{Found, Unverified, Verification, judge, path};
use crate::spec::Images;
use crate::stack::Stack;

/// Writes the record under each image it covers; returns where.
pub fn save(state_dir: &Path, v: &Verification) -> std::io::Result<Vec<PathBuf>> {
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    let mut out: Vec<PathBuf> = Vec::new();
    for id in v.covered().values() {
        let path = path(state_dir, &v.stack, id);
        if out.contains(&path) {
            continue; // two keys, one image
        }
        std::fs::create_dir_all(path.parent().unwrap_or(state_dir))?;
        // Written whole then renamed, so a record is never half there.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &text)?;
        std::fs::rename(&tmp, &path)?;
        out.push(path);
    }
    Ok(out)
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
        .flat_map(|v| {
            let at = v.passed_at.clone();
            v.covered().into_values().map(move |id| (at.clone(), id))
        })
        .collect();
    found.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, id) in found.into_iter().rev() {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The record that lets the `chosen` images be promoted together with
/// `stack` as it is now: any chosen image's record that covers them all
/// (each image's record is the last run it passed, so another image's may
/// be the one with this combination). The first refusal otherwise.
pub fn check(state_dir: &Path, stack: &Stack, chosen: &Images) -> Result<Verification, Unverified> {
    let mut refusal = None;
    for (build, image_id) in chosen {
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
        match judge(stack, chosen, build, found) {
            Ok(v) => return Ok(v),
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    Err(refusal.unwrap_or(Unverified::Never {
        short: "(none)".into(),
    }))
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
        let chosen = crate::spec::only_image(&id);
        assert!(matches!(
            check(dir.path(), &s, &chosen),
            Err(Unverified::Never { .. })
        ));
        let v = passed(&s, &id);
        let at = save(dir.path(), &v).unwrap();
        assert_eq!(at, [dir.path().join("v/verified/0123456789abcdef.json")]);
        assert_eq!(check(dir.path(), &s, &chosen).unwrap(), v);
        assert_eq!(verified_images(dir.path(), "v"), std::slice::from_ref(&id));
        std::fs::write(&at[0], "{").unwrap();
        assert!(matches!(
            check(dir.path(), &s, &chosen),
            Err(Unverified::Unreadable { .. })
        ));
    }

    #[test]
    fn a_run_of_two_builds_is_found_through_either_image_after_a_later_run() {
        let dir = tempfile::tempdir().unwrap();
        let s = test_stack("serve");
        let id = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let run = |web: char, at: &str| Verification {
            image_id: String::new(),
            images: Images::from([("api".into(), id('a')), ("web".into(), id(web))]),
            passed_at: at.into(),
            ..passed(&s, "")
        };
        save(dir.path(), &run('b', "2026-11-23T10:00:00Z")).unwrap();
        // api passes again beside another web: its own record moves on,
        // but web b's still vouches for the first pair.
        save(dir.path(), &run('c', "2026-11-23T11:00:00Z")).unwrap();
        let first = Images::from([("api".into(), id('a')), ("web".into(), id('b'))]);
        assert_eq!(
            check(dir.path(), &s, &first).unwrap().passed_at,
            "2026-11-23T10:00:00Z"
        );
        assert_eq!(
            verified_images(dir.path(), "v"),
            [id('c'), id('a'), id('b')],
            "newest run first"
        );
    }
}
