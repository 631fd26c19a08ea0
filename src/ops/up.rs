//! `geno up`: build the image once, then reconcile the stack's containers
//! with stack.yaml in dependency order, waiting on each dependency's
//! condition, until every service is ready and every job has completed.
//!
//! A reconcile loop with explicit outcomes: each tick observes the launched
//! containers, launches services whose dependencies are satisfied, and stops
//! at the first failure with the container's logs.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::local::Local;
use crate::cli::Config;
use crate::docker::build::short_id;
use crate::docker::container::{actual_from, kind_label};
use crate::docker::{DockerError, Engine, build};
use crate::local::plan::{self, Action, DesiredContainer, Progress, names};
use crate::local::secrets;
use crate::proxy::daemon::{self, LbState};
use crate::stack::{Condition, ServiceKind, Stack};

pub struct UpOptions {
    pub timeout: Duration,
    pub attach: bool,
    /// Load balancer health checks ten times as often.
    pub fast_health: bool,
    /// Passed on to the load balancer: an access log line per request.
    pub verbose: bool,
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

struct Svc {
    name: String,
    kind: ServiceKind,
    has_health: bool,
    deps: Vec<(String, Condition)>,
    actions: Vec<Action>,
    state: Launch,
    ids: Vec<String>,
    progress: Progress,
    launched_at: Option<Instant>,
    ready_after: Option<Duration>,
    changed: bool,
}

#[derive(PartialEq, Eq)]
enum Launch {
    Pending,
    Launching,
    Launched,
}

pub fn up(config: &Config, opts: UpOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let shutdown = crate::shutdown::install("geno up");
        let local = Local::open(config).await?;
        let code = run(&local, &opts, &shutdown).await?;
        if code == 0 && opts.attach {
            eprintln!("attached: following logs (Ctrl-C detaches; the stack keeps running)");
            super::logs::follow_all(&local, &shutdown).await?;
        }
        Ok(code)
    })
}

