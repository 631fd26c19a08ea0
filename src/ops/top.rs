//! `geno top [SERVICE…]`: live figures per service of the local stack,
//! refreshed in place: requests and 5xx answers a second, p50 and p99
//! response time through the load balancer, CPU and memory of its
//! containers. `--once` takes two readings an interval apart and prints
//! them once (`--json` as JSON). With `--env`, a deployed environment's
//! (`env`).

mod env;

use std::time::Instant;

use super::{OnInterrupt, Verb};
use crate::alb::stats::Snapshot;
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::local::top::{Reading, Sample, figures, table};
use crate::proxy::daemon;

/// The arguments of `geno top`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to show (default: all).
    pub services: Vec<String>,
    /// A deployed environment: its CloudWatch metrics instead.
    #[arg(long)]
    pub env: Option<String>,
    /// How often the figures refresh, and locally the window they cover
    /// (default 2s here, 60s for --env: CloudWatch's minute).
    #[arg(long, value_parser = super::duration)]
    pub interval: Option<crate::stack::Dur>,
    /// Print one set of figures (over one interval) and exit.
    #[arg(long)]
    pub once: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno top")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        match super::Place::of(self.env.as_deref()) {
            super::Place::Deployed(name) => {
                let d = crate::environment::deployed::Deployed::open(ctx, name).await?;
                let interval = self
                    .interval
                    .map_or(std::time::Duration::from_secs(60), |d| d.0);
                env::top(
                    &d,
                    &self.services,
                    interval,
                    self.once,
                    &ctx.cancel,
                    &ctx.shell,
                )
                .await?;
                Ok(())
            }
            super::Place::Local => top(ctx, &self).await,
        }
    }
}

/// One reading: the load balancer's counters and each container's.
struct Taken {
    at: Instant,
    stats: Snapshot,
    samples: Vec<(String, String, Sample)>,
}

async fn take(
    local: &LocalStack,
    services: &[String],
    lb: Option<&daemon::LbState>,
) -> anyhow::Result<Taken> {
    let stats = match lb {
        Some(state) => daemon::stats(state).await.unwrap_or_default(),
        None => Vec::new(),
    };
    // The rates are over the time between two readings of the counters.
    let at = Instant::now();
    let mut samples = Vec::new();
    for m in local.containers(services).await? {
        if m.state != "running" {
            continue;
        }
        if let Some(s) = local.engine.sample(&m.id).await? {
            samples.push((m.service.clone(), m.id.clone(), s));
        }
    }
    Ok(Taken { at, stats, samples })
}

async fn top(ctx: &Context, args: &Args) -> CliResult {
    let interval = args
        .interval
        .map_or(std::time::Duration::from_secs(2), |d| d.0);
    let local = LocalStack::open_for(ctx, &args.services).await?;
    let services = local.selected(&args.services);
    let shell = &ctx.shell;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout()) && !shell.json();
    // Found once: a refresh reads its counters, not its health again.
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    let mut before = take(&local, &services, lb.as_ref()).await?;
    if before.samples.is_empty() {
        return Err(anyhow::anyhow!(
            "{} has no running containers{}; run `geno up`",
            local.name(),
            if args.services.is_empty() {
                String::new()
            } else {
                format!(" of {}", args.services.join(", "))
            }
        )
        .into());
    }
    if lb.is_none() && local.stack().load_balancer.is_some() {
        shell.warn("the load balancer is not running: no request figures (run `geno up`)");
    }
    if args.once {
        shell.status(format!(
            "measuring for {}…",
            humantime::format_duration(interval)
        ));
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = ctx.cancel.cancelled() => return Ok(()),
        }
        let after = take(&local, &services, lb.as_ref()).await?;
        let groups = |service: &str| -> Vec<&str> {
            local
                .stack()
                .load_balancer
                .iter()
                .flat_map(|lb| &lb.target_groups)
                .filter(|(_, g)| g.service == service)
                .map(|(k, _)| k.as_str())
                .collect()
        };
        let readings: Vec<Reading> = services
            .iter()
            .map(|s| Reading {
                service: s,
                groups: groups(s),
                containers: after
                    .samples
                    .iter()
                    .filter(|(svc, _, _)| svc == s)
                    .filter_map(|(_, id, now)| {
                        let then = before.samples.iter().find(|(_, i, _)| i == id)?;
                        Some((then.2, *now))
                    })
                    .collect(),
            })
            .filter(|r| !r.containers.is_empty())
            .collect();
        let rows = figures(&readings, &before.stats, &after.stats, after.at - before.at);
        if shell.json() {
            shell.print_json(&rows)?;
        } else {
            if tty && !args.once {
                // Home and clear: the table is drawn again in place.
                shell.out_text("\x1b[H\x1b[2J")?;
                shell.out_line(format!(
                    "{}: every {} (Ctrl-C to stop)",
                    local.name(),
                    humantime::format_duration(interval)
                ))?;
            }
            shell.table(&table(&rows))?;
        }
        if args.once {
            return Ok(());
        }
        before = after;
    }
}
