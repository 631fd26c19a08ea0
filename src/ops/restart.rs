//! `geno restart [SERVICE…]`: restart the services' containers in place
//! (same container, same configuration), one replica at a time (see
//! `host::restart`). Services go in declaration order; nothing else is
//! touched.

use std::time::Duration;

use tokio::time::Instant;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::Wait;
use crate::host::restart;
use crate::stack::Dur;

/// The arguments of `geno restart`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to restart (default: all).
    pub services: Vec<String>,
    /// Give up waiting after this long.
    #[arg(long, default_value = "5m", value_parser = super::duration)]
    pub timeout: Dur,
    /// Fail at once if another geno is changing this stack, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno restart")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        restart(
            ctx,
            RestartOptions {
                services: self.services,
                timeout: self.timeout.0,
                no_wait: self.no_wait,
            },
        )
        .await
    }
}

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
