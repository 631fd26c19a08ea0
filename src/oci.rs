//! Reading a pushed manifest back from the registry (Distribution API), to
//! prove the digest a task definition pins is the image that was verified.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// Manifest types geno accepts. Without this Accept header registry 2.x
/// answers with a converted schema-1 manifest whose digest differs.
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry} ({reason}); is it running, and is the host right?")]
    Unreachable { registry: String, reason: String },
    #[error("registry {registry} answered {status} for {what}")]
    Status {
        registry: String,
        status: u16,
        what: String,
    },
    #[error("manifest {digest} from {registry}: {problem}")]
    Bad {
        registry: String,
        digest: String,
        problem: String,
    },
}

/// Basic credentials for the registry API (ECR takes its token this way).
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Registries on loopback speak plain HTTP (as the engine allows them to);
/// everything else HTTPS.
pub fn base_url(registry: &str) -> String {
    let host = registry.split(':').next().unwrap_or(registry);
    let loopback = host == "localhost" || host.starts_with("127.") || registry.starts_with("[::1]");
    if loopback {
        format!("http://{registry}")
    } else {
        format!("https://{registry}")
    }
}

/// Fetches manifest `digest` of `repository`, checks that its bytes hash to
/// that digest, and returns the config digest it names (the image ID).
pub async fn config_digest(
    registry: &str,
    repository: &str,
    digest: &str,
    login: Option<&Login>,
) -> Result<String, RegistryError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| RegistryError::Unreachable {
            registry: registry.into(),
            reason: e.to_string(),
        })?;
    let url = format!("{}/v2/{repository}/manifests/{digest}", base_url(registry));
    let mut request = client.get(&url).header(reqwest::header::ACCEPT, ACCEPT);
    if let Some(l) = login {
        request = request.basic_auth(&l.username, Some(&l.password));
    }
    let response = request
        .send()
        .await
        .map_err(|e| RegistryError::Unreachable {
            registry: registry.into(),
            reason: crate::error::causes(&e).last().cloned().unwrap_or_default(),
        })?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(RegistryError::Status {
            registry: registry.into(),
            status,
            what: format!("{repository}@{digest}"),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| RegistryError::Unreachable {
            registry: registry.into(),
            reason: e.to_string(),
        })?;
    let bad = |problem: String| RegistryError::Bad {
        registry: registry.into(),
        digest: digest.into(),
        problem,
    };
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    if actual != digest {
        return Err(bad(format!("its content hashes to {actual}")));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
    manifest["config"]["digest"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| bad("it names no config digest".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_registries_speak_http() {
        assert_eq!(super::base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(super::base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(
            super::base_url("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
    }
}
