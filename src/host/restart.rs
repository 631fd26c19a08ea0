//! Restarting containers in place (same container, same configuration),
//! one replica at a time, as `geno restart` and the edit loop share it:
//! the load balancer drains a replica, it restarts and is probed until
//! ready, and the next one goes only once the load balancer has it
//! healthy again, so a load-balanced service keeps answering.

use tokio::time::Instant;

use super::LocalStack;
use super::converge::{Wait, converge, load_balancer, target_healthy};
use crate::context::Context;
use crate::docker::Member;
use crate::error::CliResult;
use crate::local::plan::{Action, InPlace};
use crate::local::reconcile::Reconcile;
use crate::proxy::daemon;

/// Restarts `containers` in the order given, each until ready (and
/// healthy in the load balancer, for a routed service). `verb` names the
/// command in what is said. `quiet`: the load balancer is taken as it runs
/// (the edit loop checked it when it began) and nothing is said per replica.
pub async fn in_place(
    ctx: &Context,
    local: &LocalStack,
    containers: &[Member],
    verb: &str,
    wait: Wait,
    quiet: bool,
) -> CliResult {
    let routed = |service: &str| local.stack().deregistration_delay(service).is_some();
    let services: Vec<String> = containers.iter().map(|c| c.service.clone()).collect();
    // Drain and re-register through a load balancer that runs and is current.
    if containers.iter().any(|c| routed(&c.service)) && !quiet {
        load_balancer(ctx, local, None, &services, wait.deadline).await?;
    }
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    for c in containers {
        let svc = &local.stack().services[&c.service];
        let action = Action::AsIs {
            id: c.id.clone(),
            name: c.name.clone(),
            service: c.service.clone(),
            how: InPlace::Restart,
            grace_secs: svc.stop_grace_period.as_secs(),
        };
        let mut reconcile = Reconcile::only(
            local.stack(),
            std::slice::from_ref(&c.service),
            vec![action],
        );
        converge(ctx, local, &mut reconcile, verb, wait).await?;
        if let Some(lb) = lb.as_ref().filter(|_| routed(&c.service)) {
            let since = Instant::now();
            // Ready by its own health command (or up, without one): back
            // into rotation, checked at once.
            daemon::admit(lb, &c.id).await;
            target_healthy(ctx, lb, &c.name, wait.deadline).await?;
            if !quiet {
                ctx.shell.status(format!(
                    "{} healthy in the load balancer after {:.1}s",
                    c.name,
                    since.elapsed().as_secs_f64()
                ));
            }
        }
    }
    Ok(())
}
