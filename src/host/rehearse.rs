//! `geno up --rehearse ENV`: a routed service whose release ECS would
//! deploy blue/green, canary or linear in ENV is replaced here the same
//! way. The new release starts beside the old, the load balancer moves the
//! strategy's share of requests to it step by step (bakes ten times
//! shorter), and ENV's rollback alarms are judged on what the load balancer
//! measured of it: one that fires puts every request back on the old
//! release and removes the new, as ECS would roll back.

use std::time::Duration;

use tokio::time::Instant;

use super::LocalStack;
use crate::context::Context;
use crate::local::plan::{Action, DesiredContainer, names};
use crate::local::rehearsal::{Judge, LocalAlarm, SPEEDUP, Sample, Step, local_alarms, steps};
use crate::proxy::daemon::{self, LbState};
use crate::stack::strategy::Strategy;
use crate::wait::{self, Check, GaveUp, Poll};

/// A service held back from `converge` to be rehearsed.
pub struct Rehearsal {
    pub service: String,
    /// Its target group (stack.yaml's key).
    pub group: String,
    pub strategy: Strategy,
    pub steps: Vec<Step>,
    pub alarms: Vec<LocalAlarm>,
    /// Rollback alarms the load balancer cannot measure, with why.
    pub unjudged: Vec<String>,
    /// (old container ID, the new release's container).
    pub replaces: Vec<(String, DesiredContainer)>,
}

/// Takes out of `actions` the replacements of routed services that `env`
/// deploys blue/green, canary or linear (their old containers are kept
/// for `converge`), as rehearsals to run once the rest is up.
pub fn hold(
    local: &LocalStack,
    env: &str,
    actions: &mut [Action],
) -> anyhow::Result<Vec<Rehearsal>> {
    let stack = local.stack();
    let aws = stack
        .environments
        .get(env)
        .and_then(|e| e.aws.as_ref())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--rehearse {env}: stack.yaml has no environment `{env}` with an `aws` section to take the strategy and rollback alarms from"
            )
        })?;
    let mut out: Vec<Rehearsal> = Vec::new();
    for a in actions.iter_mut() {
        let Action::Replace { old, desired, .. } = a else {
            continue;
        };
        let service = desired.service.clone();
        let strategy = stack.strategy_in(&service, env);
        let Some(ecs) = stack.ecs(&service) else {
            continue;
        };
        let routed = ecs
            .target_group
            .clone()
            .filter(|_| stack.load_balancer.is_some());
        let Some(group) = routed else { continue };
        let alone = stack
            .services
            .get(&service)
            .is_some_and(|s| s.sidecars.is_empty());
        if strategy.is_rolling() || !alone || names::sidecar_of(&desired.name).is_some() {
            continue;
        }
        let (old, desired) = (old.clone(), desired.clone());
        *a = Action::Keep {
            id: old.clone(),
            desired: desired.clone(),
        };
        if let Some(r) = out.iter_mut().find(|r| r.service == service) {
            r.replaces.push((old, desired));
            continue;
        }
        let alarms = crate::render::scaling::alarms(stack, &service, env, aws, ecs);
        let rollback: Vec<&crate::deploy::scaling::Alarm> =
            alarms.iter().filter(|(_, r)| *r).map(|(a, _)| a).collect();
        let bake = crate::render::ecs::bake(ecs, &alarms);
        let (judged, unjudged) = local_alarms(&rollback, SPEEDUP);
        out.push(Rehearsal {
            service,
            group,
            strategy: strategy.clone(),
            steps: steps(strategy, bake, SPEEDUP),
            alarms: judged,
            unjudged,
            replaces: vec![(old, desired)],
        });
    }
    Ok(out)
}

