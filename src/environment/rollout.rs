//! Moving ECS services to task definitions: send each update, then watch
//! them all (progress and service events as they come) until every one has
//! completed, one has failed, the time is up or the user interrupts; and
//! after a failure, every service of the change put back and watched too.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::aws::{AwsError, Ecs};
use crate::deploy::record::{Outcome, ServiceRecord};
use crate::deploy::rollout::{Assessment, fresh_events, short_arn};
use crate::deploy::taskdef::ServiceUpdate;
use crate::shell::Shell;
use crate::wait::{self, Check, GaveUp, Poll};

/// How long to watch and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub timeout: Duration,
    pub poll: Duration,
}

impl Watch {
    pub fn poll(&self) -> Poll {
        Poll::every(self.poll).timeout(self.timeout)
    }
}

/// Why a rollout did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("updating {service}: {source}")]
    Update { service: String, source: AwsError },
    #[error(transparent)]
    Describe(AwsError),
    #[error("service {0} is no longer described")]
    Vanished(String),
    #[error("{service} failed: {reason}")]
    Failed { service: String, reason: String },
    #[error("{service} was rolled back by ECS to {} ({reason})", short_arn(.now))]
    Displaced {
        service: String,
        now: String,
        reason: String,
    },
    #[error("timed out after {} waiting for {}", humantime::format_duration(*.after), .waiting.join(", "))]
    TimedOut {
        after: Duration,
        waiting: Vec<String>,
    },
    #[error("interrupted")]
    Interrupted,
}

/// Sends each update, then watches until every service has completed.
pub async fn roll_out<E: Ecs>(
    ecs: &E,
    cluster: &str,
    updates: &[ServiceUpdate],
    watch: Watch,
    cancel: &CancellationToken,
    shell: &Shell,
) -> Result<(), RolloutError> {
    let names: Vec<String> = updates.iter().map(|u| u.service.clone()).collect();
    // Events from before this rollout are history, not news.
    let mut seen = BTreeSet::new();
    if let Ok(before) = ecs.describe(cluster, &names).await {
        for s in &before {
            seen.extend(s.events.iter().map(|e| e.id.clone()));
        }
    }
    for u in updates {
        ecs.update(u).await.map_err(|source| RolloutError::Update {
            service: u.service.clone(),
            source,
        })?;
        shell.status(format!(
            "  {} → {}",
            u.service,
            short_arn(&u.task_definition)
        ));
    }
    watch_until_done(ecs, cluster, updates, watch, cancel, &mut seen, shell).await
}

/// What a person last heard about one service.
#[derive(Clone, PartialEq)]
enum Heard {
    Nothing,
    Progress(String),
    Done,
}

/// Watches services that were sent `updates` until every one has
/// completed (progress and fresh events said as they come); `seen` holds
/// the events already shown.
pub async fn watch_until_done<E: Ecs>(
    ecs: &E,
    cluster: &str,
    updates: &[ServiceUpdate],
    watch: Watch,
    cancel: &CancellationToken,
    seen: &mut BTreeSet<String>,
    shell: &Shell,
) -> Result<(), RolloutError> {
    let names: Vec<String> = updates.iter().map(|u| u.service.clone()).collect();
    let started = tokio::time::Instant::now();
    let mut heard = vec![Heard::Nothing; updates.len()];
    let result = wait::until(watch.poll(), cancel, async || {
        let statuses = match ecs.describe(cluster, &names).await {
            Ok(s) => s,
            Err(e) => return Check::Failed(RolloutError::Describe(e)),
        };
        let mut all_done = true;
        for (i, u) in updates.iter().enumerate() {
            let Some(s) = statuses.iter().find(|s| s.name == u.service) else {
                return Check::Failed(RolloutError::Vanished(u.service.clone()));
            };
            for e in fresh_events(&s.events, seen) {
                shell.status(format!("  {} event: {}", u.service, e.message));
            }
            match crate::deploy::rollout::assess(s, &u.task_definition) {
                Assessment::Completed => {
                    if heard[i] != Heard::Done {
                        shell.status(format!(
                            "  {} reached {} ({}/{} running) in {:.1}s",
                            u.service,
                            short_arn(&u.task_definition),
                            s.running,
                            s.desired,
                            started.elapsed().as_secs_f64()
                        ));
                        heard[i] = Heard::Done;
                    }
                }
                Assessment::InProgress { progress } => {
                    all_done = false;
                    if heard[i] != Heard::Progress(progress.clone()) {
                        shell.status(format!("  {}: {progress}", u.service));
                        heard[i] = Heard::Progress(progress);
                    }
                }
                Assessment::Failed { reason } => {
                    return Check::Failed(RolloutError::Failed {
                        service: u.service.clone(),
                        reason,
                    });
                }
                Assessment::Displaced { now, reason } => {
                    return Check::Failed(RolloutError::Displaced {
                        service: u.service.clone(),
                        now,
                        reason,
                    });
                }
            }
        }
        if all_done {
            Check::Ready(())
        } else {
            Check::NotYet
        }
    })
    .await;
    result.map_err(|gave_up| match gave_up {
        GaveUp::Failed(e) => e,
        GaveUp::Interrupted => RolloutError::Interrupted,
        GaveUp::TimedOut { .. } => RolloutError::TimedOut {
            after: watch.timeout,
            waiting: updates
                .iter()
                .zip(&heard)
                .filter(|(_, h)| **h != Heard::Done)
                .map(|(u, h)| match h {
                    Heard::Progress(p) => format!("{} ({p})", u.service),
                    _ => format!("{} ()", u.service),
                })
                .collect(),
        },
    })
}

