//! Commands in running containers through the Engine API's exec: started
//! attached, their output streamed or captured, their exit code read back.

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{DockerError, Engine};

impl Engine {
    /// Creates and starts an exec attached to its output (and to stdin with
    /// a TTY); returns its ID and the attached streams.
    pub async fn exec_start(
        &self,
        container: &str,
        command: Vec<String>,
        tty: bool,
    ) -> Result<(String, StartExecResults), DockerError> {
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions::<String> {
                    cmd: Some(command),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(tty),
                    tty: Some(tty),
                    ..Default::default()
                },
            )
            .await?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await?;
        Ok((created.id, started))
    }

    /// The exit code of a finished exec (-1 if the engine does not know it).
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<i64, DockerError> {
        let inspected = self.docker.inspect_exec(exec_id).await?;
        Ok(inspected.exit_code.unwrap_or(-1))
    }

    /// Runs `command` in `container` and returns (exit code, stdout,
    /// stderr) without printing them.
    pub async fn exec_capture(
        &self,
        container: &str,
        command: Vec<String>,
    ) -> Result<(i64, String, String), DockerError> {
        let (exec_id, started) = self.exec_start(container, command, false).await?;
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
        let code = self.exec_exit_code(&exec_id).await?;
        Ok((
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        ))
    }
}
