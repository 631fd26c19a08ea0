//! `geno lb`: the load balancer process `geno up` starts in the background.

use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;

pub async fn lb(ctx: &Context, fast: bool) -> CliResult {
    let local = LocalStack::open(ctx).await?;
    let state_dir = local.state_dir();
    crate::proxy::daemon::serve(
        local.engine,
        local.loaded.stack,
        state_dir,
        fast,
        ctx.settings.verbose > 0,
        ctx.cancel.clone(),
    )
    .await?;
    Ok(())
}
