//! The cluster, ACTIVE, and the ECS services the plans update (infra/).

use super::{Observed, Observing};
use crate::aws::Live;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let env = &cx.env.aws;
    let mut problems = Vec::new();
    match cx.cluster_status().await {
        Ok(Some(s)) if s == "ACTIVE" => match cx.services().await {
            Ok((_, missing)) => problems.extend(
                missing
                    .iter()
                    .map(|m| format!("ECS service {m} does not exist in cluster {}", env.cluster)),
            ),
            Err(e) => problems.push(e.to_string()),
        },
        Ok(Some(s)) => problems.push(format!("ECS cluster {} is {s}, not ACTIVE", env.cluster)),
        Ok(None) => problems.push(format!(
            "ECS cluster {} does not exist in {}",
            env.cluster, env.region
        )),
        Err(e) => problems.push(e.to_string()),
    }
    vec![Observed::problems(problems)]
}
