//! `geno exec SERVICE -- CMD`: run a command in a running container of a
//! service, with a TTY when attached to one, exiting with its exit code.

pub mod env;

use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::host::LocalStack;
use crate::host::exec::run_in;

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
