//! The one change runner for every verb that changes a deployed
//! environment (`promote`, `rollback`, `scale`): it owns the record, saved
//! at every phase, and the handles a change acts through (ECS, cluster,
//! watch settings, cancellation, shell). A verb says which moves it makes;
//! the runner sends them, watches them, and when any step fails puts back
//! every move it sent, through the same path whatever the verb. It ends
//! with the record and a success line or an error that names the record.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::rollout::{
    Alarms, RolloutError, Watch, Watching, bake, failed_outcome, watch_until_done,
};
use crate::aws::Ecs;
use crate::deploy::record::{self, CountRecord, Outcome, Record, ServiceRecord};
use crate::deploy::rollout::{ServiceStatus, short_arn};
use crate::deploy::scaling::Step as ScalingStep;
use crate::deploy::taskdef::{NetworkConfiguration, ServiceConnect, ServiceUpdate};
use crate::error::CliError;
use crate::shell::Shell;

/// What a change acts through, made once by the verb.
pub struct Handles<'a, E: Ecs> {
    pub ecs: &'a E,
    pub cluster: String,
    pub watch: Watch,
    /// Ctrl-C: the watch stops, and the moves sent are put back.
    pub cancel: &'a CancellationToken,
    pub shell: &'a Shell,
    /// The environment's records directory.
    pub records: PathBuf,
}

/// One move on one ECS service: what is sent, and what puts it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The ECS service.
    pub service: String,
    /// How the lines about it name it.
    pub label: String,
    pub forward: Send,
    /// `None` when there is nothing to go back to (a service with no task
    /// definition before).
    pub back: Option<Send>,
}

/// What a move sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Send {
    /// A task definition, with whatever service settings the update carries.
    Service(Box<ServiceUpdate>),
    /// A desired count alone; the service stays on `task_definition`.
    Count {
        from: i32,
        to: i32,
        task_definition: String,
    },
    /// Changes to the service's scaling or alarms (Application Auto
    /// Scaling, CloudWatch): done when sent, nothing to watch.
    Steps(Vec<ScalingStep>),
}

impl Send {
    /// The update the watch follows: the task definition the service must
    /// reach, at the count (if any) sent; none for scaling and alarms.
    fn watched(&self, cluster: &str, service: &str) -> Option<ServiceUpdate> {
        match self {
            Send::Service(u) => Some((**u).clone()),
            Send::Count {
                to,
                task_definition,
                ..
            } => Some(ServiceUpdate {
                desired_count: Some(*to),
                ..ServiceUpdate::task_definition_only(cluster, service, task_definition)
            }),
            Send::Steps(_) => None,
        }
    }
}

impl Move {
    /// A service to a new task definition (`update`), back to `was.before`.
    pub fn task_definition(cluster: &str, was: &ServiceRecord, update: ServiceUpdate) -> Move {
        let back = (!was.before.is_empty() && was.before != update.task_definition).then(|| {
            Send::Service(Box::new(ServiceUpdate::task_definition_only(
                cluster,
                &was.ecs_service,
                &was.before,
            )))
        });
        Move {
            service: was.ecs_service.clone(),
            label: was.ecs_service.clone(),
            forward: Send::Service(Box::new(update)),
            back,
        }
    }

    /// As `task_definition`, and when the update changes the service's
    /// Service Connect configuration, putting it back restores the one it
    /// had (off when it had none): the task definition it returns to may
    /// lack the named ports the new configuration refers to.
    pub fn restoring_connect(
        mut self,
        was: &ServiceRecord,
        before: Option<&ServiceConnect>,
    ) -> Move {
        let Send::Service(forward) = &self.forward else {
            return self;
        };
        let Some(wanted) = &forward.service_connect_configuration else {
            return self;
        };
        if was.before.is_empty() || before == Some(wanted) {
            return self;
        }
        let back = ServiceUpdate {
            service_connect_configuration: Some(before.cloned().unwrap_or(ServiceConnect {
                enabled: false,
                namespace: None,
                services: Vec::new(),
            })),
            ..ServiceUpdate::task_definition_only(&forward.cluster, &was.ecs_service, &was.before)
        };
        self.back = Some(Send::Service(Box::new(back)));
        self
    }

