//! `geno ps [SERVICE…]`: the stack's containers with state, readiness,
//! health, restarts, ports, image, uptime; the last log lines of any that
//! crashed; and whether the load balancer runs and serves this stack.yaml.

pub mod env;

use serde::Serialize;

use super::{OnInterrupt, Place, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::ids::short_id;
use crate::proxy::daemon;
use crate::proxy::targets::TargetReport;

/// The arguments of `geno ps`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to list (default: all).
    pub services: Vec<String>,
    /// A deployed environment instead of the local stack.
    #[arg(long)]
    pub env: Option<String>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        match Place::of(self.env.as_deref()) {
            Place::Deployed(env) => env::ps(ctx, env, &self.services).await,
            Place::Local => ps(ctx, &self.services).await,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub service: String,
    pub replica: u32,
    pub container: String,
    pub id: String,
    pub kind: String,
    pub state: String,
    /// Docker's health status (its first check comes one interval after start).
    pub health: Option<String>,
    /// Seconds from start until geno's readiness probe first passed.
    pub ready_after_seconds: Option<f64>,
    pub exit_code: Option<i64>,
    /// How often the engine restarted it after it exited (as ECS would
    /// replace the task).
    pub restarts: i64,
    /// It was killed for exceeding its memory limit (ecs.memory).
    pub oom_killed: bool,
    pub ports: Vec<String>,
    pub image: String,
    pub uptime_seconds: Option<u64>,
    /// The last log lines of a container that crashed (exited with an
    /// error, was restarted by the engine, or was killed for memory).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_logs: Vec<String>,
    /// Files `geno up --watch` (or a hand) put into it: it runs more than
    /// its image, and `geno smoke` vouches for nothing while it does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub synced_files: Vec<String>,
    /// Its command runs under geno's init, of this version: the edit loop
    /// restarts the process, not the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geno_init: Option<String>,
}

/// Log lines shown for a container that crashed.
const CRASH_LINES: usize = 5;

pub async fn ps(ctx: &Context, services: &[String]) -> CliResult {
    let shell = &ctx.shell;
    let local = LocalStack::open_for(ctx, services).await?;
    let rows = rows(&local, services).await?;
    let lb = daemon::running(&local.state_dir(), local.name()).await;
    let targets = match &lb {
        Some(state) => daemon::targets(state).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let wanted = local.stack().load_balancer.as_ref();
    let current = lb
        .as_ref()
        .zip(wanted)
        .is_some_and(|(state, lb)| daemon::serves(state, lb));
    if shell.json() {
        shell.print_json(&serde_json::json!({
            "containers": rows,
            "loadBalancer": wanted.map(|_| serde_json::json!({
                "running": lb.is_some(),
                "current": current,
                "listeners": lb.as_ref().map(|s| s.listeners.clone()),
                "pid": lb.as_ref().map(|s| s.pid),
            })),
            "targets": targets,
        }))?;
        return Ok(());
    }
    if rows.is_empty() {
        shell.status(format!(
            "{} has no containers (run `geno up`)",
            local.name()
        ));
        return Ok(());
    }
    shell.table(&container_table(&rows))?;
    for r in rows.iter().filter(|r| !r.last_logs.is_empty()) {
        shell.out_line(format!(
            "\n{} {}; its last {} log lines:",
            r.container,
            state_text(r),
            r.last_logs.len()
        ))?;
        for line in &r.last_logs {
            shell.out_line(format!("  | {line}"))?;
        }
    }
    let synced: Vec<&Row> = rows.iter().filter(|r| !r.synced_files.is_empty()).collect();
    if !synced.is_empty() {
        shell.out_line(format!(
            "\n{}; a container with synced files runs more than its image: `geno up` replaces it, and `geno smoke` records no verification meanwhile",
            synced
                .iter()
                .map(|r| format!(
                    "{} runs {} synced file{}",
                    r.container,
                    r.synced_files.len(),
                    if r.synced_files.len() == 1 { "" } else { "s" }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    let supervised: Vec<&str> = rows
        .iter()
        .filter(|r| r.geno_init.is_some() && r.state == "running")
        .map(|r| r.container.as_str())
        .collect();
    if !supervised.is_empty() {
        shell.out_line(format!(
            "\n{} run{} {} command under geno's init: the edit loop restarts the process in place, not the container (UPTIME is the container's)",
            supervised.join(", "),
            if supervised.len() == 1 { "s" } else { "" },
            if supervised.len() == 1 { "its" } else { "their" },
        ))?;
    }
    match (&lb, wanted) {
        (Some(state), _) => {
            let declared = wanted.map(|b| b.listeners.as_slice()).unwrap_or_default();
            shell.out_line(format!(
                "\nload balancer on {}{}",
                daemon::urls(declared, &state.listeners).join(", "),
                if current {
                    ""
                } else {
                    " serves an older stack.yaml (or another geno build); `geno up` restarts it"
                }
            ))?;
            shell.table(&target_table(&targets))?;
        }
        (None, Some(_)) => {
            shell.out_line("\nload balancer: not running; `geno up` starts it")?;
        }
        (None, None) => {}
    }
    Ok(())
}

fn container_table(rows: &[Row]) -> Vec<[String; 8]> {
    let mut table = vec![
        [
            "SERVICE", "REPLICA", "STATE", "READY", "HEALTH", "PORTS", "IMAGE", "UPTIME",
        ]
        .map(String::from),
    ];
    for r in rows {
        table.push([
            r.service.clone(),
            r.replica.to_string(),
            state_text(r),
            match r.ready_after_seconds {
                Some(s) => format!("probe {s:.1}s"),
                None => "-".into(),
            },
            r.health.clone().unwrap_or_else(|| "-".into()),
            if r.ports.is_empty() {
                "-".into()
            } else {
                r.ports.join(", ")
            },
            short_id(&r.image).to_string(),
            r.uptime_seconds.map(uptime).unwrap_or_else(|| "-".into()),
        ]);
    }
    table
}

/// `running`, `exited (3)`, `exited (137, out of memory)`,
/// `running (2 restarts)`.
fn state_text(r: &Row) -> String {
    let oom = if r.oom_killed { ", out of memory" } else { "" };
    match (r.state.as_str(), r.exit_code) {
        ("exited", Some(code)) => format!("exited ({code}{oom})"),
        (s, _) if r.restarts > 0 => format!(
            "{s} ({} restart{}{oom})",
            r.restarts,
            if r.restarts == 1 { "" } else { "s" }
        ),
        (s, _) => s.to_string(),
    }
}

fn target_table(targets: &[TargetReport]) -> Vec<[String; 5]> {
    let mut t = vec![["TARGET GROUP", "TARGET", "ADDRESS", "STATE", "REASON"].map(String::from)];
    for r in targets {
        t.push([
            r.target_group.clone(),
            r.container.clone(),
            r.address.clone(),
            r.state.as_str().to_string(),
            match &r.reason {
                Some(code) if !r.description.is_empty() => format!("{code}: {}", r.description),
                Some(code) => code.to_string(),
                None => "-".into(),
            },
        ]);
    }
    t
}

/// One row per container of `services` (every container when empty, one-off
/// runs and services outside the active profiles included).
pub async fn rows(local: &LocalStack, services: &[String]) -> anyhow::Result<Vec<Row>> {
    let stack = &local.loaded.stack;
    let ready = crate::state::readiness::load(&local.state_dir(), local.name());
    let mut rows = Vec::new();
    let members: Vec<crate::docker::Member> = local
        .engine
        .members(&stack.name)
        .await?
        .into_iter()
        .filter(|m| services.is_empty() || services.contains(&m.service))
        .collect();
    let drift = crate::host::sync::drift(local, &members, false).await?;
    for m in members {
        let inspect = local.engine.inspect(&m.id).await?;
        let state = inspect.state.clone().unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let running_for = state.started_at.as_deref().and_then(crate::docker::since);
        let restarts = inspect.restart_count.unwrap_or(0);
        let oom_killed = state.oom_killed.unwrap_or(false);
        // 143: SIGTERM (`geno stop`), not a crash.
        let failed_exit =
            !running && m.kind == "service" && !matches!(state.exit_code.unwrap_or(0), 0 | 143);
        let last_logs = if restarts > 0 || oom_killed || failed_exit {
            local.engine.tail_logs(&m.id, CRASH_LINES).await
        } else {
            Vec::new()
        };
        rows.push(Row {
            // A sidecar as `SERVICE/SIDECAR`: a container of its task.
            service: match &m.sidecar {
                Some(car) => format!("{}/{car}", m.service),
                None => m.service.clone(),
            },
            replica: m.replica,
            id: m.id.clone(),
            container: m.name.clone(),
            kind: m.kind.clone(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            // What a stopped container last reported is stale.
            health: state
                .health
                .filter(|_| running)
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            ready_after_seconds: ready.after_start.get(&m.id).copied().filter(|_| running),
            exit_code: (!running).then_some(state.exit_code).flatten(),
            restarts,
            oom_killed,
            ports: m.ports.clone(),
            image: inspect.image.clone().unwrap_or_default(),
            uptime_seconds: if running {
                running_for.map(|d| d.as_secs())
            } else {
                None
            },
            last_logs,
            synced_files: drift
                .iter()
                .find(|d| d.id == m.id)
                .map(|d| d.files.clone())
                .unwrap_or_default(),
            geno_init: m.init.clone(),
        });
    }
    rows.sort_by_key(|r| {
        (
            stack
                .services
                .get_index_of(&r.service)
                .unwrap_or(usize::MAX),
            r.replica,
            r.container.clone(),
        )
    });
    Ok(rows)
}

fn uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
    }
}
