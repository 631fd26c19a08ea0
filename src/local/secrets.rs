//! Local secret values: generated once per stack and kept, read from a
//! variable, or built from others by a template. Values never reach a
//! terminal, a log line or an image; generated ones live in
//! `.geno/<stack>/secrets.json` (mode 0600) so Postgres keeps working
//! across `down`/`up`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::stack::interp::Lookup;
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

/// Values for the named secrets (and whatever their templates need).
pub fn resolve(
    stack: &Stack,
    names: &[String],
    state_dir: &Path,
    vars: &dyn Lookup,
) -> Result<BTreeMap<String, String>, SecretError> {
    let path = store_path(state_dir, &stack.name);
    let mut kept: BTreeMap<String, String> = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| SecretError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(source) => return Err(SecretError::Store { path, source }),
    };
    let mut generated_new = false;
    let mut out = BTreeMap::new();
    // Plain sources first; templates may refer to them.
    let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    for name in names {
        if let Some(LocalSecret::Template(t)) = stack.secrets.get(name).map(|s| &s.local) {
            wanted.extend(crate::stack::validate::template_refs(t));
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
                        generated_new = true;
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
            for r in crate::stack::validate::template_refs(t) {
                let v = out.get(r).cloned().unwrap_or_default();
                value = value
                    .replace(&format!("{{{{{r}}}}}"), &v)
                    .replace(&format!("{{{{ {r} }}}}"), &v);
            }
            out.insert(name.to_string(), value);
        }
    }
    if generated_new {
        write_private(
            &path,
            &serde_json::to_string_pretty(&kept).unwrap_or_default(),
        )
        .map_err(|source| SecretError::Store { path, source })?;
    }
    out.retain(|k, _| names.contains(k));
    Ok(out)
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

    #[test]
    fn generated_values_are_kept_and_templates_filled() {
        let dir = tempfile::tempdir().unwrap();
        let vars: BTreeMap<String, String> = [("MY_TOKEN".to_string(), "t0k".to_string())].into();
        let names = vec!["URL".to_string(), "TOKEN".to_string()];
        let first = resolve(&stack(), &names, dir.path(), &vars).unwrap();
        assert_eq!(first.keys().collect::<Vec<_>>(), ["TOKEN", "URL"]);
        let url = &first["URL"];
        assert!(
            url.starts_with("pg://u:") && url.ends_with("@db/t0k"),
            "{url}"
        );
        assert_eq!(url.len(), "pg://u:@db/t0k".len() + 20);
        let again = resolve(&stack(), &names, dir.path(), &vars).unwrap();
        assert_eq!(first, again, "the generated password is reused");
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
    fn an_unset_variable_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(
            &stack(),
            &["TOKEN".to_string()],
            dir.path(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `TOKEN` reads variable `MY_TOKEN`, which is not set\n  set it in the shell or in the env file"
        );
    }
}
