//! Pinning an external image ECS pulls from where it came from: the
//! reference stack.yaml writes (`temporalio/auto-setup:1.25`) becomes the
//! digest the image that ran here was pulled as, from the engine's
//! `RepoDigests`, so ECS runs the image smoke ran, not what the tag names
//! by then. Pure.

/// `docker.io/library/redis` for `redis`, `docker.io/temporalio/x` for
/// `temporalio/x`: the repository as the engine compares names.
fn normalized(repository: &str) -> String {
    let first = repository.split('/').next().unwrap_or_default();
    let has_host = repository.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_host {
        repository.to_string()
    } else if repository.contains('/') {
        format!("docker.io/{repository}")
    } else {
        format!("docker.io/library/{repository}")
    }
}

/// The repository part of a reference: no tag, no digest.
pub fn repository_of(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// `REPOSITORY@sha256:…` for `reference`, from the digests the local image
/// was pulled as; the one line promote stops on when it was never pulled
/// (built or tagged here), since ECS could not fetch it.
pub fn pinned_reference(reference: &str, repo_digests: &[String]) -> Result<String, String> {
    let repository = repository_of(reference);
    if let Some((_, digest)) = reference.split_once('@') {
        return Ok(format!("{repository}@{digest}"));
    }
    let wanted = normalized(repository);
    repo_digests
        .iter()
        .find_map(|rd| {
            let (repo, digest) = rd.split_once('@')?;
            (normalized(repo) == wanted).then(|| format!("{repository}@{digest}"))
        })
        .ok_or_else(|| {
            format!(
                "`{reference}` has no registry digest on this machine (it was built or tagged here, not pulled), so ECS could not pull the image that ran here; set the service's `ecs.repository` to push it to ECR, or `docker pull {reference}` and run `geno up` and `geno smoke` again"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:5d69faf904d7aa46c1a30b0f4a3b2ae4e9d9b4bb8a3c47b1cdc40b6ee3bc8c1e";

    #[test]
    fn a_pulled_image_is_pinned_to_the_digest_it_was_pulled_as() {
        assert_eq!(
            pinned_reference("redis:7", &[format!("redis@{D}")]),
            Ok(format!("redis@{D}"))
        );
        assert_eq!(
            pinned_reference(
                "temporalio/auto-setup:1.25",
                &[format!("docker.io/temporalio/auto-setup@{D}")]
            ),
            Ok(format!("temporalio/auto-setup@{D}"))
        );
        assert_eq!(
            pinned_reference(
                "127.0.0.1:5000/mirror/x:1",
                &[format!("127.0.0.1:5000/mirror/x@{D}")]
            ),
            Ok(format!("127.0.0.1:5000/mirror/x@{D}"))
        );
        // Pinned in stack.yaml already: kept.
        assert_eq!(
            pinned_reference(&format!("postgres@{D}"), &[]),
            Ok(format!("postgres@{D}"))
        );
        assert_eq!(repository_of("localhost:5000/x"), "localhost:5000/x");
    }

    #[test]
    fn an_image_built_here_cannot_be_pulled_by_ecs() {
        assert_eq!(
            pinned_reference("geno-local/temporal:standin", &[format!("other/x@{D}")]).unwrap_err(),
            "`geno-local/temporal:standin` has no registry digest on this machine (it was built or tagged here, not pulled), so ECS could not pull the image that ran here; set the service's `ecs.repository` to push it to ECR, or `docker pull geno-local/temporal:standin` and run `geno up` and `geno smoke` again"
        );
    }
}
