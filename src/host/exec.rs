//! An interactive command in a running container: a TTY when the user is
//! at one (the terminal in raw mode meanwhile), output passed through the
//! shell, the command's exit code returned.

use bollard::exec::StartExecResults;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::docker::Engine;
use crate::shell::Shell;

/// Runs `command` in container `id`; returns its exit code.
pub async fn run_in(
    engine: &Engine,
    shell: &Shell,
    id: &str,
    command: Vec<String>,
    tty: bool,
) -> anyhow::Result<i32> {
    let (exec_id, started) = engine.exec_start(id, command, tty).await?;
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
        while let Some(item) = output.next().await {
            match item {
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    shell.pass_through(&message, true)
                }
                Ok(other) => shell.pass_through(other.as_ref(), false),
                Err(_) => break,
            }
        }
    }
    Ok(engine.exec_exit_code(&exec_id).await? as i32)
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
