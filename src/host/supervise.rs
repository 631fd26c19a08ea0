//! geno's task supervisor: the background process (`geno tasks`) that does
//! for tasks with sidecars what the ECS service scheduler does. The engine
//! restarts none of their containers (one restarted alone would leave the
//! others without the task's network); the supervisor watches the stack's
//! events and, when an essential container exits, stops the rest of its
//! task and starts the task again in order, as `local::tasks` decides.
//! `geno up` starts it (or keeps one that runs this geno), `geno down`
//! ends it; its state file is `.geno/<stack>/tasks.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::docker::{Engine, Member, labels};
use crate::local::plan::names;
use crate::local::tasks::{self, Decision, Exit};
use crate::stack::Stack;
use crate::wait::{self, Check, Poll};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorState {
    pub pid: u32,
    /// The geno that runs it: an upgrade replaces it.
    pub build: String,
}

pub fn state_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(stack).join("tasks.json")
}

pub fn log_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(stack).join("tasks.log")
}

fn read_state(state_dir: &Path, stack: &str) -> Option<SupervisorState> {
    let text = std::fs::read_to_string(state_path(state_dir, stack)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether any service of the stack runs a task with sidecars.
pub fn needed(stack: &Stack) -> bool {
    stack.services.values().any(|s| !s.sidecars.is_empty())
}

/// The supervisor of `stack` runs: kept when one of this geno runs, else
/// started. `Ok(true)` when it was started now.
pub async fn ensure(file: &Path, state_dir: &Path, stack: &Stack) -> std::io::Result<bool> {
    let build = crate::proxy::daemon::build_identity();
    if let Some(state) = read_state(state_dir, &stack.name)
        && crate::proxy::daemon::alive(state.pid)
    {
        if state.build == build {
            return Ok(false);
        }
        stop(state_dir, &stack.name).await;
    }
    let dir = state_dir.join(&stack.name);
    std::fs::create_dir_all(&dir)?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(state_dir, &stack.name))?;
    let err = out.try_clone()?;
    let _ = std::fs::remove_file(state_path(state_dir, &stack.name));
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("-f").arg(&file).arg("tasks");
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // Its own process group: a Ctrl-C meant for `geno up` does not stop it.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let pid = cmd.spawn()?.id();
    let up = wait::until(
        Poll::every(Duration::from_millis(50)).timeout(Duration::from_secs(10)),
        &CancellationToken::new(),
        async || match read_state(state_dir, &stack.name) {
            Some(s) if s.pid == pid => Check::Ready(()),
            // Another geno started one a moment before: this one left it be.
            Some(s) if s.build == build && crate::proxy::daemon::alive(s.pid) => Check::Ready(()),
            _ if crate::proxy::daemon::alive(pid) => Check::NotYet,
            _ => Check::Failed(()),
        },
    )
    .await;
    match up {
        Ok(()) => Ok(true),
        Err(_) => Err(std::io::Error::other(format!(
            "geno's task supervisor did not start; its log is {}",
            log_path(state_dir, &stack.name).display()
        ))),
    }
}

/// The supervisor runs if the stack has tasks with sidecars (`up`,
/// `start` and `restart` see to it: after a reboot, whichever runs first
/// brings it back); said the first time it starts.
pub async fn ensure_for(
    ctx: &crate::context::Context,
    local: &super::LocalStack,
) -> anyhow::Result<()> {
    if !needed(local.stack()) {
        return Ok(());
    }
    let started = ensure(&local.loaded.source.path, &local.state_dir(), local.stack())
        .await
        .map_err(|e| anyhow::anyhow!("cannot start geno's task supervisor: {e}"))?;
    if started {
        ctx.shell.status(format!(
            "started the task supervisor (it restarts tasks with sidecars as ECS would; log {})",
            log_path(&local.state_dir(), local.name()).display()
        ));
    }
    Ok(())
}

/// Ends the supervisor of `stack`, if one runs; whether one did.
pub async fn stop(state_dir: &Path, stack: &str) -> bool {
    let Some(state) = read_state(state_dir, stack) else {
        return false;
    };
    let _ = std::fs::remove_file(state_path(state_dir, stack));
    if !crate::proxy::daemon::alive(state.pid) {
        return false;
    }
    // SAFETY: a plain signal to a process this stack's state names.
    unsafe { libc::kill(state.pid as i32, libc::SIGTERM) };
    let _ = wait::until(
        Poll::every(Duration::from_millis(50)).timeout(Duration::from_secs(5)),
        &CancellationToken::new(),
        async || match crate::proxy::daemon::alive(state.pid) {
            true => Check::<(), ()>::NotYet,
            false => Check::Ready(()),
        },
    )
    .await;
    true
}

/// How one task has fared: failures in a row, and when it last started.
struct Fared {
    failures: u32,
    started: Instant,
}

/// Serves until `cancel` fires (or SIGTERM) or the engine's event stream
/// ends (the engine restarted: the next `geno up` starts a new one).
pub async fn serve(
    engine: Engine,
    stack: Stack,
    state_dir: PathBuf,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    // One supervisor a stack: two would each replace a task. The lock is
    // the kernel's, gone with the process however it ends.
    std::fs::create_dir_all(state_dir.join(&stack.name))?;
    let lock = std::fs::File::create(state_dir.join(&stack.name).join("tasks.lock"))?;
    // SAFETY: flock on a descriptor this File owns.
    let held = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&lock),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    if held != 0 {
        println!(
            "another supervisor runs for `{}`; leaving it be",
            stack.name
        );
        return Ok(());
    }
    let state = SupervisorState {
        pid: std::process::id(),
        build: crate::proxy::daemon::build_identity(),
    };
    crate::state::write_private(
        &state_path(&state_dir, &stack.name),
        &serde_json::to_string(&state)?,
    )?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let filters = HashMap::from([
        ("type", vec!["container".to_string()]),
        ("label", vec![format!("{}={}", labels::STACK, stack.name)]),
        ("event", vec!["kill".to_string(), "die".to_string()]),
    ]);
    let options = bollard::query_parameters::EventsOptionsBuilder::new()
        .filters(&filters)
        .build();
    let mut events = engine.docker.events(Some(options));
    let mut killed: HashMap<String, Instant> = HashMap::new();
    let mut fared: HashMap<String, Fared> = HashMap::new();
    println!("supervising the tasks of `{}`", stack.name);
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = term.recv() => break,
            e = events.next() => e,
        };
        let Some(event) = event else {
            println!("the engine's event stream ended");
            break;
        };
        let event = event?;
        let Some(actor) = event.actor else { continue };
        let id = actor.id.unwrap_or_default();
        let attrs = actor.attributes.unwrap_or_default();
        match event.action.as_deref() {
            Some("kill") => {
                killed.insert(id, Instant::now());
            }
            Some("die") => {
                let Some(task) = attrs.get(labels::TASK).cloned() else {
                    continue;
                };
                let exit = Exit {
                    essential: attrs.get(labels::ESSENTIAL).map(String::as_str) == Some("true"),
                    code: attrs
                        .get("exitCode")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(-1),
                    stopped: killed
                        .remove(&id)
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(150)),
                    restart: tasks::policy(attrs.get(labels::RESTART).map(String::as_str)),
                };
                let entry = fared.entry(task.clone()).or_insert(Fared {
                    failures: 0,
                    started: Instant::now(),
                });
                // A task that ran a minute has recovered.
                if entry.started.elapsed() > Duration::from_secs(60) {
                    entry.failures = 0;
                }
                let decision = tasks::decide(&exit, entry.failures);
                let name = attrs.get("name").cloned().unwrap_or_else(|| id.clone());
                let at = event
                    .time_nano
                    .map(|n| SystemTime::UNIX_EPOCH + Duration::from_nanos(n.max(0) as u64))
                    .unwrap_or_else(SystemTime::now);
                match decision {
                    Decision::Nothing => continue,
                    Decision::StopTask => {
                        println!("{name} exited with {}: stopping task {task}", exit.code)
                    }
                    Decision::Replace(pause) => println!(
                        "{name} exited with {}: stopping task {task}, starting it again in {}s",
                        exit.code,
                        pause.as_secs()
                    ),
                }
                if let Err(e) = stop_others(&engine, &stack.name, &task, &id, at).await {
                    println!("cannot stop task {task}: {e}");
                }
                if let Decision::Replace(pause) = decision {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    entry.failures += 1;
                    entry.started = Instant::now();
                    match start_task(&engine, &stack, &task, &cancel).await {
                        Ok(()) => println!("task {task} started again"),
                        Err(e) => println!("cannot start task {task} again: {e}"),
                    }
                }
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_file(state_path(&state_dir, &stack.name));
    Ok(())
}

