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
    #[error("alarm {alarm} fired {when}: {reason}")]
    Alarm {
        alarm: String,
        /// `during the rollout` or `during the bake`.
        when: &'static str,
        reason: String,
    },
}

/// The alarms that roll a change back: in ALARM during the rollout or
/// during the bake after it.
#[derive(Debug, Clone, Default)]
pub struct Alarms {
    pub names: Vec<String>,
    /// How long to keep watching them once every service has completed.
    pub bake: Duration,
}

/// The first of `alarms` in ALARM, as the error that rolls back.
async fn fired<E: Ecs>(ecs: &E, alarms: &[String], when: &'static str) -> Result<(), RolloutError> {
    if alarms.is_empty() {
        return Ok(());
    }
    let states = ecs
        .alarm_states(alarms)
        .await
        .map_err(RolloutError::Describe)?;
    match states.into_iter().find(|s| s.value == "ALARM") {
        Some(s) => Err(RolloutError::Alarm {
            alarm: s.name,
            when,
            reason: s.reason,
        }),
        None => Ok(()),
    }
}

/// Watches `alarms` for their bake time after a rollout: the first in
/// ALARM fails it; an interrupt ends it as a failure too (the change was
/// not seen through).
pub async fn bake<E: Ecs>(
    ecs: &E,
    alarms: &Alarms,
    poll: Duration,
    cancel: &CancellationToken,
    shell: &Shell,
) -> Result<(), RolloutError> {
    if alarms.names.is_empty() || alarms.bake.is_zero() {
        return Ok(());
    }
    shell.status(format!(
        "  baking {}: watching {}",
        humantime::format_duration(alarms.bake),
        alarms.names.join(", ")
    ));
    let result = wait::until(
        Poll::every(poll).timeout(alarms.bake),
        cancel,
        async || match fired(ecs, &alarms.names, "during the bake").await {
            Ok(()) => Check::NotYet,
            Err(e) => Check::Failed(e),
        },
    )
    .await;
    match result {
        Ok(()) | Err(GaveUp::TimedOut { .. }) => {
            shell.status(format!(
                "  bake passed: no alarm fired in {}",
                humantime::format_duration(alarms.bake)
            ));
            Ok(())
        }
        Err(GaveUp::Failed(e)) => Err(e),
        Err(GaveUp::Interrupted) => Err(RolloutError::Interrupted),
    }
}

/// What a person last heard about one service.
#[derive(Clone, PartialEq)]
enum Heard {
    Nothing,
    Progress(String),
    Done,
}

/// What a watch looks through and says things on.
pub struct Watching<'a, E: Ecs> {
    pub ecs: &'a E,
    pub cluster: &'a str,
    pub watch: Watch,
    pub cancel: &'a CancellationToken,
    pub shell: &'a Shell,
}

/// Watches services that were sent `updates` until every one has
/// completed (progress and fresh events said as they come), failing on the
/// first of `alarms` in ALARM; `seen` holds the events already shown.
pub async fn watch_until_done<E: Ecs>(
    on: &Watching<'_, E>,
    updates: &[ServiceUpdate],
    seen: &mut BTreeSet<String>,
    alarms: &[String],
) -> Result<(), RolloutError> {
    let Watching {
        ecs,
        cluster,
        watch,
        cancel,
        shell,
    } = *on;
    let names: Vec<String> = updates.iter().map(|u| u.service.clone()).collect();
    let started = tokio::time::Instant::now();
    let mut heard = vec![Heard::Nothing; updates.len()];
    let result = wait::until(watch.poll(), cancel, async || {
        if let Err(e) = fired(ecs, alarms, "during the rollout").await {
            return Check::Failed(e);
        }
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
                Assessment::InProgress { mut progress } => {
                    all_done = false;
                    // Stated by the update, or the service's own (a
                    // rollback or restart sends the task definition only).
                    let live = s.deployment.as_ref().is_some_and(|d| d.shifts_traffic());
                    if shifts(u) || live {
                        let rule = s.production_rule.as_deref();
                        match ecs.shifting(cluster, &u.service, rule).await {
                            Ok(Some(shifting)) => progress = shifting.text(),
                            Ok(None) => {}
                            Err(e) => return Check::Failed(RolloutError::Describe(e)),
                        }
                    }
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

/// Whether ECS shifts traffic itself for this update (blue/green,
/// canary, linear): its stages and weights are then the progress to say.
fn shifts(u: &ServiceUpdate) -> bool {
    u.deployment_configuration
        .as_ref()
        .is_some_and(|d| d.shifts_traffic())
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
