//! Carrying out a `local::reconcile` plan on the engine, as `up`, `start`
//! and `restart` share it: services launched as their dependencies allow
//! (a container the load balancer routes to drained first), each new
//! container probed with its health command until it first passes,
//! observed until every service is ready or completed; the first failure
//! with its container's last log lines. Then the load balancer, kept
//! running and current, and its targets waited on until healthy.

use std::fmt;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::context::Context;
use crate::docker::container::kind_label;
use crate::docker::{DockerError, Engine};
use crate::error::{CliError, CliResult, INTERRUPTED};
use crate::host::LocalStack;
use crate::host::probe::{Probe, until_ready};
use crate::local::init::Respawned;
use crate::local::plan::names;
use crate::local::plan::{Action, InPlace};
use crate::local::readiness::{ReadyRecord, probe_command};
use crate::local::reconcile::{Reconcile, describe_actions};
use crate::proxy::daemon::{self, LbState};
use crate::stack::{Condition, ServiceKind, Stack};
use crate::wait::{self, Check, GaveUp, Poll};

/// How long a command waits: its `--timeout`, and when that runs out.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub timeout: Duration,
    pub deadline: Instant,
}

impl Wait {
    pub fn from_now(timeout: Duration) -> Wait {
        Wait {
            timeout,
            deadline: Instant::now() + timeout,
        }
    }
}

/// A service that failed while geno waited for it, with what a person needs to see.
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

/// Launches the services of `reconcile` as their dependencies allow and
/// waits until every one is ready (or completed); the first failure, the
/// deadline or Ctrl-C ends it. `verb` names the command in what is said.
pub async fn converge(
    ctx: &Context,
    local: &LocalStack,
    reconcile: &mut Reconcile,
    verb: &str,
    wait: Wait,
) -> CliResult {
    let Wait { timeout, deadline } = wait;
    let began = Instant::now();
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    let mut ready = crate::state::readiness::load(&local.state_dir(), local.name());
    let mut launches: JoinSet<(String, Result<Launched, DockerError>)> = JoinSet::new();
    let mut probes: JoinSet<(String, Option<Duration>, bool)> = JoinSet::new();
    // Containers whose process restarted in place, and when: Docker's
    // health status and uptime are the container's, from before.
    let mut respawned_at: std::collections::HashMap<String, Instant> = Default::default();
    let result = wait::until(Poll::every(LOOK).until(deadline), &ctx.cancel, async || {
        while let Some(joined) = launches.try_join_next() {
            match joined {
                Ok((name, Ok(launched))) => {
                    let ids = launched.all();
                    // Started or restarted: ready again only once probed.
                    for id in &ids {
                        ready.after_start.remove(id);
                    }
                    // The service's health check is its own container's; a
                    // sidecar's, its own.
                    let svc = local.stack().services.get(&name);
                    let hc = svc.and_then(|s| s.healthcheck.as_ref());
                    let own = &launched.own;
                    probe(
                        ctx,
                        local,
                        &name,
                        hc,
                        own,
                        deadline,
                        &mut probes,
                        lb.as_ref(),
                    );
                    for (car, id) in &launched.sidecars {
                        let hc = svc
                            .and_then(|s| s.sidecars.get(car))
                            .and_then(|c| c.healthcheck.as_ref());
                        let id = std::slice::from_ref(id);
                        probe(ctx, local, &name, hc, id, deadline, &mut probes, None);
                    }
                    reconcile.launched(&name, ids);
                    for (id, _) in &launched.respawned {
                        respawned_at.insert(id.clone(), Instant::now());
                    }
                    reconcile.respawned.extend(launched.respawned);
                }
                Ok((_, Err(e))) => return Check::Failed(anyhow::Error::from(e)),
                Err(e) => return Check::Failed(e.into()),
            }
        }
        while let Some(Ok((id, passed, routed))) = probes.try_join_next() {
            if let Some(after) = passed {
                tracing::info!(container = %id, ?after, "probe passed");
                // Ready: the load balancer checks it at once.
                if let Some(lb) = lb.as_ref().filter(|_| routed) {
                    daemon::admit(lb, &id).await;
                }
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
            let drain = lb.clone().zip(local.stack().deregistration_delay(&name));
            let engine = local.engine.clone();
            let stack = local.name().to_string();
            let task = TaskOrder::of(local.stack(), &name, deadline, &ctx.cancel);
            launches
                .spawn(async move { (name, launch(&engine, &stack, actions, drain, task).await) });
        }
        match observe(
            ctx,
            local,
            reconcile,
            &ready,
            &respawned_at,
            began.elapsed(),
        )
        .await
        {
            Ok(()) if reconcile.done() => Check::Ready(()),
            Ok(()) => Check::NotYet,
            Err(e) => Check::Failed(e),
        }
    })
    .await;
    // What is kept: the stack's containers that exist (this run may have
    // touched only some of them).
    let mut containers: Vec<String> = reconcile
        .services
        .iter()
        .flat_map(|s| s.ids.clone())
        .collect();
    if let Ok(members) = local.engine.members(local.name()).await {
        containers.extend(members.into_iter().map(|m| m.id));
    }
    // Other converges may run beside this one (the edit loop restarts
    // services at once): only the containers this one launched are its to
    // write; the rest is taken from the record as it is now.
    let launched: Vec<&String> = reconcile
        .services
        .iter()
        .flat_map(|s| s.ids.iter())
        .collect();
    let saved = {
        static RECORD: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = RECORD.lock().unwrap_or_else(|p| p.into_inner());
        let mut now = crate::state::readiness::load(&local.state_dir(), local.name());
        for id in launched {
            match ready.after_start.get(id) {
                Some(after) => now.after_start.insert(id.clone(), *after),
                None => now.after_start.remove(id),
            };
        }
        crate::state::readiness::save(&now, &local.state_dir(), local.name(), &containers)
    };
    if let Err(e) = saved {
        ctx.shell.warn(format!(
            "cannot keep readiness in {}: {e}",
            local.state_dir().display()
        ));
    }
    match result {
        Ok(()) => Ok(()),
        Err(GaveUp::Failed(e)) => Err(e.into()),
        Err(GaveUp::TimedOut { .. }) => Err(Timeout {
            after: timeout,
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
                "{verb}: stopped; what was created carries the label geno.stack={}: `geno down` removes it",
                local.name()
            ));
            Err(CliError::code(INTERRUPTED))
        }
    }
}

