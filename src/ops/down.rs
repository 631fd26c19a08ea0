//! `geno down`: stop and remove everything carrying the stack's label, in
//! reverse dependency order, then its network; volumes and built images
//! only when asked.

use futures_util::future::join_all;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::docker::{Engine, Member};
use crate::error::CliResult;
use crate::host::for_cleanup;
use crate::host::lock::StackLock;
use crate::shell::Shell;
use crate::stack::{Stack, graph};

/// The arguments of `geno down`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also remove named volumes, and the data in them.
    #[arg(long)]
    pub volumes: bool,
    /// Also remove the stack's built images, but for the last verified
    /// ones and every promoted one (`geno up` removes old builds by
    /// itself past GENO_KEEP_BUILDS, default 10).
    #[arg(long)]
    pub rmi: bool,
    /// Fail at once if another geno is changing this stack, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        down(
            ctx,
            DownOptions {
                volumes: self.volumes,
                rmi: self.rmi,
                no_wait: self.no_wait,
            },
        )
        .await
    }
}

pub struct DownOptions {
    pub volumes: bool,
    /// Also remove the stack's built images but the verified and promoted ones.
    pub rmi: bool,
    /// Fail at once when another geno holds the stack's lock.
    pub no_wait: bool,
}

pub async fn down(ctx: &Context, opts: DownOptions) -> CliResult {
    let target = for_cleanup(ctx)?;
    let _lock = StackLock::acquire(
        &target.state_dir,
        &target.name,
        "down",
        opts.no_wait,
        &ctx.shell,
    )
    .await?;
    let engine = ctx.engine().await?;
    if crate::proxy::daemon::stop(&target.state_dir, &target.name).await {
        ctx.shell.status("stopped the load balancer");
    }
    if crate::host::supervise::stop(&target.state_dir, &target.name).await {
        ctx.shell.status("stopped the task supervisor");
    }
    remove_stack(
        engine,
        &target.name,
        target.stack.as_ref(),
        &opts,
        &ctx.shell,
    )
    .await?;
    if opts.rmi {
        let removed = crate::host::image::prune(
            &target.name,
            engine,
            &target.state_dir,
            &[],
            None,
            &ctx.shell,
        )
        .await?;
        if removed == 0 {
            ctx.shell
                .status("no builds to remove (verified and promoted images stay)");
        }
    }
    Ok(())
}

/// Everything labelled with the stack: containers in waves, dependents
/// first; then its networks; volumes only when asked.
async fn remove_stack(
    engine: &Engine,
    name: &str,
    stack: Option<&Stack>,
    opts: &DownOptions,
    shell: &Shell,
) -> anyhow::Result<()> {
    let removed = remove_containers(engine, name, stack, shell).await?;
    // By ID: duplicates left by a race or by hand go too.
    let networks = engine.stack_networks(name).await?;
    for (id, _) in &networks {
        engine.remove_network(id).await?;
    }
    let mut networks: Vec<String> = networks.into_iter().map(|(_, n)| n).collect();
    networks.dedup();
    let mut summary = format!(
        "{name} is down: removed {removed} container{}{}",
        plural(removed),
        if networks.is_empty() {
            String::new()
        } else {
            format!(", network {}", networks.join(", "))
        }
    );
    let volumes: Vec<String> = engine
        .stack_volumes(name)
        .await?
        .into_iter()
        .map(|v| v.0)
        .collect();
    if opts.volumes {
        for vol in &volumes {
            shell.status(format!("removing volume {vol} and the data in it"));
            engine.remove_volume(vol).await?;
        }
        if !volumes.is_empty() {
            summary.push_str(&format!(", volumes {}", volumes.join(", ")));
        }
    } else if !volumes.is_empty() {
        summary.push_str(&format!(
            "; kept volume{} {} (`geno down --volumes` removes {})",
            plural(volumes.len()),
            volumes.join(", "),
            if volumes.len() == 1 { "it" } else { "them" }
        ));
    }
    shell.status(summary);
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The services in waves of the dependency graph, reversed: dependents
/// stop first.
fn stop_order(stack: &Stack) -> Vec<Vec<String>> {
    let nodes: Vec<(&str, Vec<&str>)> = stack
        .services
        .iter()
        .map(|(n, svc)| {
            (
                n.as_str(),
                svc.service_deps().map(|(d, _)| d.as_str()).collect(),
            )
        })
        .collect();
    let mut waves: Vec<Vec<String>> = graph::waves(&nodes)
        .unwrap_or_else(|_| vec![nodes.iter().map(|(n, _)| *n).collect()])
        .into_iter()
        .map(|w| w.into_iter().map(str::to_string).collect())
        .collect();
    waves.reverse();
    waves
}

/// Stops and removes every container of the stack; how many.
async fn remove_containers(
    engine: &Engine,
    name: &str,
    stack: Option<&Stack>,
    shell: &Shell,
) -> anyhow::Result<usize> {
    let containers = engine.members(name).await?;
    let waves = stack.map(stop_order).unwrap_or_default();
    let grace = |service: &str| {
        stack
            .and_then(|s| s.services.get(service))
            .map(|s| s.stop_grace_period.as_secs())
            .unwrap_or(10)
    };
    // First what is not running (nothing to stop: completed jobs, crashed
    // containers) and what no wave names (one-off runs, services since
    // removed); then the running services, dependents first.
    let known: Vec<&String> = waves.iter().flatten().collect();
    let mut groups: Vec<Vec<&Member>> = vec![
        containers
            .iter()
            .filter(|c| !c.running() || !known.contains(&&c.service))
            .collect(),
    ];
    for wave in &waves {
        groups.push(
            containers
                .iter()
                .filter(|c| c.running() && wave.contains(&c.service))
                .collect(),
        );
    }
    let mut removed = 0;
    for group in groups.into_iter().filter(|g| !g.is_empty()) {
        let names: Vec<&str> = group.iter().map(|c| c.name.as_str()).collect();
        shell.status(format!("stopping {}", names.join(", ")));
        let results = join_all(
            group
                .iter()
                .map(|c| engine.stop_and_remove(&c.id, grace(&c.service))),
        )
        .await;
        for r in results {
            r?;
            removed += 1;
        }
    }
    Ok(removed)
}
