//! `geno restart [SERVICE…]`: restart the services' containers in place
//! (same container, same configuration), one replica at a time (see
//! `host::restart`). Services go in declaration order; nothing else is
//! touched. With `--env`, new tasks on ECS (`env`).

pub mod env;

use std::time::Duration;

use tokio::time::Instant;

use super::{OnInterrupt, Place, Verb};
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
    /// A deployed environment: new ECS tasks of the task definitions that
    /// run, for a rotated secret or a changed parameter (recorded).
    #[arg(long)]
    pub env: Option<String>,
    /// Give up waiting after this long (default 5m here, 15m for --env).
    #[arg(long, value_parser = super::duration)]
    pub timeout: Option<Dur>,
    /// With --env: how often to look at the services while they roll out.
    #[arg(long, default_value = "5s", value_parser = super::duration)]
    pub poll: Dur,
    /// Fail at once if another geno is changing this stack, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno restart")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        if let Place::Deployed(name) = Place::of(self.env.as_deref()) {
            let watch = crate::environment::rollout::Watch {
                timeout: self.timeout.map_or(Duration::from_secs(15 * 60), |t| t.0),
                poll: self.poll.0,
            };
            return env::restart(ctx, name, &self.services, watch).await;
        }
        restart(
            ctx,
            RestartOptions {
                services: self.services,
                timeout: self.timeout.map_or(Duration::from_secs(5 * 60), |t| t.0),
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
    restart::in_place(
        ctx,
        &local,
        &containers,
        "geno restart",
        wait,
        restart::By::Command,
    )
    .await?;
    crate::host::supervise::ensure_for(ctx, &local).await?;
    ctx.shell.status(format!(
        "restarted {} in {:.1}s",
        named.join(", "),
        began.elapsed().as_secs_f64()
    ));
    Ok(())
}
