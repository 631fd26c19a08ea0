//! `geno down`: stop and remove everything carrying the stack's label, in
//! reverse dependency order, then its network; volumes only when asked.

use std::io::Write;

use futures_util::future::join_all;

use crate::cli::Config;
use crate::docker::{Engine, Member};
use crate::stack::graph;

pub struct DownOptions {
    pub volumes: bool,
}

pub fn down(config: &Config, opts: DownOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let target = super::local::for_cleanup(config)?;
        let engine = Engine::connect().await?;
        if crate::proxy::daemon::stop(&target.state_dir, &target.name).await {
            eprintln!("stopped the load balancer");
        }
        run(
            &engine,
            &target.name,
            target.stack.as_ref(),
            &opts,
            &mut std::io::stderr(),
        )
        .await?;
        Ok(0)
    })
}

pub async fn run(
    engine: &Engine,
    name: &str,
    stack: Option<&crate::stack::Stack>,
    opts: &DownOptions,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let containers = engine.members(name).await?;
    // Waves of the dependency graph, reversed: dependents stop first.
    let waves: Vec<Vec<String>> = match stack {
        Some(s) => {
            let nodes: Vec<(&str, Vec<&str>)> = s
                .services
                .iter()
                .map(|(n, svc)| {
                    (
                        n.as_str(),
                        svc.depends_on.0.keys().map(String::as_str).collect(),
                    )
                })
                .collect();
            let mut w: Vec<Vec<String>> = graph::waves(&nodes)
                .unwrap_or_else(|_| vec![nodes.iter().map(|(n, _)| *n).collect()])
                .into_iter()
                .map(|w| w.into_iter().map(str::to_string).collect())
                .collect();
            w.reverse();
            w
        }
        None => Vec::new(),
    };
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
        let _ = writeln!(err, "stopping {}", names.join(", "));
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
    let networks = engine.stack_networks(name).await?;
    for n in &networks {
        engine.remove_network(n).await?;
    }
    let mut summary = format!(
        "{name} is down: removed {removed} container{}{}",
        if removed == 1 { "" } else { "s" },
        if networks.is_empty() {
            String::new()
        } else {
            format!(", network {}", networks.join(", "))
        }
    );
    let volumes = engine.stack_volumes(name).await?;
    if opts.volumes {
        for (vol, _) in &volumes {
            let _ = writeln!(err, "removing volume {vol} and the data in it");
            engine.remove_volume(vol).await?;
        }
        if !volumes.is_empty() {
            summary.push_str(&format!(
                ", volumes {}",
                volumes
                    .iter()
                    .map(|v| v.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    } else if !volumes.is_empty() {
        summary.push_str(&format!(
            "; kept volume{} {} (`geno down --volumes` removes {})",
            if volumes.len() == 1 { "" } else { "s" },
            volumes
                .iter()
                .map(|v| v.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if volumes.len() == 1 { "it" } else { "them" }
        ));
    }
    let _ = writeln!(err, "{summary}");
    Ok(())
}
