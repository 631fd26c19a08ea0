//! The edit loop's decisions, pure: a burst of file events batched until
//! the tree is quiet (`Debounce`), and a batch of changed files turned into
//! what to do per service (`plan`): files to copy or delete in its
//! containers, then restart, exec or nothing; or a rebuild of the image.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::stack::develop::WatchSet;
use crate::stack::{Stack, WatchAction};

/// Batches file events: a batch is due once no event came for `quiet`, or
/// `at_most` after its first event however busy the tree stays (a long
/// save-all, a `git checkout`). Times are offsets from any fixed start,
/// so the caller's clock (tokio's, paused in tests) drives it.
#[derive(Debug)]
pub struct Debounce {
    quiet: Duration,
    at_most: Duration,
    first: Option<Duration>,
    last: Duration,
    paths: BTreeSet<String>,
}

impl Debounce {
    pub fn new(quiet: Duration, at_most: Duration) -> Debounce {
        Debounce {
            quiet,
            at_most,
            first: None,
            last: Duration::ZERO,
            paths: BTreeSet::new(),
        }
    }

    pub fn push(&mut self, path: String, now: Duration) {
        self.first.get_or_insert(now);
        self.last = now;
        self.paths.insert(path);
    }

    /// When the pending batch is due, if one is pending.
    pub fn due_at(&self) -> Option<Duration> {
        let first = self.first?;
        Some((self.last + self.quiet).min(first + self.at_most))
    }

    /// The batch's paths (each once, sorted) if it is due at `now`.
    pub fn take_if_due(&mut self, now: Duration) -> Option<Vec<String>> {
        if self.due_at()? > now {
            return None;
        }
        self.first = None;
        Some(std::mem::take(&mut self.paths).into_iter().collect())
    }
}

/// One changed file, relative to stack.yaml, and whether it is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub rel: String,
    pub deleted: bool,
}

/// What follows the copy in a service's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    Nothing,
    Exec(Vec<String>),
    Restart,
}

/// One service's share of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceWork {
    pub service: String,
    /// (file relative to stack.yaml, path in the container).
    pub copy: Vec<(String, String)>,
    /// (file relative to stack.yaml, path in the container) to remove.
    pub delete: Vec<(String, String)>,
    pub then: Then,
}

impl ServiceWork {
    /// The files (relative to stack.yaml) this work copies or removes.
    pub fn files(&self) -> Vec<String> {
        self.copy
            .iter()
            .chain(self.delete.iter())
            .map(|(rel, _)| rel.clone())
            .collect()
    }
}

/// What one batch of changes asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchPlan {
    /// The files that ask for a new image, by the build they rebuild
    /// (empty: no rebuild).
    pub rebuild: BTreeMap<String, Vec<String>>,
    pub services: Vec<ServiceWork>,
    /// Files no rule covers (or ignored by one), for `-v`.
    pub unmatched: Vec<String>,
}

impl WatchPlan {
    pub fn is_empty(&self) -> bool {
        self.rebuild.is_empty() && self.services.is_empty()
    }
}

