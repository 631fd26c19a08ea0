//! Container output, line by line, each line prefixed with its container
//! name in a colour of its own: all of it (one container after another),
//! or followed as it comes, interleaved, until Ctrl-C or a closed stdout.

use bollard::query_parameters::LogsOptions as EngineLogs;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::LocalStack;
use crate::context::Context;

/// Every container's new output from now on, until Ctrl-C (`up --attach`).
pub async fn follow_all(ctx: &Context, local: &LocalStack) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32;
    stream(ctx, local, &[], true, now, None, None).await
}

const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// `label | ` padded to `width`, in the `index`th colour when `colour`:
/// the prefix of every log line geno prints, local or deployed.
pub fn prefix(label: &str, width: usize, index: usize, colour: bool) -> String {
    if colour {
        format!(
            "\x1b[{}m{label:<width$} |\x1b[0m ",
            COLOURS[index % COLOURS.len()]
        )
    } else {
        format!("{label:<width$} | ")
    }
}

/// The output of `services` (all when empty): since `since` (UNIX time),
/// the last `tail` lines of each, followed when `follow`; only the lines
/// that contain `grep` when given.
pub async fn stream(
    ctx: &Context,
    local: &LocalStack,
    services: &[String],
    follow: bool,
    since: i32,
    tail: Option<String>,
    grep: Option<String>,
) -> anyhow::Result<()> {
    let containers = containers(local, services).await?;
    let width = containers.iter().map(|c| c.0.len()).max().unwrap_or(0);
    let colour = ctx.shell.colour_stdout();
    let (tx, mut rx) = mpsc::channel::<String>(1024);
    let mut tasks = Vec::new();
    for (i, (name, id)) in containers.into_iter().enumerate() {
        let prefix = prefix(&name, width, i, colour);
        let opts = EngineLogs {
            follow,
            stdout: true,
            stderr: true,
            since,
            tail: tail.clone().unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        tasks.push(read(
            local.engine.docker.clone(),
            id,
            prefix,
            opts,
            grep.clone(),
            tx.clone(),
        ));
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
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            line = rx.recv() => match line {
                Some(line) => {
                    if ctx.shell.out_line(line).is_err() {
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

/// One container's lines, prefixed, into `tx`: as they come with
/// `follow`, else all together at the end.
async fn read(
    docker: bollard::Docker,
    id: String,
    prefix: String,
    opts: EngineLogs,
    grep: Option<String>,
    tx: mpsc::Sender<String>,
) {
    let follow = opts.follow;
    let mut logs = docker.logs(&id, Some(opts));
    let mut pending = String::new();
    let mut lines = Vec::new();
    while let Some(Ok(chunk)) = logs.next().await {
        pending.push_str(&String::from_utf8_lossy(chunk.as_ref()));
        while let Some(pos) = pending.find('\n') {
            let line: String = pending.drain(..=pos).collect();
            if grep.as_deref().is_some_and(|g| !line.contains(g)) {
                continue;
            }
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
    if !pending.is_empty() && grep.as_deref().is_none_or(|g| pending.contains(g)) {
        lines.push(format!("{prefix}{pending}"));
    }
    // Without --follow, one container's lines stay together.
    for line in lines {
        if tx.send(line).await.is_err() {
            return;
        }
    }
}

/// (name, ID) of the containers of `services` (all when empty), in
/// stack.yaml's order, replicas in turn.
async fn containers(
    local: &LocalStack,
    services: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let stack = local.stack();
    let mut containers: Vec<(usize, u32, String, String)> = Vec::new();
    for m in local.engine.members(&stack.name).await? {
        // A service's containers, its sidecars' too; `SERVICE/SIDECAR`
        // one sidecar's.
        let own = m.sidecar.as_ref().map(|c| format!("{}/{c}", m.service));
        if !services.is_empty()
            && !services.contains(&m.service)
            && !own.as_ref().is_some_and(|o| services.contains(o))
        {
            continue;
        }
        let order = stack
            .services
            .get_index_of(&m.service)
            .unwrap_or(usize::MAX);
        containers.push((order, m.replica, m.name, m.id));
    }
    containers.sort();
    Ok(containers
        .into_iter()
        .map(|(_, _, name, id)| (name, id))
        .collect())
}