    /// When the update changes where the tasks run (subnets, groups,
    /// public IP, capacity providers), putting it back restores what the
    /// service had, with new tasks when the providers change back.
    pub fn restoring_placement(mut self, was: &ServiceRecord, live: &ServiceStatus) -> Move {
        let Send::Service(forward) = &self.forward else {
            return self;
        };
        let network = forward
            .network_configuration
            .as_ref()
            .filter(|n| live.network.as_ref() != Some(&n.awsvpc_configuration))
            .and(live.network.clone());
        let capacity = forward
            .capacity_provider_strategy
            .as_ref()
            .filter(|c| **c != live.capacity)
            .map(|_| live.capacity.clone());
        if was.before.is_empty() || (network.is_none() && capacity.is_none()) {
            return self;
        }
        let mut back = match self.back.take() {
            Some(Send::Service(u)) => *u,
            _ => {
                ServiceUpdate::task_definition_only(&forward.cluster, &was.ecs_service, &was.before)
            }
        };
        back.network_configuration = network.map(|v| NetworkConfiguration {
            awsvpc_configuration: v,
        });
        if let Some(c) = capacity {
            back.capacity_provider_strategy = Some(c);
            back.force_new_deployment = Some(true);
        }
        self.back = Some(Send::Service(Box::new(back)));
        self
    }

    /// New tasks of the task definition a service runs (`geno restart
    /// --env`). Nothing to put back: until the new tasks pass their
    /// checks, the ones from before keep serving.
    pub fn restart(cluster: &str, was: &ServiceRecord) -> Move {
        Move {
            service: was.ecs_service.clone(),
            label: was.name.clone(),
            forward: Send::Service(Box::new(ServiceUpdate {
                force_new_deployment: Some(true),
                ..ServiceUpdate::task_definition_only(cluster, &was.ecs_service, &was.before)
            })),
            back: None,
        }
    }

    /// Changes to a service's scaling or alarms, and those that undo them.
    pub fn steps(
        service: &str,
        label: &str,
        forward: Vec<ScalingStep>,
        back: Vec<ScalingStep>,
    ) -> Move {
        Move {
            service: service.to_string(),
            label: label.to_string(),
            forward: Send::Steps(forward),
            back: (!back.is_empty()).then_some(Send::Steps(back)),
        }
    }

    /// A service's desired count, on the task definition it runs.
    pub fn count(count: &CountRecord, task_definition: &str) -> Move {
        let to = |from: i32, to: i32| Send::Count {
            from,
            to,
            task_definition: task_definition.to_string(),
        };
        Move {
            service: count.ecs_service.clone(),
            label: count.name.clone(),
            forward: to(count.before, count.after),
            back: Some(to(count.after, count.before)),
        }
    }
}

/// A change under way.
pub struct Change<'a, E: Ecs> {
    pub on: Handles<'a, E>,
    pub record: Record,
    /// The moves sent so far: what goes back if a step fails.
    sent: Vec<Move>,
    /// The alarms that roll the change back, watched during the rollout
    /// and the bake after it.
    pub alarms: Alarms,
}

