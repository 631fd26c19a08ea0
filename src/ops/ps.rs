//! `geno ps`: the stack's containers with state, health, ports, image, uptime.

use serde::Serialize;

use super::local::Local;
use crate::cli::Config;

#[derive(Debug, Serialize)]
pub struct Row {
    pub service: String,
    pub replica: u32,
    pub container: String,
    pub id: String,
    pub kind: String,
    pub state: String,
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    pub ports: Vec<String>,
    pub image: String,
    pub uptime_seconds: Option<u64>,
}

pub fn ps(config: &Config) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let local = Local::open(config).await?;
        let rows = rows(&local).await?;
        let lb = crate::proxy::daemon::running(&local.state_dir(), local.stack_name()).await;
        let targets = match &lb {
            Some(state) => crate::proxy::daemon::targets(state).await.unwrap_or_default(),
            None => Vec::new(),
        };
        if config.json {
            let out = serde_json::json!({
                "containers": rows,
                "loadBalancer": lb.as_ref().map(|s| serde_json::json!({"listeners": s.listeners, "pid": s.pid})),
                "targets": targets,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(0);
        }
        if rows.is_empty() {
            eprintln!("{} has no containers (run `geno up`)", local.stack_name());
            return Ok(0);
        }
        let mut table = vec![
            [
                "SERVICE", "REPLICA", "STATE", "HEALTH", "PORTS", "IMAGE", "UPTIME",
            ]
            .map(String::from),
        ];
        for r in &rows {
            table.push([
                r.service.clone(),
                r.replica.to_string(),
                match (r.state.as_str(), r.exit_code) {
                    ("exited", Some(code)) => format!("exited ({code})"),
                    (s, _) => s.to_string(),
                },
                r.health.clone().unwrap_or_else(|| "-".into()),
                if r.ports.is_empty() {
                    "-".into()
                } else {
                    r.ports.join(", ")
                },
                r.image
                    .strip_prefix("sha256:")
                    .unwrap_or(&r.image)
                    .chars()
                    .take(12)
                    .collect(),
                r.uptime_seconds.map(uptime).unwrap_or_else(|| "-".into()),
            ]);
        }
        super::table::write(&mut std::io::stdout(), &table)?;
        if let Some(state) = &lb {
            println!("\nload balancer on http://{}", state.listeners.join(", http://"));
            let mut t = vec![["TARGET GROUP", "TARGET", "ADDRESS", "STATE", "REASON"].map(String::from)];
            for r in &targets {
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
            super::table::write(&mut std::io::stdout(), &t)?;
        }
        Ok(0)
    })
}

pub async fn rows(local: &Local) -> anyhow::Result<Vec<Row>> {
    let stack = &local.loaded.stack;
    let mut rows = Vec::new();
    for m in local.engine.members(&stack.name).await? {
        let inspect = local.engine.inspect(&m.id).await?;
        let state = inspect.state.clone().unwrap_or_default();
        let running = state.running.unwrap_or(false);
        let running_for = state.started_at.as_deref().and_then(crate::docker::since);
        rows.push(Row {
            service: m.service.clone(),
            replica: m.replica,
            id: m.id.clone(),
            container: m.name.clone(),
            kind: m.kind.clone(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none"),
            exit_code: (!running).then_some(state.exit_code).flatten(),
            ports: m.ports.clone(),
            image: inspect.image.clone().unwrap_or_default(),
            uptime_seconds: if running {
                running_for.map(|d| d.as_secs())
            } else {
                None
            },
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
