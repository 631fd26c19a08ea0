//! `geno run SERVICE -- CMD`: a one-off container with the service's
//! definition (image, environment, secrets, volumes, network), its output
//! streamed, removed afterwards; exits with the command's exit code.

use std::io::Write;

use bollard::query_parameters::{LogsOptions, WaitContainerOptions};
use futures_util::StreamExt;

use super::local::Local;
use crate::cli::Config;
use crate::local::plan::{self, names};

pub struct RunOptions {
    pub service: String,
    pub command: Vec<String>,
}

pub fn run(config: &Config, opts: RunOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let shutdown = crate::shutdown::install("geno run");
        let local = Local::open(config).await?;
        let stack = &local.loaded.stack;
        let Some(svc) = stack.services.get(&opts.service) else {
            let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
            anyhow::bail!("unknown service `{}`; services are: {}", opts.service, known.join(", "));
        };
        let network = names::network(&stack.name);
        if local.engine.stack_networks(&stack.name).await?.iter().all(|n| *n != network) {
            anyhow::bail!("{} is not up (no network {network}); run `geno up` first", stack.name);
        }
        let image = if svc.is_app() {
            Some(super::up::stack_image(&local, &mut std::io::stderr()).await?)
        } else {
            None
        };
        let values = local.secrets(&svc.secrets)?.values;
        let mut desired = plan::desired_containers(stack, image.as_deref(), &values, &local.dir())
            .into_iter()
            .find(|d| d.service == opts.service)
            .ok_or_else(|| anyhow::anyhow!("service `{}` has no container", opts.service))?;
        let suffix: u32 = rand::random::<u32>() % 100_000;
        desired.name = format!("{}-{}-run-{suffix:05}", stack.name, opts.service);
        // A one-off never publishes the service's ports (they are taken).
        desired.ports.clear();
        desired.health = None;
        if !opts.command.is_empty() {
            desired.command = Some(opts.command.clone());
        }
        let id = local.engine.create_and_start(&stack.name, &desired, "run").await?;
        let docker = local.engine.docker.clone();
        let logs_id = id.clone();
        let printer = tokio::spawn(async move {
            let mut logs = docker.logs(
                &logs_id,
                Some(LogsOptions {
                    follow: true,
                    stdout: true,
                    stderr: true,
                    tail: "all".into(),
                    ..Default::default()
                }),
            );
            while let Some(Ok(chunk)) = logs.next().await {
                match chunk {
                    bollard::container::LogOutput::StdErr { message } => {
                        let _ = std::io::stderr().write_all(&message);
                    }
                    other => {
                        let _ = std::io::stdout().write_all(other.as_ref());
                        let _ = std::io::stdout().flush();
                    }
                }
            }
        });
        let mut wait = local.engine.docker.wait_container(&id, None::<WaitContainerOptions>);
        let code = tokio::select! {
            _ = shutdown.cancelled() => 130,
            r = wait.next() => match r {
                Some(Ok(w)) => w.status_code as i32,
                // A non-zero exit comes back as an error carrying the code.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
                Some(Err(e)) => {
                    local.engine.remove(&id).await?;
                    return Err(crate::docker::DockerError::from(e).into());
                }
                None => 0,
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), printer).await;
        local.engine.stop_and_remove(&id, 5).await?;
        Ok(code)
    })
}
