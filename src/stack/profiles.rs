//! Profiles: which optional services a command sees. A service with
//! `profiles` runs only when one of them is active, or when it is named on
//! the command line (which activates its profiles); a service without any
//! always runs. `validate` guarantees that a service never depends on one
//! that could be left out while it runs, so a selection never breaks a
//! dependency (compose's profiles + depends_on trap cannot happen).

use indexmap::IndexMap;

use super::de::did_you_mean;
use super::model::Service;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{name}`{}; {}", did_you_mean_text(.name, .known), known_text(.known))]
    Unknown { name: String, known: Vec<String> },
}

fn did_you_mean_text(name: &str, known: &[String]) -> String {
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    did_you_mean(name, &known)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

fn known_text(known: &[String]) -> String {
    if known.is_empty() {
        "no service in stack.yaml has profiles".into()
    } else {
        format!("profiles in stack.yaml: {}", known.join(", "))
    }
}

/// Every profile some service belongs to, sorted.
pub fn declared<'a>(services: impl IntoIterator<Item = &'a Service>) -> Vec<String> {
    let mut all: Vec<String> = services
        .into_iter()
        .flat_map(|s| s.profiles.iter().cloned())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Whether a service runs with these profiles active.
pub fn enabled(service: &Service, active: &[String]) -> bool {
    service.profiles.is_empty() || service.profiles.iter().any(|p| active.contains(p))
}

/// The services of a selection: those of the active profiles, and the
/// ones left out.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub active: Vec<String>,
    pub disabled: IndexMap<String, Service>,
}

/// Leaves out of `services` those outside the active profiles: the
/// environment's (`env_profiles`), `requested` (the command line and
/// `GENO_PROFILES`), and the profiles of the services in `targets`.
pub fn select(
    services: &mut IndexMap<String, Service>,
    env_profiles: &[String],
    requested: &[String],
    targets: &[String],
) -> Result<Selection, ProfileError> {
    let known = declared(services.values());
    for name in requested {
        if !known.contains(name) {
            return Err(ProfileError::Unknown {
                name: name.clone(),
                known,
            });
        }
    }
    let mut active: Vec<String> = env_profiles.to_vec();
    active.extend(requested.iter().cloned());
    for t in targets {
        if let Some(svc) = services.get(t) {
            active.extend(svc.profiles.iter().cloned());
        }
    }
    active.sort();
    active.dedup();
    let (kept, disabled): (IndexMap<_, _>, IndexMap<_, _>) = std::mem::take(services)
        .into_iter()
        .partition(|(_, s)| enabled(s, &active));
    *services = kept;
    Ok(Selection { active, disabled })
}

#[cfg(test)]
mod tests {
    use crate::stack::load::{Loaded, Source, load_source};
    use std::collections::BTreeMap;

    const TEXT: &str = "\
name: p
image: {context: .}
services:
  db:
    image: postgres:16
  api:
    command: [serve]
    depends_on: {db: started}
  flower:
    command: [flower]
    profiles: [debug]
    depends_on: {api: started}
  pgadmin:
    image: pgadmin
    profiles: [debug, tools]
environments:
  local: {}
  demo:
    profiles: [tools]
    aws: {region: us-east-1, account_id: '123456789012', cluster: c, execution_role_arn: 'arn:aws:iam::123456789012:role/e', task_role_arn: 'arn:aws:iam::123456789012:role/t', log_group: /g}
";

    fn load(env: &str) -> Loaded {
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: TEXT.into(),
        };
        load_source(source, env, &BTreeMap::new(), &BTreeMap::new()).unwrap()
    }

    fn names(l: &Loaded) -> (Vec<&str>, Vec<&str>) {
        (
            l.stack.services.keys().map(String::as_str).collect(),
            l.disabled.keys().map(String::as_str).collect(),
        )
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn without_profiles_only_the_services_without_any_run() {
        let mut l = load("local");
        l.select_profiles(&[], &[]).unwrap();
        assert_eq!(names(&l), (vec!["db", "api"], vec!["flower", "pgadmin"]));
        assert!(l.profiles.is_empty());
    }

    #[test]
    fn a_profile_turns_on_every_service_in_it() {
        let mut l = load("local");
        l.select_profiles(&strings(&["debug"]), &[]).unwrap();
        assert_eq!(names(&l), (vec!["db", "api", "flower", "pgadmin"], vec![]));
    }

    #[test]
    fn naming_a_service_turns_on_its_profiles() {
        let mut l = load("local");
        l.select_profiles(&[], &strings(&["pgadmin"])).unwrap();
        // pgadmin's profiles are debug and tools: flower (debug) comes too.
        assert_eq!(l.profiles, strings(&["debug", "tools"]));
        assert_eq!(names(&l).1, Vec::<&str>::new());
    }

    #[test]
    fn an_environment_brings_its_own_profiles() {
        let mut l = load("demo");
        l.select_profiles(&[], &[]).unwrap();
        assert_eq!(names(&l), (vec!["db", "api", "pgadmin"], vec!["flower"]));
    }

    #[test]
    fn an_unknown_profile_is_an_error_naming_the_known_ones() {
        let mut l = load("local");
        let err = l.select_profiles(&strings(&["debgu"]), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown profile `debgu` (did you mean `debug`?); profiles in stack.yaml: debug, tools"
        );
        assert_eq!(l.stack.services.len(), 4, "nothing left out on an error");
    }
}
