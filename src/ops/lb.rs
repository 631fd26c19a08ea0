//! `geno lb`: the load balancer process `geno up` starts in the background.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;

/// The arguments of `geno lb`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub fast_health: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno lb")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        lb(ctx, self.fast_health).await
    }
}

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
