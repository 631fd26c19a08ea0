//! The ALB target groups of routed services and their health checks
//! (infra/): the ALB must check health the way stack.yaml, and so `geno
//! up`'s load balancer, does, or what was tested locally means little; and
//! each must be attached to its ECS service, or its route has no targets
//! on ECS while it works locally.

use super::{Observed, Observing};
use crate::aws::Live;
use crate::deploy::taskdef::target_group_drift;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut problems = Vec::new();
    for plan in &cx.plans.services {
        if let Some(live) = cx.service(&plan.update.service).await {
            for wanted in &plan.target_groups {
                // ECS may leave either of a blue/green pair as the service's.
                let attached = live.target_groups.contains(&wanted.name)
                    || live.alternates.iter().any(|(_, alt)| *alt == wanted.name);
                if !attached {
                    problems.push(format!(
                        "ECS service {} is not attached to ALB target group {}, so that route has no targets on ECS (infra/ attaches it: apply infra/ with `geno render --env {} --format tfvars`)",
                        plan.update.service,
                        wanted.name,
                        cx.env.name()
                    ));
                }
            }
        }
        for wanted in &plan.target_groups {
            problems.extend(group_problem(cx, wanted).await);
        }
        if plan.shifts_traffic() {
            problems.extend(alternate_problems(cx, plan).await);
        }
    }
    vec![Observed::problems(problems)]
}

async fn group_problem<L: Live>(
    cx: &Observing<'_, L>,
    wanted: &crate::deploy::taskdef::TargetGroup,
) -> Option<String> {
    {
        let container = (wanted.container_name.as_str(), wanted.container_port);
        match cx.live.target_group(&wanted.name, container).await {
            Ok(None) => Some(format!(
                "ALB target group {} does not exist (infra/ creates it)",
                wanted.name
            )),
            Ok(Some(live)) => {
                let drift = target_group_drift(&live, wanted);
                (!drift.is_empty()).then(|| {
                    format!(
                        "ALB target group {} differs from stack.yaml: {}; apply infra/ with `geno render --env {} --format tfvars`",
                        wanted.name,
                        drift.join(", "),
                        cx.env.name()
                    )
                })
            }
            Err(e) => Some(e.to_string()),
        }
    }
}

/// A service ECS shifts traffic for needs, per target group, an alternate
/// group (infra/ creates `NAME-alt` and sets the service's load balancer's
/// `advancedConfiguration`) that checks health as the group does.
async fn alternate_problems<L: Live>(
    cx: &Observing<'_, L>,
    plan: &crate::deploy::taskdef::ServicePlan,
) -> Vec<String> {
    let strategy = plan
        .update
        .deployment_configuration
        .as_ref()
        .map(|d| d.strategy().to_lowercase().replace('_', "/"))
        .unwrap_or_default();
    let fix = format!(
        "apply infra/ with `geno render --env {} --format tfvars`",
        cx.env.name()
    );
    let Some(live) = cx.service(&plan.update.service).await else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for wanted in &plan.target_groups {
        let pair = live
            .alternates
            .iter()
            .find(|(main, alt)| *main == wanted.name || *alt == wanted.name);
        let Some((main, alt)) = pair else {
            problems.push(format!(
                "ECS service {} has no alternate target group beside {} for its {strategy} deployments ({fix})",
                plan.update.service, wanted.name
            ));
            continue;
        };
        let other = if *main == wanted.name { alt } else { main };
        let mut twin = wanted.clone();
        twin.name = other.clone();
        problems.extend(group_problem(cx, &twin).await);
    }
    problems
}
