//! The image into every repository the environment's services use, tagged
//! with its image ID and git revision, under one manifest digest whose
//! config must be the image that was verified.

use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;

use super::Environment;
use crate::aws::Aws;
use crate::deploy::taskdef::Plans;
use crate::docker::Engine;
use crate::docker::push::push;
use crate::oci::{Login, config_digest};
use crate::shell::Shell;

/// The image in every repository, under one manifest digest.
pub struct Pushed {
    pub digest: String,
    /// `registry/repository@digest` per repository.
    pub images: Vec<String>,
    /// Time spent moving bytes (not geno's own work).
    pub seconds: Duration,
}

pub async fn push_everywhere(
    engine: &Engine,
    aws: &Aws,
    env: &Environment,
    image_id: &str,
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
    let mut repositories: Vec<String> = Vec::new();
    for p in &draft.services {
        if !repositories.contains(&p.repository) {
            repositories.push(p.repository.clone());
        }
    }
    let mut digest = String::new();
    let mut images = Vec::new();
    for repo in &repositories {
        let t = Instant::now();
        let full = format!("{registry}/{repo}");
        let pushed = push(
            engine,
            image_id,
            &full,
            tags,
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
        let config_of = config_digest(&registry, repo, &pushed.digest, login.as_ref()).await?;
        if config_of != image_id {
            anyhow::bail!(
                "{full}@{} names image {config_of}, not the verified image {image_id}; nothing was deployed",
                pushed.digest
            );
        }
        if !digest.is_empty() && digest != pushed.digest {
            anyhow::bail!(
                "{full} stored the image as {}, another repository as {digest}; nothing was deployed",
                pushed.digest
            );
        }
        digest = pushed.digest;
        images.push(format!("{full}@{digest}"));
    }
    Ok(Pushed {
        digest,
        images,
        seconds: waited,
    })
}
