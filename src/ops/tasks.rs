//! `geno tasks`: the task supervisor `geno up` starts in the background
//! for stacks whose services have sidecars (`host::supervise`).

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;

/// The arguments of `geno tasks`.
#[derive(Debug, clap::Args)]
pub struct Args {}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno tasks")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let local = LocalStack::open(ctx).await?;
        let state_dir = local.state_dir();
        crate::host::supervise::serve(
            local.engine,
            local.loaded.stack,
            state_dir,
            ctx.cancel.clone(),
        )
        .await?;
        Ok(())
    }
}
