//! Each build's image into every repository the environment's services of
//! that build use, tagged with its image ID and git revision, under one
//! manifest digest whose config must be the image that was verified.

use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;

use super::Environment;
use crate::aws::Aws;
use crate::deploy::taskdef::Plans;
use crate::docker::Engine;
use crate::docker::push::push;
use crate::oci::{Login, config_digest};
use crate::shell::Shell;
use crate::spec::Images;

/// Each build's image in every repository its services use, under one
/// manifest digest per build.
pub struct Pushed {
    /// The manifest digest of each build's image.
    pub digests: Images,
    /// `registry/repository@digest` per (build, repository).
    pub images: Vec<String>,
    /// Time spent moving bytes (not geno's own work).
    pub seconds: Duration,
}

/// Pushes `images` (by build) where `draft` says each build runs, tagged
/// with its image ID and `tags`.
pub async fn push_everywhere(
    engine: &Engine,
    aws: &Aws,
    env: &Environment,
    images: &Images,
    tags: &[String],
    draft: &Plans,
    shell: &Shell,
) -> anyhow::Result<Pushed> {
    let mut waited = Duration::ZERO;
    let registry = env.aws.registry();
    let login = if env.uses_ecr() {
        let l = aws.ecr_login().await?;
        Some(Login {
            username: l.username,
            password: l.password,
        })
    } else {
        None
    };
    let credentials = login.as_ref().map(|l| DockerCredentials {
        username: Some(l.username.clone()),
        password: Some(l.password.clone()),
        serveraddress: Some(registry.clone()),
        ..Default::default()
    });
    let mut digests = Images::new();
    let mut pushed_as = Vec::new();
    for (build, repo) in draft.pushes() {
        let Some(image_id) = images.get(&build) else {
            anyhow::bail!(
                "no image chosen for build `{build}`, which {repo} takes; nothing was deployed"
            );
        };
        let mut tags_here = vec![crate::ids::short_id(image_id).to_string()];
        tags_here.extend(tags.iter().cloned());
        let t = Instant::now();
        let full = format!("{registry}/{repo}");
        let pushed = push(
            engine,
            image_id,
            &full,
            &tags_here,
            credentials.clone(),
            &mut shell.err_writer(),
        )
        .await?;
        waited += t.elapsed();
        shell.status(format!(
            "pushed {full}@{}: {} layer(s) uploaded, {} already there, {} mounted from another repository ({:.1}s)",
            pushed.digest,
            pushed.uploaded,
            pushed.existing,
            pushed.mounted,
            t.elapsed().as_secs_f64()
        ));
        // The pinned manifest must name the verified image as its config.
        let config_of = config_digest(&registry, &repo, &pushed.digest, login.as_ref()).await?;
        if config_of != *image_id {
            anyhow::bail!(
                "{full}@{} names image {config_of}, not the verified image {image_id}; nothing was deployed",
                pushed.digest
            );
        }
        if let Some(other) = digests.get(&build)
            && *other != pushed.digest
        {
            anyhow::bail!(
                "{full} stored the image of build `{build}` as {}, another repository as {other}; nothing was deployed",
                pushed.digest
            );
        }
        pushed_as.push(format!("{full}@{}", pushed.digest));
        digests.insert(build, pushed.digest);
    }
    // External images ECS pulls from where they came from: pinned to the
    // digest the image that ran here was pulled as.
    for (key, reference) in draft.from_origin() {
        let Some(image_id) = images.get(&key) else {
            anyhow::bail!("no image chosen for `{key}`; nothing was deployed");
        };
        let inspected = engine
            .docker
            .inspect_image(image_id)
            .await
            .map_err(crate::docker::DockerError::from)?;
        let pinned = crate::deploy::origin::pinned_reference(
            &reference,
            &inspected.repo_digests.unwrap_or_default(),
        )
        .map_err(anyhow::Error::msg)?;
        shell.status(format!(
            "{key}: pinned as {pinned}, the image that ran here"
        ));
        let digest = pinned.rsplit('@').next().unwrap_or_default().to_string();
        pushed_as.push(pinned);
        digests.insert(key, digest);
    }
    Ok(Pushed {
        digests,
        images: pushed_as,
        seconds: waited,
    })
}
