//! Restarting containers in place (same container, same configuration),
//! as `geno restart` and the edit loop share it. A load-balanced
//! service's replicas go one at a time: the load balancer drains a
//! replica, it restarts and is probed until ready, and the next one goes
//! only once the load balancer has it healthy again, so the service keeps
//! answering. Other services' replicas restart together.
//!
//! `geno restart` restarts containers (stop, start); the edit loop
//! restarts only the process, through geno's init in the container
//! (`local::init`), where there is one.

use tokio::time::Instant;

use super::LocalStack;
use super::converge::{Wait, converge, load_balancer, target_healthy};
use crate::context::Context;
use crate::docker::Member;
use crate::error::CliResult;
use crate::local::init::{Respawned, Restart};
use crate::local::plan::{Action, InPlace};
use crate::local::reconcile::Reconcile;
use crate::proxy::daemon;

/// Who restarts, and so how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// `geno restart`: containers restart; the load balancer is made
    /// current first, and each replica's return is said.
    Command,
    /// The edit loop: processes restart under geno's init (containers
    /// without one restart whole); the load balancer is taken as it runs
    /// (the loop checked it when it began), and nothing is said per
    /// replica.
    Watch,
}

/// Restarts `containers` in the order given, each until ready (and
/// healthy in the load balancer, for a routed service). `verb` names the
/// command in what is said. For the edit loop: each container (by name)
/// that was asked to restart its process, and how that went.
pub async fn in_place(
    ctx: &Context,
    local: &LocalStack,
    containers: &[Member],
    verb: &str,
    wait: Wait,
    by: By,
) -> CliResult<Vec<(String, Respawned)>> {
    let quiet = by == By::Watch;
    let routed = |service: &str| local.stack().deregistration_delay(service).is_some();
    let services: Vec<String> = containers.iter().map(|c| c.service.clone()).collect();
    // Drain and re-register through a load balancer that runs and is current.
    if containers.iter().any(|c| routed(&c.service)) && !quiet {
        load_balancer(ctx, local, None, &services, wait.deadline).await?;
    }
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    // Service by service; a routed service's replicas one at a time (it
    // keeps a healthy target), the others' all at once (a worker's queue
    // waits for them, as it would for ECS replacing tasks).
    let mut services_in_order: Vec<&str> = Vec::new();
    for c in containers {
        if !services_in_order.contains(&c.service.as_str()) {
            services_in_order.push(&c.service);
        }
    }
    let mut respawned = Vec::new();
    for service in services_in_order {
        let replicas: Vec<&Member> = containers.iter().filter(|c| c.service == service).collect();
        let groups: Vec<Vec<&Member>> = if routed(service) {
            // A replica with its sidecars: one task.
            let mut tasks: Vec<Vec<&Member>> = Vec::new();
            for c in &replicas {
                match tasks.iter_mut().find(|t| t[0].replica == c.replica) {
                    Some(t) => t.push(c),
                    None => tasks.push(vec![*c]),
                }
            }
            tasks
        } else {
            vec![replicas]
        };
        let svc = &local.stack().services[service];
        let grace_secs = svc.stop_grace_period.as_secs();
        for group in groups {
            let actions = group
                .iter()
                .map(|c| Action::AsIs {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    service: c.service.clone(),
                    how: match by {
                        By::Watch if c.init.is_some() && c.running() => {
                            InPlace::Respawn(Restart::of(svc))
                        }
                        _ => InPlace::Restart,
                    },
                    grace_secs,
                })
                .collect();
            let mut reconcile = Reconcile::only(local.stack(), &[service.to_string()], actions);
            converge(ctx, local, &mut reconcile, verb, wait).await?;
            for (id, how) in reconcile.respawned {
                if let Some(c) = group.iter().find(|c| c.id == id) {
                    respawned.push((c.name.clone(), how));
                }
            }
            let Some(lb) = lb.as_ref().filter(|_| routed(service)) else {
                continue;
            };
            for c in group {
                let since = Instant::now();
                // Ready by its own health command (or up, without one): in
                // rotation, checked at once.
                daemon::admit(lb, &c.id).await;
                target_healthy(ctx, lb, &c.name, wait.deadline).await?;
                tracing::info!(container = %c.name, after = ?since.elapsed(), "healthy in the load balancer after its probe");
                if !quiet {
                    ctx.shell.status(format!(
                        "{} healthy in the load balancer after {:.1}s",
                        c.name,
                        since.elapsed().as_secs_f64()
                    ));
                }
            }
        }
    }
    Ok(respawned)
}
