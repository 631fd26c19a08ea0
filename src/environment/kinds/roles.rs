//! The IAM roles the task definitions name (infra/).

use super::{Observed, Observing, missing, unique};
use crate::aws::Live;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let roles = unique(cx.plans.task_definitions().flat_map(|td| {
        [td.execution_role_arn.clone(), td.task_role_arn.clone()]
            .into_iter()
            .flatten()
    }));
    missing(cx.live.missing_roles(&roles).await, |r| {
        format!("IAM role {r} does not exist")
    })
}
