//! `geno up`: the stack on this machine, as stack.yaml says, until every
//! service is ready and every job has completed.
//!
//! The phases, each a function below, under the stack's lock (one geno
//! changes a stack at a time):
//! 1. `prepare`: secrets resolved, base images present, the one stack
//!    image built (or found by its context digest), the network and
//!    volumes ensured.
//! 2. `plan_changes`: desired containers against the labelled ones that
//!    exist; containers no longer in stack.yaml removed.
//! 3. `start_in_order`: services launched as their `depends_on`
//!    conditions hold (a container the load balancer routes to is drained
//!    first), observed until each is ready (`local::reconcile`); the first
//!    failure stops `up` with its container's last log lines.
//! 4. `summary`: a table of what runs.
//! 5. `load_balancer`: started (or kept, if it serves this
//!    configuration), then every target group waited on until healthy.
//! 6. `--attach`: logs followed until Ctrl-C.

use std::fmt;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::context::Context;
use crate::docker::container::{actual_from, kind_label};
use crate::docker::{DockerError, Engine};
use crate::error::{CliError, CliResult, INTERRUPTED};
use crate::host::LocalStack;
use crate::host::image::stack_image;
use crate::host::lock::StackLock;
use crate::host::probe::until_ready;
use crate::local::plan::{self, Action, DesiredContainer, names};
use crate::local::readiness::{ReadyRecord, probe_command};
use crate::local::reconcile::{Reconcile, describe_actions, state_word};
use crate::local::secrets;
use crate::proxy::daemon::{self, LbState};
use crate::stack::{ServiceKind, Stack};
use crate::wait::{self, Check, GaveUp, Poll};

pub struct UpOptions {
    pub timeout: Duration,
    pub attach: bool,
    /// Load balancer health checks ten times as often.
    pub fast_health: bool,
    /// Fail at once when another geno holds the stack's lock.
    pub no_wait: bool,
    /// Leave out the ECS cpu/memory limits.
    pub no_limits: bool,
}

/// A service that failed during `up`, with what a person needs to see.
#[derive(Debug)]
pub struct ServiceFailure {
    pub service: String,
    pub container: String,
    pub reason: String,
    pub logs: Vec<String>,
}

