//! `geno up`'s reconcile state machine, pure: per service, its planned
//! actions and where it stands (pending → launching → launched, then
//! waiting → started → ready or completed, or failed); which services may
//! launch now (their `depends_on` conditions hold); and, when time runs
//! out, what each is still waiting for. The caller observes containers and
//! launches them; time is passed in as "since `up` began".

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::plan::{self, Action, InPlace, Progress};
use crate::stack::{Condition, ServiceKind, Stack};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    Pending,
    Launching,
    Launched,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    pub has_health: bool,
    pub deps: Vec<(String, Condition)>,
    pub actions: Vec<Action>,
    pub state: Launch,
    /// Its containers, once launched (or kept).
    pub ids: Vec<String>,
    pub progress: Progress,
    pub launched_at: Option<Duration>,
    pub ready_after: Option<Duration>,
    /// Something about it is created, replaced or started.
    pub changed: bool,
}

/// A service reached its goal (ready, or completed for a job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub service: String,
    /// `healthy`, `running` or `completed`.
    pub word: &'static str,
    pub after: Duration,
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct Reconcile {
    pub services: Vec<Service>,
    /// Containers whose process was restarted in place (`InPlace::Respawn`),
    /// by ID, with how.
    pub respawned: Vec<(String, crate::local::init::Respawned)>,
}

impl Reconcile {
    /// Every service of the stack with its actions; unchanged services
    /// count as launched (their containers run already).
    pub fn new(stack: &Stack, actions: Vec<Action>) -> Reconcile {
        let all: Vec<String> = stack.services.keys().cloned().collect();
        Reconcile::only(stack, &all, actions)
    }

    /// As `new`, for the named services alone: the rest of the stack is
    /// neither launched nor waited for, and a dependency outside the
    /// selection counts as met (it is not this reconcile's to manage).
    pub fn only(stack: &Stack, selected: &[String], actions: Vec<Action>) -> Reconcile {
        let mut by_service: BTreeMap<String, Vec<Action>> = BTreeMap::new();
        for a in actions {
            if let Some(service) = a.service() {
                by_service.entry(service.to_string()).or_default().push(a);
            }
        }
        let services = stack
            .services
            .iter()
            .filter(|(name, _)| selected.contains(name))
            .map(|(name, svc)| {
                let actions = by_service.remove(name).unwrap_or_default();
                let changed = actions.iter().any(Action::changes_something);
                let ids = actions
                    .iter()
                    .filter_map(|a| match a {
                        Action::Keep { id, .. }
                        | Action::AsIs {
                            id,
                            how: InPlace::Leave,
                            ..
                        } => Some(id.clone()),
                        _ => None,
                    })
                    .collect();
                Service {
                    name: name.clone(),
                    kind: svc.kind,
                    has_health: svc.healthcheck.is_some(),
                    deps: svc.service_deps().map(|(d, c)| (d.clone(), *c)).collect(),
                    state: if changed {
                        Launch::Pending
                    } else {
                        Launch::Launched
                    },
                    launched_at: (!changed).then_some(Duration::ZERO),
                    actions,
                    ids,
                    progress: Progress::Waiting,
                    ready_after: None,
                    changed,
                }
            })
            .collect();
        Reconcile {
            services,
            respawned: Vec::new(),
        }
    }

    /// The pending services whose dependencies' conditions hold, now
    /// marked launching: (name, actions) to carry out.
    pub fn launchable(&mut self, now: Duration) -> Vec<(String, Vec<Action>)> {
        let progress: HashMap<String, Progress> = self
            .services
            .iter()
            .map(|s| (s.name.clone(), s.progress.clone()))
            .collect();
        let mut out = Vec::new();
        for svc in self
            .services
            .iter_mut()
            .filter(|s| s.state == Launch::Pending)
        {
            let ready = svc.deps.iter().all(|(dep, cond)| match progress.get(dep) {
                Some(p) => plan::satisfied(*cond, p),
                None => true,
            });
            if ready {
                svc.state = Launch::Launching;
                svc.launched_at = Some(now);
                out.push((svc.name.clone(), svc.actions.clone()));
            }
        }
        out
    }

    /// A launch finished: these are the service's containers.
    pub fn launched(&mut self, service: &str, ids: Vec<String>) {
        if let Some(svc) = self.services.iter_mut().find(|s| s.name == service) {
            svc.ids = ids;
            svc.state = Launch::Launched;
        }
    }

    /// The launched services and their containers, to observe.
    pub fn to_observe(&self) -> Vec<(String, Vec<String>)> {
        self.services
            .iter()
            .filter(|s| s.state == Launch::Launched)
            .map(|s| (s.name.clone(), s.ids.clone()))
            .collect()
    }

