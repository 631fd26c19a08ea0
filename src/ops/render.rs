//! `geno render --env ENV`: the ECS inputs for an environment, as JSON.

use crate::cli::{Config, RenderFormat};
use crate::render::ecs::{ImageChoice, render as render_ecs};
use crate::stack::load;

pub fn render(
    config: &Config,
    env: &str,
    image: Option<&str>,
    format: RenderFormat,
) -> anyhow::Result<i32> {
    let choice = match image {
        Some(text) => ImageChoice::parse(text)?,
        None => ImageChoice::Unpinned,
    };
    let loaded = load(&config.file, &config.load_options(env))?;
    let value = match format {
        RenderFormat::Ecs => render_ecs(&loaded.stack, env, &choice)?,
        RenderFormat::Tfvars => crate::render::tfvars::render(&loaded.stack, env)?,
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(0)
}
