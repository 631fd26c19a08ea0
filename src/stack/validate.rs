//! Semantic checks on a typed stack: references, cycles, ports, and the
//! limits ECS and the ALB enforce, so mistakes show up before a deploy does.
//!
//! Every check reports a `Problem` with the path of the offending value and
//! all checks run, so one `geno validate` lists everything wrong.

use std::collections::{BTreeMap, HashMap};

use super::de::did_you_mean;
use super::diag::{At, Problem};
use super::graph;
use super::model::{
    Action, AlbHealthCheck, Condition, Dur, HealthCheck, LocalSecret, ServiceKind, Stack,
};
use crate::path;

mod scaling;
mod sidecars;
mod strategy;

/// The environment name that means "this machine": no AWS section needed.
pub const LOCAL_ENV: &str = "local";

pub fn validate(stack: &Stack, env: &str) -> Vec<Problem> {
    let mut v = Checks {
        stack,
        problems: Vec::new(),
    };
    v.names();
    v.builds();
    v.services();
    v.dependencies();
    v.ports();
    v.secrets(env);
    v.volume_sources();
    v.addresses(env);
    v.load_balancer();
    v.aws_names(env);
    v.certificate(env);
    v.environments();
    v.smoke();
    v.sidecars();
    v.scaling();
    v.strategies();
    v.problems
}

struct Checks<'a> {
    stack: &'a Stack,
    problems: Vec<Problem>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 63
}