/// Why a rehearsal did not finish with the new release serving.
#[derive(Debug, thiserror::Error)]
pub enum RehearsalFailed {
    #[error(
        "{service}: the rehearsed {strategy} rolled back: alarm {alarm} fired during the {step}: {reason}; the old release still serves"
    )]
    Alarm {
        service: String,
        strategy: &'static str,
        alarm: String,
        step: String,
        reason: String,
    },
    #[error("{service}: the new release {why}; it was removed and the old release still serves")]
    NotReady { service: String, why: String },
    #[error(
        "{service}: the rehearsal was interrupted; the new release was removed and the old one still serves"
    )]
    Interrupted { service: String },
    #[error("{service}: the load balancer {what}")]
    Balancer { service: String, what: String },
}

/// Runs one rehearsal through the load balancer `lb`.
pub async fn run(
    ctx: &Context,
    local: &LocalStack,
    lb: &LbState,
    r: &Rehearsal,
    env: &str,
    deadline: Instant,
) -> anyhow::Result<()> {
    let service = &r.service;
    let plan = r
        .steps
        .iter()
        .map(|s| {
            format!(
                "{} {}% for {}",
                s.what,
                s.percent,
                humantime::format_duration(s.hold)
            )
        })
        .collect::<Vec<_>>()
        .join(", then ");
    ctx.shell.status(format!(
        "{service}: rehearsing {env}'s {} deployment here, {SPEEDUP} times faster: {plan}",
        r.strategy.prose()
    ));
    let watched: Vec<&str> = r.alarms.iter().map(|a| a.name.as_str()).collect();
    ctx.shell.status(format!(
        "{service}: rollback alarms judged on the load balancer: {}",
        if watched.is_empty() {
            "none".to_string()
        } else {
            watched.join(", ")
        }
    ));
    if !r.unjudged.is_empty() {
        ctx.shell.warn(format!(
            "{service}: not rehearsed here: {}",
            r.unjudged.join("; ")
        ));
    }
    // The new release beside the old, out of rotation until a step gives
    // it a share.
    let engine = &local.engine;
    let mut new_ids = Vec::new();
    for (_, desired) in &r.replaces {
        let name = format!("{}-next", desired.name);
        let kind = crate::docker::container::kind_label(desired.kind);
        new_ids.push(
            engine
                .create_and_start_as(local.name(), desired, kind, &name)
                .await?,
        );
    }
    if !daemon::shift(lb, &r.group, 0, Some(&new_ids)).await {
        remove(local, lb, r, &new_ids).await;
        return Err(RehearsalFailed::Balancer {
            service: service.clone(),
            what: format!("did not take a shift for target group `{}`", r.group),
        }
        .into());
    }
    for id in &new_ids {
        daemon::admit(lb, id).await;
    }
    let outcome = shift_through(ctx, local, lb, r, &new_ids, deadline).await;
    match outcome {
        Ok(()) => {
            promote_new(local, lb, r, &new_ids).await?;
            ctx.shell.status(format!(
                "{service}: rehearsal passed: the new release serves all of `{}`",
                r.group
            ));
            Ok(())
        }
        Err(failed) => {
            remove(local, lb, r, &new_ids).await;
            Err(failed.into())
        }
    }
}

