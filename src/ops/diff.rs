//! `geno diff --env ENV`: what `geno promote` would change — each service's
//! rendered task definition against the live one, field by field, its
//! desired count, and each job.

use crate::context::Context;
use crate::environment::Environment;
use crate::environment::diff::DiffImage;
use crate::error::{CliError, CliResult};
use crate::render::ecs::ImageChoice;

pub struct DiffOptions {
    pub env: String,
    pub image: Option<String>,
    pub registry: Option<String>,
    /// Exit with 1 when there are changes.
    pub exit_code: bool,
}

pub async fn diff(ctx: &Context, opts: DiffOptions) -> CliResult {
    let env = Environment::open(ctx, &opts.env, opts.registry.as_deref())?;
    // A digest needs no engine: it is compared as ECS would run it.
    let image = match opts.image.as_deref().map(ImageChoice::parse) {
        Some(Ok(choice)) => DiffImage::Pinned(choice),
        _ => {
            let engine = ctx.engine().await?;
            DiffImage::Built(env.chosen_image(engine, opts.image.as_deref()).await?)
        }
    };
    let aws = ctx.aws(&env.aws.region).await;
    let changes = crate::environment::diff::print(&env, aws, &image, &ctx.shell).await?;
    if opts.exit_code && changes > 0 {
        return Err(CliError::code(1));
    }
    Ok(())
}
