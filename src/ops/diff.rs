//! `geno diff --env ENV`: what `geno promote` would change — each service's
//! rendered task definition against the live one, field by field, its
//! desired count, and each job.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::environment::Environment;
use crate::environment::diff::DiffImage;
use crate::error::{CliError, CliResult};
use crate::render::ecs::ImageChoice;

/// The arguments of `geno diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub env: String,
    /// Compare for this image (ID, prefix or tag) instead of the current build,
    /// or for a digest (`sha256:…`, `repo@sha256:…`) as pushed, without the engine.
    #[arg(long)]
    pub image: Option<String>,
    /// The registry host promote pushes to, if not the environment's ECR.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: Option<String>,
    /// Exit with 1 when there are changes (for CI).
    #[arg(long)]
    pub exit_code: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let opts = DiffOptions {
            env: self.env,
            image: self.image,
            registry: self.registry,
            exit_code: self.exit_code,
        };
        diff(ctx, opts).await
    }
}

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