/// The new release healthy, then each step held while the alarms are
/// judged.
async fn shift_through(
    ctx: &Context,
    local: &LocalStack,
    lb: &LbState,
    r: &Rehearsal,
    new_ids: &[String],
    deadline: Instant,
) -> Result<(), RehearsalFailed> {
    let service = &r.service;
    let started = Instant::now();
    let ready = wait::until(
        Poll::every(Duration::from_millis(200)).until(deadline),
        &ctx.cancel,
        async || match unhealthy(lb, new_ids).await {
            Some(0) => Check::Ready(()),
            _ => Check::NotYet::<(), ()>,
        },
    )
    .await;
    match ready {
        Ok(()) => ctx.shell.status(format!(
            "{service}: new release healthy on the load balancer after {:.1}s",
            started.elapsed().as_secs_f64()
        )),
        Err(GaveUp::Interrupted) => {
            return Err(RehearsalFailed::Interrupted {
                service: service.clone(),
            });
        }
        Err(_) => {
            let logs = local.engine.tail_logs(&new_ids[0], 10).await.join("\n");
            return Err(RehearsalFailed::NotReady {
                service: service.clone(),
                why: format!(
                    "did not pass the load balancer's health check in time; its last log lines:\n{logs}"
                ),
            });
        }
    }
    let begun = Instant::now();
    let first = sample(lb, &r.group, new_ids).await;
    let mut judge = Judge::new(r.alarms.clone(), Duration::ZERO, &first);
    for step in &r.steps {
        daemon::shift(lb, &r.group, step.percent, None).await;
        ctx.shell.status(format!(
            "{service}: {}: {}% of requests on the new release for {}",
            step.what,
            step.percent,
            humantime::format_duration(step.hold)
        ));
        let held = wait::until(
            Poll::every(Duration::from_millis(250)).timeout(step.hold),
            &ctx.cancel,
            async || {
                let now = sample(lb, &r.group, new_ids).await;
                match judge.look(begun.elapsed(), &now) {
                    Some(fired) => Check::Failed(fired),
                    None => Check::NotYet::<(), _>,
                }
            },
        )
        .await;
        match held {
            Ok(()) | Err(GaveUp::TimedOut { .. }) => {}
            Err(GaveUp::Failed(fired)) => {
                return Err(RehearsalFailed::Alarm {
                    service: service.clone(),
                    strategy: r.strategy.prose(),
                    alarm: fired.alarm,
                    step: step.what.clone(),
                    reason: fired.reason,
                });
            }
            Err(GaveUp::Interrupted) => {
                return Err(RehearsalFailed::Interrupted {
                    service: service.clone(),
                });
            }
        }
    }
    Ok(())
}

/// How many of `ids` the load balancer does not find healthy (`None`
/// when it does not answer).
async fn unhealthy(lb: &LbState, ids: &[String]) -> Option<u32> {
    use crate::alb::health::State;
    let report = daemon::targets(lb).await?;
    Some(
        ids.iter()
            .filter(|id| {
                !report
                    .iter()
                    .any(|t| t.id == **id && t.state == State::Healthy)
            })
            .count() as u32,
    )
}

/// What the load balancer measured of the new release so far.
async fn sample(lb: &LbState, group: &str, ids: &[String]) -> Sample {
    let stats = daemon::next_stats(lb)
        .await
        .and_then(|s| s.into_iter().find(|(g, _)| g == group))
        .map(|(_, s)| s)
        .unwrap_or_default();
    Sample {
        stats,
        unhealthy: unhealthy(lb, ids).await.unwrap_or(0),
    }
}

/// Success: every request on the new release, the old drained and
/// removed, the new named as the old were.
async fn promote_new(
    local: &LocalStack,
    lb: &LbState,
    r: &Rehearsal,
    new_ids: &[String],
) -> anyhow::Result<()> {
    daemon::shift(lb, &r.group, 100, None).await;
    let delay = local
        .stack()
        .deregistration_delay(&r.service)
        .unwrap_or_default();
    for ((old, desired), new) in r.replaces.iter().zip(new_ids) {
        daemon::drain(lb, old, delay).await;
        local
            .engine
            .stop_and_remove(old, desired.stop_grace_secs)
            .await?;
        local.engine.rename(new, &desired.name).await?;
    }
    daemon::unshift(lb, &r.group).await;
    Ok(())
}

/// Failure: every request back on the old release, the new drained
/// (out of rotation before the shift ends, which would make them plain
/// targets again) and removed.
async fn remove(local: &LocalStack, lb: &LbState, r: &Rehearsal, new_ids: &[String]) {
    daemon::shift(lb, &r.group, 0, None).await;
    let delay = local
        .stack()
        .deregistration_delay(&r.service)
        .unwrap_or_default();
    for ((_, desired), id) in r.replaces.iter().zip(new_ids) {
        daemon::drain(lb, id, delay).await;
        if let Err(e) = local
            .engine
            .stop_and_remove(id, desired.stop_grace_secs)
            .await
        {
            tracing::warn!("removing the rehearsed release {id}: {e}");
        }
    }
    daemon::unshift(lb, &r.group).await;
}
