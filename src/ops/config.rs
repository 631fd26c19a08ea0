//! `geno config`: the resolved stack, with literal secret values hidden.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::stack::LocalSecret;

pub const REDACTED: &str = "<redacted>";

/// The arguments of `geno config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to resolve for.
    #[arg(long, default_value = "local")]
    pub env: String,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        config(ctx, &self.env).await
    }
}

pub async fn config(ctx: &Context, env: &str) -> CliResult {
    let mut stack = ctx.load(env)?.stack;
    for secret in stack.secrets.values_mut() {
        // A template may hold literal credentials next to its references.
        if let LocalSecret::Template(t) = &mut secret.local {
            *t = REDACTED.into();
        }
    }
    if ctx.shell.json() {
        ctx.shell.print_json(&stack)?;
    } else {
        ctx.shell.out_text(&serde_saphyr::to_string(&stack)?)?;
    }
    Ok(())
}