/// After a failure: every service of the change back to where it was, and
/// watched until it is there. Not interruptible by the first Ctrl-C: a half
/// restored environment is the worst outcome.
pub async fn restore<E: Ecs>(
    ecs: &E,
    cluster: &str,
    changed: &[ServiceRecord],
    watch: Watch,
    shell: &Shell,
) -> Result<(), RolloutError> {
    let updates: Vec<ServiceUpdate> = changed
        .iter()
        .filter(|s| !s.before.is_empty() && s.before != s.after)
        .map(|s| ServiceUpdate::task_definition_only(cluster, &s.ecs_service, &s.before))
        .collect();
    if updates.is_empty() {
        return Ok(());
    }
    shell.status(format!("rolling back {} service(s):", updates.len()));
    roll_out(
        ecs,
        cluster,
        &updates,
        watch,
        &CancellationToken::new(),
        shell,
    )
    .await
}

/// The outcome of a failed change after trying to restore.
pub fn failed_outcome(
    reason: impl std::fmt::Display,
    restored: Result<(), RolloutError>,
) -> Outcome {
    match restored {
        Ok(()) => Outcome::RolledBack {
            reason: reason.to_string(),
        },
        Err(e) => Outcome::Failed {
            reason: format!("{reason}; rolling back failed too: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::scripted::*;
    use crate::shell::Verbosity;

    /// `roll_out` of every named service to its revision 2, uninterrupted;
    /// what it returned and what it printed.
    async fn roll(
        ecs: &Scripted,
        names: &[&str],
        watch: Watch,
    ) -> (Result<(), RolloutError>, String) {
        let shell = Shell::buffer(Verbosity::Normal, false);
        let r = roll_out(
            ecs,
            "c",
            &updates(names),
            watch,
            &CancellationToken::new(),
            &shell,
        )
        .await;
        (r, shell.take().1)
    }

    const WATCH: Watch = Watch {
        timeout: Duration::from_secs(600),
        poll: Duration::from_secs(5),
    };

    #[tokio::test(start_paused = true)]
    async fn waits_for_every_service_and_reports_progress_and_events() {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Rolling(1), Step::Completed]),
        ]);
        let (result, text) = roll(&ecs, &["api", "worker"], WATCH).await;
        result.unwrap();
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
        let (result, _) = roll(&ecs, &names, WATCH).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            "worker failed: ECS deployment circuit breaker: tasks failed to start."
        );
        let shell = Shell::buffer(Verbosity::Normal, false);
        restore(&ecs, "c", &records(&names), WATCH, &shell)
            .await
            .unwrap();
        let sent: Vec<(String, String)> = ecs
            .updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| (u.service.clone(), short_arn(&u.task_definition).to_string()))
            .collect();
        assert_eq!(
            sent,
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
        let text = shell.take().1;
        assert!(text.contains("rolling back 3 service(s):"), "{text}");
        assert!(text.contains("worker reached f:1"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_breaker_rollback_by_ecs_is_a_failure() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(0), Step::BreakerRolledBack])]);
        let (result, _) = roll(&ecs, &["api"], WATCH).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            "api was rolled back by ECS to f:1 (ECS deployment circuit breaker: rolling back to OLD)"
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
        let (result, _) = roll(&ecs, &["api", "worker"], watch).await;
        assert_eq!(
            result.unwrap_err().to_string(),
            "timed out after 1m waiting for api (1/2 running, 1 pending, 1 older deployment draining)"
        );
        assert!(started.elapsed() <= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_stops_the_watch() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(1); 1000])]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = roll_out(
            &ecs,
            "c",
            &updates(&["api"]),
            WATCH,
            &cancel,
            &Shell::buffer(Verbosity::Normal, false),
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert_eq!(
            failed_outcome(err, Err(RolloutError::Vanished("api".into()))),
            Outcome::Failed {
                reason: "interrupted; rolling back failed too: service api is no longer described"
                    .into()
            }
        );
    }
}
