//! `geno watch`: the edit loop on a stack that is already up (`geno up
//! --watch` starts it after bringing the stack up); see `host::watch`.

use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;

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
