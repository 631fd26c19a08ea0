//! Local secret values: generated once per stack and kept, read from a
//! variable, or built from others by a template. Values never reach a
//! terminal, a log line or an image.
//!
//! Generated values are kept (by `state::secrets`) per stack name in the
//! user's state directory (`$XDG_STATE_HOME/geno/<stack>/secrets.json`,
//! mode 0600), not in the checkout: the Docker volumes they protect are
//! named by stack on the engine, so a fresh clone or a deleted `.geno/`
//! must find the same password the Postgres volume was initialised with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::stack::interp::Lookup;
use crate::stack::validate::template_refs;
use crate::stack::{LocalSecret, Stack};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret `{secret}` reads variable `{var}`, which is not set\n  set it in the shell or in the env file"
    )]
    Unset { secret: String, var: String },
    #[error("cannot keep generated secrets in `{}`", path.display())]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a secrets file geno wrote: {reason}\n  move it away and geno will generate new values", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

pub fn store_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(stack).join("secrets.json")
}

/// Where generated secrets of a stack are kept: the user's state directory
/// (from `XDG_STATE_HOME`, else `HOME`), else the project's `.geno/`.
pub fn user_state_dir(vars: &dyn Lookup, project_state_dir: &Path) -> PathBuf {
    match (vars.get("XDG_STATE_HOME"), vars.get("HOME")) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("geno"),
        (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/state/geno"),
        _ => project_state_dir.to_path_buf(),
    }
}

/// The values, and which secrets were generated just now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    pub values: BTreeMap<String, String>,
    pub generated: Vec<String>,
    /// The file generated values are kept in.
    pub store: PathBuf,
}

/// Values for the named secrets (and whatever their templates need), from
/// `kept` (the values generated before) and `vars`; values generated now
/// are added to `kept` and named in `generated`. Pure: `state::secrets`
/// reads and writes the store.
pub fn values(
    stack: &Stack,
    names: &[String],
    kept: &mut BTreeMap<String, String>,
    vars: &dyn Lookup,
) -> Result<(BTreeMap<String, String>, Vec<String>), SecretError> {
    let mut generated = Vec::new();
    let mut out = BTreeMap::new();
    // Plain sources first; templates may refer to them.
    let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    for name in names {
        if let Some(LocalSecret::Template(t)) = stack.secrets.get(name).map(|s| &s.local) {
            wanted.extend(template_refs(t));
        }
    }
    wanted.sort();
    wanted.dedup();
    for name in &wanted {
        let Some(secret) = stack.secrets.get(*name) else {
            continue;
        };
        match &secret.local {
            LocalSecret::Generate { length } => {
                let value = match kept.get(*name) {
                    Some(v) if v.len() == *length as usize => v.clone(),
                    _ => {
                        generated.push(name.to_string());
                        let v: String = rand::rng()
                            .sample_iter(&Alphanumeric)
                            .take(*length as usize)
                            .map(char::from)
                            .collect();
                        kept.insert(name.to_string(), v.clone());
                        v
                    }
                };
                out.insert(name.to_string(), value);
            }
            LocalSecret::Env(var) => {
                let value = vars.get(var).ok_or_else(|| SecretError::Unset {
                    secret: name.to_string(),
                    var: var.clone(),
                })?;
                out.insert(name.to_string(), value);
            }
            LocalSecret::Template(_) => {}
        }
    }
    for name in &wanted {
        if let Some(LocalSecret::Template(t)) = stack.secrets.get(*name).map(|s| &s.local) {
            let mut value = t.clone();
            for r in template_refs(t) {
                let v = out.get(r).cloned().unwrap_or_default();
                value = value
                    .replace(&format!("{{{{{r}}}}}"), &v)
                    .replace(&format!("{{{{ {r} }}}}"), &v);
            }
            out.insert(name.to_string(), value);
        }
    }
    out.retain(|k, _| names.contains(k));
    Ok((out, generated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_state_directory_follows_xdg_then_home() {
        let p = Path::new("/proj/.geno");
        let xdg: BTreeMap<String, String> =
            [("XDG_STATE_HOME".to_string(), "/x".to_string())].into();
        assert_eq!(user_state_dir(&xdg, p), PathBuf::from("/x/geno"));
        let home: BTreeMap<String, String> = [("HOME".to_string(), "/h".to_string())].into();
        assert_eq!(
            user_state_dir(&home, p),
            PathBuf::from("/h/.local/state/geno")
        );
        assert_eq!(user_state_dir(&BTreeMap::new(), p), p.to_path_buf());
    }
}
