//! `geno watch`: the edit loop on a stack that is already up (`geno up
//! --watch` starts it after bringing the stack up); see `host::watch`.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;

/// The arguments of `geno watch`.
#[derive(Debug, clap::Args)]
pub struct Args {}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno watch")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        watch(ctx).await
    }
}

pub async fn watch(ctx: &Context) -> CliResult {
    let local = LocalStack::open(ctx).await?;
    let members = local.engine.members(local.name()).await?;
    if !members.iter().any(|m| m.running()) {
        return Err(anyhow::anyhow!(
            "`{}` is not running; `geno up --watch` brings it up and watches",
            local.name()
        )
        .into());
    }
    crate::host::watch::run(ctx, &local).await
}