    /// What observing a service's containers showed; `Some` the first time
    /// it reaches its goal.
    pub fn observed(
        &mut self,
        service: &str,
        observations: &[plan::Observation],
        now: Duration,
    ) -> Option<Reached> {
        let svc = self.services.iter_mut().find(|s| s.name == service)?;
        svc.progress = plan::progress(svc.kind, svc.has_health, observations);
        if !plan::done(svc.kind, &svc.progress) || svc.ready_after.is_some() {
            return None;
        }
        let after = now.saturating_sub(svc.launched_at.unwrap_or_default());
        svc.ready_after = Some(after);
        Some(Reached {
            service: svc.name.clone(),
            word: state_word(svc),
            after,
            changed: svc.changed,
        })
    }

    /// The first failed service and why.
    pub fn failed(&self) -> Option<(&Service, &str)> {
        self.services.iter().find_map(|s| match &s.progress {
            Progress::Failed(why) => Some((s, why.as_str())),
            _ => None,
        })
    }

    /// Every service reached its goal.
    pub fn done(&self) -> bool {
        self.services
            .iter()
            .all(|s| plan::done(s.kind, &s.progress))
    }

    /// `service (reason)` for each service not done yet.
    pub fn waiting(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| !plan::done(s.kind, &s.progress))
            .map(|s| format!("{} ({})", s.name, waiting_reason(s)))
            .collect()
    }

    pub fn changed(&self) -> usize {
        self.services.iter().filter(|s| s.changed).count()
    }
}

/// How a service that reached its goal is described.
pub fn state_word(svc: &Service) -> &'static str {
    match (&svc.progress, svc.has_health) {
        (Progress::Completed, _) => "completed",
        (Progress::Ready, true) => "healthy",
        (Progress::Ready, false) => "running",
        _ => "starting",
    }
}

fn waiting_reason(svc: &Service) -> String {
    match (&svc.state, &svc.progress) {
        (Launch::Pending, _) => {
            let deps: Vec<String> = svc
                .deps
                .iter()
                .map(|(d, c)| {
                    let word = match c {
                        Condition::Started => "started",
                        Condition::Healthy => "healthy",
                        Condition::CompletedSuccessfully => "completed",
                    };
                    format!("{d} {word}")
                })
                .collect();
            format!("waiting for {}", deps.join(", "))
        }
        (Launch::Launching, _) => "creating containers".into(),
        (Launch::Launched, Progress::Started) if svc.kind == ServiceKind::Job => {
            "still running".into()
        }
        (Launch::Launched, Progress::Started) => "health check not passing yet".into(),
        (Launch::Launched, p) => format!("{p:?}").to_lowercase(),
    }
}

