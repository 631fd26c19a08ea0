//! ECS Exec: a command in a running task's container. `ExecuteCommand`
//! opens a Session Manager session; the bytes then travel over AWS's
//! session protocol (a WebSocket with its own framing, acknowledgements
//! and handshakes), which AWS's `session-manager-plugin` speaks — the same
//! program the AWS CLI hands the session to. No maintained Rust
//! implementation of that protocol exists, so geno hands it over too.

use std::path::PathBuf;
use std::process::Stdio;

use crate::aws::Aws;
use crate::deploy::live::{Task, task_id};

/// The program that speaks the session protocol.
pub const PLUGIN: &str = "session-manager-plugin";

/// What to do when the plugin is missing, in one line.
pub const INSTALL: &str = "ECS Exec needs AWS's session-manager-plugin on PATH; install it as https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html says (Debian/Ubuntu: download session-manager-plugin.deb from there, then `sudo dpkg -i session-manager-plugin.deb`)";

/// The plugin on PATH, or why ECS Exec cannot be used here.
pub fn plugin() -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(PLUGIN))
        .find(|p| p.is_file())
        .ok_or_else(|| INSTALL.to_string())
}

/// How an exec ended: the plugin's exit code (ECS Exec does not carry the
/// remote command's), and its output when captured.
pub struct Ended {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` in `container` of `task` through the plugin: attached to
/// this terminal, or with its output captured (for smoke steps).
pub async fn exec(
    aws: &Aws,
    cluster: &str,
    task: &Task,
    container: &str,
    command: &[String],
    capture: bool,
) -> anyhow::Result<Ended> {
    let plugin = plugin().map_err(|e| anyhow::anyhow!(e))?;
    let runtime = task
        .containers
        .iter()
        .find(|c| c.name == container)
        .and_then(|c| c.runtime_id.clone())
        .unwrap_or_default();
    let session = aws
        .execute_command(cluster, &task.arn, container, &shell_words::join(command))
        .await?;
    // The arguments the AWS CLI passes: the session, the region, the
    // operation, a profile name, the target, the endpoint.
    let session_json = serde_json::json!({
        "sessionId": session.session_id,
        "streamUrl": session.stream_url,
        "tokenValue": session.token,
    })
    .to_string();
    let cluster_name = cluster.rsplit('/').next().unwrap_or(cluster);
    let target = serde_json::json!({
        "Target": format!("ecs:{cluster_name}_{}_{runtime}", task_id(&task.arn)),
    })
    .to_string();
    let mut cmd = tokio::process::Command::new(&plugin);
    cmd.arg(session_json)
        .arg(&aws.region)
        .arg("StartSession")
        .arg(std::env::var("AWS_PROFILE").unwrap_or_default())
        .arg(target)
        .arg(aws.endpoint("ecs"))
        .kill_on_drop(true);
    if capture {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd
            .output()
            .await
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", plugin.display()))?;
        return Ok(Ended {
            code: out.status.code().unwrap_or(1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let status = cmd
        .status()
        .await
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", plugin.display()))?;
    Ok(Ended {
        code: status.code().unwrap_or(1),
        stdout: String::new(),
        stderr: String::new(),
    })
}
