//! `geno diff --env ENV --local`: the first two of the three ways — each
//! deployed service's container as it runs on this machine against
//! stack.yaml, and stack.yaml for this machine against stack.yaml for the
//! environment. The third, live against the rendering, is `diff` itself.

use std::collections::BTreeMap;

use crate::context::Context;
use crate::deploy::parity::{Running, by_environment, container_drift};
use crate::deploy::taskdef::Change;
use crate::docker::Engine;
use crate::spec::container_spec;
use crate::stack::Stack;
use crate::stack::validate::LOCAL_ENV;

/// Prints both comparisons; returns how many differences drifted (a
/// container stack.yaml no longer describes). Per-environment values are
/// shown but not counted: ECS is meant to run what they say there.
pub async fn print(
    ctx: &Context,
    env: &str,
    there: &Stack,
    engine: &Engine,
) -> anyhow::Result<usize> {
    let shell = &ctx.shell;
    let here = ctx.load(LOCAL_ENV)?.stack;
    let members = engine.members(&here.name).await?;
    let deployed: Vec<&String> = there.services.keys().filter(|n| there.deploys(n)).collect();
    let mut drift = 0;
    shell.out_line(format!(
        "local (containers of `{}` on this machine) against stack.yaml:",
        here.name
    ))?;
    for name in &deployed {
        let Some(svc) = here.services.get(*name) else {
            continue;
        };
        let mut running: Vec<_> = members
            .iter()
            .filter(|m| &m.service == *name && m.kind == "service" && m.state == "running")
            .filter(|m| m.sidecar.is_none())
            .collect();
        running.sort_by_key(|m| m.replica);
        let Some(member) = running.first() else {
            if svc.kind != crate::stack::ServiceKind::Job {
                shell.out_line(format!("  {name}: not running here (`geno up` starts it)"))?;
            }
            continue;
        };
        let inspected = engine.inspect(&member.id).await?;
        let config = inspected.config.unwrap_or_default();
        let seen = Running {
            // geno's init, where the container has it, is not the
            // program's: ECS runs the program itself.
            entrypoint: crate::local::init::unwrapped(&config.entrypoint.unwrap_or_default())
                .to_vec(),
            command: config.cmd.unwrap_or_default(),
            env: config
                .env
                .unwrap_or_default()
                .iter()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            health: config.healthcheck.and_then(|h| h.test),
        };
        let changes = container_drift(&container_spec(name, svc), &seen);
        drift += changes.len();
        section(
            shell,
            &format!("{name} ({})", member.name),
            &changes,
            "as stack.yaml says",
            "since `geno up` (container → stack.yaml; `geno up` replaces it)",
        )?;
    }
    shell.out_line(format!(
        "stack.yaml for `{env}` against stack.yaml for this machine:"
    ))?;
    for name in &deployed {
        let (Some(a), Some(b)) = (here.services.get(*name), there.services.get(*name)) else {
            continue;
        };
        let changes = by_environment(&container_spec(name, a), &container_spec(name, b));
        section(
            shell,
            name,
            &changes,
            "the same",
            &format!("(local → {env}: per-environment values, not counted)"),
        )?;
    }
    Ok(drift)
}

fn section(
    shell: &crate::shell::Shell,
    what: &str,
    changes: &[Change],
    same: &str,
    differ: &str,
) -> std::io::Result<()> {
    if changes.is_empty() {
        return shell.out_line(format!("  {what}: {same}"));
    }
    let n = changes.len();
    shell.out_line(format!(
        "  {what}: {n} difference{} {differ}",
        if n == 1 { "" } else { "s" }
    ))?;
    for c in changes {
        shell.out_line(format!("    {c}"))?;
    }
    Ok(())
}
