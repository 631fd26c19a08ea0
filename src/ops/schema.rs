//! `geno schema`: the JSON Schema of stack.yaml, generated from the model.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::stack::Stack;

/// The arguments of `geno schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        schema(ctx).await
    }
}

pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Stack);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}

pub async fn schema(ctx: &Context) -> CliResult {
    ctx.shell.out_text(&schema_json())?;
    Ok(())
}