impl fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "service `{}` failed: {} ({})",
            self.service, self.reason, self.container
        )?;
        if !self.logs.is_empty() {
            write!(
                f,
                "\nlast {} log lines of {}:",
                self.logs.len(),
                self.container
            )?;
            for line in &self.logs {
                write!(f, "\n  | {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ServiceFailure {}

#[derive(Debug, thiserror::Error)]
#[error("timed out after {}s; still waiting for: {}", .after.as_secs(), .waiting.join(", "))]
pub struct Timeout {
    pub after: Duration,
    pub waiting: Vec<String>,
}

/// How often `up` looks at the containers it waits for.
const LOOK: Duration = Duration::from_millis(200);

pub async fn up(ctx: &Context, opts: UpOptions) -> CliResult {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let local = LocalStack::open(ctx).await?;
    // One geno changes a stack at a time; held until `up` returns.
    let _lock = StackLock::acquire(
        &local.state_dir(),
        local.name(),
        "up",
        opts.no_wait,
        &ctx.shell,
    )
    .await?;
    let mut desired = prepare(ctx, &local).await?;
    if opts.no_limits {
        for d in &mut desired {
            d.limits = None;
        }
    }
    let actions = plan_changes(ctx, &local, &desired).await?;
    let mut reconcile = Reconcile::new(local.stack(), actions);
    start_in_order(ctx, &local, &mut reconcile, &opts, deadline).await?;
    ctx.shell
        .table(&summary(local.stack(), &reconcile, &desired))?;
    if local.stack().load_balancer.is_some() {
        load_balancer(ctx, &local, &opts, deadline).await?;
    }
    let changed = reconcile.changed();
    ctx.shell.status(format!(
        "{} is up in {:.1}s ({})",
        local.name(),
        started.elapsed().as_secs_f64(),
        if changed == 0 {
            "nothing changed".to_string()
        } else {
            format!("{changed} services changed")
        }
    ));
    if opts.attach {
        ctx.shell
            .status("attached: following logs (Ctrl-C detaches; the stack keeps running)");
        crate::host::logs::follow_all(ctx, &local).await?;
    }
    Ok(())
}

/// Phase 1: Everything the containers need; the containers stack.yaml asks for.
async fn prepare(ctx: &Context, local: &LocalStack) -> anyhow::Result<Vec<DesiredContainer>> {
    let stack = local.stack();
    let engine = &local.engine;
    let mut secret_names: Vec<String> = stack
        .services
        .values()
        .flat_map(|s| s.secrets.clone())
        .collect();
    secret_names.sort();
    secret_names.dedup();
    let resolved = local.secrets(&secret_names)?;
    for svc in stack.services.values() {
        if let Some(image) = &svc.image {
            engine
                .ensure_image(
                    image,
                    "set the variable that names it (e.g. POSTGRES_IMAGE) to an image this machine has, or build local stand-ins with scripts/images.sh",
                )
                .await?;
        }
    }
    let image_id = if stack.services.values().any(|s| s.is_app()) {
        Some(stack_image(local, &ctx.shell).await?)
    } else {
        None
    };
    warn_on_new_passwords(ctx, local, &resolved).await?;
    let network = engine
        .ensure_network(&stack.name, &names::network(&stack.name))
        .await?;
    if network.duplicates_removed > 0 {
        ctx.shell.warn(format!(
            "found more than one network {}; kept one, removed {} other(s){}",
            names::network(&stack.name),
            network.duplicates_removed,
            if network.containers_removed.is_empty() {
                String::new()
            } else {
                format!(
                    " and the containers on them ({}), recreated below",
                    network.containers_removed.join(", ")
                )
            }
        ));
    }
    for volume in stack.volumes.keys() {
        engine
            .ensure_volume(&stack.name, volume, &names::volume(&stack.name, volume))
            .await?;
    }
    Ok(plan::desired_containers(
        stack,
        image_id.as_deref(),
        &resolved.values,
        &local.dir(),
    ))
}

/// New passwords cannot open a database initialised with old ones: say so
/// before the first container fails to log in.
async fn warn_on_new_passwords(
    ctx: &Context,
    local: &LocalStack,
    resolved: &secrets::Resolved,
) -> anyhow::Result<()> {
    if resolved.generated.is_empty() {
        return Ok(());
    }
    let existing: Vec<String> = local
        .engine
        .stack_volumes(local.name())
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    if !existing.is_empty() {
        ctx.shell.warn(format!(
            "generated new values for {} but volume {} already exists; a database in it keeps its old password. \
             `geno down --volumes` removes the volume and its data, or put the old values back in {}",
            resolved.generated.join(", "),
            existing.join(", "),
            resolved.store.display()
        ));
    }
    Ok(())
}

/// Phase 2: What to do to each container; what stack.yaml no longer names goes.
async fn plan_changes(
    ctx: &Context,
    local: &LocalStack,
    desired: &[DesiredContainer],
) -> anyhow::Result<Vec<Action>> {
    let engine = &local.engine;
    let actual: Vec<_> = engine
        .members(local.name())
        .await?
        .iter()
        .map(actual_from)
        .collect();
    let actions = plan::plan(desired, &actual);
    let removals: Vec<(&String, &String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove { id, name } => Some((id, name)),
            _ => None,
        })
        .collect();
    for (_, name) in &removals {
        ctx.shell
            .status(format!("removing {name} (no longer in stack.yaml)"));
    }
    for r in join_all(
        removals
            .iter()
            .map(|(id, _)| engine.stop_and_remove(id, 10)),
    )
    .await
    {
        r?;
    }
    Ok(actions)
}

/// Phase 3: Launches services as their dependencies allow and waits until every
/// one is ready; the first failure, the deadline or Ctrl-C ends it.
async fn start_in_order(
    ctx: &Context,
    local: &LocalStack,
    reconcile: &mut Reconcile,
    opts: &UpOptions,
    deadline: Instant,
) -> CliResult {
    let began = Instant::now();
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    let mut ready = ReadyRecord::load(&local.state_dir(), local.name());
    let mut launches: JoinSet<(String, Result<Vec<String>, DockerError>)> = JoinSet::new();
    let mut probes: JoinSet<(String, Option<Duration>)> = JoinSet::new();
    let result = wait::until(Poll::every(LOOK).until(deadline), &ctx.cancel, async || {
        while let Some(joined) = launches.try_join_next() {
            match joined {
                Ok((name, Ok(ids))) => {
                    probe(ctx, local, &name, &ids, deadline, &mut probes);
                    reconcile.launched(&name, ids);
                }
                Ok((_, Err(e))) => return Check::Failed(anyhow::Error::from(e)),
                Err(e) => return Check::Failed(e.into()),
            }
        }
        while let Some(Ok((id, passed))) = probes.try_join_next() {
            if let Some(after) = passed {
                ready.after_start.insert(id, after.as_secs_f64());
            }
        }
        for (name, actions) in reconcile.launchable(began.elapsed()) {
            if actions.iter().any(Action::changes_something) {
                ctx.shell
                    .status(format!("starting {}", describe_actions(&name, &actions)));
            }
            // A container the load balancer routes to is drained before it
            // is replaced, as ECS deregisters a task before stopping it.
            let drain = lb.clone().zip(deregistration_delay(local.stack(), &name));
            let engine = local.engine.clone();
            let stack = local.name().to_string();
            launches.spawn(async move { (name, launch(&engine, &stack, actions, drain).await) });
        }
        match observe(ctx, local, reconcile, &ready, began.elapsed()).await {
            Ok(()) if reconcile.done() => Check::Ready(()),
            Ok(()) => Check::NotYet,
            Err(e) => Check::Failed(e),
        }
    })
    .await;
    let containers: Vec<String> = reconcile
        .services
        .iter()
        .flat_map(|s| s.ids.clone())
        .collect();
    if let Err(e) = ready.save(&local.state_dir(), local.name(), &containers) {
        ctx.shell.warn(format!(
            "cannot keep readiness in {}: {e}",
            local.state_dir().display()
        ));
    }
    match result {
        Ok(()) => Ok(()),
        Err(GaveUp::Failed(e)) => Err(e.into()),
        Err(GaveUp::TimedOut { .. }) => Err(Timeout {
            after: opts.timeout,
            waiting: reconcile.waiting(),
        }
        .into()),
        Err(GaveUp::Interrupted) => {
            // Let creations under way finish: every container is labelled
            // from its creation, so `geno down` finds all of them.
            let _ = tokio::time::timeout(Duration::from_secs(30), async {
                while launches.join_next().await.is_some() {}
            })
            .await;
            ctx.shell.status(format!(
                "geno up: stopped; what was created carries the label geno.stack={}: `geno down` removes it",
                local.name()
            ));
            Err(CliError::code(INTERRUPTED))
        }
    }
}

/// Probes each new container of a service with a health check until its
/// first pass (Docker's own first check comes one interval after start).
fn probe(
    ctx: &Context,
    local: &LocalStack,
    service: &str,
    ids: &[String],
    deadline: Instant,
    probes: &mut JoinSet<(String, Option<Duration>)>,
) {
    let Some(hc) = local
        .stack()
        .services
        .get(service)
        .and_then(|s| s.healthcheck.as_ref())
    else {
        return;
    };
    let Some(command) = probe_command(&hc.test.0) else {
        return;
    };
    let started = Instant::now();
    for id in ids {
        let (engine, id, command, cancel) = (
            local.engine.clone(),
            id.clone(),
            command.clone(),
            ctx.cancel.clone(),
        );
        let timeout = hc.timeout.0;
        probes.spawn(async move {
            let passed = until_ready(
                engine,
                id.clone(),
                command,
                timeout,
                started,
                deadline,
                cancel,
            )
            .await;
            (id, passed)
        });
    }
}

/// Looks at every launched service's containers once (with what the
/// readiness probes found); says when one becomes ready; `Err` with its
/// logs when one failed.
async fn observe(
    ctx: &Context,
    local: &LocalStack,
    reconcile: &mut Reconcile,
    ready: &ReadyRecord,
    now: Duration,
) -> anyhow::Result<()> {
    for (service, ids) in reconcile.to_observe() {
        let mut observations = Vec::new();
        for id in &ids {
            let mut o = local.engine.observe(id).await?;
            o.ready_by_probe = ready.after_start.contains_key(id);
            observations.push(o);
        }
        if let Some(r) = reconcile.observed(&service, &observations, now)
            && r.changed
        {
            ctx.shell.status(format!(
                "{} {} after {:.1}s",
                r.service,
                r.word,
                r.after.as_secs_f64()
            ));
        }
        if let Some((_, reason)) = reconcile.failed() {
            let index = observations
                .iter()
                .position(|o| {
                    matches!(o.state.as_str(), "exited" | "dead")
                        || o.health.as_deref() == Some("unhealthy")
                })
                .unwrap_or(0);
            return Err(failure(&local.engine, &service, &ids[index], reason)
                .await
                .into());
        }
    }
    Ok(())
}

/// A failed service's container and its last log lines.
async fn failure(engine: &Engine, service: &str, id: &str, reason: &str) -> ServiceFailure {
    let container = engine
        .inspect(id)
        .await
        .ok()
        .and_then(|c| c.name)
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| id.to_string());
    ServiceFailure {
        service: service.to_string(),
        container,
        reason: reason.to_string(),
        logs: engine.tail_logs(id, 30).await,
    }
}

fn deregistration_delay(stack: &Stack, service: &str) -> Option<Duration> {
    stack
        .load_balancer
        .as_ref()?
        .target_groups
        .values()
        .filter(|g| g.service == service)
        .map(|g| g.deregistration_delay.0)
        .max()
}

/// Carries out one service's actions, its replicas in parallel; the IDs of
/// its containers.
async fn launch(
    engine: &Engine,
    stack: &str,
    actions: Vec<Action>,
    drain: Option<(LbState, Duration)>,
) -> Result<Vec<String>, DockerError> {
    let drain = &drain;
    let results = join_all(actions.into_iter().map(|a| async move {
        if let (Action::Replace { old, .. }, Some((lb, delay))) = (&a, drain) {
            daemon::drain(lb, old, *delay).await;
        }
        match a {
            Action::Keep { id, .. } => Ok(id),
            Action::Start { id, .. } => engine.start(&id).await.map(|_| id),
            Action::Create { desired } => {
                engine
                    .create_and_start(stack, &desired, kind_label(desired.kind))
                    .await
            }
            Action::Replace { old, desired, .. } => {
                engine
                    .stop_and_remove(&old, desired.stop_grace_secs)
                    .await?;
                engine
                    .create_and_start(stack, &desired, kind_label(desired.kind))
                    .await
            }
            Action::Remove { id, .. } => Ok(id),
        }
    }))
    .await;
    results.into_iter().collect()
}

/// Phase 4: One row per service: state, replicas, ports, how long it took.
fn summary(stack: &Stack, reconcile: &Reconcile, desired: &[DesiredContainer]) -> Vec<[String; 5]> {
    let mut rows = vec![["SERVICE", "STATE", "REPLICAS", "PORTS", "READY AFTER"].map(String::from)];
    for svc in &reconcile.services {
        let ports: Vec<String> = desired
            .iter()
            .filter(|d| d.service == svc.name && d.replica == 1)
            .flat_map(|d| d.ports.iter())
            .map(|p| match p.host {
                Some(h) => format!("{}:{h}->{}", p.host_ip, p.container),
                None => format!("{}", p.container),
            })
            .collect();
        let replicas = stack
            .services
            .get(&svc.name)
            .map(|s| s.replicas)
            .unwrap_or(1);
        rows.push([
            svc.name.clone(),
            state_word(svc).to_string(),
            replicas.to_string(),
            if ports.is_empty() {
                "-".into()
            } else {
                ports.join(", ")
            },
            match (svc.changed, svc.ready_after) {
                (false, _) => "unchanged".into(),
                (true, Some(d)) => format!("{:.1}s", d.as_secs_f64()),
                (true, None) => "-".into(),
            },
        ]);
    }
    rows
}

/// Phase 5: The load balancer process, then its targets healthy.
async fn load_balancer(
    ctx: &Context,
    local: &LocalStack,
    opts: &UpOptions,
    deadline: Instant,
) -> CliResult {
    let (lb, started_now) = daemon::ensure(
        &local.loaded.source.path,
        &local.state_dir(),
        local.stack(),
        opts.fast_health,
        ctx.settings.verbose > 0,
    )
    .await?;
    let line = wait_for_targets(ctx, &lb, local.stack(), deadline).await?;
    ctx.shell.status(format!(
        "load balancer {} on http://{} ({line})",
        if started_now { "started" } else { "running" },
        lb.listeners.join(", http://")
    ));
    Ok(())
}

/// Waits until every target group fed by a long-running service has all
/// its targets healthy; returns a line such as `api 1/1 healthy`.
async fn wait_for_targets(
    ctx: &Context,
    lb: &LbState,
    stack: &Stack,
    deadline: Instant,
) -> CliResult<String> {
    use crate::alb::health::State;
    let groups: Vec<String> = stack
        .load_balancer
        .as_ref()
        .map(|l| {
            l.target_groups
                .iter()
                .filter(|(_, g)| {
                    stack
                        .services
                        .get(&g.service)
                        .is_some_and(|s| s.kind == ServiceKind::Service)
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut report = Vec::new();
    let mut line = String::new();
    let result: Result<(), GaveUp<()>> =
        wait::until(Poll::every(LOOK).until(deadline), &ctx.cancel, async || {
            report = daemon::targets(lb).await.unwrap_or_default();
            let mut parts = Vec::new();
            let mut all = true;
            for g in &groups {
                let members: Vec<_> = report.iter().filter(|r| r.target_group == *g).collect();
                let healthy = members.iter().filter(|r| r.state == State::Healthy).count();
                let registered = members
                    .iter()
                    .filter(|r| r.state != State::Draining)
                    .count();
                all &= registered > 0 && healthy == registered;
                parts.push(format!("{g} {healthy}/{registered} healthy"));
            }
            line = parts.join(", ");
            if all { Check::Ready(()) } else { Check::NotYet }
        })
        .await;
    match result {
        Ok(()) => Ok(line),
        Err(GaveUp::Interrupted) => {
            ctx.shell.status(
                "geno up: stopped while the load balancer's targets turned healthy; the stack keeps running",
            );
            Err(CliError::code(INTERRUPTED))
        }
        Err(_) => {
            let detail: Vec<String> = report
                .iter()
                .filter(|r| r.state != State::Healthy)
                .map(|r| {
                    format!(
                        "{} {} ({}: {})",
                        r.container,
                        r.state.as_str(),
                        r.reason.as_deref().unwrap_or("-"),
                        r.description
                    )
                })
                .collect();
            Err(anyhow::anyhow!(
                "the load balancer's targets did not all turn healthy: {line}{}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!("\n  {}", detail.join("\n  "))
                }
            )
            .into())
        }
    }
}
