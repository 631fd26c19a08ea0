//! The CloudWatch log groups the task definitions write to (infra/): the
//! environment's, and each one a service names for itself. The awslogs
//! driver does not create them, so a task writing to a missing group fails
//! to start.

use super::{Observed, Observing, missing};
use crate::aws::Live;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let groups = cx.plans.log_groups();
    missing(cx.live.missing_log_groups(&groups).await, |g| {
        format!("log group {g} does not exist in {}", cx.env.aws.region)
    })
}
