//! `geno exec SERVICE -- CMD`: run a command in a running container of a
//! service, with a TTY when attached to one, exiting with its exit code.

pub mod env;

use super::{OnInterrupt, Place, Verb};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::host::LocalStack;
use crate::host::exec::run_in;

/// The arguments of `geno exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service (its own container), or `SERVICE/SIDECAR`.
    pub service: String,
    /// A deployed environment instead of the local stack.
    #[arg(long)]
    pub env: Option<String>,
    /// With --env: the task (a prefix of its ID; default: the newest running).
    #[arg(long, requires = "env", value_name = "ID")]
    pub task: Option<String>,
    /// Which replica (1-based).
    #[arg(long, default_value_t = 1, conflicts_with = "env")]
    pub index: u32,
    /// Do not allocate a TTY even when attached to one.
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        match Place::of(self.env.as_deref()) {
            // Ctrl-C belongs to the session plugin, as with the AWS CLI.
            Place::Deployed(env) => {
                let opts = env::EnvExecOptions {
                    env: env.to_string(),
                    service: self.service,
                    task: self.task,
                    command: self.command,
                };
                crate::shutdown::ignoring(env::run(ctx, opts)).await
            }
            Place::Local => {
                let opts = ExecOptions {
                    service: self.service,
                    index: self.index,
                    no_tty: self.no_tty,
                    command: self.command,
                };
                exec(ctx, opts).await
            }
        }
    }
}

pub struct ExecOptions {
    pub service: String,
    pub index: u32,
    pub no_tty: bool,
    pub command: Vec<String>,
}

pub async fn exec(ctx: &Context, opts: ExecOptions) -> CliResult {
    let local = LocalStack::open(ctx).await?;
    let id = local.running_container(&opts.service, opts.index).await?;
    let tty = !opts.no_tty && ctx.shell.interactive();
    let code = run_in(&local.engine, &ctx.shell, &id, opts.command, tty).await?;
    CliError::exit(code)
}
