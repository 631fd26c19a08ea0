//! `geno restart [SERVICE…]`: restart the services' containers in place
//! (same container, same configuration), one replica at a time (see
//! `host::restart`). Services go in declaration order; nothing else is
//! touched.

use std::time::Duration;

use tokio::time::Instant;

use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::Wait;
use crate::host::restart;

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
    restart::in_place(ctx, &local, &containers, "geno restart", wait, false).await?;
    ctx.shell.status(format!(
        "restarted {} in {:.1}s",
        named.join(", "),
        began.elapsed().as_secs_f64()
    ));
    Ok(())
}