impl<'a, E: Ecs> Change<'a, E> {
    pub fn begin(on: Handles<'a, E>, record: Record) -> Change<'a, E> {
        Change {
            on,
            record,
            sent: Vec::new(),
            alarms: Alarms::default(),
        }
    }

    /// The record saved at `phase`: if this process is killed, it says the
    /// change was interrupted there. A failure to save is a warning.
    pub fn phase(&mut self, phase: &str) {
        checkpoint(self.on.shell, &self.on.records, &mut self.record, phase);
    }

    /// A step's result; its failure is the change's, on record.
    pub fn step<T>(&mut self, result: anyhow::Result<T>) -> Result<T, CliError> {
        result.map_err(|e| {
            self.record.outcome = Outcome::Failed {
                reason: format!("{e:#}"),
            };
            self.record.finished_at = record::now();
            let _ = crate::state::records::save(&self.on.records, &self.record);
            e.into()
        })
    }

    /// Sends every move (saying each), then watches until all are done.
    /// What was sent is remembered for `settle`.
    pub async fn apply(&mut self, moves: &[Move]) -> Result<(), RolloutError> {
        let names: Vec<String> = moves.iter().map(|m| m.service.clone()).collect();
        // Events from before this change are history, not news.
        let mut seen = BTreeSet::new();
        if let Ok(before) = self.on.ecs.describe(&self.on.cluster, &names).await {
            for s in &before {
                seen.extend(s.events.iter().map(|e| e.id.clone()));
            }
        }
        self.skip_firing_alarms().await?;
        let mut watched = Vec::new();
        for m in moves {
            send(&self.on, m, &m.forward).await?;
            self.sent.push(m.clone());
            watched.extend(m.forward.watched(&self.on.cluster, &m.service));
        }
        let on = &self.on;
        let watching = Watching {
            ecs: on.ecs,
            cluster: &on.cluster,
            watch: on.watch,
            cancel: on.cancel,
            shell: on.shell,
        };
        watch_until_done(&watching, &watched, &mut seen, &self.alarms.names).await?;
        if watched.is_empty() {
            return Ok(());
        }
        bake(on.ecs, &self.alarms, on.watch.poll, on.cancel, on.shell).await
    }

    /// A rollback alarm already in ALARM before anything is sent cannot
    /// judge this change (it may be the fix for what fires it): it is said,
    /// and not watched.
    async fn skip_firing_alarms(&mut self) -> Result<(), RolloutError> {
        if self.alarms.names.is_empty() {
            return Ok(());
        }
        let states = self
            .on
            .ecs
            .alarm_states(&self.alarms.names)
            .await
            .map_err(RolloutError::Describe)?;
        for s in states.iter().filter(|s| s.value == "ALARM") {
            self.on.shell.warn(format!(
                "alarm {} is already firing ({}); it is not watched during this change",
                s.name, s.reason
            ));
            self.alarms.names.retain(|n| *n != s.name);
        }
        Ok(())
    }

    /// The change's outcome from its last step's result: on failure every
    /// move sent goes back (watched; the first Ctrl-C does not stop it, a
    /// half-restored environment being the worst outcome), and the record
    /// says how that went. `what` names the change in the failure line.
    pub async fn settle(&mut self, what: &str, result: Result<(), impl std::fmt::Display>) {
        self.record.outcome = match result {
            Ok(()) => Outcome::Succeeded,
            // Nothing sent, or nothing sent that has a way back.
            Err(failure) if self.sent.iter().all(|m| m.back.is_none()) => Outcome::Failed {
                reason: failure.to_string(),
            },
            Err(failure) => {
                self.on.shell.status(format!("{what} failed: {failure}"));
                let restored = self.put_back().await;
                failed_outcome(failure, restored)
            }
        };
    }

    /// Every move sent, back where it was, watched.
    async fn put_back(&mut self) -> Result<(), RolloutError> {
        let back: Vec<(Move, Send)> = std::mem::take(&mut self.sent)
            .into_iter()
            .filter_map(|m| {
                let b = m.back.clone()?;
                Some((m, b))
            })
            .collect();
        if back.is_empty() {
            return Ok(());
        }
        let on = &self.on;
        let services: BTreeSet<&str> = back.iter().map(|(m, _)| m.service.as_str()).collect();
        on.shell
            .status(format!("rolling back {} service(s):", services.len()));
        let mut watched = Vec::new();
        for (m, b) in &back {
            send(on, m, b).await?;
            watched.extend(b.watched(&on.cluster, &m.service));
        }
        // The alarms that fired may still be firing: the way back is
        // watched for the services alone.
        let watching = Watching {
            ecs: on.ecs,
            cluster: &on.cluster,
            watch: on.watch,
            cancel: &CancellationToken::new(),
            shell: on.shell,
        };
        watch_until_done(&watching, &watched, &mut BTreeSet::new(), &[]).await
    }

    /// Saves the record (finished now); says `success`, or fails with
    /// `failure(rolled back?, reason)` and where the record is.
    pub fn conclude(
        self,
        success: impl FnOnce(&Record, &Path) -> String,
        failure: impl FnOnce(bool, &str) -> String,
    ) -> anyhow::Result<()> {
        conclude(
            self.on.shell,
            &self.on.records,
            self.record,
            success,
            failure,
        )
    }
}

/// Sends one of a move's updates (`what`: forward or back) and says so.
async fn send<E: Ecs>(on: &Handles<'_, E>, m: &Move, what: &Send) -> Result<(), RolloutError> {
    let failed = |source| RolloutError::Update {
        service: m.label.clone(),
        source,
    };
    match what {
        Send::Service(u) => {
            on.ecs.update(u).await.map_err(failed)?;
            let to = short_arn(&u.task_definition);
            on.shell.status(if u.force_new_deployment == Some(true) {
                format!("  {}: new tasks of {to}", m.label)
            } else {
                format!("  {} → {to}", m.label)
            });
        }
        Send::Steps(steps) => {
            for step in steps {
                on.ecs.scaling_step(step).await.map_err(failed)?;
                on.shell
                    .status(format!("  {}: {}", m.label, step.describe()));
            }
        }
        Send::Count { from, to, .. } => {
            on.ecs
                .set_desired_count(&on.cluster, &m.service, *to)
                .await
                .map_err(failed)?;
            on.shell
                .status(format!("  {}: desired {from} → {to}", m.label));
        }
    }
    Ok(())
}

/// Saves `record` (finished now); says `success`, or fails with
/// `failure(rolled back?, reason)` and where the record is.
fn conclude(
    shell: &Shell,
    dir: &Path,
    mut record: Record,
    success: impl FnOnce(&Record, &Path) -> String,
    failure: impl FnOnce(bool, &str) -> String,
) -> anyhow::Result<()> {
    record.finished_at = record::now();
    let path = crate::state::records::save(dir, &record)?;
    if shell.json() {
        shell.print_json(&record)?;
    }
    match &record.outcome {
        Outcome::Succeeded => {
            shell.status(success(&record, &path));
            Ok(())
        }
        Outcome::RolledBack { reason } => {
            anyhow::bail!("{}\nrecorded in {}", failure(true, reason), path.display())
        }
        Outcome::Failed { reason } => {
            anyhow::bail!("{}\nrecorded in {}", failure(false, reason), path.display())
        }
        Outcome::InProgress { phase, .. } => anyhow::bail!(
            "{}\nrecorded in {}",
            failure(false, &format!("it ended while still at `{phase}`")),
            path.display()
        ),
    }
}

/// Saves `record` at `phase` on the way. A failure to save is a warning;
/// the change goes on.
fn checkpoint(shell: &Shell, dir: &Path, record: &mut Record, phase: &str) {
    record.at(phase);
    match crate::state::records::save(dir, record) {
        Ok(_) => shell.verbose_status(format!("phase `{phase}` (on record)")),
        Err(e) => shell.warn(format!("the record could not be saved at `{phase}`: {e}")),
    }
}

/// Whether process `pid` runs (signal 0 checks without sending).
pub fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks the process exists.
    pid == std::process::id() || unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::deploy::record::Kind;
    use crate::environment::scripted::*;
    use crate::shell::Verbosity;

