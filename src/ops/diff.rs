//! `geno diff --env ENV`: what `geno promote` would change — each service's
//! rendered task definition against the live one, field by field, its
//! desired count, and each job. With `--local`, three ways: the containers
//! on this machine, stack.yaml, and what is live (infra/'s kinds too).

mod local;

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
    /// or for a digest (`sha256:…`, `repo@sha256:…`) as pushed, without the
    /// engine; `BUILD=…` for one of several builds (repeatable).
    #[arg(long, value_name = "[BUILD=]IMAGE")]
    pub image: Vec<String>,
    /// The registry host promote pushes to, if not the environment's ECR.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: Option<String>,
    /// Exit with 1 when there are changes (for CI).
    #[arg(long)]
    pub exit_code: bool,
    /// Three ways: also the containers running on this machine against
    /// stack.yaml, stack.yaml for this machine against the environment's,
    /// and what infra/ owns live (target groups, listener rules…).
    #[arg(long)]
    pub local: bool,
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
            local: self.local,
        };
        diff(ctx, opts).await
    }
}

pub struct DiffOptions {
    pub env: String,
    pub image: Vec<String>,
    pub registry: Option<String>,
    /// Exit with 1 when there are changes.
    pub exit_code: bool,
    /// Three ways (see `Args::local`).
    pub local: bool,
}

pub async fn diff(ctx: &Context, opts: DiffOptions) -> CliResult {
    let env = Environment::open(ctx, &opts.env, opts.registry.as_deref())?;
    // A digest needs no engine: it is compared as ECS would run it.
    let pinned = match opts.image.as_slice() {
        [] => None,
        several => ImageChoice::parse(&several.join(",")).ok(),
    };
    let image = match pinned {
        Some(choice) => DiffImage::Pinned(choice),
        None => {
            let engine = ctx.engine().await?;
            let draft = env.plans(&ImageChoice::Unpinned)?;
            DiffImage::Built(env.chosen_images(engine, &draft, &opts.image).await?)
        }
    };
    let mut changes = 0;
    if opts.local {
        let engine = ctx.engine().await?;
        changes += local::print(ctx, &opts.env, &env.loaded.stack, engine).await?;
        ctx.shell
            .out_line(format!("live in `{}` against stack.yaml:", opts.env))?;
    }
    let aws = ctx.aws(&env.aws.region).await;
    changes += crate::environment::diff::print(&env, aws, &image, &ctx.shell).await?;
    if opts.local {
        let choice = match &image {
            DiffImage::Pinned(c) => c.clone(),
            DiffImage::Built(_) => ImageChoice::Unpinned,
        };
        changes += crate::environment::diff::print_infra(&env, aws, &choice, &ctx.shell).await?;
    }
    if opts.exit_code && changes > 0 {
        return Err(CliError::code(1));
    }
    Ok(())
}
