//! Ctrl-C, handled once for the whole process (after mini-redis: the
//! shutdown signal is passed in, tasks select on it). For a verb that
//! finishes what is under way, the first press fires the context's token
//! and the second exits at once; any other verb ends at the first press.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::error::{CliError, CliResult, INTERRUPTED};
use crate::shell::Shell;

/// Runs `work` until it ends or the user interrupts it. `graceful` names
/// the verb when it honours `cancel`.
pub async fn guard(
    work: impl Future<Output = CliResult>,
    cancel: &CancellationToken,
    graceful: Option<&str>,
    shell: &Shell,
) -> CliResult {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        result = &mut work => return result,
        Ok(()) = tokio::signal::ctrl_c() => {}
    }
    let Some(what) = graceful else {
        return Err(CliError::code(INTERRUPTED));
    };
    shell.status(format!(
        "\n{what}: interrupted; finishing what is under way (Ctrl-C again to force)"
    ));
    cancel.cancel();
    tokio::select! {
        result = &mut work => result,
        Ok(()) = tokio::signal::ctrl_c() => {
            shell.status(format!("{what}: forced exit"));
            Err(CliError::code(INTERRUPTED))
        }
    }
}

/// Runs `work` with Ctrl-C left to a program it hands the terminal to
/// (ECS Exec's session plugin, as the AWS CLI does): the press reaches that
/// program, and geno neither dies nor abandons it.
pub async fn ignoring(work: impl Future<Output = CliResult>) -> CliResult {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            result = &mut work => return result,
            Ok(()) = tokio::signal::ctrl_c() => {}
        }
    }
}
