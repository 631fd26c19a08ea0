//! `geno up [SERVICE…]`: the stack on this machine, as stack.yaml says,
//! until every service is ready and every job has completed. Named
//! services bring what they depend on and nothing else is touched.
//!
//! The phases, each a function below, under the stack's lock (one geno
//! changes a stack at a time):
//! 1. `prepare` (`host::up`): secrets resolved, base images present, the one stack
//!    image built (or found by its context digest), the network and
//!    volumes ensured.
//! 2. `plan_changes` (`host::up`): desired containers against the labelled ones that
//!    exist; containers no longer in stack.yaml (or whose profile is off)
//!    removed, unless services were named.
//! 3. `converge` (`host::converge`): services launched as their
//!    `depends_on` conditions hold, each probed until ready; the first
//!    failure stops `up` with its container's last log lines.
//! 4. `summary`: a table of what runs.
//! 5. `load_balancer` (`host::converge`): started (or kept, if it serves
//!    this configuration), then the target groups waited on until healthy.
//! 6. `--attach`: logs followed until Ctrl-C; or `--watch`: the edit loop
//!    (`host::watch`) until Ctrl-C.

use std::time::Duration;

use tokio::time::Instant;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::{Wait, converge, load_balancer};
use crate::host::up::{plan_changes, prepare};
use crate::local::plan::DesiredContainer;
use crate::local::reconcile::{Reconcile, state_word};
use crate::stack::Dur;
use crate::stack::Stack;

/// The arguments of `geno up`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to bring up, with their dependencies (default: all).
    pub services: Vec<String>,
    /// Give up waiting after this long (`90s`, `5m`).
    #[arg(long, default_value = "5m", value_parser = super::duration)]
    pub timeout: Dur,
    /// After the stack is up, follow its logs (Ctrl-C detaches).
    #[arg(long, conflicts_with = "watch")]
    pub attach: bool,
    /// After the stack is up, act on file changes by the services'
    /// `develop.watch` rules (Ctrl-C stops watching; the stack keeps running).
    #[arg(long)]
    pub watch: bool,
    /// Load balancer health checks ten times as often (thresholds stay;
    /// rendered ECS settings keep stack.yaml's values).
    #[arg(long)]
    pub fast_health: bool,
    /// Fail at once if another geno is changing this stack, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Run without the ECS cpu/memory limits (a machine smaller than the tasks' sum).
    #[arg(long)]
    pub no_limits: bool,
    /// Replace routed services the way ECS deploys them in ENV (blue/green,
    /// canary, linear) through the load balancer, bakes ten times shorter,
    /// rolling back when one of ENV's rollback alarms fires here.
    #[arg(long, value_name = "ENV")]
    pub rehearse: Option<String>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno up")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        up(
            ctx,
            UpOptions {
                services: self.services,
                timeout: self.timeout.0,
                attach: self.attach,
                watch: self.watch,
                fast_health: self.fast_health,
                no_wait: self.no_wait,
                no_limits: self.no_limits,
                rehearse: self.rehearse,
            },
        )
        .await
    }
}

pub struct UpOptions {
    /// Only these services and what they depend on (all when empty).
    pub services: Vec<String>,
    pub timeout: Duration,
    pub attach: bool,
    /// Then act on file changes by the `develop.watch` rules until Ctrl-C.
    pub watch: bool,
    /// Load balancer health checks ten times as often.
    pub fast_health: bool,
    /// Fail at once when another geno holds the stack's lock.
    pub no_wait: bool,
    /// Leave out the ECS cpu/memory limits.
    pub no_limits: bool,
    /// Rehearse this environment's blue/green, canary or linear deployments.
    pub rehearse: Option<String>,
}

pub async fn up(ctx: &Context, opts: UpOptions) -> CliResult {
    let started = Instant::now();
    let wait = Wait::from_now(opts.timeout);
    let local = LocalStack::open_for(ctx, &opts.services).await?;
    // One geno changes a stack at a time; held until `up` returns.
    let lock = local.lock(ctx, "up", opts.no_wait).await?;
    let selected = if opts.services.is_empty() {
        local.selected(&[])
    } else {
        local.stack().with_dependencies(&opts.services)
    };
    let mut desired = prepare(ctx, &local, &selected).await?;
    if opts.no_limits {
        for d in &mut desired {
            d.limits = None;
        }
    }
    let whole = opts.services.is_empty();
    let mut actions = plan_changes(ctx, &local, &desired, whole).await?;
    let rehearsals = match &opts.rehearse {
        Some(env) => crate::host::rehearse::hold(&local, env, &mut actions)?,
        None => Vec::new(),
    };
    if let Some(env) = opts.rehearse.as_deref().filter(|_| rehearsals.is_empty()) {
        ctx.shell.status(format!(
            "nothing to rehearse: no routed service that {env} deploys blue/green, canary or linear is being replaced"
        ));
    }
    let mut reconcile = Reconcile::only(local.stack(), &selected, actions);
    converge(ctx, &local, &mut reconcile, "geno up", wait).await?;
    // Tasks with sidecars: geno restarts them as a whole, as ECS does.
    crate::host::supervise::ensure_for(ctx, &local).await?;
    ctx.shell
        .table(&summary(local.stack(), &reconcile, &desired))?;
    if local.stack().load_balancer.is_some() {
        load_balancer(
            ctx,
            &local,
            Some(opts.fast_health),
            &selected,
            wait.deadline,
        )
        .await?;
    }
    if let Some(env) = opts.rehearse.as_deref().filter(|_| !rehearsals.is_empty()) {
        let lb = crate::proxy::daemon::running(&local.state_dir(), local.name())
            .await
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the load balancer of {} does not answer; `geno up` again starts it",
                    local.name()
                )
            })?;
        for r in &rehearsals {
            crate::host::rehearse::run(ctx, &local, &lb, r, env, wait.deadline).await?;
        }
    }
    let changed = reconcile.changed() + rehearsals.len();
    ctx.shell.status(format!(
        "{}{} {} up in {:.1}s ({})",
        local.name(),
        if whole {
            String::new()
        } else {
            format!(" ({})", selected.join(", "))
        },
        if whole { "is" } else { "are" },
        started.elapsed().as_secs_f64(),
        match changed {
            0 => "nothing changed".to_string(),
            1 => "1 service changed".to_string(),
            n => format!("{n} services changed"),
        }
    ));
    if opts.watch {
        // Each batch of changes takes the lock for itself.
        drop(lock);
        return crate::host::watch::run(ctx, &local).await;
    }
    if opts.attach {
        ctx.shell
            .status("attached: following logs (Ctrl-C detaches; the stack keeps running)");
        crate::host::logs::follow_all(ctx, &local).await?;
    }
    Ok(())
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
