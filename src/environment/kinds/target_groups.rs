//! The ALB target groups of routed services and their health checks
//! (infra/): the ALB must check health the way stack.yaml, and so `geno
//! up`'s load balancer, does, or what was tested locally means little.

use super::{Observed, Observing};
use crate::aws::Live;
use crate::deploy::taskdef::target_group_drift;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut problems = Vec::new();
    for plan in &cx.plans.services {
        let Some(wanted) = &plan.target_group else {
            continue;
        };
        let container = (wanted.container_name.as_str(), wanted.container_port);
        match cx.live.target_group(&wanted.name, container).await {
            Ok(None) => problems.push(format!(
                "ALB target group {} does not exist (infra/ creates it)",
                wanted.name
            )),
            Ok(Some(live)) => {
                let drift = target_group_drift(&live, wanted);
                if !drift.is_empty() {
                    problems.push(format!(
                        "ALB target group {} differs from stack.yaml: {}; apply infra/ with `geno render --env {} --format tfvars`",
                        wanted.name,
                        drift.join(", "),
                        cx.env.name()
                    ));
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    vec![Observed::problems(problems)]
}