/// The containers of `task`: its service's first, then its sidecars.
async fn task_members(engine: &Engine, stack: &str, task: &str) -> anyhow::Result<Vec<Member>> {
    let mut out: Vec<Member> = engine
        .members(stack)
        .await?
        .into_iter()
        .filter(|m| m.name == task || names::sidecar_of(&m.name).is_some_and(|(t, _)| t == task))
        .collect();
    out.sort_by_key(|m| m.sidecar.is_some());
    Ok(out)
}

/// Stops the task's other containers that were running before `at` (one
/// started since is a new task's, which `up` or the supervisor started).
async fn stop_others(
    engine: &Engine,
    stack: &str,
    task: &str,
    exited: &str,
    at: SystemTime,
) -> anyhow::Result<()> {
    for m in task_members(engine, stack, task).await? {
        if m.id == exited || !m.running() {
            continue;
        }
        let c = engine.inspect(&m.id).await?;
        let started = c
            .state
            .as_ref()
            .and_then(|s| s.started_at.as_deref())
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok());
        if started.is_some_and(|s| s > at) {
            continue;
        }
        let grace = c
            .config
            .as_ref()
            .and_then(|c| c.stop_timeout)
            .unwrap_or(10)
            .max(0) as u64;
        engine.stop(&m.id, grace).await?;
    }
    Ok(())
}