/// How a set of actions is described when a service starts.
pub fn describe_actions(name: &str, actions: &[Action]) -> String {
    let mut parts = Vec::new();
    let count = |f: fn(&Action) -> bool| actions.iter().filter(|a| f(a)).count();
    let created = count(|a| matches!(a, Action::Create { .. }));
    let replaced = count(|a| matches!(a, Action::Replace { .. }));
    let started = count(|a| {
        matches!(
            a,
            Action::Start { .. }
                | Action::AsIs {
                    how: InPlace::Start,
                    ..
                }
        )
    });
    let restarted = count(|a| {
        matches!(
            a,
            Action::AsIs {
                how: InPlace::Restart,
                ..
            }
        )
    });
    if created > 0 {
        parts.push(format!("create {created}"));
    }
    if replaced > 0 {
        let why = actions
            .iter()
            .find_map(|a| match a {
                Action::Replace { why, .. } => Some(why.as_str()),
                _ => None,
            })
            .unwrap_or("");
        parts.push(format!("replace {replaced}: {why}"));
    }
    if started > 0 {
        parts.push(format!("start {started}"));
    }
    if restarted > 0 {
        parts.push(format!("restart {restarted}"));
    }
    format!("{name} ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::plan::{DesiredContainer, Observation, desired_containers};
    use crate::stack::load::{Source, load_source};
    use std::collections::BTreeMap;

    /// db (healthy) ← migrate (job) ← api (healthy), worker needs db started.
    fn stack() -> Stack {
        let text = "name: r\nimage: {context: .}\nservices:\n  \
            db:\n    image: postgres\n    healthcheck: {test: [CMD, pg_isready]}\n  \
            migrate:\n    kind: job\n    command: [migrate]\n    depends_on: {db: healthy}\n  \
            api:\n    command: [serve]\n    healthcheck: {test: [CMD, check]}\n    \
            depends_on: {migrate: completed_successfully}\n  \
            worker:\n    command: [work]\n    depends_on: [db]\n";
        let source = Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        load_source(source, "local", &BTreeMap::new(), &BTreeMap::new())
            .unwrap()
            .stack
    }

    fn desired(stack: &Stack) -> Vec<DesiredContainer> {
        desired_containers(
            stack,
            &crate::spec::only_image("sha256:i"),
            &BTreeMap::new(),
            "/p".as_ref(),
        )
    }

    fn running(health: Option<&str>) -> Observation {
        Observation {
            state: "running".into(),
            health: health.map(str::to_string),
            running_for: Duration::from_secs(5),
            ..Default::default()
        }
    }

    fn exited(code: i64) -> Observation {
        Observation {
            state: "exited".into(),
            exit_code: Some(code),
            ..Default::default()
        }
    }

    fn names(l: &[(String, Vec<Action>)]) -> Vec<&str> {
        l.iter().map(|(n, _)| n.as_str()).collect()
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn services_launch_as_their_conditions_hold() {
        let stack = stack();
        let mut r = Reconcile::new(&stack, plan::plan(&desired(&stack), &[]));
        assert_eq!(names(&r.launchable(S(0))), ["db"]);
        assert!(r.launchable(S(0)).is_empty(), "launching is not pending");
        r.launched("db", vec!["c-db".into()]);
        assert_eq!(
            r.to_observe(),
            [("db".to_string(), vec!["c-db".to_string()])]
        );
        // Started but not healthy: `worker` (started) may go, not `migrate`.
        assert_eq!(r.observed("db", &[running(Some("starting"))], S(1)), None);
        assert_eq!(names(&r.launchable(S(1))), ["worker"]);
        let reached = r.observed("db", &[running(Some("healthy"))], S(4)).unwrap();
        assert_eq!(
            reached,
            Reached {
                service: "db".into(),
                word: "healthy",
                after: S(4),
                changed: true
            }
        );
        assert_eq!(
            r.observed("db", &[running(Some("healthy"))], S(5)),
            None,
            "said once"
        );
        assert_eq!(names(&r.launchable(S(5))), ["migrate"]);
        r.launched("migrate", vec!["c-m".into()]);
        r.observed("migrate", &[exited(0)], S(7)).unwrap();
        assert_eq!(names(&r.launchable(S(7))), ["api"]);
        assert!(!r.done());
        assert_eq!(
            r.waiting(),
            ["api (creating containers)", "worker (creating containers)"]
        );
    }

    #[test]
    fn a_failed_job_is_the_failure_and_dependents_wait_for_it() {
        let stack = stack();
        let mut r = Reconcile::new(&stack, plan::plan(&desired(&stack), &[]));
        r.launchable(S(0));
        r.launched("db", vec!["c-db".into()]);
        r.observed("db", &[running(Some("healthy"))], S(1));
        r.launchable(S(1));
        r.launched("migrate", vec!["c-m".into()]);
        r.observed("migrate", &[exited(3)], S(2));
        let (svc, why) = r.failed().unwrap();
        assert_eq!((svc.name.as_str(), why), ("migrate", "exited with code 3"));
        assert!(
            r.waiting()
                .contains(&"api (waiting for migrate completed)".to_string())
        );
    }

    #[test]
    fn an_unchanged_stack_launches_nothing_and_is_done_once_observed() {
        let stack = stack();
        let desired = desired(&stack);
        let actual: Vec<_> = desired
            .iter()
            .map(|d| plan::Actual {
                id: format!("id-{}", d.name),
                name: d.name.clone(),
                service: Some(d.service.clone()),
                hash: Some(d.hash()),
                kind: if d.kind == ServiceKind::Job {
                    "job"
                } else {
                    "service"
                }
                .into(),
                state: if d.kind == ServiceKind::Job {
                    "exited"
                } else {
                    "running"
                }
                .into(),
                exit_code: Some(0),
            })
            .collect();
        let mut r = Reconcile::new(&stack, plan::plan(&desired, &actual));
        assert_eq!(r.changed(), 0);
        assert!(r.launchable(S(0)).is_empty());
        for (name, ids) in r.to_observe() {
            let o = if name == "migrate" {
                exited(0)
            } else {
                running(Some("healthy"))
            };
            let obs = vec![o; ids.len()];
            let reached = r.observed(&name, &obs, S(0)).unwrap();
            assert!(!reached.changed);
        }
        assert!(r.done());
    }

    #[test]
    fn actions_are_described_by_what_they_do() {
        let stack = stack();
        let d = desired(&stack);
        let create = Action::Create {
            desired: d[0].clone(),
        };
        let replace = Action::Replace {
            old: "x".into(),
            desired: d[0].clone(),
            why: "definition changed".into(),
        };
        assert_eq!(
            describe_actions("db", &[create, replace]),
            "db (create 1, replace 1: definition changed)"
        );
    }
}
