//! Local secret values: generated once per stack and kept, read from a
//! variable, or built from others by a template. Values never reach a
//! terminal, a log line or an image.
//!
//! Generated values are kept per stack name in the user's state directory
//! (`$XDG_STATE_HOME/geno/<stack>/secrets.json`, mode 0600), not in the
//! checkout: the Docker volumes they protect are named by stack on the
//! engine, so a fresh clone or a deleted `.geno/` must find the same
//! password the Postgres volume was initialised with.

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

fn read_store(path: &Path) -> Result<Option<BTreeMap<String, String>>, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SecretError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SecretError::Store {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Values for the named secrets (and whatever their templates need), kept
/// in `state_dir`. When that store has nothing for the stack yet, values an
/// older geno kept in the project (`legacy_dir`) are adopted.
pub fn resolve(
    stack: &Stack,
    names: &[String],
    state_dir: &Path,
    legacy_dir: Option<&Path>,
    vars: &dyn Lookup,
) -> Result<Resolved, SecretError> {
    let path = store_path(state_dir, &stack.name);
    let stored = read_store(&path)?;
    let existed = stored.is_some();
    let mut kept = match stored {
        Some(k) => k,
        None => match legacy_dir.filter(|l| *l != state_dir) {
            Some(legacy) => read_store(&store_path(legacy, &stack.name))?.unwrap_or_default(),
            None => BTreeMap::new(),
        },
    };
    let adopted = !existed && !kept.is_empty();
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
    if !generated.is_empty() || adopted {
        let text = serde_json::to_string_pretty(&kept).unwrap_or_default();
        write_private(&path, &text).map_err(|source| SecretError::Store {
            path: path.clone(),
            source,
        })?;
    }
    out.retain(|k, _| names.contains(k));
    Ok(Resolved {
        values: out,
        generated,
        store: path,
    })
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::load::{Source, load_source};

    fn stack() -> Stack {
        let text = r#"
name: s
image: {}
secrets:
  PW: { local: { generate: { length: 20 } } }
  TOKEN: { local: { env: MY_TOKEN } }
  URL: { local: { template: "pg://u:{{PW}}@db/{{ TOKEN }}" } }
services:
  web: { secrets: [URL, TOKEN] }
"#;
        let source = Source {
            path: "s.yaml".into(),
            display: "s.yaml".into(),
            text: text.into(),
        };
        load_source(source, "local", &Default::default(), &Default::default())
            .unwrap()
            .stack
    }

    fn vars() -> BTreeMap<String, String> {
        [("MY_TOKEN".to_string(), "t0k".to_string())].into()
    }

    #[test]
    fn generated_values_are_kept_and_templates_filled() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["URL".to_string(), "TOKEN".to_string()];
        let first = resolve(&stack(), &names, dir.path(), None, &vars()).unwrap();
        assert_eq!(first.generated, ["PW"]);
        assert_eq!(first.values.keys().collect::<Vec<_>>(), ["TOKEN", "URL"]);
        let url = &first.values["URL"];
        assert!(
            url.starts_with("pg://u:") && url.ends_with("@db/t0k"),
            "{url}"
        );
        assert_eq!(url.len(), "pg://u:@db/t0k".len() + 20);
        let again = resolve(&stack(), &names, dir.path(), None, &vars()).unwrap();
        assert_eq!(
            first.values, again.values,
            "the generated password is reused"
        );
        assert!(again.generated.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store_path(dir.path(), "s"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn values_kept_in_a_project_by_an_older_geno_are_adopted() {
        let user = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let names = vec!["URL".to_string()];
        let old = resolve(&stack(), &names, project.path(), None, &vars())
            .unwrap()
            .values;
        let adopted =
            resolve(&stack(), &names, user.path(), Some(project.path()), &vars()).unwrap();
        assert_eq!(adopted.values, old);
        assert!(adopted.generated.is_empty());
        assert!(
            store_path(user.path(), "s").exists(),
            "now kept in the user's store"
        );
    }

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

    #[test]
    fn an_unset_variable_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(
            &stack(),
            &["TOKEN".to_string()],
            dir.path(),
            None,
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `TOKEN` reads variable `MY_TOKEN`, which is not set\n  set it in the shell or in the env file"
        );
    }
}
