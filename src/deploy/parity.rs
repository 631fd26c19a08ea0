//! Three-way parity, the part about containers: a service as it runs on
//! this machine, as stack.yaml says it for this machine, and as stack.yaml
//! renders it for an environment — variables (values; secrets by name
//! only, never their values), command, container ports, health check —
//! each difference with where it comes from. What is live against the
//! rendering is the resource kinds' (`environment::diff`). Pure.

use std::collections::BTreeMap;

use crate::deploy::taskdef::Change;
use crate::spec::ContainerSpec;

/// A local container as the engine reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// `Config.Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Config.Cmd`.
    pub command: Vec<String>,
    /// `Config.Env`, image variables included.
    pub env: BTreeMap<String, String>,
    /// `Config.Healthcheck.Test`; `None` without one.
    pub health: Option<Vec<String>>,
}

/// What the running container has that stack.yaml (for this machine) no
/// longer says: stack.yaml was changed since `geno up`. Only the
/// variables stack.yaml declares are compared (the image adds its own).
pub fn container_drift(stack: &ContainerSpec, running: &Running) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |path: String, live: Option<String>, rendered: Option<String>| {
        out.extend(Change::between(path, live, rendered));
    };
    for (k, v) in &stack.environment {
        push(
            format!("environment[{k}]"),
            running.env.get(k).cloned(),
            Some(v.clone()),
        );
    }
    for s in &stack.secrets {
        // Present or not; a value is never shown.
        let has = |yes: bool| yes.then(|| "(set)".to_string());
        push(
            format!("secrets[{s}]"),
            has(running.env.contains_key(s)),
            has(true),
        );
    }
    if let Some(entrypoint) = &stack.entrypoint {
        push(
            "entryPoint".into(),
            Some(words(&running.entrypoint)),
            Some(words(entrypoint)),
        );
    }
    if let Some(cmd) = &stack.command {
        push(
            "command".into(),
            Some(words(&running.command)),
            Some(words(cmd)),
        );
    }
    push(
        "healthCheck.command".into(),
        running.health.as_ref().map(|h| words(h)),
        stack.health.as_ref().map(|h| words(&h.test)),
    );
    out
}

/// How stack.yaml renders a service for `env` against how it says it for
/// this machine: per-environment values (expected: ECS runs what they say
/// there), and anything else (a command or a check interpolated
/// differently, which smoke did not test).
pub fn by_environment(local: &ContainerSpec, env: &ContainerSpec) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |path: String, here: Option<String>, there: Option<String>| {
        out.extend(Change::between(path, here, there));
    };
    let here: BTreeMap<&String, &String> = local.environment.iter().map(|(k, v)| (k, v)).collect();
    let there: BTreeMap<&String, &String> = env.environment.iter().map(|(k, v)| (k, v)).collect();
    let mut keys: Vec<&String> = here.keys().copied().collect();
    keys.extend(there.keys().filter(|k| !here.contains_key(*k)));
    for k in keys {
        push(
            format!("environment[{k}]"),
            here.get(k).map(|v| v.to_string()),
            there.get(k).map(|v| v.to_string()),
        );
    }
    push(
        "secrets".into(),
        Some(local.secrets.join(", ")),
        Some(env.secrets.join(", ")),
    );
    push(
        "entryPoint".into(),
        local.entrypoint.as_ref().map(|c| words(c)),
        env.entrypoint.as_ref().map(|c| words(c)),
    );
    push(
        "command".into(),
        local.command.as_ref().map(|c| words(c)),
        env.command.as_ref().map(|c| words(c)),
    );
    let ports = |s: &ContainerSpec| {
        s.container_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    push("ports".into(), Some(ports(local)), Some(ports(env)));
    push(
        "healthCheck".into(),
        local.health.as_ref().map(|h| format!("{h:?}")),
        env.health.as_ref().map(|h| format!("{h:?}")),
    );
    out
}

fn words(w: &[String]) -> String {
    w.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ImageRef;

    fn spec(vars: &[(&str, &str)]) -> ContainerSpec {
        ContainerSpec {
            service: "web".into(),
            sidecar: None,
            image: ImageRef::Stack,
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            command: Some(vec!["serve".into()]),
            environment: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secrets: vec!["TOKEN".into()],
            container_ports: vec![8000],
            health: None,
            stop_grace_secs: 10,
        }
    }

    #[test]
    fn a_variable_changed_since_up_and_a_secret_missing_are_shown_without_values() {
        let running = Running {
            // stack.yaml gained an entrypoint since `geno up`.
            entrypoint: vec!["/docker-entrypoint.sh".into()],
            command: vec!["serve".into()],
            env: [("GREETING", "hello"), ("PATH", "/usr/bin")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            health: None,
        };
        let shown: Vec<String> = container_drift(&spec(&[("GREETING", "hi")]), &running)
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "~ environment[GREETING]: hello → hi",
                "+ secrets[TOKEN]: (set)",
                "~ entryPoint: /docker-entrypoint.sh → /bin/sh -c",
            ]
        );
    }

    #[test]
    fn per_environment_values_are_shown_from_here_to_there() {
        let shown: Vec<String> = by_environment(
            &spec(&[("ENV_TARGET", "local"), ("LOG_LEVEL", "INFO")]),
            &spec(&[("ENV_TARGET", "cloud-demo"), ("LOG_LEVEL", "INFO")]),
        )
        .iter()
        .map(|c| c.to_string())
        .collect();
        assert_eq!(shown, ["~ environment[ENV_TARGET]: local → cloud-demo"]);
    }
}
