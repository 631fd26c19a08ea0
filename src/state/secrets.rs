//! What geno keeps on disk of local secrets: the values it generated, per
//! stack, in a file only the user can read (0600), written whole then
//! renamed. What the values are is decided in `local::secrets`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::local::secrets::{Resolved, SecretError, store_path, values};
use crate::stack::Stack;
use crate::stack::interp::Lookup;

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
    let (out, generated) = values(stack, names, &mut kept, vars)?;
    if !generated.is_empty() || adopted {
        let text = serde_json::to_string_pretty(&kept).unwrap_or_default();
        super::write_private(&path, &text).map_err(|source| SecretError::Store {
            path: path.clone(),
            source,
        })?;
    }
    Ok(Resolved {
        values: out,
        generated,
        store: path,
    })
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
