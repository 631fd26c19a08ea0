//! What `develop.watch` rules mean for the files beside stack.yaml: the
//! checks that need those files (a rule's `path` exists; a `rebuild` path
//! is part of the build context) and which rules a changed file falls
//! under, with `ignore` and `.dockerignore` applied.

use std::path::Path;

use super::diag::{At, Problem};
use super::model::{ImageBuild, Stack, WatchAction, WatchRule};
use crate::dockerignore::Rules;
use crate::path;

/// Normalises a rule's or a changed file's path relative to stack.yaml's
/// folder: `/`-separated, no `.` segments, no trailing slash.
pub fn clean(path: &str) -> String {
    path.split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `rel` relative to `base` when it lies at or below it (both cleaned).
pub fn below<'a>(rel: &'a str, base: &str) -> Option<&'a str> {
    if base.is_empty() {
        return Some(rel);
    }
    if rel == base {
        return Some("");
    }
    rel.strip_prefix(base)?.strip_prefix('/')
}

/// A build's context (relative to stack.yaml) and its `.dockerignore`.
#[derive(Debug, Clone)]
pub struct BuildContext {
    pub dir: String,
    pub dockerfile: String,
    pub ignore: Rules,
}

impl BuildContext {
    pub fn read(build: &ImageBuild, dir: &Path) -> BuildContext {
        let context = clean(&build.context);
        let ignore = std::fs::read_to_string(dir.join(&context).join(".dockerignore"))
            .map(|t| Rules::parse(&t))
            .unwrap_or_else(|_| Rules::empty());
        BuildContext {
            dockerfile: clean(&format!("{context}/{}", build.dockerfile)),
            dir: context,
            ignore,
        }
    }

    /// Whether a file (relative to stack.yaml) goes into the image build:
    /// inside the context and not left out by `.dockerignore` (the
    /// Dockerfile always counts).
    pub fn includes(&self, rel: &str) -> bool {
        if rel == self.dockerfile {
            return true;
        }
        below(rel, &self.dir).is_some_and(|inner| !inner.is_empty() && !self.ignore.excluded(inner))
    }
}

/// Each build's context, by build name.
pub fn contexts(stack: &Stack, dir: &Path) -> std::collections::BTreeMap<String, BuildContext> {
    stack
        .all_builds()
        .into_iter()
        .map(|(name, b)| (name.to_string(), BuildContext::read(b, dir)))
        .collect()
}

/// The checks on `develop.watch` that need the files: every `path` exists,
/// and a `rebuild` path can change the service's image.
pub fn check_paths(stack: &Stack, dir: &Path) -> Vec<Problem> {
    let contexts = contexts(stack, dir);
    let mut problems = Vec::new();
    for (name, svc) in &stack.services {
        let context = stack
            .build_of(name)
            .and_then(|b| contexts.get(b).map(|c| (b, c)));
        for (i, rule) in svc.develop.watch.iter().enumerate() {
            let rel = clean(&rule.path);
            let at = path!["services", name, "develop", "watch", i, "path"];
            if rule.path.trim().is_empty() {
                continue; // said by validate
            }
            if rule.path.starts_with('/') || rule.path.split('/').any(|s| s == "..") {
                problems.push(Problem::new(
                    at,
                    At::Value,
                    format!(
                        "path must be relative to stack.yaml's folder and stay inside it, found `{}`",
                        rule.path
                    ),
                ));
                continue;
            }
            if !dir.join(&rel).exists() {
                problems.push(Problem::new(
                    at,
                    At::Value,
                    format!(
                        "`{}` does not exist (paths are relative to stack.yaml's folder)",
                        rule.path
                    ),
                ));
                continue;
            }
            let Some((build, context)) = context else {
                continue; // a rebuild on an external image: said by validate
            };
            if rule.action == WatchAction::Rebuild && !in_context(context, &rel, dir) {
                let whose = if stack.names_builds() {
                    format!("the build context of build `{build}`, which `{name}` runs")
                } else {
                    "the image's build context".to_string()
                };
                problems.push(
                    Problem::new(
                        at,
                        At::Value,
                        format!(
                            "`{}` is not part of {whose}, so a change there cannot change the image",
                            rule.path
                        ),
                    )
                    .help(format!(
                        "the context is `{}`{}; watch a path inside it, or use `restart`",
                        if context.dir.is_empty() { "." } else { &context.dir },
                        " with its .dockerignore applied"
                    )),
                );
            }
        }
    }
    problems
}

/// Whether `rel` (a file, or a directory with at least one file) is in the context.
fn in_context(context: &BuildContext, rel: &str, dir: &Path) -> bool {
    if context.includes(rel) {
        return true;
    }
    // A directory the context leaves out as such may still have files let
    // back in by an exception; one is enough.
    let full = dir.join(rel);
    let Some(inner) = below(rel, &context.dir) else {
        return false;
    };
    full.is_dir()
        && context.ignore.may_reinclude_below(inner)
        && any_file_included(context, &full, rel)
}

