//! Watching ECS services that were sent updates (progress and service
//! events as they come) until every one has completed, one has failed, the
//! time is up or the user interrupts. `change` sends the updates and puts
//! them back.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::aws::{AwsError, Ecs};
use crate::deploy::record::Outcome;
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
