//! Each service's task definition (geno's): the rendered one against the
//! one the service runs, field by field.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::taskdef::diff;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut out = Vec::new();
    for (plan, live) in in_cluster(cx).await {
        out.push(match cx.live.task_definition(&live.task_definition).await {
            Ok(td) => Observed::on_service(plan, live, diff(&td, &plan.task_definition), vec![]),
            Err(e) => Observed::on_service(plan, live, vec![], vec![e.to_string()]),
        });
    }
    out
}