/// Turns a batch into work. A file lands once per service, at the target
/// of the first sync rule it falls under; a service's strongest action
/// wins (restart over exec over a plain sync). A rebuild replaces every
/// service that runs the rebuilt image, so their syncs and restarts are
/// left to it; services on other images still get theirs.
pub fn plan(stack: &Stack, rules: &WatchSet, changes: &[Change]) -> WatchPlan {
    let mut out = WatchPlan::default();
    let mut work: BTreeMap<usize, ServiceWork> = BTreeMap::new();
    for change in changes {
        let hits = rules.hits(&change.rel);
        if hits.is_empty() {
            out.unmatched.push(change.rel.clone());
        }
        for hit in hits {
            if hit.action == WatchAction::Rebuild {
                // validate refuses a rebuild rule on an external image
                if let Some(build) = &hit.build {
                    let files = out.rebuild.entry(build.clone()).or_default();
                    if !files.contains(&change.rel) {
                        files.push(change.rel.clone());
                    }
                }
                continue;
            }
            let order = stack
                .services
                .get_index_of(&hit.service)
                .unwrap_or(usize::MAX);
            let w = work.entry(order).or_insert_with(|| ServiceWork {
                service: hit.service.clone(),
                copy: Vec::new(),
                delete: Vec::new(),
                then: Then::Nothing,
            });
            if let Some(target) = &hit.target {
                let placed = w
                    .copy
                    .iter()
                    .chain(w.delete.iter())
                    .any(|(rel, _)| *rel == change.rel);
                if !placed {
                    if change.deleted {
                        w.delete.push((change.rel.clone(), target.clone()));
                    } else {
                        w.copy.push((change.rel.clone(), target.clone()));
                    }
                }
            }
            let then = match hit.action {
                WatchAction::SyncRestart | WatchAction::Restart => Then::Restart,
                WatchAction::SyncExec => stack.services[&hit.service].develop.watch[hit.index]
                    .exec
                    .as_ref()
                    .map(|e| Then::Exec(e.command.0.clone()))
                    .unwrap_or(Then::Nothing),
                _ => Then::Nothing,
            };
            w.then = match (&w.then, then) {
                (Then::Restart, _) | (_, Then::Restart) => Then::Restart,
                (Then::Exec(c), _) => Then::Exec(c.clone()),
                (_, t) => t,
            };
        }
    }
    let rebuilt = |service: &str| {
        stack
            .build_of(service)
            .is_some_and(|b| out.rebuild.contains_key(b))
    };
    out.services = work
        .into_values()
        .filter(|w| !rebuilt(&w.service))
        .filter(|w| !(w.copy.is_empty() && w.delete.is_empty() && w.then == Then::Nothing))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerignore::Rules;
    use crate::stack::develop::BuildContext;

    fn stack() -> Stack {
        serde_json::from_value(serde_json::json!({
            "name": "s",
            "image": {},
            "services": {
                "api": { "develop": { "watch": [
                    { "path": "genonaut/api", "action": "sync+restart", "target": "/app/genonaut/api" },
                    { "path": "genonaut", "action": "sync", "target": "/app/genonaut", "ignore": ["worker/"] },
                    { "path": "requirements.txt", "action": "rebuild" },
                ]}},
                "celery": { "develop": { "watch": [
                    { "path": "genonaut/worker", "action": "sync+exec", "target": "/app/genonaut/worker",
                      "exec": { "command": ["kill", "-HUP", "1"] } },
                    { "path": "config", "action": "sync+restart", "target": "/app/config" },
                ]}},
                "nginx": { "image": "nginx", "develop": { "watch": [
                    { "path": "config", "action": "sync", "target": "/etc/app" },
                ]}},
            }
        }))
        .unwrap()
    }

    fn rules(s: &Stack) -> WatchSet {
        WatchSet::with_contexts(
            s,
            [(
                "image".to_string(),
                BuildContext {
                    dir: String::new(),
                    dockerfile: "Dockerfile".into(),
                    ignore: Rules::empty(),
                },
            )]
            .into(),
        )
    }

    fn change(rel: &str) -> Change {
        Change {
            rel: rel.into(),
            deleted: false,
        }
    }

    #[test]
    fn a_file_lands_once_per_service_and_the_strongest_action_wins() {
        let s = stack();
        let p = plan(
            &s,
            &rules(&s),
            &[
                change("genonaut/api/main.py"),
                change("genonaut/jobs.py"),
                Change {
                    rel: "genonaut/worker/old.py".into(),
                    deleted: true,
                },
                change("README.md"),
            ],
        );
        assert_eq!(
            p,
            WatchPlan {
                rebuild: BTreeMap::new(),
                services: vec![
                    ServiceWork {
                        service: "api".into(),
                        copy: vec![
                            (
                                "genonaut/api/main.py".into(),
                                "/app/genonaut/api/main.py".into()
                            ),
                            ("genonaut/jobs.py".into(), "/app/genonaut/jobs.py".into()),
                        ],
                        delete: vec![],
                        then: Then::Restart,
                    },
                    ServiceWork {
                        service: "celery".into(),
                        copy: vec![],
                        delete: vec![(
                            "genonaut/worker/old.py".into(),
                            "/app/genonaut/worker/old.py".into()
                        )],
                        then: Then::Exec(vec!["kill".into(), "-HUP".into(), "1".into()]),
                    },
                ],
                unmatched: vec!["README.md".into()],
            }
        );
    }

    #[test]
    fn a_rebuild_replaces_only_the_services_of_its_build() {
        let s: Stack = serde_json::from_value(serde_json::json!({
            "name": "s",
            "builds": { "api": { "context": "api" }, "web": { "context": "web" } },
            "services": {
                "api": { "build": "api", "develop": { "watch": [
                    { "path": "api/requirements.txt", "action": "rebuild" },
                    { "path": "shared", "action": "sync+restart", "target": "/app/shared" },
                ]}},
                "worker": { "build": "api" },
                "web": { "build": "web", "develop": { "watch": [
                    { "path": "shared", "action": "sync+restart", "target": "/srv/shared" },
                ]}},
            }
        }))
        .unwrap();
        let context = |dir: &str| BuildContext {
            dir: dir.into(),
            dockerfile: format!("{dir}/Dockerfile"),
            ignore: Rules::empty(),
        };
        let rules = WatchSet::with_contexts(
            &s,
            [
                ("api".to_string(), context("api")),
                ("web".to_string(), context("web")),
            ]
            .into(),
        );
        let p = plan(
            &s,
            &rules,
            &[change("api/requirements.txt"), change("shared/util.py")],
        );
        assert_eq!(
            p.rebuild,
            BTreeMap::from([("api".to_string(), vec!["api/requirements.txt".to_string()])])
        );
        assert_eq!(
            p.services
                .iter()
                .map(|w| w.service.as_str())
                .collect::<Vec<_>>(),
            ["web"],
            "api is replaced by the rebuild of its build; web, on another build, gets its sync"
        );
    }

    #[test]
    fn a_rebuild_takes_over_the_services_on_the_stack_image_only() {
        let s = stack();
        let p = plan(
            &s,
            &rules(&s),
            &[
                change("requirements.txt"),
                change("genonaut/api/main.py"),
                change("config/local.json"),
            ],
        );
        assert_eq!(
            p.rebuild,
            BTreeMap::from([("image".to_string(), vec!["requirements.txt".to_string()])])
        );
        assert_eq!(
            p.services
                .iter()
                .map(|w| w.service.as_str())
                .collect::<Vec<_>>(),
            ["nginx"],
            "api and celery are replaced by the rebuild; nginx runs another image"
        );
    }

    #[test]
    fn a_burst_is_one_batch_once_quiet_and_a_busy_tree_is_cut_at_the_limit() {
        let ms = Duration::from_millis;
        let mut d = Debounce::new(ms(100), ms(1000));
        assert_eq!(d.due_at(), None);
        for i in 0..100 {
            d.push(format!("f{}", i % 10), ms(i));
        }
        assert_eq!(
            d.take_if_due(ms(150)),
            None,
            "99 + 100 ms of quiet not reached"
        );
        let batch = d.take_if_due(ms(199)).unwrap();
        assert_eq!(batch.len(), 10, "each path once");
        assert_eq!(d.due_at(), None);
        // An event every 50 ms for 3 s: cut at 1 s after the first.
        for i in 0..60 {
            d.push("busy".into(), ms(1000 + i * 50));
            if i * 50 >= 1000 {
                break;
            }
        }
        assert_eq!(d.due_at(), Some(ms(2000)));
    }
}
