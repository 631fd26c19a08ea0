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
pub mod scaling;

use std::path::PathBuf;

use crate::context::Context;
use crate::deploy::taskdef::{Plans, plans};
use crate::deploy::verification::{Unverified, Verification};
use crate::docker::Engine;
use crate::render::ecs::{ImageChoice, render};
use crate::spec::Images;
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

    /// The local verification that lets these images be promoted here
    /// together.
    pub fn verification(&self, images: &Images) -> Result<Verification, Unverified> {
        crate::state::verifications::check(&self.state_dir, &self.loaded.declared, images)
    }

    /// The images to act on for what `draft` deploys, by build (or
    /// external image): those `--image` names (`ID`, an ID prefix or a tag;
    /// `BUILD=…` when there are several), and for the others the build of
    /// the current source (which must exist) or the external image here.
    pub async fn chosen_images(
        &self,
        engine: &Engine,
        draft: &Plans,
        explicit: &[String],
    ) -> anyhow::Result<Images> {
        let stack = &self.loaded.stack;
        let builds = draft.keys();
        let named = named_images(stack, &builds, explicit)?;
        let mut out = Images::new();
        for build in &builds {
            let external = stack.external_of_key(build);
            let id = match (named.get(build), external) {
                (Some(name), _) => inspected_id(engine, name).await?,
                // What `geno up` ran: the image the reference names here.
                (None, Some(reference)) => inspected_id(engine, &reference).await.map_err(|e| {
                    anyhow::anyhow!("{e}; `geno up` pulls it (or name one with --image {build}=ID)")
                })?,
                (None, None) => {
                    let naming = crate::docker::build::Naming::of(stack, build);
                    let Some(b) = stack.build(build) else {
                        continue;
                    };
                    crate::docker::build::current_image(
                        engine,
                        &naming,
                        &self.loaded.source.dir(),
                        b,
                    )
                    .await?
                    .ok_or_else(|| {
                        let which = if stack.names_builds() {
                            format!("build `{build}` of `{}`", stack.name)
                        } else {
                            format!("`{}`", stack.name)
                        };
                        anyhow::anyhow!(
                            "the image for the current source of {which} has not been built; run `geno up` and `geno smoke` first, or name one with --image"
                        )
                    })?
                }
            };
            out.insert(build.clone(), id);
        }
        Ok(out)
    }
}

/// What the plans name on AWS by tag or by name, found: subnets and
/// security groups chosen by tag, and the target groups and load
/// balancers alarms and request tracking watch.
pub async fn resolve<L: crate::aws::Live>(
    live: &L,
    plans: &mut Plans,
) -> Result<(), crate::aws::AwsError> {
    network::resolve(live, plans).await?;
    scaling::resolve(live, plans).await
}

/// `--image` values by build (or external image): `BUILD=REF`, or a bare
/// `REF` for a stack whose services run one.
pub fn named_images(
    stack: &crate::stack::Stack,
    builds: &[String],
    explicit: &[String],
) -> anyhow::Result<Images> {
    let mut out = Images::new();
    for text in explicit {
        let (build, reference) = match text.split_once('=') {
            Some((b, r)) => (b.to_string(), r.to_string()),
            None => match builds {
                [only] => (only.clone(), text.clone()),
                _ => anyhow::bail!(
                    "--image {text}: `{}` deploys images of several builds ({}); name the build as --image BUILD={text}",
                    stack.name,
                    builds.join(", ")
                ),
            },
        };
        if !builds.contains(&build) {
            anyhow::bail!(
                "--image {text}: no service deployed from `{}` runs build `{build}`; the builds deployed are {}",
                stack.name,
                builds
                    .iter()
                    .map(|b| format!("`{b}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if out.insert(build.clone(), reference).is_some() {
            anyhow::bail!("--image names build `{build}` twice");
        }
    }
    Ok(out)
}

/// An image's ID from an ID, a prefix of one, or a tag.
async fn inspected_id(engine: &Engine, name: &str) -> anyhow::Result<String> {
    match engine.docker.inspect_image(name).await {
        Ok(image) => image
            .id
            .ok_or_else(|| anyhow::anyhow!("image `{name}` has no ID")),
        Err(e) if crate::docker::is_not_found(&e) => {
            anyhow::bail!("no image `{name}` on this machine's Docker engine")
        }
        Err(e) => Err(crate::docker::DockerError::from(e).into()),
    }
}

/// The images by build as a message says them: `5d69faf904d7` for a stack
/// with one, `api 5d69faf904d7, web 0be1…` for several.
pub fn describe_images(stack: &crate::stack::Stack, images: &Images) -> String {
    if !stack.pins_by_key() && images.len() == 1 {
        return images.values().map(|i| short_id(i).to_string()).collect();
    }
    images
        .iter()
        .map(|(b, i)| format!("{b} {}", short_id(i)))
        .collect::<Vec<_>>()
        .join(", ")
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
mod tests {
    use super::*;

    #[test]
    fn image_arguments_name_their_build_when_there_are_several() {
        let stack: crate::stack::Stack = serde_json::from_value(serde_json::json!({
            "name": "canvas", "builds": { "api": {}, "web": {} }, "services": {}
        }))
        .unwrap();
        let both = ["api".to_string(), "web".to_string()];
        assert_eq!(
            named_images(&stack, &both, &["api=abc".into()]).unwrap(),
            Images::from([("api".into(), "abc".into())])
        );
        let err = |builds: &[String], args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            named_images(&stack, builds, &args).unwrap_err().to_string()
        };
        assert_eq!(
            err(&both, &["abc"]),
            "--image abc: `canvas` deploys images of several builds (api, web); name the build as --image BUILD=abc"
        );
        assert_eq!(
            err(&both, &["worker=abc"]),
            "--image worker=abc: no service deployed from `canvas` runs build `worker`; the builds deployed are `api`, `web`"
        );
        assert_eq!(
            err(&both, &["api=a", "api=b"]),
            "--image names build `api` twice"
        );
        // One build deployed: a bare image is that build's.
        assert_eq!(
            named_images(&stack, &both[..1], &["abc".into()]).unwrap(),
            Images::from([("api".into(), "abc".into())])
        );
    }
}

#[cfg(test)]
pub(crate) mod paper;
#[cfg(test)]
pub(crate) mod scripted;
