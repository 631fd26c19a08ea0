//! `geno stop [SERVICE…]`: stop the services' containers (dependents
//! first), keeping them for `geno start`; the load balancer drains a
//! target before its container stops. Services that depend on a stopped
//! one and keep running are named.

use futures_util::future::join_all;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::proxy::daemon;

/// The arguments of `geno stop`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to stop (default: all).
    pub services: Vec<String>,
    /// Fail at once if another geno is changing this stack, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        stop(
            ctx,
            StopOptions {
                services: self.services,
                no_wait: self.no_wait,
            },
        )
        .await
    }
}

pub struct StopOptions {
    pub services: Vec<String>,
    pub no_wait: bool,
}

pub async fn stop(ctx: &Context, opts: StopOptions) -> CliResult {
    let local = LocalStack::open_for(ctx, &opts.services).await?;
    let _lock = local.lock(ctx, "stop", opts.no_wait).await?;
    let named = local.selected(&opts.services);
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    let containers = local.containers(&named).await?;
    // Dependents first, as `down` removes them.
    for service in named.iter().rev() {
        let running: Vec<_> = containers
            .iter()
            .filter(|c| c.service == *service && c.state == "running")
            .collect();
        if running.is_empty() {
            continue;
        }
        let svc = &local.stack().services[service];
        let delay = local.stack().deregistration_delay(service);
        let grace = svc.stop_grace_period.as_secs();
        let results = join_all(running.iter().map(|c| {
            let (lb, engine) = (&lb, &local.engine);
            async move {
                if let (Some(lb), Some(delay)) = (lb, delay) {
                    daemon::drain(lb, &c.id, delay).await;
                }
                engine.stop(&c.id, grace).await
            }
        }))
        .await;
        for r in results {
            r?;
        }
        let names: Vec<&str> = running.iter().map(|c| c.name.as_str()).collect();
        ctx.shell.status(format!("stopped {}", names.join(", ")));
    }
    affected(ctx, &local, &named).await
}

/// Names the services left running that depend on what was stopped.
async fn affected(ctx: &Context, local: &LocalStack, stopped: &[String]) -> CliResult {
    let dependents = local.stack().dependents(stopped);
    let running: Vec<String> = local
        .containers(&dependents)
        .await?
        .into_iter()
        .filter(|c| c.state == "running")
        .map(|c| c.service)
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    if !running.is_empty() {
        ctx.shell.warn(format!(
            "{} {} on {} and {} running; {} may fail until `geno start {}`",
            running.join(", "),
            if running.len() == 1 {
                "depends"
            } else {
                "depend"
            },
            stopped.join(", "),
            if running.len() == 1 { "keeps" } else { "keep" },
            if running.len() == 1 { "it" } else { "they" },
            stopped.join(" "),
        ));
    }
    Ok(())
}