    const WATCH: Watch = Watch {
        timeout: Duration::from_secs(600),
        poll: Duration::from_secs(5),
    };

    /// A change of `kind` on scripted ECS, its records in `dir`.
    fn change<'a>(
        ecs: &'a Scripted,
        kind: Kind,
        watch: Watch,
        cancel: &'a CancellationToken,
        shell: &'a Shell,
        dir: &Path,
    ) -> Change<'a, Scripted> {
        Change::begin(
            Handles {
                ecs,
                cluster: "c".into(),
                watch,
                cancel,
                shell,
                records: dir.to_path_buf(),
            },
            Record::begin(kind, "s", "demo", "c"),
        )
    }

    /// Every named service from `OLD` to its revision 2.
    fn to_revision_2(names: &[&str]) -> Vec<Move> {
        records(names)
            .iter()
            .zip(updates(names))
            .map(|(was, u)| Move::task_definition("c", was, u))
            .collect()
    }

    /// What was sent, as `(service, task definition)`.
    fn sent(ecs: &Scripted) -> Vec<(String, String)> {
        ecs.updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| (u.service.clone(), short_arn(&u.task_definition).to_string()))
            .collect()
    }

    /// Applies `moves` uninterrupted and settles; the record's outcome and
    /// what was said.
    async fn run(ecs: &Scripted, kind: Kind, moves: &[Move], watch: Watch) -> (Outcome, String) {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let cancel = CancellationToken::new();
        let mut c = change(ecs, kind, watch, &cancel, &shell, dir.path());
        let result = c.apply(moves).await;
        c.settle("promotion", result).await;
        (c.record.outcome.clone(), shell.take().1)
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_every_service_and_reports_progress_and_events() {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Rolling(1), Step::Completed]),
        ]);
        let (outcome, text) = run(
            &ecs,
            Kind::Promote,
            &to_revision_2(&["api", "worker"]),
            WATCH,
        )
        .await;
        assert_eq!(outcome, Outcome::Succeeded);
        assert_eq!(
            text,
            "  api → api:2\n  worker → worker:2\n\
             \x20 api event: step 0\n  api: 0/2 running, 2 pending, 1 older deployment draining\n\
             \x20 worker event: step 0\n  worker: 1/2 running, 1 pending, 1 older deployment draining\n\
             \x20 api event: step 1\n  api: 1/2 running, 1 pending, 1 older deployment draining\n\
             \x20 worker event: step 1\n  worker reached worker:2 (2/2 running) in 5.0s\n\
             \x20 api event: step 2\n  api reached api:2 (2/2 running) in 10.0s\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_circuit_breaker_failure_rolls_every_service_back() {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Rolling(0), Step::BreakerFailed]),
            ("imagegen", vec![Step::Completed]),
        ]);
        let names = ["api", "worker", "imagegen"];
        let (outcome, text) = run(&ecs, Kind::Promote, &to_revision_2(&names), WATCH).await;
        assert_eq!(
            outcome,
            Outcome::RolledBack {
                reason: "worker failed: ECS deployment circuit breaker: tasks failed to start."
                    .into()
            }
        );
        assert_eq!(
            sent(&ecs),
            [
                ("api".into(), "api:2".into()),
                ("worker".into(), "worker:2".into()),
                ("imagegen".into(), "imagegen:2".into()),
                // Not only the one that failed: all three go back.
                ("api".into(), "f:1".into()),
                ("worker".into(), "f:1".into()),
                ("imagegen".into(), "f:1".into()),
            ]
        );
        assert!(
            text.contains(
                "promotion failed: worker failed: ECS deployment circuit breaker: tasks failed to start.\nrolling back 3 service(s):\n  api → f:1\n"
            ),
            "{text}"
        );
        assert!(text.contains("worker reached f:1"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_canary_is_reported_stage_by_stage_with_the_production_rule_weights() {
        let ecs = Scripted::new(&[(
            "api",
            vec![
                Step::Shifting("SCALE_UP", 0),
                Step::Shifting("PRODUCTION_TRAFFIC_SHIFT", 10),
                Step::Shifting("PRODUCTION_TRAFFIC_SHIFT", 10),
                Step::Shifting("PRODUCTION_TRAFFIC_SHIFT", 100),
                Step::Shifting("BAKE_TIME", 100),
                Step::Shifting("CLEAN_UP", 100),
                Step::Completed,
            ],
        )]);
        let mut moves = to_revision_2(&["api"]);
        let Send::Service(u) = &mut moves[0].forward else {
            panic!("an update")
        };
        u.deployment_configuration = Some(crate::deploy::taskdef::DeploymentConfiguration {
            deployment_circuit_breaker: crate::deploy::taskdef::CircuitBreaker {
                enable: true,
                rollback: true,
            },
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            alarms: None,
            strategy: Some("CANARY".into()),
            bake_time_in_minutes: Some(10),
            canary_configuration: Some(crate::deploy::taskdef::CanaryConfiguration {
                canary_percent: crate::deploy::taskdef::Percent(10.0),
                canary_bake_time_in_minutes: 5,
            }),
            linear_configuration: None,
        });
        let (outcome, text) = run(&ecs, Kind::Promote, &moves, WATCH).await;
        assert_eq!(outcome, Outcome::Succeeded, "{text}");
        // Each stage once, as it changes; the same weights twice are one line.
        let said: Vec<&str> = text.lines().filter(|l| l.starts_with("  api: ")).collect();
        assert_eq!(
            said,
            [
                "  api: starting the new tasks: api-tg 100%, api-tg-alt 0%",
                "  api: production traffic moving: api-tg 90%, api-tg-alt 10%",
                "  api: production traffic moving: api-tg 0%, api-tg-alt 100%",
                "  api: baking: the old tasks kept for an instant rollback: api-tg 0%, api-tg-alt 100%",
                "  api: stopping the old tasks: api-tg 0%, api-tg-alt 100%",
            ],
            "{text}"
        );
        assert!(text.contains("api reached api:2"), "{text}");
    }

    /// A promotion of api and worker that api's rollback alarm watches,
    /// with a 3-minute bake; the alarm fires at its `at`th look.
    async fn watched_by_an_alarm(at: u32) -> (Scripted, Outcome, String) {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Completed]),
        ]);
        ecs.firing.lock().unwrap().push(("api-5xx".into(), at));
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let cancel = CancellationToken::new();
        let mut c = change(&ecs, Kind::Promote, WATCH, &cancel, &shell, dir.path());
        c.alarms = Alarms {
            names: vec!["api-5xx".into()],
            bake: Duration::from_secs(180),
        };
        let mut moves = vec![Move::steps(
            "api",
            "api",
            vec![ScalingStep::Register {
                resource_id: "service/c/api".into(),
                min: 2,
                max: 10,
            }],
            vec![ScalingStep::Deregister {
                resource_id: "service/c/api".into(),
            }],
        )];
        moves.extend(to_revision_2(&["api", "worker"]));
        let result = c.apply(&moves).await;
        c.settle("promotion", result).await;
        let outcome = c.record.outcome.clone();
        drop(c);
        (ecs, outcome, shell.take().1)
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_that_fires_during_the_rollout_rolls_every_service_and_setting_back() {
        let (ecs, outcome, text) = watched_by_an_alarm(3).await;
        assert_eq!(
            outcome,
            Outcome::RolledBack {
                reason: "alarm api-5xx fired during the rollout: Threshold Crossed: 2 datapoints [12.0, 9.0] were greater than the threshold (5.0).".into()
            }
        );
        assert_eq!(
            sent(&ecs),
            [
                ("api".into(), "api:2".into()),
                ("worker".into(), "worker:2".into()),
                ("api".into(), "f:1".into()),
                ("worker".into(), "f:1".into()),
            ]
        );
        // The scaling went on before and came off on the way back.
        assert_eq!(
            *ecs.scaling_steps.lock().unwrap(),
            [
                ScalingStep::Register {
                    resource_id: "service/c/api".into(),
                    min: 2,
                    max: 10
                },
                ScalingStep::Deregister {
                    resource_id: "service/c/api".into()
                }
            ]
        );
        assert!(
            text.starts_with("  api: scales between 2 and 10 tasks\n  api → api:2\n"),
            "{text}"
        );
        assert!(
            text.contains("rolling back 2 service(s):\n  api: no longer scales itself\n"),
            "{text}"
        );
        assert!(!text.contains("baking"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_that_fires_during_the_bake_rolls_back_and_a_quiet_bake_passes() {
        // The first look is before anything is sent; api completes at the
        // fourth; the alarm fires at the sixth, two polls into the bake.
        let started = tokio::time::Instant::now();
        let (_, outcome, text) = watched_by_an_alarm(6).await;
        let Outcome::RolledBack { reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            reason.starts_with("alarm api-5xx fired during the bake: Threshold Crossed"),
            "{reason}"
        );
        assert!(text.contains("  baking 3m: watching api-5xx\n"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(180));
        // Never firing: the bake runs its 3 minutes and passes.
        let started = tokio::time::Instant::now();
        let (_, outcome, text) = watched_by_an_alarm(u32::MAX).await;
        assert_eq!(outcome, Outcome::Succeeded, "{text}");
        assert!(
            text.ends_with("  baking 3m: watching api-5xx\n  bake passed: no alarm fired in 3m\n"),
            "{text}"
        );
        assert!(started.elapsed() >= Duration::from_secs(180));
    }

    #[tokio::test(start_paused = true)]
    async fn an_alarm_already_firing_is_said_and_not_watched() {
        let (ecs, outcome, text) = watched_by_an_alarm(1).await;
        assert_eq!(outcome, Outcome::Succeeded, "{text}");
        assert!(
            text.starts_with("warning: alarm api-5xx is already firing (Threshold Crossed: 2 datapoints [12.0, 9.0] were greater than the threshold (5.0).); it is not watched during this change\n"),
            "{text}"
        );
        assert!(!text.contains("baking"), "{text}");
        assert_eq!(*ecs.alarm_looks.lock().unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_update_refused_midway_puts_back_only_what_was_sent() {
        let ecs = Scripted::new(&[
            ("api", vec![Step::Completed]),
            ("worker", vec![Step::Completed]),
            ("imagegen", vec![Step::Completed]),
        ]);
        ecs.refuse.lock().unwrap().push("worker".into());
        let names = ["api", "worker", "imagegen"];
        let (outcome, _) = run(&ecs, Kind::Promote, &to_revision_2(&names), WATCH).await;
        assert_eq!(
            outcome,
            Outcome::RolledBack {
                reason: "updating worker: UpdateService: service worker is not ACTIVE".into()
            }
        );
        // imagegen was never sent, so it is not sent back either.
        assert_eq!(
            sent(&ecs),
            [("api".into(), "api:2".into()), ("api".into(), "f:1".into())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_breaker_rollback_by_ecs_is_a_failure() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(0), Step::BreakerRolledBack])]);
        let (outcome, _) = run(&ecs, Kind::Promote, &to_revision_2(&["api"]), WATCH).await;
        assert_eq!(
            outcome,
            Outcome::RolledBack {
                reason: "api was rolled back by ECS to f:1 (ECS deployment circuit breaker: rolling back to OLD)".into()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_rollout_times_out_naming_what_it_waited_for() {
        let ecs = Scripted::new(&[
            ("api", vec![Step::Rolling(1); 1000]),
            ("worker", vec![Step::Completed]),
        ]);
        let watch = Watch {
            timeout: Duration::from_secs(60),
            poll: Duration::from_secs(5),
        };
        let started = tokio::time::Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let cancel = CancellationToken::new();
        let mut c = change(&ecs, Kind::Promote, watch, &cancel, &shell, dir.path());
        let err = c
            .apply(&to_revision_2(&["api", "worker"]))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 1m waiting for api (1/2 running, 1 pending, 1 older deployment draining)"
        );
        assert!(started.elapsed() <= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_stops_the_watch_but_not_the_way_back() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(1); 1000])]);
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut c = change(&ecs, Kind::Rollback, WATCH, &cancel, &shell, dir.path());
        let result = c.apply(&to_revision_2(&["api"])).await;
        assert_eq!(result.as_ref().unwrap_err().to_string(), "interrupted");
        c.settle("rollback", result).await;
        // Ctrl-C stopped the watch; the way back was watched to its end.
        assert_eq!(
            c.record.outcome,
            Outcome::RolledBack {
                reason: "interrupted".into()
            }
        );
        assert_eq!(
            sent(&ecs),
            [("api".into(), "api:2".into()), ("api".into(), "f:1".into())]
        );
        assert_eq!(
            failed_outcome("interrupted", Err(RolloutError::Vanished("api".into()))),
            Outcome::Failed {
                reason: "interrupted; rolling back failed too: service api is no longer described"
                    .into()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_whose_new_tasks_fail_is_a_failure_with_nothing_put_back() {
        let ecs = Scripted::new(&[
            ("api", vec![Step::Completed]),
            ("worker", vec![Step::Rolling(0), Step::BreakerFailed]),
        ]);
        let moves: Vec<Move> = records(&["api", "worker"])
            .iter()
            .map(|was| Move::restart("c", was))
            .collect();
        let (outcome, text) = run(&ecs, Kind::Restart, &moves, WATCH).await;
        let Outcome::Failed { reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            reason,
            "worker failed: ECS deployment circuit breaker: tasks failed to start."
        );
        // Each service got the task definition it ran, forced, and nothing
        // was sent to put anything back.
        assert_eq!(
            sent(&ecs),
            [
                ("api".into(), "f:1".into()),
                ("worker".into(), "f:1".into())
            ]
        );
        assert!(
            ecs.updates
                .lock()
                .unwrap()
                .iter()
                .all(|u| u.force_new_deployment == Some(true))
        );
        assert!(
            text.starts_with("  api: new tasks of f:1\n  worker: new tasks of f:1\n"),
            "{text}"
        );
        assert!(!text.contains("rolling back"), "{text}");
    }

    fn count(name: &str, before: i32, after: i32) -> Move {
        Move::count(
            &CountRecord {
                name: name.into(),
                ecs_service: name.into(),
                before,
                after,
            },
            OLD,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_scale_that_does_not_settle_puts_every_count_back() {
        let ecs = Scripted::new(&[
            ("web", vec![Step::Completed]),
            ("worker", vec![Step::Rolling(1); 1000]),
        ]);
        let watch = Watch {
            timeout: Duration::from_secs(30),
            poll: Duration::from_secs(5),
        };
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let cancel = CancellationToken::new();
        let mut c = change(&ecs, Kind::Scale, watch, &cancel, &shell, dir.path());
        let result = c.apply(&[count("web", 2, 3), count("worker", 2, 4)]).await;
        c.settle("scaling", result).await;
        assert_eq!(
            *ecs.counts.lock().unwrap(),
            [
                ("web".to_string(), 3),
                ("worker".to_string(), 4),
                ("web".to_string(), 2),
                ("worker".to_string(), 2)
            ]
        );
        // Counts only: no task definition was sent.
        assert_eq!(sent(&ecs), []);
        let err = c
            .conclude(
                |_, _| String::new(),
                |back, why| format!("scaling failed (put back: {back}): {why}"),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "scaling failed (put back: true): timed out after 30s waiting for worker ("
            ),
            "{err}"
        );
        let text = shell.take().1;
        assert!(
            text.starts_with("  web: desired 2 → 3\n  worker: desired 2 → 4\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "rolling back 2 service(s):\n  web: desired 3 → 2\n  worker: desired 4 → 2\n"
            ),
            "{text}"
        );
        let saved = crate::state::records::load_all(dir.path()).unwrap();
        assert_eq!(saved.len(), 1);
        assert!(
            matches!(&saved[0].outcome, Outcome::RolledBack { .. }),
            "{:?}",
            saved[0].outcome
        );
    }

    #[tokio::test]
    async fn a_failing_step_is_on_record_and_nothing_moves() {
        let ecs = Scripted::new(&[("api", vec![Step::Completed])]);
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Verbose, false);
        let cancel = CancellationToken::new();
        let mut c = change(&ecs, Kind::Promote, WATCH, &cancel, &shell, dir.path());
        c.phase("push");
        let on_record = crate::state::records::load_all(dir.path()).unwrap();
        assert!(
            matches!(&on_record[0].outcome, Outcome::InProgress { phase, .. } if phase == "push")
        );
        let err = c
            .step::<()>(Err(anyhow::anyhow!("the registry refused the push")))
            .unwrap_err();
        assert_eq!(err.exit_code, 1);
        assert_eq!(
            err.error.unwrap().to_string(),
            "the registry refused the push"
        );
        let saved = crate::state::records::load_all(dir.path()).unwrap();
        assert_eq!(
            saved[0].outcome,
            Outcome::Failed {
                reason: "the registry refused the push".into()
            }
        );
        assert!(!saved[0].finished_at.is_empty());
        assert_eq!(sent(&ecs), []);
        assert_eq!(shell.take().1, "phase `push` (on record)\n");
    }

    #[test]
    fn a_failed_change_is_an_error_naming_its_record_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, true);
        let mut r = Record::begin(Kind::Rollback, "s", "demo", "c");
        r.outcome = Outcome::Failed {
            reason: "timed out".into(),
        };
        let err = conclude(
            &shell,
            dir.path(),
            r.clone(),
            |_, _| "ok".into(),
            |back, why| format!("rollback failed (rolled back: {back}): {why}"),
        )
        .unwrap_err();
        let path = dir.path().join(format!("{}.json", r.id));
        assert_eq!(
            err.to_string(),
            format!(
                "rollback failed (rolled back: false): timed out\nrecorded in {}",
                path.display()
            )
        );
        let (out, err) = shell.take();
        let saved: Record = serde_json::from_str(&out).unwrap();
        assert_eq!(saved.outcome, r.outcome);
        assert!(!saved.finished_at.is_empty());
        assert_eq!(err, "");
        assert_eq!(
            crate::state::records::load_all(dir.path()).unwrap(),
            vec![saved]
        );
    }

    #[test]
    fn a_successful_change_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let r = Record::begin(Kind::Promote, "s", "demo", "c");
        conclude(
            &shell,
            dir.path(),
            r,
            |r, _| format!("{} done", r.environment),
            |_, _| String::new(),
        )
        .unwrap();
        assert_eq!(shell.take(), (String::new(), "demo done\n".to_string()));
    }

    #[test]
    fn putting_back_a_move_that_turned_service_connect_on_turns_it_off_on_the_old_definition() {
        use crate::deploy::taskdef::{ClientAlias, ServiceConnectService};
        let was = ServiceRecord {
            name: "web".into(),
            ecs_service: "shop-web-demo".into(),
            before: "web:1".into(),
            after: "web:2".into(),
        };
        let sc = ServiceConnect {
            enabled: true,
            namespace: Some("shop-demo.internal".into()),
            services: vec![ServiceConnectService {
                port_name: "web-8000".into(),
                client_aliases: vec![ClientAlias {
                    port: 8000,
                    dns_name: Some("web".into()),
                }],
            }],
        };
        let update = ServiceUpdate {
            service_connect_configuration: Some(sc.clone()),
            ..ServiceUpdate::task_definition_only("shop-demo", "shop-web-demo", "web:2")
        };
        let m =
            Move::task_definition("shop-demo", &was, update.clone()).restoring_connect(&was, None);
        let Some(Send::Service(back)) = &m.back else {
            panic!("{m:?}")
        };
        assert_eq!(back.task_definition, "web:1");
        let off = back.service_connect_configuration.as_ref().unwrap();
        assert!(!off.enabled && off.services.is_empty());
        // Already so: the back touches nothing but the definition.
        let m = Move::task_definition("shop-demo", &was, update).restoring_connect(&was, Some(&sc));
        let Some(Send::Service(back)) = &m.back else {
            panic!("{m:?}")
        };
        assert_eq!(back.service_connect_configuration, None);
    }

    #[test]
    fn putting_back_a_move_that_placed_the_tasks_elsewhere_restores_where_they_ran() {
        use crate::deploy::taskdef::{AwsVpc, CapacityProviderItem};
        let was = ServiceRecord {
            name: "worker".into(),
            ecs_service: "shop-worker-demo".into(),
            before: "worker:1".into(),
            after: "worker:2".into(),
        };
        let private = AwsVpc {
            subnets: vec!["subnet-0b".into()],
            security_groups: vec!["sg-0a".into()],
            assign_public_ip: "DISABLED".into(),
        };
        let update = ServiceUpdate {
            network_configuration: Some(NetworkConfiguration {
                awsvpc_configuration: AwsVpc {
                    assign_public_ip: "ENABLED".into(),
                    ..private.clone()
                },
            }),
            capacity_provider_strategy: Some(vec![CapacityProviderItem {
                capacity_provider: "FARGATE_SPOT".into(),
                weight: 1,
                base: 0,
            }]),
            force_new_deployment: Some(true),
            ..ServiceUpdate::task_definition_only("shop-demo", "shop-worker-demo", "worker:2")
        };
        let live = ServiceStatus {
            name: "shop-worker-demo".into(),
            network: Some(private.clone()),
            ..ServiceStatus::default()
        };
        let m = Move::task_definition("shop-demo", &was, update.clone())
            .restoring_connect(&was, None)
            .restoring_placement(&was, &live);
        let Some(Send::Service(back)) = &m.back else {
            panic!("{m:?}")
        };
        assert_eq!(back.task_definition, "worker:1");
        assert_eq!(
            back.network_configuration
                .as_ref()
                .map(|n| &n.awsvpc_configuration),
            Some(&private)
        );
        // Back to the launch type (an empty strategy), with new tasks.
        assert_eq!(back.capacity_provider_strategy, Some(Vec::new()));
        assert_eq!(back.force_new_deployment, Some(true));
    }
}
