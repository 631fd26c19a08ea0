//! `geno render --env ENV`: the ECS inputs for an environment, as JSON.

use crate::cli::Config;
use crate::render::ecs::{ImageChoice, render as render_ecs};
use crate::stack::load;

pub fn render(config: &Config, env: &str, image: Option<&str>) -> anyhow::Result<i32> {
    let choice = match image {
        Some(text) => ImageChoice::parse(text)?,
        None => ImageChoice::Unpinned,
    };
    let loaded = load(&config.file, &config.load_options(env))?;
    let value = render_ecs(&loaded.stack, env, &choice)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(0)
}