/// Probes each new container of a service with a health check until its
/// first pass (Docker's own first check comes one interval after start).
#[allow(clippy::too_many_arguments)]
fn probe(
    ctx: &Context,
    local: &LocalStack,
    service: &str,
    hc: Option<&crate::stack::HealthCheck>,
    ids: &[String],
    deadline: Instant,
    probes: &mut JoinSet<(String, Option<Duration>, bool)>,
    lb: Option<&LbState>,
) {
    let Some(hc) = hc else {
        return;
    };
    let Some(command) = probe_command(&hc.test.0) else {
        return;
    };
    let started = Instant::now();
    let gate = lb
        .filter(|_| local.stack().deregistration_delay(service).is_some())
        .cloned();
    for id in ids {
        let routed = gate.is_some();
        let (engine, id, command, cancel, gate) = (
            local.engine.clone(),
            id.clone(),
            command.clone(),
            ctx.cancel.clone(),
            gate.clone(),
        );
        let timeout = hc.timeout.0;
        probes.spawn(async move {
            let probe = Probe {
                engine,
                id: id.clone(),
                command,
                timeout,
                gate,
            };
            let passed = until_ready(probe, started, deadline, cancel).await;
            (id, passed, routed)
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
    respawned_at: &std::collections::HashMap<String, Instant>,
    now: Duration,
) -> anyhow::Result<()> {
    for (service, ids) in reconcile.to_observe() {
        let mut observations = Vec::new();
        for id in &ids {
            let mut o = local.engine.observe(id).await?;
            o.ready_by_probe = ready.after_start.contains_key(id);
            if let Some(at) = respawned_at.get(id) {
                o.since_process_restart(at.elapsed());
            }
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

/// The containers one launch of a service ended with.
struct Launched {
    /// The service's own (its replicas').
    own: Vec<String>,
    /// Its tasks' sidecars: (sidecar, container ID).
    sidecars: Vec<(String, String)>,
    /// Those of `own` whose process was restarted in place, and how.
    respawned: Vec<(String, Respawned)>,
}

impl Launched {
    fn all(&self) -> Vec<String> {
        let cars = self.sidecars.iter().map(|(_, id)| id);
        self.own.iter().chain(cars).cloned().collect()
    }
}

/// How a service's sidecars start: in this order, each once the containers
/// of its task it depends on meet their conditions (until the deadline).
pub(crate) struct TaskOrder {
    service: String,
    order: Vec<String>,
    waits: std::collections::HashMap<String, Vec<(String, Condition)>>,
    /// Each container's health check, by name (the service's own by the
    /// service's): run at once, as `up` probes, rather than waiting for the
    /// engine's first check an interval after start.
    checks: std::collections::HashMap<String, crate::stack::HealthCheck>,
    deadline: Instant,
    cancel: tokio_util::sync::CancellationToken,
}

impl TaskOrder {
    pub(crate) fn of(
        stack: &Stack,
        service: &str,
        deadline: Instant,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> TaskOrder {
        let svc = stack.services.get(service);
        TaskOrder {
            service: service.to_string(),
            order: stack
                .task_order(service)
                .into_iter()
                .map(str::to_string)
                .collect(),
            waits: svc
                .map(|s| {
                    s.sidecars
                        .iter()
                        .map(|(n, c)| {
                            (
                                n.clone(),
                                c.depends_on
                                    .0
                                    .iter()
                                    .map(|(d, c)| (d.clone(), *c))
                                    .collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            checks: svc
                .map(|s| {
                    let own = s.healthcheck.clone().map(|h| (service.to_string(), h));
                    let cars = s
                        .sidecars
                        .iter()
                        .filter_map(|(n, c)| c.healthcheck.clone().map(|h| (n.clone(), h)));
                    own.into_iter().chain(cars).collect()
                })
                .unwrap_or_default(),
            deadline,
            cancel: cancel.clone(),
        }
    }

    pub(crate) fn rank(&self, sidecar: &str) -> usize {
        self.order
            .iter()
            .position(|o| o == sidecar)
            .unwrap_or(usize::MAX)
    }

    /// The containers of the task `sidecar` waits for (the service's own by
    /// the service's name).
    pub(crate) fn waits_of(&self, sidecar: &str) -> &[(String, Condition)] {
        self.waits
            .get(sidecar)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// The name of the container an action is about.
fn container_of(a: &Action) -> &str {
    match a {
        Action::AsIs { name, .. } | Action::Remove { name, .. } => name,
        other => other.desired().map(|d| d.name.as_str()).unwrap_or_default(),
    }
}

/// Carries out one service's actions: its own containers, replicas in
/// parallel, then each task's sidecars in their order (they join their
/// task's network, which must exist first).
async fn launch(
    engine: &Engine,
    stack: &str,
    actions: Vec<Action>,
    drain: Option<(LbState, Duration)>,
    task: TaskOrder,
) -> Result<Launched, DockerError> {
    let (mut sidecars, own): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| names::sidecar_of(container_of(a)).is_some());
    let drain = &drain;
    let results = join_all(own.into_iter().map(|a| async move {
        let leaving = match &a {
            Action::Replace { old, .. } => Some(old),
            Action::AsIs {
                id,
                how: InPlace::Restart | InPlace::Respawn(_),
                ..
            } => Some(id),
            _ => None,
        };
        let t = Instant::now();
        if let (Some(id), Some((lb, delay))) = (leaving, drain) {
            daemon::drain(lb, id, *delay).await;
            tracing::info!(container = %id, after = ?t.elapsed(), "drained");
        }
        let name = container_of(&a).to_string();
        let (id, respawned) = act(engine, stack, a).await?;
        tracing::info!(container = %id, after = ?t.elapsed(), ?respawned, "launched");
        // Started: the load balancer takes it in (a restarted one again)
        // and checks it often until its first pass.
        if let Some((lb, _)) = drain {
            daemon::admit(lb, &id).await;
        }
        Ok((name, id, respawned))
    }))
    .await;
    let own: Vec<(String, String, Option<Respawned>)> =
        results.into_iter().collect::<Result<_, DockerError>>()?;
    let respawned: Vec<(String, Respawned)> = own
        .iter()
        .filter_map(|(_, id, r)| Some((id.clone(), r.clone()?)))
        .collect();
    let own: Vec<(String, String)> = own.into_iter().map(|(n, id, _)| (n, id)).collect();
    let mut ids: std::collections::HashMap<String, String> = own.iter().cloned().collect();
    sidecars.sort_by_key(|a| {
        let (owner, car) = names::sidecar_of(container_of(a)).unwrap_or_default();
        (task.rank(car), owner.to_string())
    });
    let mut started = Vec::new();
    for a in sidecars {
        let name = container_of(&a).to_string();
        let (owner, car) = names::sidecar_of(&name).unwrap_or_default();
        for (dep, condition) in task.waits.get(car).into_iter().flatten() {
            let dep_name = match *dep == task.service {
                true => owner.to_string(),
                false => names::sidecar(owner, dep),
            };
            let Some(id) = ids.get(&dep_name) else {
                continue;
            };
            let check = task.checks.get(dep);
            let probed = match (condition, check.and_then(|h| probe_command(&h.test.0))) {
                (Condition::Healthy, Some(command)) => {
                    let probe = Probe {
                        engine: engine.clone(),
                        id: id.clone(),
                        command,
                        timeout: check.map(|h| h.timeout.0).unwrap_or_default(),
                        gate: None,
                    };
                    let now = Instant::now();
                    let cancel = task.cancel.clone();
                    until_ready(probe, now, task.deadline, cancel)
                        .await
                        .is_some()
                }
                _ => false,
            };
            if probed {
                continue;
            }
            if let Err(why) = meets(engine, id, *condition, &task).await {
                // Left unstarted: `up` reports the service not ready, with
                // the container that kept it.
                tracing::warn!(sidecar = %name, %dep_name, %why, "not started");
                return Ok(Launched {
                    own: own.into_iter().map(|(_, id)| id).collect(),
                    sidecars: started,
                    respawned,
                });
            }
        }
        let (id, _) = act(engine, stack, a).await?;
        tracing::info!(container = %id, sidecar = %name, "launched");
        started.push((car.to_string(), id.clone()));
        ids.insert(name, id);
    }
    Ok(Launched {
        own: own.into_iter().map(|(_, id)| id).collect(),
        sidecars: started,
        respawned,
    })
}

/// Waits until container `id` meets `condition` (as ECS's `dependsOn`
/// does before it starts the dependent), or says why it never will.
pub(crate) async fn meets(
    engine: &Engine,
    id: &str,
    condition: Condition,
    task: &TaskOrder,
) -> Result<(), String> {
    let poll = Poll::every(LOOK).until(task.deadline);
    wait::until_in_task(poll, &task.cancel, || async move {
        let o = match engine.observe(id).await {
            Ok(o) => o,
            Err(e) => return Check::Failed(e.to_string()),
        };
        let exited = matches!(o.state.as_str(), "exited" | "dead");
        match condition {
            Condition::Started if o.state == "running" || exited => Check::Ready(()),
            Condition::Healthy if o.health.as_deref() == Some("healthy") => Check::Ready(()),
            Condition::Healthy if exited || o.health.as_deref() == Some("unhealthy") => {
                Check::Failed(format!("it is {}", o.health.as_deref().unwrap_or(&o.state)))
            }
            Condition::CompletedSuccessfully if exited && o.exit_code == Some(0) => {
                Check::Ready(())
            }
            Condition::CompletedSuccessfully if exited => Check::Failed(o.stopped_because()),
            _ => Check::NotYet,
        }
    })
    .await
    .map_err(|e| match e {
        GaveUp::Failed(why) => why,
        GaveUp::TimedOut { .. } => "time ran out".into(),
        GaveUp::Interrupted => "interrupted".into(),
    })
}

/// One action on the engine; the container's ID, and how its process
/// was restarted where the action restarts it in place.
async fn act(
    engine: &Engine,
    stack: &str,
    a: Action,
) -> Result<(String, Option<Respawned>), DockerError> {
    if let Action::AsIs {
        id,
        how: InPlace::Respawn(restart),
        grace_secs,
        ..
    } = a
    {
        return match engine.respawn(&id, &restart).await {
            Ok(done) => Ok((id, Some(Respawned::Process(done)))),
            // Made before geno had its init, or its init cannot take the
            // request: the container restarts as a whole.
            Err(why) => {
                engine.restart(&id, grace_secs).await?;
                Ok((id, Some(Respawned::Container(why))))
            }
        };
    }
    act_on(engine, stack, a).await.map(|id| (id, None))
}

async fn act_on(engine: &Engine, stack: &str, a: Action) -> Result<String, DockerError> {
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
        Action::AsIs {
            id,
            how,
            grace_secs,
            ..
        } => match how {
            InPlace::Leave => Ok(id),
            InPlace::Start => engine.start(&id).await.map(|_| id),
            InPlace::Restart | InPlace::Respawn(_) => {
                engine.restart(&id, grace_secs).await.map(|_| id)
            }
        },
    }
}

/// The load balancer process (started, or restarted if it serves another
/// stack.yaml), then the target groups of `services` all healthy.
pub async fn load_balancer(
    ctx: &Context,
    local: &LocalStack,
    fast_health: Option<bool>,
    services: &[String],
    deadline: Instant,
) -> CliResult {
    // HTTPS listeners: the development certificate, made here so the
    // developer hears where it is the first time (the load balancer only
    // reads it).
    if let Some(balancer) = &local.stack().load_balancer
        && crate::state::tls::needed(balancer)
    {
        let names = crate::state::tls::names_for(balancer);
        let cert = crate::state::tls::ensure(&local.state_dir(), local.name(), &names)
            .map_err(anyhow::Error::from)?;
        if cert.made {
            ctx.shell.status(format!(
                "HTTPS listeners serve geno's development certificate for {}, signed by {}: trust that file to browse without warnings (curl --cacert, or your system's or browser's certificate store)",
                crate::state::tls::ALWAYS
                    .iter()
                    .map(|s| s.to_string())
                    .chain(names.into_iter().filter(|n| n != "127.0.0.1"))
                    .collect::<Vec<_>>()
                    .join(", "),
                cert.ca.display()
            ));
        }
    }
    let (lb, started_now) = daemon::ensure(
        &local.loaded.source.path,
        &local.state_dir(),
        local.stack(),
        fast_health,
        ctx.settings.verbose > 0,
    )
    .await?;
    // Everything converged is ready: none of it stays held out of rotation
    // (a restart whose geno was killed before it said so). Only containers
    // the load balancer does not list as targets can be held.
    let listed = daemon::targets(&lb).await.unwrap_or_default();
    for m in local.containers(services).await? {
        if m.running()
            && local.stack().deregistration_delay(&m.service).is_some()
            && !listed.iter().any(|t| t.id == m.id)
        {
            daemon::admit(&lb, &m.id).await;
        }
    }
    let line = wait_for_targets(ctx, &lb, local.stack(), services, deadline).await?;
    let declared = local
        .stack()
        .load_balancer
        .as_ref()
        .map(|b| b.listeners.as_slice())
        .unwrap_or_default();
    let urls = daemon::urls(declared, &lb.listeners);
    ctx.shell.status(format!(
        "load balancer {} on {} ({line})",
        if started_now { "started" } else { "running" },
        urls.join(", ")
    ));
    Ok(())
}

/// Waits until every target group fed by a long-running service has all
/// its targets healthy; returns a line such as `api 1/1 healthy`.
async fn wait_for_targets(
    ctx: &Context,
    lb: &LbState,
    stack: &Stack,
    services: &[String],
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
                    services.contains(&g.service)
                        && stack
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
                "stopped while the load balancer's targets turned healthy; the stack keeps running",
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

/// Waits until the load balancer has `container` healthy in every target
/// group it belongs to (after a restart, before the next replica goes).
pub async fn target_healthy(
    ctx: &Context,
    lb: &LbState,
    container: &str,
    deadline: Instant,
) -> CliResult {
    use crate::alb::health::State;
    let mut last = String::new();
    let result: Result<(), GaveUp<()>> =
        wait::until(Poll::every(LOOK).until(deadline), &ctx.cancel, async || {
            let report = daemon::targets(lb).await.unwrap_or_default();
            let mine: Vec<_> = report
                .iter()
                .filter(|r| r.container == container && r.state != State::Draining)
                .collect();
            last = mine
                .iter()
                .map(|r| format!("{} in {}", r.state.as_str(), r.target_group))
                .collect::<Vec<_>>()
                .join(", ");
            if !mine.is_empty() && mine.iter().all(|r| r.state == State::Healthy) {
                Check::Ready(())
            } else {
                Check::NotYet
            }
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(GaveUp::Interrupted) => Err(CliError::code(INTERRUPTED)),
        Err(_) => Err(anyhow::anyhow!(
            "the load balancer did not see {container} healthy in time ({})",
            if last.is_empty() {
                "not registered".to_string()
            } else {
                last
            }
        )
        .into()),
    }
}
