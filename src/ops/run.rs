//! `geno run SERVICE -- CMD`: a one-off container with the service's
//! definition (image, environment, secrets, volumes, network), its output
//! streamed, removed afterwards; exits with the command's exit code.

pub mod env;

use bollard::query_parameters::{LogsOptions, WaitContainerOptions};
use futures_util::StreamExt;

use super::{OnInterrupt, Place, Verb};
use crate::context::Context;
use crate::error::{CliError, CliResult, INTERRUPTED};
use crate::host::LocalStack;
use crate::host::image::{builds_of, stack_images};
use crate::local::plan::{self, DesiredContainer, names};

/// The arguments of `geno run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A deployed environment instead of the local stack.
    #[arg(long)]
    pub env: Option<String>,
    /// With --env: run even if no verified promotion put the live image there.
    #[arg(long, requires = "env")]
    pub force: bool,
    pub service: String,
    /// Command to run instead of the service's own.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno run")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        match Place::of(self.env.as_deref()) {
            Place::Deployed(env) => {
                let opts = env::EnvRunOptions {
                    env: env.to_string(),
                    service: self.service,
                    command: self.command,
                    force: self.force,
                };
                env::run(ctx, opts).await
            }
            Place::Local => {
                let opts = RunOptions {
                    service: self.service,
                    command: self.command,
                };
                run(ctx, opts).await
            }
        }
    }
}

pub struct RunOptions {
    pub service: String,
    pub command: Vec<String>,
}

pub async fn run(ctx: &Context, opts: RunOptions) -> CliResult {
    let local = LocalStack::open(ctx).await?;
    let desired = one_off(ctx, &local, &opts).await?;
    let id = local
        .engine
        .create_and_start(local.name(), &desired, "run")
        .await?;
    let docker = local.engine.docker.clone();
    let logs_id = id.clone();
    let shell = &ctx.shell;
    let printer = async move {
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
            let to_stderr = matches!(chunk, bollard::container::LogOutput::StdErr { .. });
            shell.pass_through(chunk.as_ref(), to_stderr);
        }
    };
    let mut wait = local
        .engine
        .docker
        .wait_container(&id, None::<WaitContainerOptions>);
    let waited = async {
        tokio::select! {
            _ = ctx.cancel.cancelled() => Ok(INTERRUPTED),
            r = wait.next() => match r {
                Some(Ok(w)) => Ok(w.status_code as i32),
                // A non-zero exit comes back as an error carrying the code.
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code as i32),
                Some(Err(e)) => Err(e),
                None => Ok(0),
            }
        }
    };
    // Output streams while the container runs, and is read to its end
    // (for 5 s at most) after it exits.
    let mut printer = std::pin::pin!(printer);
    let mut waited = std::pin::pin!(waited);
    let mut printed = false;
    let code = loop {
        tokio::select! {
            code = &mut waited => break code,
            _ = &mut printer, if !printed => printed = true,
        }
    };
    if !printed {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), printer).await;
    }
    local.engine.stop_and_remove(&id, 5).await?;
    let code = code.map_err(crate::docker::DockerError::from)?;
    CliError::exit(code)
}

/// The service's container, renamed for a one-off: no published ports, no
/// health check, the given command.
async fn one_off(
    ctx: &Context,
    local: &LocalStack,
    opts: &RunOptions,
) -> anyhow::Result<DesiredContainer> {
    let stack = local.stack();
    local.check_service(&opts.service)?;
    let svc = &stack.services[&opts.service];
    let network = names::network(&stack.name);
    if local
        .engine
        .stack_networks(&stack.name)
        .await?
        .iter()
        .all(|(_, n)| *n != network)
    {
        anyhow::bail!(
            "{} is not up (no network {network}); run `geno up` first",
            stack.name
        );
    }
    let builds = builds_of(stack, std::slice::from_ref(&opts.service));
    let images = stack_images(local, &builds, &ctx.shell).await?;
    let values = local.secrets(&svc.secrets)?.values;
    let mut desired = plan::desired_containers(stack, &images, &values, &local.dir())
        .into_iter()
        .find(|d| d.service == opts.service)
        .ok_or_else(|| anyhow::anyhow!("service `{}` has no container", opts.service))?;
    let suffix: u32 = rand::random::<u32>() % 100_000;
    desired.name = format!("{}-{}-run-{suffix:05}", stack.name, opts.service);
    // A one-off never publishes the service's ports (they are taken).
    desired.ports.clear();
    desired.health = None;
    // A one-off ends when its command does; nothing restarts it.
    desired.restart = false;
    if !opts.command.is_empty() {
        desired.command = Some(opts.command.clone());
    }
    Ok(desired)
}
