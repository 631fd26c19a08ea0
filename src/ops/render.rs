//! `geno render --env ENV`: the ECS inputs for an environment, or the
//! variables infra/ takes, as JSON.

use crate::context::Context;
use crate::error::CliResult;
use crate::render::ecs::{ImageChoice, render as render_ecs};

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The ECS API inputs.
    Ecs,
    /// The variables infra/ takes.
    Tfvars,
}

pub async fn render(ctx: &Context, env: &str, image: Option<&str>, format: Format) -> CliResult {
    let choice = match image {
        Some(text) => ImageChoice::parse(text)?,
        None => ImageChoice::Unpinned,
    };
    let loaded = ctx.load(env)?;
    let value = match format {
        Format::Ecs => render_ecs(&loaded.stack, env, &choice)?,
        Format::Tfvars => crate::render::tfvars::render(&loaded.stack, env)?,
    };
    ctx.shell.print_json(&value)?;
    Ok(())
}