/// Starts the task again as `up` does: its service's container (whose
/// network the others join), then each sidecar once the containers it
/// depends on meet their conditions.
async fn start_task(
    engine: &Engine,
    stack: &Stack,
    task: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let members = task_members(engine, &stack.name, task).await?;
    let Some(owner) = members.iter().find(|m| m.sidecar.is_none()) else {
        anyhow::bail!("its service's container is gone (`geno up` makes it again)");
    };
    let service = owner.service.clone();
    let deadline = Instant::now() + Duration::from_secs(300);
    let order = crate::host::converge::TaskOrder::of(stack, &service, deadline, cancel);
    let mut cars: Vec<&Member> = members.iter().filter(|m| m.sidecar.is_some()).collect();
    cars.sort_by_key(|m| order.rank(m.sidecar.as_deref().unwrap_or_default()));
    engine.start(&owner.id).await?;
    let mut ids: HashMap<String, String> = HashMap::from([(service.clone(), owner.id.clone())]);
    for car in cars {
        let name = car.sidecar.clone().unwrap_or_default();
        for (dep, condition) in order.waits_of(&name) {
            if let Some(id) = ids.get(dep) {
                crate::host::converge::meets(engine, id, *condition, &order)
                    .await
                    .map_err(|why| anyhow::anyhow!("{name} waits for {dep}: {why}"))?;
            }
        }
        engine.start(&car.id).await?;
        ids.insert(name, car.id.clone());
    }
    Ok(())
}