/// Brings the stack up; returns the exit code (130 when interrupted).
pub async fn run(
    local: &Local,
    opts: &UpOptions,
    shutdown: &CancellationToken,
) -> anyhow::Result<i32> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let stack = &local.loaded.stack;
    let engine = &local.engine;
    let mut err = std::io::stderr();

    let secret_names: Vec<String> = {
        let mut n: Vec<String> = stack
            .services
            .values()
            .flat_map(|s| s.secrets.clone())
            .collect();
        n.sort();
        n.dedup();
        n
    };
    let resolved = local.secrets(&secret_names)?;
    let secret_values = &resolved.values;

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
        Some(stack_image(local, &mut err).await?)
    } else {
        None
    };

    warn_on_new_passwords(local, &resolved, &mut err).await?;
    engine
        .ensure_network(&stack.name, &names::network(&stack.name))
        .await?;
    for volume in stack.volumes.keys() {
        engine
            .ensure_volume(&stack.name, volume, &names::volume(&stack.name, volume))
            .await?;
    }

    let desired = plan::desired_containers(stack, image_id.as_deref(), secret_values, &local.dir());
    let actual: Vec<_> = engine
        .members(&stack.name)
        .await?
        .iter()
        .map(actual_from)
        .collect();
    let actions = plan::plan(&desired, &actual);

    let removals: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove { id, name } => Some((id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    for (_, name) in &removals {
        let _ = writeln!(err, "removing {name} (no longer in stack.yaml)");
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

    let state_dir = local.state_dir();
    let lb_state = daemon::running(&state_dir, &stack.name).await;
    let mut services = services_from(stack, actions);
    let mut launches: JoinSet<(String, Result<Vec<String>, DockerError>)> = JoinSet::new();
    loop {
        // Launch what may start now.
        let progress: HashMap<String, Progress> = services
            .iter()
            .map(|s| (s.name.clone(), s.progress.clone()))
            .collect();
        for svc in services.iter_mut().filter(|s| s.state == Launch::Pending) {
            let ready = svc
                .deps
                .iter()
                .all(|(dep, cond)| progress.get(dep).is_some_and(|p| plan::satisfied(*cond, p)));
            if !ready {
                continue;
            }
            svc.state = Launch::Launching;
            svc.launched_at = Some(Instant::now());
            if svc.changed {
                let _ = writeln!(
                    err,
                    "starting {}",
                    describe_actions(&svc.name, &svc.actions)
                );
            }
            let engine = engine.clone();
            let stack_name = stack.name.clone();
            let actions = svc.actions.clone();
            let name = svc.name.clone();
            // A container the load balancer routes to is drained before it
            // is replaced, as ECS deregisters a task before stopping it.
            let drain = lb_state.clone().zip(deregistration_delay(stack, &svc.name));
            launches
                .spawn(async move { (name, launch(&engine, &stack_name, actions, drain).await) });
        }

        // Observe what runs.
        for svc in services.iter_mut().filter(|s| s.state == Launch::Launched) {
            let mut observations = Vec::new();
            for id in &svc.ids {
                observations.push(engine.observe(id).await?);
            }
            svc.progress = plan::progress(svc.kind, svc.has_health, &observations);
            if let Progress::Failed(reason) = &svc.progress {
                let index = observations
                    .iter()
                    .position(|o| {
                        matches!(o.state.as_str(), "exited" | "dead")
                            || o.health.as_deref() == Some("unhealthy")
                    })
                    .unwrap_or(0);
                let id = &svc.ids[index];
                let container = engine
                    .inspect(id)
                    .await
                    .ok()
                    .and_then(|c| c.name)
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_else(|| id.clone());
                let logs = engine.tail_logs(id, 30).await;
                return Err(ServiceFailure {
                    service: svc.name.clone(),
                    container,
                    reason: reason.clone(),
                    logs,
                }
                .into());
            }
            if plan::done(svc.kind, &svc.progress) && svc.ready_after.is_none() {
                let after = svc.launched_at.map(|t| t.elapsed()).unwrap_or_default();
                svc.ready_after = Some(after);
                if svc.changed {
                    let _ = writeln!(
                        err,
                        "{} {} after {:.1}s",
                        svc.name,
                        state_word(svc),
                        after.as_secs_f64()
                    );
                }
            }
        }

        if services.iter().all(|s| plan::done(s.kind, &s.progress)) {
            break;
        }
        if Instant::now() >= deadline {
            let waiting = services
                .iter()
                .filter(|s| !plan::done(s.kind, &s.progress))
                .map(|s| format!("{} ({})", s.name, waiting_reason(s)))
                .collect();
            return Err(Timeout {
                after: opts.timeout,
                waiting,
            }
            .into());
        }

        tokio::select! {
            _ = shutdown.cancelled() => {
                // Let creations under way finish: every container is labelled
                // from its creation, so `geno down` finds all of them.
                let _ = tokio::time::timeout(Duration::from_secs(30), async {
                    while launches.join_next().await.is_some() {}
                }).await;
                eprintln!(
                    "geno up: stopped; what was created carries the label geno.stack={}: `geno down` removes it",
                    stack.name
                );
                return Ok(130);
            }
            Some(joined) = launches.join_next(), if !launches.is_empty() => {
                let (name, result) = joined?;
                let ids = result?;
                if let Some(svc) = services.iter_mut().find(|s| s.name == name) {
                    svc.ids = ids;
                    svc.state = Launch::Launched;
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }

    let changed = services.iter().filter(|s| s.changed).count();
    let mut out = std::io::stdout();
    print_summary(&mut out, stack, &services, &desired)?;
    if stack.load_balancer.is_some() {
        let (lb, started_now) = daemon::ensure(
            &local.loaded.source.path,
            &state_dir,
            stack,
            opts.fast_health,
            opts.verbose,
        )
        .await?;
        let line = wait_for_targets(&lb, stack, deadline, shutdown).await?;
        let _ = writeln!(
            err,
            "load balancer {} on http://{} ({line})",
            if started_now { "started" } else { "running" },
            lb.listeners.join(", http://")
        );
    }
    let _ = writeln!(
        err,
        "{} is up in {:.1}s ({})",
        stack.name,
        started.elapsed().as_secs_f64(),
        if changed == 0 {
            "nothing changed".to_string()
        } else {
            format!("{changed} services changed")
        }
    );
    Ok(0)
}

/// Builds (or finds) the stack's one image and says which; shared by `up`
/// and `run` so both run exactly the image the context gives.
pub async fn stack_image(local: &Local, err: &mut dyn Write) -> anyhow::Result<String> {
    let stack = &local.loaded.stack;
    let t = Instant::now();
    let built =
        build::ensure_image(&local.engine, &stack.name, &local.dir(), &stack.image, err).await?;
    if built.skipped {
        let _ = writeln!(
            err,
            "image {} ({}): context unchanged ({} files, {}), build skipped",
            built.tag,
            short_id(&built.id),
            built.context.files,
            &built.context.digest[..19]
        );
    } else {
        let _ = writeln!(
            err,
            "image {} ({}) built in {:.1}s",
            built.tag,
            short_id(&built.id),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(built.id)
}

/// New passwords cannot open a database initialised with old ones: say so
/// before the first container fails to log in.
async fn warn_on_new_passwords(
    local: &Local,
    resolved: &secrets::Resolved,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    if resolved.generated.is_empty() {
        return Ok(());
    }
    let existing: Vec<String> = local
        .engine
        .stack_volumes(&local.loaded.stack.name)
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    if !existing.is_empty() {
        let _ = writeln!(
            err,
            "warning: generated new values for {} but volume {} already exists; a database in it keeps its old password. \
             `geno down --volumes` removes the volume and its data, or put the old values back in {}",
            resolved.generated.join(", "),
            existing.join(", "),
            resolved.store.display()
        );
    }
    Ok(())
}

fn services_from(stack: &Stack, actions: Vec<Action>) -> Vec<Svc> {
    let mut by_service: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    for a in actions {
        if let Some(d) = a.desired() {
            by_service.entry(d.service.clone()).or_default().push(a);
        }
    }
    stack
        .services
        .iter()
        .map(|(name, svc)| {
            let actions = by_service.remove(name).unwrap_or_default();
            let changed = actions.iter().any(Action::changes_something);
            let ids: Vec<String> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Keep { id, .. } => Some(id.clone()),
                    _ => None,
                })
                .collect();
            Svc {
                name: name.clone(),
                kind: svc.kind,
                has_health: svc.healthcheck.is_some(),
                deps: svc
                    .depends_on
                    .0
                    .iter()
                    .map(|(d, c)| (d.clone(), *c))
                    .collect(),
                state: if changed {
                    Launch::Pending
                } else {
                    Launch::Launched
                },
                launched_at: (!changed).then(Instant::now),
                actions,
                ids,
                progress: Progress::Waiting,
                ready_after: None,
                changed,
            }
        })
        .collect()
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

fn describe_actions(name: &str, actions: &[Action]) -> String {
    let mut parts = Vec::new();
    let count = |f: fn(&Action) -> bool| actions.iter().filter(|a| f(a)).count();
    let created = count(|a| matches!(a, Action::Create { .. }));
    let replaced = count(|a| matches!(a, Action::Replace { .. }));
    let restarted = count(|a| matches!(a, Action::Start { .. }));
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
    if restarted > 0 {
        parts.push(format!("restart {restarted}"));
    }
    format!("{name} ({})", parts.join(", "))
}

fn state_word(svc: &Svc) -> &'static str {
    match (&svc.progress, svc.has_health) {
        (Progress::Completed, _) => "completed",
        (Progress::Ready, true) => "healthy",
        (Progress::Ready, false) => "running",
        _ => "starting",
    }
}

fn waiting_reason(svc: &Svc) -> String {
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

fn print_summary(
    out: &mut dyn Write,
    stack: &Stack,
    services: &[Svc],
    desired: &[DesiredContainer],
) -> std::io::Result<()> {
    let mut rows = vec![[
        "SERVICE".to_string(),
        "STATE".to_string(),
        "REPLICAS".to_string(),
        "PORTS".to_string(),
        "READY AFTER".to_string(),
    ]];
    for svc in services {
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
    super::table::write(out, &rows)
}

/// Waits until every target group has all its targets healthy; returns a
/// line such as `api 1/1 healthy, image-gen 1/1 healthy`.
async fn wait_for_targets(
    lb: &LbState,
    stack: &Stack,
    deadline: Instant,
    shutdown: &CancellationToken,
) -> anyhow::Result<String> {
    use crate::alb::health::State;
    // Groups fed by long-running services; a job never becomes a target.
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
    loop {
        let report = daemon::targets(lb).await.unwrap_or_default();
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
        if all {
            return Ok(parts.join(", "));
        }
        if Instant::now() >= deadline || shutdown.is_cancelled() {
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
            anyhow::bail!(
                "the load balancer's targets did not all turn healthy: {}{}",
                parts.join(", "),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!("\n  {}", detail.join("\n  "))
                }
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
