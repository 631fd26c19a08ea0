//! Pushing the stack image to a registry repository through the engine,
//! counting which layers actually travelled.

use std::io::Write;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptions, RemoveImageOptions, TagImageOptions};
use futures_util::StreamExt;

use super::{DockerError, Engine};

/// What one repository push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// `registry/repository`.
    pub repository: String,
    /// The manifest digest the registry stored.
    pub digest: String,
    /// Layers uploaded by this push.
    pub uploaded: usize,
    /// Layers the repository already had.
    pub existing: usize,
    /// Layers the registry copied from another of its repositories.
    pub mounted: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "cannot push to {repository} ({message}); nothing was deployed. Check that the Docker engine reaches the registry and may push to it"
    )]
    Refused { repository: String, message: String },
    #[error("the push to {repository} finished without a manifest digest")]
    NoDigest { repository: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Tags `image_id` as `repository:TAG` for each tag and pushes them. The
/// local tags are removed afterwards; the image keeps its own.
pub async fn push(
    engine: &Engine,
    image_id: &str,
    repository: &str,
    tags: &[String],
    credentials: Option<DockerCredentials>,
    progress: &mut dyn Write,
) -> Result<Pushed, PushError> {
    let mut pushed = Pushed {
        repository: repository.to_string(),
        ..Default::default()
    };
    for tag in tags {
        engine
            .docker
            .tag_image(
                image_id,
                Some(TagImageOptions {
                    repo: Some(repository.to_string()),
                    tag: Some(tag.clone()),
                }),
            )
            .await
            .map_err(DockerError::from)?;
        // Layers are counted on the first tag; later tags only add a name.
        let mut counts = Pushed::default();
        let result = push_one(engine, repository, tag, credentials.clone(), &mut counts).await;
        if pushed.digest.is_empty() {
            pushed.uploaded = counts.uploaded;
            pushed.existing = counts.existing;
            pushed.mounted = counts.mounted;
        }
        let _ = engine
            .docker
            .remove_image(
                &format!("{repository}:{tag}"),
                Some(RemoveImageOptions {
                    noprune: true,
                    ..Default::default()
                }),
                None,
            )
            .await;
        let digest = result?;
        if pushed.digest.is_empty() {
            pushed.digest = digest;
        } else if pushed.digest != digest {
            return Err(PushError::Refused {
                repository: repository.into(),
                message: format!(
                    "tag {tag} was stored as {digest}, the first tag as {}",
                    pushed.digest
                ),
            });
        }
        let _ = writeln!(progress, "  pushed {repository}:{tag}");
    }
    Ok(pushed)
}

async fn push_one(
    engine: &Engine,
    repository: &str,
    tag: &str,
    credentials: Option<DockerCredentials>,
    counts: &mut Pushed,
) -> Result<String, PushError> {
    let mut stream = engine.docker.push_image(
        repository,
        Some(PushImageOptions {
            tag: Some(tag.to_string()),
            ..Default::default()
        }),
        credentials,
    );
    let mut digest = None;
    let refused = |message: String| PushError::Refused {
        repository: repository.to_string(),
        message,
    };
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(refused(error));
            }
            Err(e) => return Err(DockerError::from(e).into()),
        };
        if let Some(detail) = info.error_detail {
            return Err(refused(detail.message.unwrap_or_default()));
        }
        let Some(status) = info.status else { continue };
        // The stream has no per-layer id in bollard's model, but each layer
        // ends with exactly one of these.
        if status == "Pushed" {
            counts.uploaded += 1;
        } else if status == "Layer already exists" {
            counts.existing += 1;
        } else if status.starts_with("Mounted from") {
            counts.mounted += 1;
        } else if let Some(d) = digest_in(&status) {
            digest = Some(d);
        }
    }
    digest.ok_or_else(|| PushError::NoDigest {
        repository: repository.to_string(),
    })
}

/// The digest in the engine's closing line, `TAG: digest: sha256:… size: N`.
fn digest_in(status: &str) -> Option<String> {
    let (_, rest) = status.split_once("digest: ")?;
    let d = rest.split_whitespace().next()?;
    crate::render::ecs::is_digest(d).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_digest_line() {
        let d = format!("sha256:{}", "c".repeat(64));
        assert_eq!(
            super::digest_in(&format!("abc123: digest: {d} size: 1370")),
            Some(d)
        );
        assert_eq!(super::digest_in("Pushed"), None);
        assert_eq!(super::digest_in("x: digest: sha256:short size: 1"), None);
    }
}
