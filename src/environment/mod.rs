//! A deployed environment and what acting on it takes — the machinery
//! beneath `promote`, `rollback` and `diff`, split by concern:
//! `preflight` (everything that must exist, checked at once), `push` (the
//! image into each repository, its manifest checked against the verified
//! image), `jobs` (one-off tasks the services wait for), `rollout`
//! (services moved to task definitions, watched, and put back), `diff`
//! (rendered against live) and `change` (the record of a promotion or
//! rollback and how it ends).

pub mod change;
pub mod deployed;
pub mod diff;
pub mod exec;
pub mod jobs;
pub mod kinds;
pub mod network;
pub mod preflight;
pub mod push;
pub mod rollout;

use std::path::PathBuf;

use crate::context::Context;
use crate::deploy::taskdef::{Plans, plans};
use crate::deploy::verification::{Unverified, Verification};
use crate::docker::Engine;
use crate::render::ecs::{ImageChoice, render};
use crate::stack::{AwsEnvironment, Loaded};

pub use crate::ids::short_id;

/// An environment on AWS, loaded for acting on.
pub struct Environment {
    pub loaded: Loaded,
    pub aws: AwsEnvironment,
    pub state_dir: PathBuf,
}

impl Environment {
    /// Loads stack.yaml for `env`; `registry` replaces the environment's
    /// registry (a plain registry standing in for ECR).
    pub fn open(ctx: &Context, env: &str, registry: Option<&str>) -> anyhow::Result<Environment> {
        let mut loaded = ctx.load(env)?;
        let Some(aws) = loaded
            .stack
            .environments
            .get_mut(env)
            .and_then(|e| e.aws.as_mut())
        else {
            anyhow::bail!(
                "environment `{env}` has no `aws` section in {}: it is not deployed to ECS",
                ctx.settings.file.display()
            );
        };
        if let Some(r) = registry {
            aws.registry = Some(r.to_string());
        }
        let aws = aws.clone();
        let state_dir = loaded.source.dir().join(crate::STATE_DIR);
        Ok(Environment {
            loaded,
            aws,
            state_dir,
        })
    }

    pub fn name(&self) -> &str {
        &self.loaded.env
    }

    pub fn stack_name(&self) -> &str {
        &self.loaded.stack.name
    }

    pub fn records_dir(&self) -> PathBuf {
        crate::state::records::dir(&self.state_dir, self.stack_name(), self.name())
    }

    /// What a change to this environment acts through.
    pub fn handles<'a, E: crate::aws::Ecs>(
        &self,
        ctx: &'a Context,
        ecs: &'a E,
        watch: rollout::Watch,
    ) -> change::Handles<'a, E> {
        change::Handles {
            ecs,
            cluster: self.aws.cluster.clone(),
            watch,
            cancel: &ctx.cancel,
            shell: &ctx.shell,
            records: self.records_dir(),
        }
    }

    pub fn plans(&self, image: &ImageChoice) -> anyhow::Result<Plans> {
        let rendering = render(&self.loaded.stack, self.name(), image)?;
        Ok(plans(&rendering)?)
    }

    /// Whether pushes go to this account's ECR (credentials from its token).
    pub fn uses_ecr(&self) -> bool {
        self.aws.registry_override().is_none()
    }

    /// The local verification that lets `image_id` be promoted here.
    pub fn verification(&self, image_id: &str) -> Result<Verification, Unverified> {
        crate::state::verifications::check(&self.state_dir, &self.loaded.declared, image_id)
    }

    /// The image to act on: `--image` (an ID, a prefix of one, or a tag),
    /// or the build of the current source, which must exist.
    pub async fn chosen_image(
        &self,
        engine: &Engine,
        explicit: Option<&str>,
    ) -> anyhow::Result<String> {
        if let Some(name) = explicit {
            return match engine.docker.inspect_image(name).await {
                Ok(image) => image
                    .id
                    .ok_or_else(|| anyhow::anyhow!("image `{name}` has no ID")),
                Err(e) if crate::docker::is_not_found(&e) => {
                    anyhow::bail!("no image `{name}` on this machine's Docker engine")
                }
                Err(e) => Err(crate::docker::DockerError::from(e).into()),
            };
        }
        let stack = &self.loaded.stack;
        crate::docker::build::current_image(
            engine,
            &stack.name,
            &self.loaded.source.dir(),
            &stack.image,
        )
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the image for the current source of `{}` has not been built; run `geno up` and `geno smoke` first, or name one with --image",
                stack.name
            )
        })
    }
}

/// `HEAD`'s short hash, with `-dirty` when the work tree has changes; none
/// outside a git checkout.
pub fn git_revision(dir: &std::path::Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = run(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

#[cfg(test)]
pub(crate) mod paper;
#[cfg(test)]
pub(crate) mod scripted;
