//! `geno restart [SERVICE…]`: restart the services' containers in place
//! (same container, same configuration), one replica at a time: the load
//! balancer drains a replica, it restarts and is probed until ready, and
//! the next one goes only once the load balancer has it healthy again, so
//! a load-balanced service keeps answering. Services go in declaration
//! order; nothing else is touched.

use std::time::Duration;

use tokio::time::Instant;

use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::{Wait, converge, load_balancer, target_healthy};
use crate::local::plan::{Action, InPlace};
use crate::local::reconcile::Reconcile;
use crate::proxy::daemon;

pub struct RestartOptions {
    pub services: Vec<String>,
    pub timeout: Duration,
    pub no_wait: bool,
}

pub async fn restart(ctx: &Context, opts: RestartOptions) -> CliResult {
    let began = Instant::now();
    let wait = Wait::from_now(opts.timeout);
    let local = LocalStack::open_for(ctx, &opts.services).await?;
    let _lock = local.lock(ctx, "restart", opts.no_wait).await?;
    let named = local.selected(&opts.services);
    let containers = local.containers(&named).await?;
    if let Some(missing) = named
        .iter()
        .find(|s| !containers.iter().any(|c| c.service == **s))
    {
        return Err(anyhow::anyhow!(
            "{missing} has no container yet; `geno up {missing}` creates it"
        )
        .into());
    }
    let routed = |service: &str| local.stack().deregistration_delay(service).is_some();
    // Drain and re-register through a load balancer that runs and is current.
    if named.iter().any(|s| routed(s)) {
        load_balancer(ctx, &local, None, &named, wait.deadline).await?;
    }
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    for c in &containers {
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
        converge(ctx, &local, &mut reconcile, "geno restart", wait).await?;
        if let Some(lb) = lb.as_ref().filter(|_| routed(&c.service)) {
            let since = Instant::now();
            target_healthy(ctx, lb, &c.name, wait.deadline).await?;
            ctx.shell.status(format!(
                "{} healthy in the load balancer after {:.1}s",
                c.name,
                since.elapsed().as_secs_f64()
            ));
        }
    }
    ctx.shell.status(format!(
        "restarted {} in {:.1}s",
        named.join(", "),
        began.elapsed().as_secs_f64()
    ));
    Ok(())
}
