//! `geno up [SERVICE…]`: the stack on this machine, as stack.yaml says,
//! until every service is ready and every job has completed. Named
//! services bring what they depend on and nothing else is touched.
//!
//! The phases, each a function below, under the stack's lock (one geno
//! changes a stack at a time):
//! 1. `prepare`: secrets resolved, base images present, the one stack
//!    image built (or found by its context digest), the network and
//!    volumes ensured.
//! 2. `plan_changes`: desired containers against the labelled ones that
//!    exist; containers no longer in stack.yaml (or whose profile is off)
//!    removed, unless services were named.
//! 3. `converge` (`host::converge`): services launched as their
//!    `depends_on` conditions hold, each probed until ready; the first
//!    failure stops `up` with its container's last log lines.
//! 4. `summary`: a table of what runs.
//! 5. `load_balancer` (`host::converge`): started (or kept, if it serves
//!    this configuration), then the target groups waited on until healthy.
//! 6. `--attach`: logs followed until Ctrl-C.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use crate::context::Context;
use crate::docker::container::actual_from;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::{Wait, converge, load_balancer};
use crate::host::image::stack_image;
use crate::local::plan::{self, Action, DesiredContainer, names};
use crate::local::reconcile::{Reconcile, state_word};
use crate::local::secrets;
use crate::stack::Stack;

pub struct UpOptions {
    /// Only these services and what they depend on (all when empty).
    pub services: Vec<String>,
    pub timeout: Duration,
    pub attach: bool,
    /// Load balancer health checks ten times as often.
    pub fast_health: bool,
    /// Fail at once when another geno holds the stack's lock.
    pub no_wait: bool,
    /// Leave out the ECS cpu/memory limits.
    pub no_limits: bool,
}

pub async fn up(ctx: &Context, opts: UpOptions) -> CliResult {
    let started = Instant::now();
    let wait = Wait::from_now(opts.timeout);
    let local = LocalStack::open_for(ctx, &opts.services).await?;
    // One geno changes a stack at a time; held until `up` returns.
    let _lock = local.lock(ctx, "up", opts.no_wait).await?;
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
    let actions = plan_changes(ctx, &local, &desired, whole).await?;
    let mut reconcile = Reconcile::only(local.stack(), &selected, actions);
    converge(ctx, &local, &mut reconcile, "geno up", wait).await?;
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
    let changed = reconcile.changed();
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
    if opts.attach {
        ctx.shell
            .status("attached: following logs (Ctrl-C detaches; the stack keeps running)");
        crate::host::logs::follow_all(ctx, &local).await?;
    }
    Ok(())
}

/// Phase 1: Everything the selected services need; their containers as
/// stack.yaml asks for them.
async fn prepare(
    ctx: &Context,
    local: &LocalStack,
    selected: &[String],
) -> anyhow::Result<Vec<DesiredContainer>> {
    let stack = local.stack();
    let engine = &local.engine;
    let chosen = || {
        stack
            .services
            .iter()
            .filter(|(name, _)| selected.contains(name))
            .map(|(_, svc)| svc)
    };
    let mut secret_names: Vec<String> = chosen().flat_map(|s| s.secrets.clone()).collect();
    secret_names.sort();
    secret_names.dedup();
    let resolved = local.secrets(&secret_names)?;
    for svc in chosen() {
        if let Some(image) = &svc.image {
            engine
                .ensure_image(
                    image,
                    "set the variable that names it (e.g. POSTGRES_IMAGE) to an image this machine has, or build local stand-ins with scripts/images.sh",
                )
                .await?;
        }
    }
    let image_id = if chosen().any(|s| s.is_app()) {
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
    Ok(
        plan::desired_containers(stack, image_id.as_deref(), &resolved.values, &local.dir())
            .into_iter()
            .filter(|d| selected.contains(&d.service))
            .collect(),
    )
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

/// Phase 2: What to do to each selected container. On a whole-stack `up`,
/// containers stack.yaml no longer asks for (or whose profile is off) go;
/// with services named, nothing outside them is touched.
async fn plan_changes(
    ctx: &Context,
    local: &LocalStack,
    desired: &[DesiredContainer],
    whole: bool,
) -> anyhow::Result<Vec<Action>> {
    let engine = &local.engine;
    let actual: Vec<_> = engine
        .members(local.name())
        .await?
        .iter()
        .map(actual_from)
        .filter(|a| {
            whole
                || desired
                    .iter()
                    .any(|d| Some(&d.service) == a.service.as_ref())
        })
        .collect();
    let mut actions = plan::plan(desired, &actual);
    for a in &mut actions {
        if let Action::Remove { name, why, .. } = a
            && let Some(actual) = actual.iter().find(|x| x.name == *name)
            && let Some(svc) = actual
                .service
                .as_ref()
                .and_then(|s| local.loaded.disabled.get(s))
        {
            *why = format!(
                "its profile {} is not active",
                svc.profiles
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
    }
    let removals: Vec<(&String, &String, &String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove { id, name, why } => Some((id, name, why)),
            _ => None,
        })
        .collect();
    for (_, name, why) in &removals {
        ctx.shell.status(format!("removing {name} ({why})"));
    }
    for r in join_all(
        removals
            .iter()
            .map(|(id, _, _)| engine.stop_and_remove(id, 10)),
    )
    .await
    {
        r?;
    }
    Ok(actions)
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