fn names_of<V>(map: &indexmap::IndexMap<String, V>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

fn quoted_list(names: &[&str]) -> String {
    if names.is_empty() {
        return "none are declared".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A dependency that could be left out while its dependent runs: `dep` has
/// profiles and `name` is not confined to profiles that all include it.
fn profile_gap(
    name: &str,
    svc: &super::model::Service,
    dep: &str,
    target: &super::model::Service,
) -> Option<Problem> {
    let covered =
        !svc.profiles.is_empty() && svc.profiles.iter().all(|p| target.profiles.contains(p));
    if target.profiles.is_empty() || covered {
        return None;
    }
    let theirs = target
        .profiles
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let when = match svc.profiles.iter().find(|p| !target.profiles.contains(p)) {
        None => "always runs".to_string(),
        Some(p) => format!("also runs with profile `{p}` alone"),
    };
    Some(
        Problem::new(
            path!["services", name, "depends_on", dep],
            At::Key,
            format!(
                "`{name}` depends on `{dep}`, which runs only with profile {theirs}; `{name}` {when}, and would start without it"
            ),
        )
        .help(format!(
            "remove `profiles` from `{dep}`, or give `{name}` only profiles `{dep}` also has"
        )),
    )
}

impl<'a> Checks<'a> {
    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// An unknown name, with a did-you-mean under the caret and the known names as help.
    fn unknown(
        &mut self,
        path: Vec<super::diag::Seg>,
        at: At,
        what: &str,
        name: &str,
        known: &[&str],
    ) {
        let mut p = Problem::new(path, at, format!("unknown {what} `{name}`"));
        if let Some(s) = did_you_mean(name, known) {
            p = p.label(format!("did you mean `{s}`?"));
        }
        p = p.help(format!("{what}s are: {}", quoted_list(known)));
        self.push(p);
    }

    fn names(&mut self) {
        if !valid_name(&self.stack.name) {
            self.push(
                Problem::new(
                    path!["name"],
                    At::Value,
                    format!("stack name `{}` is not a valid name", self.stack.name),
                )
                .help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit (at most 63)"),
            );
        }
        for name in self.stack.services.keys() {
            if !valid_name(name) {
                self.push(
                    Problem::new(
                        path!["services", name],
                        At::Key,
                        format!("service name `{name}` is not a valid name"),
                    )
                    .help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit (at most 63)"),
                );
            }
        }
        if self.stack.services.is_empty() {
            self.push(Problem::new(
                path!["services"],
                At::Key,
                "the stack has no services",
            ));
        }
    }

    /// `image:` or `builds:`, and which one each service runs.
    fn builds(&mut self) {
        let stack = self.stack;
        if stack.image.is_some() && !stack.builds.is_empty() {
            self.push(
                Problem::new(
                    path!["builds"],
                    At::Key,
                    "the stack has both `image:` and `builds:`; with several images, every one is named under `builds:`",
                )
                .help("move `image:` into `builds:` under a name, and give the services that ran it `build: NAME`"),
            );
        }
        for name in stack.builds.keys() {
            if !valid_name(name) {
                self.push(
                    Problem::new(
                        path!["builds", name],
                        At::Key,
                        format!("build name `{name}` is not a valid name"),
                    )
                    .help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit (at most 63)"),
                );
            }
        }
        let known = names_of(&stack.builds);
        for (name, svc) in &stack.services {
            match (&svc.image, &svc.build) {
                (Some(image), Some(build)) => self.push(
                    Problem::new(
                        path!["services", name, "build"],
                        At::Key,
                        format!("`{name}` runs the external image `{image}` and names build `{build}`; a service runs one of them"),
                    )
                    .help("drop `image:` to run the build, or `build:` to run the external image"),
                ),
                (Some(_), None) => {}
                (None, Some(build)) => {
                    if !stack.builds.contains_key(build) {
                        let at = path!["services", name, "build"];
                        self.unknown(at, At::Value, "build", build, &known);
                    }
                }
                (None, None) => {
                    if stack.default_build().is_some() {
                        continue;
                    }
                    let problem = if stack.builds.is_empty() {
                        Problem::new(
                            path!["services", name],
                            At::Key,
                            format!("`{name}` runs the stack's own image, but the stack builds none"),
                        )
                        .help(format!("add `image: {{ context: . }}` to build one, or give `{name}` an external `image:`"))
                    } else {
                        Problem::new(
                            path!["services", name],
                            At::Key,
                            format!("`{name}` names no build, and the stack builds several: {}", quoted_list(&known)),
                        )
                        .help(format!("add `build: {}` (or another) to `{name}`", known[0]))
                    };
                    self.push(problem);
                }
            }
        }
    }

    fn services(&mut self) {
        let stack = self.stack;
        for (name, svc) in &stack.services {
            if let Some(hc) = &svc.healthcheck {
                self.container_health(name, hc);
            }
            self.watch(name, svc);
            if svc.replicas == 0 {
                self.push(Problem::new(
                    path!["services", name, "replicas"],
                    At::Value,
                    "replicas must be at least 1",
                ));
            }
            if svc.kind == ServiceKind::Job
                && let Some(policy) = svc
                    .local
                    .restart
                    .filter(|r| *r != super::model::LocalRestart::No)
            {
                self.push(
                    Problem::new(
                        path!["services", name, "local", "restart"],
                        At::Value,
                        format!("job `{name}` runs once to completion; `restart: {}` would run it again", policy.name()),
                    )
                    .help("remove `local.restart`, or make it a service (`kind: service`)"),
                );
            }
            if svc.kind == ServiceKind::Job && svc.replicas > 1 {
                self.push(Problem::new(
                    path!["services", name, "replicas"],
                    At::Value,
                    format!("job `{name}` runs once; it cannot have replicas"),
                ));
            }
            for secret in &svc.secrets {
                if svc.environment.contains_key(secret) {
                    self.push(Problem::new(
                        path!["services", name, "environment", secret],
                        At::Key,
                        format!(
                            "`{secret}` is both a plain variable and a secret of `{name}`; keep one"
                        ),
                    ));
                }
            }
            for (field, given) in [("entrypoint", &svc.entrypoint), ("command", &svc.command)] {
                if given.as_ref().is_some_and(|c| c.0.is_empty()) {
                    self.push(Problem::new(
                        path!["services", name, field],
                        At::Value,
                        format!("{field} must not be empty"),
                    ));
                }
            }
            let lists = [(&svc.volumes, false), (&svc.local.volumes, true)];
            for (list, local_only) in lists {
                for (i, vol) in list.iter().enumerate() {
                    let at = if local_only {
                        path!["services", name, "local", "volumes", i]
                    } else {
                        path!["services", name, "volumes", i]
                    };
                    self.volume(name, vol, at, local_only);
                }
            }
            self.iam(name, svc);
            let grace = svc.stop_grace_period.as_secs();
            if grace > 120 && stack.deploys(name) {
                self.push(
                    Problem::new(
                        path!["services", name, "stop_grace_period"],
                        At::Value,
                        format!("ECS gives a container at most 120s after SIGTERM (`stopTimeout`); `{name}` would be killed after 120s, not {grace}s"),
                    )
                    .help("lower it to 120s or less: what geno down waits for locally is what ECS waits for"),
                );
            }
            let Some(ecs) = &svc.ecs else { continue };
            if svc.is_app() && ecs.repository.is_none() {
                let what = match stack.build_of(name) {
                    Some(b) if stack.names_builds() => format!("build `{b}`"),
                    _ => "the stack's image".to_string(),
                };
                self.push(
                    Problem::new(
                        path!["services", name, "ecs"],
                        At::Key,
                        format!(
                            "`{name}` runs {what}, so promote needs an ECR repository to push it to"
                        ),
                    )
                    .help(format!(
                        "add `repository: {}` (infra/ creates it)",
                        ecs.service
                    )),
                );
            }
            if svc.kind == ServiceKind::Job {
                self.push(Problem::new(
                    path!["services", name, "ecs"],
                    At::Key,
                    format!(
                        "job `{name}` cannot be an ECS service (it exits); drop its `ecs` section"
                    ),
                ));
            }
            if let Err(msg) = fargate_size(ecs.cpu, ecs.memory) {
                self.push(Problem::new(
                    path!["services", name, "ecs", "memory"],
                    At::Value,
                    msg,
                ));
            }
            if ecs.min_healthy_percent > 100 {
                self.push(Problem::new(
                    path!["services", name, "ecs", "min_healthy_percent"],
                    At::Value,
                    format!(
                        "min_healthy_percent must be 0–100, found {}",
                        ecs.min_healthy_percent
                    ),
                ));
            }
            if !(100..=200).contains(&ecs.max_percent) {
                self.push(Problem::new(
                    path!["services", name, "ecs", "max_percent"],
                    At::Value,
                    format!("max_percent must be 100–200, found {}", ecs.max_percent),
                ));
            }
            if let Some(grace) = ecs.health_check_grace_period
                && grace.as_secs() > 2_147_483_647
            {
                self.push(Problem::new(
                    path!["services", name, "ecs", "health_check_grace_period"],
                    At::Value,
                    "health_check_grace_period is too long",
                ));
            }
            self.placement(name, ecs);
            if let Some(tg) = &ecs.target_group {
                match stack
                    .load_balancer
                    .as_ref()
                    .and_then(|lb| lb.target_groups.get(tg))
                {
                    None => {
                        let known = stack
                            .load_balancer
                            .as_ref()
                            .map(|lb| names_of(&lb.target_groups))
                            .unwrap_or_default();
                        self.unknown(
                            path!["services", name, "ecs", "target_group"],
                            At::Value,
                            "target group",
                            tg,
                            &known,
                        );
                    }
                    Some(group) if group.service != *name => self.push(Problem::new(
                        path!["services", name, "ecs", "target_group"],
                        At::Value,
                        format!(
                            "target group `{tg}` forwards to `{}`, not to `{name}`",
                            group.service
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    /// Subnets, security groups and capacity providers as ECS takes them.
    fn placement(&mut self, name: &str, ecs: &super::model::EcsService) {
        use super::model::Chosen;
        if let Some(net) = &ecs.network {
            for (field, chosen, prefix, max) in [
                ("subnets", &net.subnets, "subnet-", 16),
                ("security_groups", &net.security_groups, "sg-", 5),
            ] {
                let at = path!["services", name, "ecs", "network", field];
                match chosen {
                    Chosen::Ids(ids) if ids.is_empty() || ids.len() > max => {
                        self.push(Problem::new(
                            at,
                            At::Value,
                            format!("{field}: 1–{max} IDs, or `{{ tags: {{ KEY: VALUE }} }}`"),
                        ));
                    }
                    Chosen::Ids(ids) => {
                        for (i, id) in ids.iter().enumerate() {
                            if !id.strip_prefix(prefix).is_some_and(|h| {
                                !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())
                            }) {
                                let mut p = at.clone();
                                p.push(i.into());
                                self.push(Problem::new(p, At::Value, format!("expected an ID like `{prefix}0123abcd`, found `{id}`"))
                                    .help(format!("or choose them by tag: `{field}: {{ tags: {{ Name: \"…\" }} }}`")));
                            }
                        }
                    }
                    Chosen::Tags { tags } if tags.is_empty() => {
                        self.push(Problem::new(
                            at,
                            At::Value,
                            "`tags` needs at least one KEY: VALUE",
                        ));
                    }
                    Chosen::Tags { .. } => {}
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut with_base = 0;
        for (i, share) in ecs.capacity.iter().enumerate() {
            let at = |f: &str| path!["services", name, "ecs", "capacity", i, f];
            if !seen.insert(share.provider.name()) {
                self.push(Problem::new(
                    at("provider"),
                    At::Value,
                    format!("{} is already in this strategy", share.provider.name()),
                ));
            }
            if share.weight > 1000 {
                self.push(Problem::new(
                    at("weight"),
                    At::Value,
                    format!("weight must be 0–1000, found {}", share.weight),
                ));
            }
            if share.base > 100_000 {
                self.push(Problem::new(
                    at("base"),
                    At::Value,
                    format!("base must be 0–100000, found {}", share.base),
                ));
            }
            if share.base > 0 {
                with_base += 1;
                if with_base > 1 {
                    self.push(Problem::new(
                        at("base"),
                        At::Value,
                        "only one capacity provider of a strategy may have a base",
                    ));
                }
            }
        }
        if !ecs.capacity.is_empty() && ecs.capacity.iter().all(|s| s.weight == 0) {
            self.push(Problem::new(
                path!["services", name, "ecs", "capacity"],
                At::Key,
                "at least one capacity provider needs a weight above 0, or no task is placed",
            ));
        }
    }

    /// `develop.watch`: each action with the fields it needs and no others
    /// (the paths themselves are checked against the files by `develop`).
    fn watch(&mut self, service: &str, svc: &super::model::Service) {
        use super::model::WatchAction;
        for (i, rule) in svc.develop.watch.iter().enumerate() {
            let at = |field: &str| path!["services", service, "develop", "watch", i, field];
            let action = rule.action.as_str();
            if svc.kind == ServiceKind::Job {
                self.push(Problem::new(
                    path!["services", service, "develop", "watch", i],
                    At::Key,
                    format!("`{service}` is a job: it runs once, so there is nothing to sync into or restart"),
                ).help("put the rule on the long-running services that use these files"));
                continue;
            }
            if rule.path.trim().is_empty() {
                self.push(Problem::new(
                    at("path"),
                    At::Value,
                    "path must not be empty",
                ));
            }
            match (&rule.target, rule.action.syncs()) {
                (None, true) => self.push(
                    Problem::new(
                        path!["services", service, "develop", "watch", i],
                        At::Key,
                        format!(
                            "a `{action}` rule needs `target`: where the files go in the container"
                        ),
                    )
                    .help("e.g. `target: /app/genonaut` for `path: genonaut`"),
                ),
                (Some(t), true) if !t.starts_with('/') || t.split('/').any(|p| p == "..") => self
                    .push(Problem::new(
                        at("target"),
                        At::Value,
                        format!("target must be an absolute path without `..`, found `{t}`"),
                    )),
                (Some(_), false) => self.push(Problem::new(
                    at("target"),
                    At::Key,
                    format!("`{action}` copies nothing; `target` is only for sync actions"),
                )),
                _ => {}
            }
            match (&rule.exec, rule.action) {
                (None, WatchAction::SyncExec) => self.push(Problem::new(
                    path!["services", service, "develop", "watch", i],
                    At::Key,
                    "a `sync+exec` rule needs `exec: { command: [...] }`",
                )),
                (Some(e), WatchAction::SyncExec) if e.command.0.is_empty() => self.push(
                    Problem::new(at("exec"), At::Value, "exec.command must not be empty"),
                ),
                (Some(_), a) if a != WatchAction::SyncExec => self.push(Problem::new(
                    at("exec"),
                    At::Key,
                    format!("`exec` belongs to `sync+exec` rules; this one is `{action}`"),
                )),
                _ => {}
            }
            if rule.action == WatchAction::Rebuild
                && let Some(image) = &svc.image
            {
                self.push(Problem::new(
                    at("action"),
                    At::Value,
                    format!("`rebuild` rebuilds one of the stack's images, but `{service}` runs `{image}`"),
                ));
            }
            if rule.initial_sync && !rule.action.syncs() {
                self.push(Problem::new(
                    at("initial_sync"),
                    At::Key,
                    format!("`initial_sync` is for sync actions; this one is `{action}`"),
                ));
            }
        }
        if let Some(test) = &svc.develop.idle {
            let at = path!["services", service, "develop", "idle"];
            if !crate::local::init::supervises(svc) {
                self.push(
                    Problem::new(
                        at,
                        At::Key,
                        format!(
                            "`idle` tells a restart that `{service}` runs no work, but no watch rule of `{service}` restarts it"
                        ),
                    )
                    .help("add a `sync+restart` or `restart` rule, or drop `idle`"),
                );
            } else if crate::local::readiness::probe_command(&test.0).is_none() {
                self.push(
                    Problem::new(
                        at,
                        At::Value,
                        "`idle` needs a command to run: `[CMD, program, args…]`, `[CMD-SHELL, \"…\"]` or a string",
                    ),
                );
            }
        }
    }

    /// A service's IAM statements, as IAM takes them, on a service that
    /// deploys (locally there is no role to grant them to).
    fn iam(&mut self, name: &str, svc: &super::model::Service) {
        if !svc.iam.is_empty() && !self.stack.deploys(name) {
            self.push(
                Problem::new(
                    path!["services", name, "iam"],
                    At::Key,
                    format!(
                        "`{name}` does not run on ECS, so no task role would get these statements"
                    ),
                )
                .help("drop `iam`, or deploy the service (`ecs:`)"),
            );
        }
        for (i, st) in svc.iam.iter().enumerate() {
            let at = |f: &str| path!["services", name, "iam", i, f];
            for (j, action) in st.actions.iter().enumerate() {
                let ok = action.split_once(':').is_some_and(|(svc, op)| {
                    !svc.is_empty()
                        && !op.is_empty()
                        && svc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if !ok {
                    let mut p = at("actions");
                    p.push(j.into());
                    self.push(Problem::new(p, At::Value, format!(
                        "`{action}` is not an IAM action: expected `SERVICE:Action` (`s3:GetObject`, `sqs:*`)"
                    )));
                }
            }
            for (list, what) in [(&st.actions, "actions"), (&st.resources, "resources")] {
                if list.is_empty() {
                    self.push(Problem::new(
                        at(what),
                        At::Key,
                        format!("an IAM statement needs {what}"),
                    ));
                }
            }
            for (j, r) in st.resources.iter().enumerate() {
                if r != "*" && !r.starts_with("arn:") {
                    let mut p = at("resources");
                    p.push(j.into());
                    self.push(Problem::new(
                        p,
                        At::Value,
                        format!("`{r}` is not a resource ARN (`arn:aws:s3:::bucket/*`, or `*`)"),
                    ));
                }
            }
        }
    }

    /// What ECS mounts for a named volume, as ECS takes it.
    fn volume_sources(&mut self) {
        for (name, volume) in &self.stack.volumes {
            let Some(super::model::VolumeOnEcs::Efs(efs)) = &volume.ecs else {
                continue;
            };
            let at = |f: &str| path!["volumes", name, "ecs", "efs", f];
            let id = efs.file_system_id.strip_prefix("fs-");
            if !id.is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit())) {
                self.push(Problem::new(
                    at("file_system_id"),
                    At::Value,
                    format!(
                        "expected an EFS file system ID (`fs-` and hex digits), found `{}`",
                        efs.file_system_id
                    ),
                ));
            }
            if efs.access_point_id.is_some()
                && efs.root_directory.as_deref().is_some_and(|r| r != "/")
            {
                self.push(
                    Problem::new(
                        at("root_directory"),
                        At::Value,
                        "ECS takes no root directory with an access point: the access point sets it",
                    )
                    .help("drop `root_directory`, or give the access point that directory"),
                );
            }
        }
    }

    /// One mount: well formed, of a declared volume, and for a deployed
    /// service (unless it is local only) one ECS can make.
    fn volume(&mut self, name: &str, vol: &str, at: Vec<super::diag::Seg>, local_only: bool) {
        let stack = self.stack;
        let parts: Vec<&str> = vol.split(':').collect();
        let ok = matches!(parts.as_slice(), [src, dst] | [src, dst, "ro" | "rw"] if !src.is_empty() && dst.starts_with('/'));
        if !ok {
            self.push(Problem::new(
                at,
                At::Value,
                format!("expected `NAME:/path` or `./dir:/path` (optionally `:ro`), found `{vol}`"),
            ));
            return;
        }
        let src = parts[0];
        let is_bind = src.starts_with('.') || src.starts_with('/');
        if !is_bind && !stack.volumes.contains_key(src) {
            let known = names_of(&stack.volumes);
            self.unknown(at, At::Value, "volume", src, &known);
            return;
        }
        if local_only || !stack.deploys(name) {
            return;
        }
        if is_bind {
            self.push(
                Problem::new(
                    at,
                    At::Value,
                    format!("`{src}` is a directory of this machine; `{name}` runs on ECS, where there is none to mount"),
                )
                .help(format!(
                    "move it under `services.{name}.local.volumes` (geno up mounts it, ECS does not), or copy it into the image"
                )),
            );
        } else if stack.volumes[src].ecs.is_none() {
            self.push(
                Problem::new(
                    at,
                    At::Value,
                    format!("volume `{src}` says nothing for ECS, and `{name}` runs there"),
                )
                .help(format!(
                    "give `volumes.{src}` `ecs: ephemeral` (the task's own storage, empty at each start) or `ecs: {{ efs: {{ file_system_id: fs-… }} }}` (kept and shared), or mount it under `services.{name}.local.volumes`"
                )),
            );
        }
    }

    fn container_health(&mut self, service: &str, hc: &HealthCheck) {
        let at = path!["services", service, "healthcheck"];
        self.health_at(at, self.stack.deploys(service), hc);
    }

    /// A container's health check (a service's or a sidecar's, at `at`):
    /// ECS's limits where it deploys, Docker's elsewhere.
    fn health_at(&mut self, at: Vec<super::diag::Seg>, deploys: bool, hc: &HealthCheck) {
        let base = |field: &str| {
            let mut p = at.clone();
            p.push(field.into());
            p
        };
        match hc.test.0.first().map(String::as_str) {
            Some("CMD") if hc.test.0.len() >= 2 => {}
            Some("CMD-SHELL") if hc.test.0.len() == 2 => {}
            Some("CMD") => self.push(Problem::new(base("test"), At::Key, "a `CMD` test needs a command after `CMD`")),
            Some("CMD-SHELL") => self.push(Problem::new(
                base("test"),
                At::Key,
                "a `CMD-SHELL` test takes exactly one shell string after `CMD-SHELL`",
            )),
            _ => self.push(
                Problem::new(base("test"), At::Key, "a health check test starts with `CMD` or `CMD-SHELL`")
                    .help("write `[\"CMD-SHELL\", \"curl -f http://localhost:8001/health\"]` or a plain string"),
            ),
        }
        // The limits ECS enforces on a task definition's healthCheck, for
        // what deploys; a local-only service takes what Docker takes (in
        // the whole seconds geno counts in).
        let (interval, timeout, start, retries) = match deploys {
            true => ((5, 300), (2, 60), (0, 300), (1, 10)),
            false => ((1, u64::MAX), (1, u64::MAX), (0, u64::MAX), (1, u32::MAX)),
        };
        self.range(
            base("interval"),
            "interval",
            hc.interval,
            interval.0,
            interval.1,
        );
        self.range(base("timeout"), "timeout", hc.timeout, timeout.0, timeout.1);
        if let Some(sp) = hc.start_period {
            self.range(base("start_period"), "start_period", sp, start.0, start.1);
        }
        if !(retries.0..=retries.1).contains(&hc.retries) {
            let why = match retries.1 {
                u32::MAX => "retries must be at least 1".to_string(),
                max => format!("retries must be 1–{max} (the ECS limit)"),
            };
            self.push(Problem::new(
                base("retries"),
                At::Value,
                format!("{why}, found {}", hc.retries),
            ));
        }
    }

    fn range(&mut self, path: Vec<super::diag::Seg>, what: &str, d: Dur, min: u64, max: u64) {
        if !d.whole_seconds() {
            self.push(Problem::new(
                path,
                At::Value,
                format!(
                    "{what} must be whole seconds (ECS and the ALB count in seconds), found {d}"
                ),
            ));
        } else if !(min..=max).contains(&d.as_secs()) {
            let bounds = match max {
                u64::MAX => format!("at least {min} s"),
                _ => format!("{min}–{max} s (the ECS limit)"),
            };
            self.push(Problem::new(
                path,
                At::Value,
                format!("{what} must be {bounds}, found {d}"),
            ));
        }
    }

    fn dependencies(&mut self) {
        let stack = self.stack;
        let known = names_of(&stack.services);
        for (name, svc) in &stack.services {
            for (dep, condition) in svc.service_deps() {
                let Some(target) = stack.services.get(dep) else {
                    self.unknown(
                        path!["services", name, "depends_on", dep],
                        At::Key,
                        "service",
                        dep,
                        &known,
                    );
                    continue;
                };
                if dep == name {
                    self.push(Problem::new(
                        path!["services", name, "depends_on", dep],
                        At::Key,
                        format!("`{name}` depends on itself"),
                    ));
                    continue;
                }
                if let Some(problem) = profile_gap(name, svc, dep, target) {
                    self.push(problem);
                }
                match condition {
                    Condition::Healthy if target.healthcheck.is_none() => self.push(
                        Problem::new(
                            path!["services", name, "depends_on", dep],
                            At::Key,
                            format!("`{dep}` has no healthcheck, so `{name}` would wait for `healthy` forever"),
                        )
                        .help(format!("add a healthcheck to `{dep}`, or wait for `started`")),
                    ),
                    Condition::CompletedSuccessfully if target.kind != ServiceKind::Job => self.push(
                        Problem::new(
                            path!["services", name, "depends_on", dep],
                            At::Key,
                            format!("`{dep}` is a long-running service; it never completes"),
                        )
                        .help(format!("mark `{dep}` as `kind: job`, or wait for `started` or `healthy`")),
                    ),
                    _ => {}
                }
            }
        }
        let nodes: Vec<(&str, Vec<&str>)> = stack
            .services
            .iter()
            .map(|(n, s)| {
                (
                    n.as_str(),
                    s.service_deps()
                        .map(|(d, _)| d.as_str())
                        .filter(|d| d != n)
                        .collect(),
                )
            })
            .collect();
        if let Some(cycle) = graph::find_cycle(&nodes) {
            let (first, second) = (cycle[0], cycle[1]);
            self.push(Problem::new(
                path!["services", first, "depends_on", second],
                At::Key,
                format!("dependency cycle: {}", cycle.join(" -> ")),
            ));
        }
    }

    fn ports(&mut self) {
        let stack = self.stack;
        let mut seen: HashMap<u16, String> = HashMap::new();
        if let Some(lb) = &stack.load_balancer {
            for (i, l) in lb.listeners.iter().enumerate() {
                if let Some(prev) = seen.insert(l.port, format!("load_balancer.listeners[{i}]")) {
                    self.push(Problem::new(
                        path!["load_balancer", "listeners", i, "port"],
                        At::Value,
                        format!("host port {} is already used by {prev}", l.port),
                    ));
                }
            }
        }
        for (name, svc) in &stack.services {
            for (i, port) in svc.ports.iter().enumerate() {
                let Some(host) = port.host else { continue };
                if svc.replicas > 1 {
                    self.push(
                        Problem::new(
                            path!["services", name, "ports", i],
                            At::Value,
                            format!("`{name}` has {} replicas but publishes host port {host}; only one container can bind it", svc.replicas),
                        )
                        .help("publish no host port and reach the replicas through the load balancer"),
                    );
                }
                if let Some(prev) = seen.insert(host, format!("`{name}`")) {
                    self.push(Problem::new(
                        path!["services", name, "ports", i],
                        At::Value,
                        format!("host port {host} is already used by {prev}"),
                    ));
                }
            }
        }
    }

    /// Environment values that name a service of the stack (a URL's host,
    /// `host:port`) must name one that runs where the caller runs and
    /// listens on that port: locally on `geno up`'s network, on ECS through
    /// Service Connect, at the same name and port. A hand-written private
    /// name for one of them (`imagegen.genonaut-demo.internal`) is refused:
    /// it is the per-environment drift the one name ends.
    fn addresses(&mut self, env: &str) {
        let stack = self.stack;
        let aws = stack.environments.get(env).and_then(|e| e.aws.as_ref());
        let deployed = aws.is_some();
        let connect = aws.is_none_or(|a| a.service_connect);
        let namespace = stack.namespace(env);
        let services = names_of(&stack.services);
        for (name, svc) in &stack.services {
            if deployed && svc.ecs.is_none() {
                continue;
            }
            for (key, value) in &svc.environment {
                for a in super::addresses::addresses(value) {
                    let at = path!["services", name, "environment", key];
                    let Some(target) = stack.services.get(&a.host) else {
                        self.no_such_host(at, key, &a, &namespace, &services);
                        continue;
                    };
                    let host = &a.host;
                    if target.kind == ServiceKind::Job {
                        self.push(Problem::new(
                            at,
                            At::Value,
                            format!(
                                "`{key}` names `{host}`, a job: it runs once and answers nothing"
                            ),
                        ));
                        continue;
                    }
                    if deployed && target.ecs.is_none() {
                        self.push(
                            Problem::new(at, At::Value, format!(
                                "`{key}` names `{host}`, which runs only locally: on ECS in `{env}` nothing answers at `{host}`"
                            ))
                            .help(format!(
                                "deploy `{host}` (give it `ecs:`), or set `{key}` per environment under `environments.{env}.variables` to what stands in for it on AWS"
                            )),
                        );
                        continue;
                    }
                    if !connect {
                        self.push(
                            Problem::new(at, At::Value, format!(
                                "`{key}` names `{host}`, but Service Connect is off in `{env}` (`service_connect: false`): on ECS nothing answers at `{host}`"
                            ))
                            .help(format!(
                                "remove `service_connect: false` from `environments.{env}.aws` (infra/ creates the namespace), or set `{key}` per environment under `environments.{env}.variables`"
                            )),
                        );
                        continue;
                    }
                    let mut ports: Vec<u16> = target.ports.iter().map(|p| p.container).collect();
                    ports.dedup();
                    let Some(port) = a.port else { continue };
                    // An external image's ports are known only when written,
                    // and only a deployed service needs them written.
                    let known = !ports.is_empty() || (deployed && target.ecs.is_some());
                    if known && !ports.contains(&port) {
                        let theirs = if ports.is_empty() {
                            "it declares no ports".to_string()
                        } else {
                            format!(
                                "it listens on {}",
                                ports
                                    .iter()
                                    .map(|p| p.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        let mut p = Problem::new(
                            at,
                            At::Value,
                            format!(
                                "`{key}` names `{host}:{port}`, but `{host}` does not listen on port {port}: {theirs}"
                            ),
                        );
                        if let [only] = ports.as_slice() {
                            p = p.label(format!("did you mean `{host}:{only}`?"));
                        }
                        self.push(p.help(format!(
                            "a port others call is declared in `services.{host}.ports` (`- {port}` declares it without publishing it)"
                        )));
                    }
                }
            }
        }
    }

    /// A host that is no service: refused when it reads like one of
    /// ours (a near miss, or a hand-written private name of the stack's).
    fn no_such_host(
        &mut self,
        at: Vec<super::diag::Seg>,
        key: &str,
        a: &super::addresses::Address,
        namespace: &str,
        services: &[&str],
    ) {
        let stack = self.stack;
        let single = !a.host.contains('.') && a.host != "localhost";
        let near = did_you_mean(&a.host, services);
        if !(super::addresses::hand_written_internal(&a.host, &stack.name, namespace, services)
            || (single && near.is_some()))
        {
            return;
        }
        let mut p = Problem::new(
            at,
            At::Value,
            format!(
                "`{key}` names host `{}`, which is no service of this stack",
                a.host
            ),
        );
        if let Some(s) = near {
            p = p.label(format!("did you mean `{s}`?"));
        }
        self.push(p.help(format!(
            "a service answers at its own name and ports everywhere, on ECS through Service Connect: write e.g. `http://{}{}`; services are: {}",
            near.unwrap_or("SERVICE"),
            a.port.map(|p| format!(":{p}")).unwrap_or_default(),
            quoted_list(services)
        )));
    }

    fn secrets(&mut self, env: &str) {
        let stack = self.stack;
        let known = names_of(&stack.secrets);
        for (name, svc) in &stack.services {
            for (i, secret) in svc.secrets.iter().enumerate() {
                let Some(decl) = stack.secrets.get(secret) else {
                    self.unknown(
                        path!["services", name, "secrets", i],
                        At::Value,
                        "secret",
                        secret,
                        &known,
                    );
                    continue;
                };
                if env != LOCAL_ENV && svc.ecs.is_some() && decl.aws.is_none() {
                    self.push(
                        Problem::new(
                            path!["secrets", secret],
                            At::Key,
                            format!("secret `{secret}` has no `aws` source, but `{name}` needs it in environment `{env}`"),
                        )
                        .help("add `aws: { ssm: /path/to/parameter }` or `aws: { secrets_manager: name }`"),
                    );
                }
            }
        }
        for (name, decl) in &stack.secrets {
            match &decl.local {
                LocalSecret::Template(t) => {
                    for reference in template_refs(t) {
                        if reference == *name {
                            self.push(Problem::new(
                                path!["secrets", name, "local", "template"],
                                At::Value,
                                format!("secret `{name}` refers to itself"),
                            ));
                        } else if !stack.secrets.contains_key(reference) {
                            self.unknown(
                                path!["secrets", name, "local", "template"],
                                At::Value,
                                "secret",
                                reference,
                                &known,
                            );
                        } else if matches!(stack.secrets[reference].local, LocalSecret::Template(_))
                        {
                            self.push(Problem::new(
                                path!["secrets", name, "local", "template"],
                                At::Value,
                                format!("template refers to `{reference}`, which is a template too; refer to generated or env secrets only"),
                            ));
                        }
                    }
                }
                LocalSecret::Generate { length } if !(8..=256).contains(length) => {
                    self.push(Problem::new(
                        path!["secrets", name, "local", "generate", "length"],
                        At::Value,
                        format!("generated secrets are 8–256 characters, found {length}"),
                    ));
                }
                _ => {}
            }
        }
    }

    fn load_balancer(&mut self) {
        let stack = self.stack;
        let Some(lb) = &stack.load_balancer else {
            return;
        };
        let groups = names_of(&lb.target_groups);
        self.range(
            path!["load_balancer", "idle_timeout"],
            "idle_timeout",
            lb.idle_timeout,
            1,
            4000,
        );
        for (i, listener) in lb.listeners.iter().enumerate() {
            let mut priorities: BTreeMap<u32, usize> = BTreeMap::new();
            for (j, rule) in listener.rules.iter().enumerate() {
                let rp = |f: &str| path!["load_balancer", "listeners", i, "rules", j, f];
                if !(1..=50_000).contains(&rule.priority) {
                    self.push(Problem::new(
                        rp("priority"),
                        At::Value,
                        format!("rule priority must be 1–50000, found {}", rule.priority),
                    ));
                } else if let Some(prev) = priorities.insert(rule.priority, j) {
                    self.push(Problem::new(
                        rp("priority"),
                        At::Value,
                        format!(
                            "priority {} is already used by rule {prev} of this listener",
                            rule.priority
                        ),
                    ));
                }
                let c = &rule.conditions;
                if c.path.is_empty() && c.host.is_empty() && c.method.is_empty() {
                    self.push(Problem::new(
                        rp("conditions"),
                        At::Key,
                        "a rule needs at least one condition (path, host or method)",
                    ));
                }
                for (k, p) in c.path.iter().enumerate() {
                    let why = if !p.starts_with('/') && p != "*" {
                        format!("path pattern `{p}` must start with `/`")
                    } else if p.len() > 128 {
                        "path patterns are at most 128 characters".to_string()
                    } else {
                        continue;
                    };
                    self.push(Problem::new(
                        path![
                            "load_balancer",
                            "listeners",
                            i,
                            "rules",
                            j,
                            "conditions",
                            "path",
                            k
                        ],
                        At::Value,
                        why,
                    ));
                }
                self.action(
                    &rule.action,
                    path!["load_balancer", "listeners", i, "rules", j, "action"],
                    &groups,
                );
            }
            self.action(
                &listener.default_action,
                path!["load_balancer", "listeners", i, "default_action"],
                &groups,
            );
            self.listener_tls(i, listener);
        }
        let mut ports: BTreeMap<u16, usize> = BTreeMap::new();
        for (i, listener) in lb.listeners.iter().enumerate() {
            if let Some(prev) = ports.insert(listener.alb_port(), i) {
                self.push(
                    Problem::new(
                        path!["load_balancer", "listeners", i],
                        At::Key,
                        format!(
                            "listeners {prev} and {i} would both be on port {} of the ALB",
                            listener.alb_port()
                        ),
                    )
                    .help("give one an `alb_port` of its own (HTTP is on 80 and HTTPS on 443 unless said)"),
                );
            }
        }
        let services = names_of(&stack.services);
        for (name, tg) in &lb.target_groups {
            let tp = |f: &str| path!["load_balancer", "target_groups", name, f];
            match stack.services.get(&tg.service) {
                None => self.unknown(tp("service"), At::Value, "service", &tg.service, &services),
                Some(svc) if svc.ports.is_empty() => self.push(
                    Problem::new(
                        tp("service"),
                        At::Value,
                        format!(
                            "target group `{name}` forwards to `{}`, which declares no port",
                            tg.service
                        ),
                    )
                    .help(format!("add `ports: [{}]` to `{}`", tg.port, tg.service)),
                ),
                Some(svc) if !svc.ports.iter().any(|p| p.container == tg.port) => {
                    let ports: Vec<String> =
                        svc.ports.iter().map(|p| p.container.to_string()).collect();
                    self.push(Problem::new(
                        tp("port"),
                        At::Value,
                        format!(
                            "`{}` does not listen on port {} (its ports: {})",
                            tg.service,
                            tg.port,
                            ports.join(", ")
                        ),
                    ));
                }
                Some(_) => {}
            }
            self.alb_health(name, &tg.health_check);
            let d = tg.deregistration_delay;
            self.range(
                tp("deregistration_delay"),
                "deregistration_delay",
                d,
                0,
                3600,
            );
        }
    }

    /// An HTTPS listener's policy and redirects that would loop.
    fn listener_tls(&mut self, i: usize, listener: &super::model::Listener) {
        use super::model::ListenerProtocol;
        if listener.ssl_policy.is_some() && listener.protocol == ListenerProtocol::Http {
            self.push(
                Problem::new(
                    path!["load_balancer", "listeners", i, "ssl_policy"],
                    At::Key,
                    "`ssl_policy` is for HTTPS listeners; this one speaks HTTP",
                )
                .help("add `protocol: HTTPS`, or remove `ssl_policy`"),
            );
        }
        let actions = listener
            .rules
            .iter()
            .enumerate()
            .map(|(j, r)| {
                (
                    &r.action,
                    path!["load_balancer", "listeners", i, "rules", j, "action"],
                )
            })
            .chain(std::iter::once((
                &listener.default_action,
                path!["load_balancer", "listeners", i, "default_action"],
            )));
        let mut found = Vec::new();
        for (action, mut at) in actions {
            let Action::Redirect(r) = action else {
                continue;
            };
            at.push("redirect".into());
            if r.status != 301 && r.status != 302 {
                let mut p = at.clone();
                p.push("status".into());
                found.push(Problem::new(
                    p,
                    At::Value,
                    format!("a redirect is 301 or 302 on the ALB, found {}", r.status),
                ));
            }
            let same_protocol = r.protocol.is_none_or(|p| p == listener.protocol);
            let same_port = r.port.is_none_or(|p| p == listener.alb_port());
            let same_place = r.host.as_deref().is_none_or(|h| h == "#{host}")
                && r.path.as_deref().is_none_or(|p| p == "/#{path}")
                && r.query.as_deref().is_none_or(|q| q == "#{query}");
            if same_protocol && same_port && same_place {
                found.push(
                    Problem::new(
                        at,
                        At::Key,
                        "this redirect sends every request back where it came from (the ALB refuses it; a browser would loop)",
                    )
                    .help("set `protocol: HTTPS` and `port: 443`, or another host or path"),
                );
            }
        }
        for p in found {
            self.push(p);
        }
    }

    fn action(&mut self, action: &Action, path: Vec<super::diag::Seg>, groups: &[&str]) {
        match action {
            Action::Forward(tg) if !groups.contains(&tg.as_str()) => {
                let mut p = path;
                p.push("forward".into());
                self.unknown(p, At::Value, "target group", tg, groups);
            }
            Action::FixedResponse(fr)
                if !(200..=599).contains(&fr.status) || (300..400).contains(&fr.status) =>
            {
                let mut p = path;
                p.extend(crate::path!["fixed_response", "status"]);
                self.push(Problem::new(
                    p,
                    At::Value,
                    format!(
                        "a fixed response status is 2XX, 4XX or 5XX, found {}",
                        fr.status
                    ),
                ));
            }
            _ => {}
        }
    }

    fn alb_health(&mut self, group: &str, hc: &AlbHealthCheck) {
        let hp = |f: &str| path!["load_balancer", "target_groups", group, "health_check", f];
        // The limits the ALB enforces on a target group's health check.
        self.range(hp("interval"), "interval", hc.interval, 5, 300);
        self.range(hp("timeout"), "timeout", hc.timeout, 2, 120);
        if hc.timeout >= hc.interval && hc.interval.whole_seconds() && hc.timeout.whole_seconds() {
            self.push(Problem::new(
                hp("timeout"),
                At::Value,
                format!(
                    "timeout ({}) must be less than interval ({})",
                    hc.timeout, hc.interval
                ),
            ));
        }
        for (field, value) in [
            ("healthy_threshold", hc.healthy_threshold),
            ("unhealthy_threshold", hc.unhealthy_threshold),
        ] {
            if !(2..=10).contains(&value) {
                self.push(Problem::new(
                    hp(field),
                    At::Value,
                    format!("{field} must be 2–10, found {value}"),
                ));
            }
        }
        if !hc.path.starts_with('/') {
            self.push(Problem::new(
                hp("path"),
                At::Value,
                format!("health check path `{}` must start with `/`", hc.path),
            ));
        }
        if let Err(msg) = crate::stack::matcher::Matcher::parse(&hc.matcher) {
            self.push(Problem::new(hp("matcher"), At::Value, msg));
        }
    }

    /// The names a deployed environment gives its task definitions,
    /// containers, logs and target groups — stack.yaml's own or geno's
    /// defaults — as ECS, CloudWatch and the ALB take them, each once.
    /// An environment with HTTPS listeners has a certificate for them,
    /// and one that names a certificate has a listener that uses it.
    fn certificate(&mut self, env: &str) {
        let stack = self.stack;
        let Some(aws) = stack.environments.get(env).and_then(|e| e.aws.as_ref()) else {
            return;
        };
        let https = stack.load_balancer.as_ref().and_then(|lb| {
            lb.listeners
                .iter()
                .position(|l| l.protocol == super::model::ListenerProtocol::Https)
        });
        match (&aws.certificate_arn, https) {
            (None, Some(i)) => self.push(
                Problem::new(
                    path!["environments", env, "aws"],
                    At::Key,
                    format!("listener {i} serves HTTPS, but environment `{env}` names no certificate for it on the ALB"),
                )
                .help("add `certificate_arn: arn:aws:acm:REGION:ACCOUNT:certificate/ID` (an ACM certificate for the environment's domain)"),
            ),
            (Some(_), None) => self.push(
                Problem::new(
                    path!["environments", env, "aws", "certificate_arn"],
                    At::Key,
                    "no listener serves HTTPS, so nothing would use this certificate",
                )
                .help("give a listener `protocol: HTTPS`, or remove `certificate_arn`"),
            ),
            (Some(arn), Some(_)) => {
                let parts: Vec<&str> = arn.split(':').collect();
                let ok = parts.len() == 6
                    && parts[0] == "arn"
                    && parts[1].starts_with("aws")
                    && parts[2] == "acm"
                    && parts[5].starts_with("certificate/");
                if !ok {
                    self.push(Problem::new(
                        path!["environments", env, "aws", "certificate_arn"],
                        At::Value,
                        format!("`{arn}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"),
                    ));
                } else if parts[3] != aws.region {
                    self.push(Problem::new(
                        path!["environments", env, "aws", "certificate_arn"],
                        At::Value,
                        format!("the certificate is in {}, but an ALB in {} can only use one of its own region", parts[3], aws.region),
                    ));
                }
            }
            (None, None) => {}
        }
    }

    fn aws_names(&mut self, env: &str) {
        let stack = self.stack;
        if stack.environments.get(env).is_none_or(|e| e.aws.is_none()) {
            return;
        }
        let mut families: BTreeMap<String, &str> = BTreeMap::new();
        let mut services: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, svc) in &stack.services {
            if !stack.deploys(name) {
                continue;
            }
            let ecs = svc.ecs.as_ref();
            let at = |f: &str| match ecs.is_some() {
                true => path!["services", name, "ecs", f],
                false => path!["services", name],
            };
            let own = |f: Option<&String>| if f.is_some() { At::Value } else { At::Key };
            let family = stack.task_family(name, env);
            if let Err(why) = ecs_name(&family) {
                self.push(
                    Problem::new(
                        at("family"),
                        own(ecs.and_then(|e| e.family.as_ref())),
                        format!("task definition family `{family}` {why}"),
                    )
                    .help("set `ecs.family` to a name of letters, digits, `-` and `_`"),
                );
            }
            if let Some(prev) = families.insert(family.clone(), name) {
                self.push(Problem::new(
                    at("family"),
                    own(ecs.and_then(|e| e.family.as_ref())),
                    format!("task definition family `{family}` is already `{prev}`'s; each service registers its own"),
                ));
            }
            let Some(ecs) = ecs else { continue };
            if let Some(c) = &ecs.container
                && let Err(why) = ecs_name(c)
            {
                self.push(Problem::new(
                    at("container"),
                    At::Value,
                    format!("container name `{c}` {why}"),
                ));
            }
            if let Some(prev) = services.insert(&ecs.service, name) {
                self.push(Problem::new(
                    at("service"),
                    At::Value,
                    format!("ECS service `{}` is already `{prev}`'s; each service of the stack is an ECS service of its own", ecs.service),
                ));
            }
            if let Some(g) = &ecs.log_group {
                let ok = !g.is_empty()
                    && g.len() <= 512
                    && g.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
                if !ok {
                    self.push(Problem::new(at("log_group"), At::Value, format!(
                        "`{g}` is not a CloudWatch log group name: 1–512 letters, digits and `._-/#`"
                    )));
                }
            }
            if let Some(p) = &ecs.log_stream_prefix
                && (p.is_empty() || p.contains([':', '*']) || p.len() > 256)
            {
                self.push(Problem::new(at("log_stream_prefix"), At::Value, format!(
                    "`{p}` cannot begin a CloudWatch log stream name: 1–256 characters, no `:` or `*`"
                )));
            }
        }
        let Some(lb) = &stack.load_balancer else {
            return;
        };
        let alb = stack.load_balancer_name(env);
        let on_aws = lb.target_groups.keys().any(|k| stack.group_on_ecs(k));
        if on_aws && let Err(why) = alb_name(&alb) {
            let p = match lb.name {
                Some(_) => Problem::new(
                    path!["load_balancer", "name"],
                    At::Value,
                    format!("load balancer name `{alb}` {why}"),
                ),
                None => Problem::new(
                    path!["load_balancer"],
                    At::Key,
                    format!("load balancer name `{alb}` {why}"),
                )
                .help("geno names it STACK-ENV; give it a `name:` of at most 32 characters"),
            };
            self.push(p);
        }
        let mut names: BTreeMap<String, &str> = BTreeMap::new();
        for (key, tg) in &lb.target_groups {
            if !stack.group_on_ecs(key) {
                continue;
            }
            let name = stack.target_group_name(key, env);
            let at = match tg.name {
                Some(_) => (
                    path!["load_balancer", "target_groups", key, "name"],
                    At::Value,
                ),
                None => (path!["load_balancer", "target_groups", key], At::Key),
            };
            if let Err(why) = alb_name(&name) {
                let mut p = Problem::new(
                    at.0.clone(),
                    at.1,
                    format!("target group name `{name}` {why}"),
                );
                if tg.name.is_none() {
                    p = p.help(format!("geno names it STACK-GROUP-ENV; give the group a `name:` of at most 32 characters (`{key}-${{GENO_ENV}}`…)"));
                }
                self.push(p);
            }
            if let Some(prev) = names.insert(name.clone(), key) {
                self.push(Problem::new(
                    at.0,
                    at.1,
                    format!("target group name `{name}` is already group `{prev}`'s"),
                ));
            }
        }
    }

    fn environments(&mut self) {
        let stack = self.stack;
        let ecs_services: Vec<&str> = stack
            .services
            .iter()
            .filter(|(_, s)| s.ecs.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        for (name, env) in &stack.environments {
            if !valid_name(name) {
                self.push(Problem::new(
                    path!["environments", name],
                    At::Key,
                    format!("environment name `{name}` is not a valid name"),
                ));
            }
            let known = super::profiles::declared(stack.services.values());
            for (i, profile) in env.profiles.iter().enumerate() {
                if !known.contains(profile) {
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    self.unknown(
                        path!["environments", name, "profiles", i],
                        At::Value,
                        "profile",
                        profile,
                        &known,
                    );
                }
            }
            match &env.aws {
                None if name != LOCAL_ENV => self.push(
                    Problem::new(
                        path!["environments", name],
                        At::Key,
                        format!("environment `{name}` has no `aws` section"),
                    )
                    .help("every environment but `local` deploys to ECS and needs region, account_id, cluster, roles and log_group"),
                ),
                Some(aws) => {
                    let ap = |f: &str| path!["environments", name, "aws", f];
                    if aws.account_id.len() != 12 || !aws.account_id.chars().all(|c| c.is_ascii_digit()) {
                        self.push(Problem::new(ap("account_id"), At::Value, format!("account_id must be 12 digits, found `{}`", aws.account_id)));
                    }
                    if !looks_like_region(&aws.region) {
                        self.push(Problem::new(ap("region"), At::Value, format!("`{}` is not an AWS region name like `us-east-1`", aws.region)));
                    }
                    if aws.kms_key_arn.as_ref().is_some_and(|k| !k.is_empty())
                        && !stack.services.iter().any(|(n, svc)| {
                            stack.deploys(n)
                                && svc.secrets.iter().any(|x| {
                                    stack.secrets.get(x).is_some_and(|d| d.aws.is_some())
                                })
                        })
                    {
                        self.push(Problem::new(ap("kms_key_arn"), At::Value, "no deployed service reads a secret from SSM or Secrets Manager here, so nothing would decrypt with this key").help("drop `kms_key_arn`, or declare the secrets it encrypts (`secrets.NAME.aws`) on a deployed service"));
                    }
                    for (field, arn) in [("execution_role_arn", &aws.execution_role_arn), ("task_role_arn", &aws.task_role_arn)] {
                        if !arn.starts_with("arn:aws") || !arn.contains(":iam::") || !arn.contains(":role/") {
                            self.push(Problem::new(ap(field), At::Value, format!("expected an IAM role ARN (`arn:aws:iam::ACCOUNT:role/NAME`), found `{arn}`")));
                        }
                    }
                }
                None => {}
            }
            for (svc, _) in &env.desired_count {
                if !ecs_services.contains(&svc.as_str()) {
                    self.unknown(
                        path!["environments", name, "desired_count", svc],
                        At::Key,
                        "ECS service",
                        svc,
                        &ecs_services,
                    );
                }
            }
        }
    }

    /// Where an HTTP step goes: the load balancer, or a service that
    /// listens on the port it names.
    fn smoke_target(&mut self, i: usize, http: &super::model::HttpStep) {
        let stack = self.stack;
        // Without a load balancer, a step that names no service can still
        // go to `--url`; locally, smoke says it has nowhere to go.
        let Some(service) = &http.service else {
            if http.port.is_some() {
                self.push(Problem::new(
                    path!["smoke", i, "http", "port"],
                    At::Key,
                    "`port` is a service's port: name the `service` too",
                ));
            }
            return;
        };
        let Some(svc) = stack.services.get(service) else {
            let known = names_of(&stack.services);
            self.unknown(
                path!["smoke", i, "http", "service"],
                At::Value,
                "service",
                service,
                &known,
            );
            return;
        };
        // Its task's: a sidecar listens in the same network.
        let ports: Vec<u16> = svc
            .ports
            .iter()
            .chain(svc.sidecars.values().flat_map(|c| &c.ports))
            .map(|p| p.container)
            .collect();
        match http.port {
            None if ports.is_empty() => self.push(Problem::new(
                path!["smoke", i, "http", "service"],
                At::Value,
                format!("`{service}` has no ports, so no request can reach it"),
            )),
            Some(p) if !ports.contains(&p) => self.push(Problem::new(
                path!["smoke", i, "http", "port"],
                At::Value,
                format!(
                    "`{service}` does not listen on {p}; its ports: {}",
                    if ports.is_empty() {
                        "none".to_string()
                    } else {
                        ports
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
            _ => {}
        }
    }

    fn smoke(&mut self) {
        let stack = self.stack;
        let services = names_of(&stack.services);
        let groups = stack
            .load_balancer
            .as_ref()
            .map(|lb| names_of(&lb.target_groups))
            .unwrap_or_default();
        let mut captured: Vec<&str> = Vec::new();
        for (i, step) in stack.smoke.iter().enumerate() {
            let kinds = [
                step.http.is_some(),
                step.exec.is_some(),
                step.targets.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                self.push(Problem::new(
                    path!["smoke", i],
                    At::Value,
                    format!(
                        "smoke step `{}` needs exactly one of `http`, `exec` or `targets`",
                        step.name
                    ),
                ));
            }
            if let Some(http) = &step.http {
                self.smoke_target(i, http);
                if !http.path.starts_with('/') {
                    self.push(Problem::new(
                        path!["smoke", i, "http", "path"],
                        At::Value,
                        format!("path `{}` must start with `/`", http.path),
                    ));
                }
                for reference in template_refs(&http.path) {
                    if !captured.contains(&reference) {
                        self.push(
                            Problem::new(
                                path!["smoke", i, "http", "path"],
                                At::Value,
                                format!("`{{{{{reference}}}}}` is not captured by an earlier step"),
                            )
                            .help(format!("earlier steps capture: {}", quoted_list(&captured))),
                        );
                    }
                }
                captured.extend(http.capture.keys().map(String::as_str));
            }
            if let Some(exec) = &step.exec
                && !stack.services.contains_key(&exec.service)
            {
                self.unknown(
                    path!["smoke", i, "exec", "service"],
                    At::Value,
                    "service",
                    &exec.service,
                    &services,
                );
            }
            if let Some(t) = &step.targets {
                if !groups.contains(&t.target_group.as_str()) {
                    self.unknown(
                        path!["smoke", i, "targets", "target_group"],
                        At::Value,
                        "target group",
                        &t.target_group,
                        &groups,
                    );
                }
                if !["initial", "healthy", "unhealthy", "draining"].contains(&t.state.as_str()) {
                    self.push(Problem::new(
                        path!["smoke", i, "targets", "state"],
                        At::Value,
                        format!("unknown target state `{}`, expected one of `initial`, `healthy`, `unhealthy`, `draining`", t.state),
                    ));
                }
            }
            if let Some(poll) = &step.poll
                && (poll.interval.0.is_zero() || poll.interval > poll.deadline)
            {
                self.push(Problem::new(
                    path!["smoke", i, "poll", "interval"],
                    At::Value,
                    format!(
                        "poll interval ({}) must be above zero and at most the deadline ({})",
                        poll.interval, poll.deadline
                    ),
                ));
            }
        }
    }
}

/// The names in `{{NAME}}` placeholders.
pub fn template_refs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// The CPU/memory pairs Fargate accepts (MiB).
/// Whether ECS takes `name` as a family or container name.
fn ecs_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("must be 1–255 characters".into());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(format!("has `{c}`; ECS takes letters, digits, `-` and `_`")),
        None => Ok(()),
    }
}

/// Whether the ALB takes `name` as its own or a target group's name.
fn alb_name(name: &str) -> Result<(), String> {
    if name.len() > 32 {
        return Err(format!(
            "is {} characters; the ALB takes at most 32",
            name.len()
        ));
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') {
        return Err("must not be empty, begin or end with `-`".into());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(c) => Err(format!("has `{c}`; the ALB takes letters, digits and `-`")),
        None => Ok(()),
    }
}

pub fn fargate_size(cpu: u32, memory: u32) -> Result<(), String> {
    let allowed: Vec<u32> = match cpu {
        256 => vec![512, 1024, 2048],
        512 => (1..=4).map(|g| g * 1024).collect(),
        1024 => (2..=8).map(|g| g * 1024).collect(),
        2048 => (4..=16).map(|g| g * 1024).collect(),
        4096 => (8..=30).map(|g| g * 1024).collect(),
        8192 => (4..=15).map(|g| g * 4096).collect(),
        16384 => (4..=15).map(|g| g * 8192).collect(),
        _ => {
            return Err(format!(
                "Fargate has no task size with cpu {cpu}; cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384"
            ));
        }
    };
    if allowed.contains(&memory) {
        Ok(())
    } else {
        let (lo, hi) = (allowed[0], allowed[allowed.len() - 1]);
        let step = if allowed.len() > 1 {
            allowed[1] - allowed[0]
        } else {
            0
        };
        Err(format!(
            "Fargate cpu {cpu} takes memory {lo}–{hi} MiB in steps of {step}, found {memory}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes() {
        assert!(fargate_size(256, 512).is_ok());
        assert!(fargate_size(512, 4096).is_ok());
        assert_eq!(
            fargate_size(256, 4096).unwrap_err(),
            "Fargate cpu 256 takes memory 512–2048 MiB in steps of 512, found 4096"
        );
        assert!(
            fargate_size(300, 1024)
                .unwrap_err()
                .contains("no task size with cpu 300")
        );
    }

    #[test]
    fn template_references() {
        assert_eq!(
            template_refs("postgresql://u:{{ PW }}@h/{{DB}}"),
            vec!["PW", "DB"]
        );
        assert_eq!(template_refs("no refs {{ unterminated"), Vec::<&str>::new());
    }

    #[test]
    fn region_names() {
        assert!(looks_like_region("us-east-1"));
        assert!(looks_like_region("ap-southeast-2"));
        assert!(!looks_like_region("useast1"));
        assert!(!looks_like_region("US-EAST-1"));
    }
}
