//! `geno exec SERVICE -- CMD`: run a command in a running container of a
//! service, with a TTY when attached to one, exiting with its exit code.

use std::io::{IsTerminal, Write};

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::local::Local;
use crate::cli::Config;

pub struct ExecOptions {
    pub service: String,
    pub index: u32,
    pub no_tty: bool,
    pub command: Vec<String>,
}

pub fn exec(config: &Config, opts: ExecOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let local = Local::open(config).await?;
        let id = running_container(&local, &opts.service, opts.index).await?;
        let tty = !opts.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        run_in(&local, &id, opts.command, tty).await
    })
}

/// The ID of replica `index` of `service`, which must be running.
pub async fn running_container(local: &Local, service: &str, index: u32) -> anyhow::Result<String> {
    let stack = &local.loaded.stack;
    if !stack.services.contains_key(service) {
        let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
        anyhow::bail!(
            "unknown service `{service}`; services are: {}",
            known.join(", ")
        );
    }
    for m in local.engine.members(&stack.name).await? {
        if m.service == service && m.replica == index && m.kind != "run" {
            if !m.running() {
                anyhow::bail!("{service} replica {index} is not running (run `geno up`)");
            }
            return Ok(m.id);
        }
    }
    anyhow::bail!("{service} replica {index} does not exist (run `geno up`)")
}

/// Runs `command` in container `id`; returns its exit code.
pub async fn run_in(
    local: &Local,
    id: &str,
    command: Vec<String>,
    tty: bool,
) -> anyhow::Result<i32> {
    let (exec_id, started) = start(local, id, command, tty).await?;
    let _raw = if tty { RawMode::enable() } else { None };
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    {
        if tty {
            tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let _ = tokio::io::copy(&mut stdin, &mut input).await;
                let _ = input.shutdown().await;
            });
        }
        let mut stdout = std::io::stdout();
        let mut stderr = std::io::stderr();
        while let Some(item) = output.next().await {
            match item {
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    let _ = stderr.write_all(&message);
                    let _ = stderr.flush();
                }
                Ok(other) => {
                    let _ = stdout.write_all(other.as_ref());
                    let _ = stdout.flush();
                }
                Err(_) => break,
            }
        }
    }
    Ok(exit_code(local, &exec_id).await? as i32)
}

/// Creates and starts an exec attached to its output (and to stdin with a TTY).
async fn start(
    local: &Local,
    id: &str,
    command: Vec<String>,
    tty: bool,
) -> anyhow::Result<(String, StartExecResults)> {
    let docker = &local.engine.docker;
    let created = docker
        .create_exec(
            id,
            CreateExecOptions::<String> {
                cmd: Some(command),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                attach_stdin: Some(tty),
                tty: Some(tty),
                ..Default::default()
            },
        )
        .await
        .map_err(crate::docker::DockerError::from)?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty,
                output_capacity: None,
            }),
        )
        .await
        .map_err(crate::docker::DockerError::from)?;
    Ok((created.id, started))
}

async fn exit_code(local: &Local, exec_id: &str) -> anyhow::Result<i64> {
    let inspected = local
        .engine
        .docker
        .inspect_exec(exec_id)
        .await
        .map_err(crate::docker::DockerError::from)?;
    Ok(inspected.exit_code.unwrap_or(-1))
}

/// The terminal in raw mode while a TTY session runs; restored on drop.
struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    fn enable() -> Option<RawMode> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0 and we
        // only call tcsetattr with a value derived from what it returned.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes tcgetattr returned for fd 0.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Runs `command` in container `id` and returns (exit code, stdout, stderr)
/// without printing them: smoke steps check the output.
pub async fn capture(
    local: &Local,
    id: &str,
    command: Vec<String>,
) -> anyhow::Result<(i64, String, String)> {
    let (exec_id, started) = start(local, id, command, false).await?;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(Ok(item)) = output.next().await {
            match item {
                bollard::container::LogOutput::StdErr { message } => {
                    err.extend_from_slice(&message)
                }
                other => out.extend_from_slice(other.as_ref()),
            }
        }
    }
    let code = exit_code(local, &exec_id).await?;
    Ok((
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    ))
}
