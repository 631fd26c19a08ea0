//! The ECR repositories the services' images are pushed to (infra/).

use super::{Observed, Observing, missing, unique};
use crate::aws::Live;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    // A registry of the user's own (`--registry`) is not ECR.
    if !cx.env.uses_ecr() {
        return Vec::new();
    }
    // An external image without one is pulled from where it came from.
    let repos = unique(
        cx.plans
            .services
            .iter()
            .map(|p| p.repository.clone())
            .filter(|r| !r.is_empty()),
    );
    missing(cx.live.missing_repositories(&repos).await, |r| {
        format!("ECR repository {r} does not exist in {}", cx.env.aws.region)
    })
}
