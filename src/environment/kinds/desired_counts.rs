//! Each service's desired count (geno's), where stack.yaml sets one.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::taskdef::Change;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    in_cluster(cx)
        .await
        .into_iter()
        .map(|(plan, live)| {
            let changes = match plan.update.desired_count {
                Some(d) if d != live.desired => vec![Change {
                    path: "desiredCount".into(),
                    live: Some(live.desired.to_string()),
                    rendered: Some(d.to_string()),
                }],
                _ => Vec::new(),
            };
            Observed::on_service(plan, live, changes, Vec::new())
        })
        .collect()
}
