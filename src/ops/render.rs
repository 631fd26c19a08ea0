//! `geno render --env ENV`: the ECS inputs for an environment, or the
//! variables infra/ takes, as JSON.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::render::ecs::{ImageChoice, render as render_ecs};

/// The arguments of `geno render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub env: String,
    /// Pin the image: `sha256:<digest>` (per-service ECR repository) or `repo@sha256:<digest>`.
    #[arg(long, value_name = "DIGEST")]
    pub image: Option<String>,
    /// `ecs`: the ECS API inputs; `tfvars`: the variables infra/ takes (JSON).
    #[arg(long, value_enum, default_value = "ecs")]
    pub format: Format,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        render(ctx, &self.env, self.image.as_deref(), self.format).await
    }
}

/// What to render: the ECS API inputs (`ecs`), or the variables infra/
/// takes (`tfvars`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ecs,
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
    if format == Format::Ecs
        && let Some(note) = crate::render::fidelity::local_only_note(&loaded.stack)
    {
        ctx.shell.note(note);
    }
    Ok(())
}
