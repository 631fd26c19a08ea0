//! `geno start [SERVICE…]`: start the existing containers of the services
//! (and of the stopped services they depend on) as they are, in dependency
//! order, and wait until each is ready. Nothing is built or recreated:
//! `geno up` does that.

use std::time::Duration;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::converge::{Wait, converge, load_balancer};
use crate::local::plan::{Action, InPlace};
use crate::local::reconcile::Reconcile;
use crate::stack::Dur;
use crate::stack::ServiceKind;

/// The arguments of `geno start`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to start (default: all).
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
        OnInterrupt::Finish("geno start")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        start(
            ctx,
            StartOptions {
                services: self.services,
                timeout: self.timeout.0,
                no_wait: self.no_wait,
            },
        )
        .await
    }
}

pub struct StartOptions {
    pub services: Vec<String>,
    pub timeout: Duration,
    pub no_wait: bool,
}

pub async fn start(ctx: &Context, opts: StartOptions) -> CliResult {
    let wait = Wait::from_now(opts.timeout);
    let local = LocalStack::open_for(ctx, &opts.services).await?;
    let _lock = local.lock(ctx, "start", opts.no_wait).await?;
    let named = local.selected(&opts.services);
    let selected = local.stack().with_dependencies(&named);
    let containers = local.containers(&selected).await?;
    let missing: Vec<&String> = selected
        .iter()
        .filter(|s| !containers.iter().any(|c| c.service == **s))
        .collect();
    if !missing.is_empty() {
        return Err(anyhow::anyhow!(
            "{} {} no container yet; `geno up {}` creates {}",
            join(&missing),
            if missing.len() == 1 { "has" } else { "have" },
            named.join(" "),
            if missing.len() == 1 { "it" } else { "them" },
        )
        .into());
    }
    let mut actions: Vec<Action> = Vec::new();
    for c in &containers {
        let job = local
            .stack()
            .services
            .get(&c.service)
            .is_some_and(|s| s.kind == ServiceKind::Job);
        let how = match c.state.as_str() {
            "running" => InPlace::Leave,
            // A job that completed runs again only when named.
            "exited" if job && !named.contains(&c.service) => {
                match local.engine.observe(&c.id).await?.exit_code {
                    Some(0) => InPlace::Leave,
                    _ => InPlace::Start,
                }
            }
            _ => InPlace::Start,
        };
        actions.push(Action::AsIs {
            id: c.id.clone(),
            name: c.name.clone(),
            service: c.service.clone(),
            how,
            grace_secs: 10,
        });
    }
    let mut reconcile = Reconcile::only(local.stack(), &selected, actions);
    if reconcile.changed() == 0 {
        ctx.shell.status(format!(
            "{} already running",
            join(&named.iter().collect::<Vec<_>>())
        ));
    }
    converge(ctx, &local, &mut reconcile, "geno start", wait).await?;
    crate::host::supervise::ensure_for(ctx, &local).await?;
    if local.stack().load_balancer.is_some() {
        load_balancer(ctx, &local, None, &selected, wait.deadline).await?;
    }
    Ok(())
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
