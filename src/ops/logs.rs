//! `geno logs`: every container's output, one line at a time, prefixed with
//! its container name in a colour of its own.

use std::io::{IsTerminal, Write};

use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::local::Local;
use crate::cli::Config;
use crate::stack::Dur;

pub struct LogsOptionsCli {
    pub services: Vec<String>,
    pub follow: bool,
    pub since: Option<String>,
    pub tail: Option<String>,
}

pub fn logs(config: &Config, opts: LogsOptionsCli) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let shutdown = crate::shutdown::install("geno logs");
        let local = Local::open(config).await?;
        for s in &opts.services {
            if !local.loaded.stack.services.contains_key(s) {
                let known: Vec<&str> = local
                    .loaded
                    .stack
                    .services
                    .keys()
                    .map(String::as_str)
                    .collect();
                anyhow::bail!("unknown service `{s}`; services are: {}", known.join(", "));
            }
        }
        let since = match &opts.since {
            None => 0,
            Some(text) => since_epoch(text)?,
        };
        stream(
            &local,
            &opts.services,
            opts.follow,
            since,
            opts.tail.clone(),
            &shutdown,
        )
        .await?;
        Ok(0)
    })
}

/// `10m` (ago) or a UNIX timestamp.
fn since_epoch(text: &str) -> anyhow::Result<i32> {
    if let Some(d) = Dur::parse(text).filter(|_| !text.chars().all(|c| c.is_ascii_digit())) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return Ok(now.saturating_sub(d.0).as_secs() as i32);
    }
    if let Ok(ts) = text.parse::<i32>() {
        return Ok(ts);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        let secs = t
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return Ok(secs as i32);
    }
    anyhow::bail!("--since takes a duration (`10m`), a UNIX time or an RFC 3339 time, not `{text}`")
}

pub async fn follow_all(local: &Local, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32;
    stream(local, &[], true, now, None, shutdown).await
}

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

async fn stream(
    local: &Local,
    services: &[String],
    follow: bool,
    since: i32,
    tail: Option<String>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let stack = &local.loaded.stack;
    let mut containers: Vec<(usize, u32, String, String)> = Vec::new();
    for m in local.engine.members(&stack.name).await? {
        if !services.is_empty() && !services.contains(&m.service) {
            continue;
        }
        let order = stack
            .services
            .get_index_of(&m.service)
            .unwrap_or(usize::MAX);
        containers.push((order, m.replica, m.name, m.id));
    }
    containers.sort();
    let width = containers.iter().map(|c| c.2.len()).max().unwrap_or(0);
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (tx, mut rx) = mpsc::channel::<String>(1024);
    let mut tasks = Vec::new();
    for (i, (_, _, name, id)) in containers.into_iter().enumerate() {
        let prefix = if colour {
            format!(
                "\x1b[{}m{name:<width$} |\x1b[0m ",
                COLOURS[i % COLOURS.len()]
            )
        } else {
            format!("{name:<width$} | ")
        };
        let opts = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            since,
            tail: tail.clone().unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let docker = local.engine.docker.clone();
        let tx = tx.clone();
        let task = async move {
            let mut logs = docker.logs(&id, Some(opts));
            let mut pending = String::new();
            let mut lines = Vec::new();
            while let Some(Ok(chunk)) = logs.next().await {
                pending.push_str(&String::from_utf8_lossy(chunk.as_ref()));
                while let Some(pos) = pending.find('\n') {
                    let line: String = pending.drain(..=pos).collect();
                    let line = format!("{prefix}{}", line.trim_end_matches(['\n', '\r']));
                    if follow {
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    } else {
                        lines.push(line);
                    }
                }
            }
            if !pending.is_empty() {
                lines.push(format!("{prefix}{pending}"));
            }
            // Without --follow, one container's lines stay together.
            for line in lines {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        };
        tasks.push(task);
    }
    drop(tx);
    let producers = if follow {
        tokio::spawn(async move {
            futures_util::future::join_all(tasks).await;
        })
    } else {
        // In order: each container's lines in turn.
        tokio::spawn(async move {
            for t in tasks {
                t.await;
            }
        })
    };
    let mut out = std::io::stdout();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            line = rx.recv() => match line {
                Some(line) => {
                    if writeln!(out, "{line}").is_err() {
                        break; // stdout closed (| head): stop quietly
                    }
                }
                None => break,
            }
        }
    }
    producers.abort();
    Ok(())
}
