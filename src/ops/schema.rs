//! `geno schema`: the JSON Schema of stack.yaml, generated from the model.

use crate::context::Context;
use crate::error::CliResult;
use crate::stack::Stack;

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