fn any_file_included(context: &BuildContext, full: &Path, rel: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(full) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let child = format!("{rel}/{name}");
        if e.path().is_dir() {
            any_file_included(context, &e.path(), &child)
        } else {
            context.includes(&child)
        }
    })
}

/// A rule's compiled form: its path, ignore patterns and where files land.
#[derive(Debug, Clone)]
pub struct Watched {
    pub service: String,
    /// The build the service runs (none: an external image).
    pub build: Option<String>,
    pub index: usize,
    pub rule: WatchRule,
    path: String,
    ignore: Rules,
}

/// Every watch rule of a stack, ready to match changed files against.
pub struct WatchSet {
    pub rules: Vec<Watched>,
    contexts: std::collections::BTreeMap<String, BuildContext>,
}

/// What a changed file means for one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub service: String,
    /// The rule's index in the service's `develop.watch`.
    pub index: usize,
    pub action: WatchAction,
    /// The build the service runs (what a `rebuild` rebuilds).
    pub build: Option<String>,
    /// For sync actions, where the file goes in the container.
    pub target: Option<String>,
}

impl WatchSet {
    pub fn new(stack: &Stack, dir: &Path) -> WatchSet {
        WatchSet::with_contexts(stack, contexts(stack, dir))
    }

    pub fn with_contexts(
        stack: &Stack,
        contexts: std::collections::BTreeMap<String, BuildContext>,
    ) -> WatchSet {
        let rules = stack
            .services
            .iter()
            .flat_map(|(name, svc)| {
                let build = stack.build_of(name).map(str::to_string);
                svc.develop
                    .watch
                    .iter()
                    .enumerate()
                    .map(move |(index, rule)| Watched {
                        service: name.clone(),
                        build: build.clone(),
                        index,
                        path: clean(&rule.path),
                        ignore: Rules::parse(&rule.ignore.join("\n")),
                        rule: rule.clone(),
                    })
            })
            .collect();
        WatchSet { rules, contexts }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules' paths (relative to stack.yaml), each once.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.rules.iter().map(|r| r.path.clone()).collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// The rules a changed file (relative to stack.yaml) falls under. A
    /// file inside a service's build context that `.dockerignore` leaves
    /// out is never synced into it (the image would not have it either),
    /// nor does it rebuild; the Dockerfile always counts for `rebuild`.
    pub fn hits(&self, rel: &str) -> Vec<Hit> {
        let rel = clean(rel);
        let left_out = |build: &Option<String>| {
            build
                .as_ref()
                .and_then(|b| self.contexts.get(b))
                .is_some_and(|c| below(&rel, &c.dir).is_some() && !c.includes(&rel))
        };
        self.rules
            .iter()
            .filter_map(|w| {
                if left_out(&w.build) {
                    return None;
                }
                let inner = below(&rel, &w.path)?;
                if !inner.is_empty() && w.ignore.excluded(inner) {
                    return None;
                }
                let target = w
                    .rule
                    .target
                    .as_ref()
                    .filter(|_| w.rule.action.syncs())
                    .map(|t| {
                        let t = t.trim_end_matches('/');
                        if inner.is_empty() {
                            t.to_string()
                        } else {
                            format!("{t}/{inner}")
                        }
                    });
                Some(Hit {
                    service: w.service.clone(),
                    index: w.index,
                    action: w.rule.action,
                    build: w.build.clone(),
                    target,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::{ImageBuild, Service};

    fn rule(path: &str, action: WatchAction, target: Option<&str>, ignore: &[&str]) -> WatchRule {
        WatchRule {
            path: path.into(),
            action,
            target: target.map(str::to_string),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            exec: None,
            initial_sync: false,
        }
    }

    fn stack(rules: Vec<(&str, WatchRule)>) -> Stack {
        let mut stack: Stack = serde_json::from_value(serde_json::json!({
            "name": "s", "image": {}, "services": {}
        }))
        .unwrap();
        for (svc, r) in rules {
            stack
                .services
                .entry(svc.to_string())
                .or_insert_with(|| {
                    serde_json::from_value::<Service>(serde_json::json!({})).unwrap()
                })
                .develop
                .watch
                .push(r);
        }
        stack.image = Some(ImageBuild {
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            args: Default::default(),
            target: None,
            platform: None,
        });
        stack
    }

    fn set(rules: Vec<(&str, WatchRule)>, dockerignore: &str) -> WatchSet {
        let s = stack(rules);
        WatchSet::with_contexts(
            &s,
            [(
                "image".to_string(),
                BuildContext {
                    dir: String::new(),
                    dockerfile: "Dockerfile".into(),
                    ignore: Rules::parse(dockerignore),
                },
            )]
            .into(),
        )
    }

    fn genonaut() -> WatchSet {
        set(
            vec![
                (
                    "api",
                    rule(
                        "genonaut/api",
                        WatchAction::SyncRestart,
                        Some("/app/genonaut/api"),
                        &[],
                    ),
                ),
                (
                    "api",
                    rule(
                        "./genonaut/",
                        WatchAction::Sync,
                        Some("/app/genonaut/"),
                        &["worker/", "*.md"],
                    ),
                ),
                (
                    "api",
                    rule("requirements.txt", WatchAction::Rebuild, None, &[]),
                ),
                ("api", rule("Dockerfile", WatchAction::Rebuild, None, &[])),
                (
                    "celery",
                    rule(
                        "genonaut/worker",
                        WatchAction::SyncRestart,
                        Some("/app/genonaut/worker"),
                        &[],
                    ),
                ),
            ],
            "*\n!genonaut/\n!requirements.txt\n**/__pycache__\n",
        )
    }

    #[test]
    fn a_file_maps_to_every_rule_it_falls_under_with_its_container_path() {
        let w = genonaut();
        assert_eq!(
            w.hits("genonaut/api/main.py"),
            [
                Hit {
                    service: "api".into(),
                    index: 0,
                    action: WatchAction::SyncRestart,
                    build: Some("image".into()),
                    target: Some("/app/genonaut/api/main.py".into()),
                },
                Hit {
                    service: "api".into(),
                    index: 1,
                    action: WatchAction::Sync,
                    build: Some("image".into()),
                    target: Some("/app/genonaut/api/main.py".into()),
                },
            ]
        );
        let worker = w.hits("genonaut/worker/queue_app.py");
        assert_eq!(
            worker
                .iter()
                .map(|h| (h.service.as_str(), h.index))
                .collect::<Vec<_>>(),
            [("celery", 0)],
            "the api's broad rule ignores worker/"
        );
        assert_eq!(w.hits("requirements.txt")[0].action, WatchAction::Rebuild);
        assert_eq!(w.hits("requirements.txt")[0].target, None);
    }

    #[test]
    fn ignore_patterns_and_dockerignore_leave_files_out_but_the_dockerfile_counts() {
        let w = genonaut();
        assert!(w.hits("genonaut/README.md").is_empty(), "ignore: *.md");
        assert!(
            w.hits("genonaut/api/__pycache__/main.cpython-311.pyc")
                .is_empty(),
            ".dockerignore"
        );
        assert!(w.hits("notes.txt").is_empty(), "no rule");
        assert!(
            w.hits("genonauts/x.py").is_empty(),
            "a prefix is not a parent"
        );
        assert_eq!(
            w.hits("Dockerfile").len(),
            1,
            "excluded by `*`, but always part of a build"
        );
    }

    #[test]
    fn a_rule_path_that_is_a_file_maps_to_its_target_itself() {
        let w = set(
            vec![(
                "api",
                rule(
                    "config/local.json",
                    WatchAction::SyncRestart,
                    Some("/app/config/local.json"),
                    &[],
                ),
            )],
            "",
        );
        assert_eq!(
            w.hits("config/local.json")[0].target.as_deref(),
            Some("/app/config/local.json")
        );
        assert!(w.hits("config/local.json.bak").is_empty());
    }

    #[test]
    fn paths_are_checked_against_the_files_and_the_build_context() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("genonaut/api")).unwrap();
        std::fs::create_dir_all(dir.path().join("docs")).unwrap();
        std::fs::write(dir.path().join("genonaut/api/main.py"), "").unwrap();
        std::fs::write(dir.path().join("docs/a.md"), "").unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "").unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "*\n!genonaut/\n").unwrap();
        let s = stack(vec![
            ("api", rule("genonaut", WatchAction::Rebuild, None, &[])),
            ("api", rule("Dockerfile", WatchAction::Rebuild, None, &[])),
            ("api", rule("docs", WatchAction::Rebuild, None, &[])),
            (
                "api",
                rule(
                    "genonaut/apii",
                    WatchAction::SyncRestart,
                    Some("/app/x"),
                    &[],
                ),
            ),
            (
                "api",
                rule("../elsewhere", WatchAction::Sync, Some("/app/x"), &[]),
            ),
        ]);
        let problems: Vec<String> = check_paths(&s, dir.path())
            .into_iter()
            .map(|p| format!("{}: {}", p.dotted_path(), p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "services.api.develop.watch[2].path: `docs` is not part of the image's build context, so a change there cannot change the image",
                "services.api.develop.watch[3].path: `genonaut/apii` does not exist (paths are relative to stack.yaml's folder)",
                "services.api.develop.watch[4].path: path must be relative to stack.yaml's folder and stay inside it, found `../elsewhere`",
            ]
        );
    }
}
