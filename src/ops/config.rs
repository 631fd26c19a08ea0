//! `geno config`: the resolved stack, with literal secret values hidden.

use crate::context::Context;
use crate::error::CliResult;
use crate::stack::LocalSecret;

pub const REDACTED: &str = "<redacted>";

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
