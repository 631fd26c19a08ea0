//! A promotion's scaling and alarms: the ALB names in the plans filled in
//! from the live target groups, and the moves that take each service's
//! scaling and alarms from what is live to what stack.yaml renders, each
//! with its way back.

use crate::aws::{AwsError, Live};
use crate::deploy::scaling::{
    self, Alarm, MANAGED, Scaling, Step, alarm_steps, arn_suffix, fill, referenced_groups,
    scaling_steps,
};
use crate::deploy::taskdef::{Plans, ServicePlan};

/// The target groups' and load balancers' ARN suffixes written into the
/// plans' alarm dimensions and request-tracking labels. A group that does
/// not exist stays a placeholder: preflight names it (`kinds::target_groups`).
pub async fn resolve<L: Live>(live: &L, plans: &mut Plans) -> Result<(), AwsError> {
    for plan in &mut plans.services {
        let mut texts: Vec<&mut String> = Vec::new();
        if let Some(s) = &mut plan.scaling {
            for p in &mut s.policies {
                let m = &mut p
                    .target_tracking_scaling_policy_configuration
                    .predefined_metric_specification;
                if let Some(label) = &mut m.resource_label {
                    texts.push(label);
                }
            }
        }
        for a in &mut plan.alarms {
            for d in &mut a.dimensions {
                texts.push(&mut d.value);
            }
        }
        let mut groups: Vec<String> = Vec::new();
        for t in &texts {
            for g in referenced_groups(t) {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        for g in groups {
            let Some((group_arn, Some(balancer_arn))) = live.group_and_balancer(&g).await? else {
                continue;
            };
            let (gs, bs) = (arn_suffix(&group_arn), arn_suffix(&balancer_arn));
            for t in texts.iter_mut() {
                **t = fill(t, &g, &gs, &bs);
            }
        }
        for a in &mut plan.alarms {
            *a = a.clone().normalized();
        }
    }
    if let Some(d) = &mut plans.dashboard {
        let mut text = d.body.to_string();
        for g in referenced_groups(&text) {
            if let Some((group_arn, Some(balancer_arn))) = live.group_and_balancer(&g).await? {
                text = fill(
                    &text,
                    &g,
                    &arn_suffix(&group_arn),
                    &arn_suffix(&balancer_arn),
                );
            }
        }
        if let Ok(body) = serde_json::from_str(&text) {
            d.body = body;
        }
    }
    Ok(())
}

/// The environment's dashboard as it is live, if geno drew it (one of
/// that name drawn by hand is not geno's to change or remove unless
/// stack.yaml asks for one).
pub async fn live_dashboard<L: Live>(
    live: &L,
    stack: &str,
    env: &str,
    plans: &Plans,
) -> Result<Option<scaling::Dashboard>, AwsError> {
    let name = plans
        .dashboard
        .as_ref()
        .map_or_else(|| scaling::dashboard_name(stack, env), |d| d.name.clone());
    let found = live.dashboard(&name).await?;
    Ok(found.filter(|d| plans.dashboard.is_some() || d.drawn_by_geno()))
}

/// The prefix of the alarms geno manages for a service.
pub fn alarm_prefix(plan: &ServicePlan) -> String {
    format!("{}-", plan.update.service)
}

/// A service's scaling and alarms as they are live.
pub struct Settings {
    pub scaling: Option<Scaling>,
    pub alarms: Vec<Alarm>,
}

/// Reads what is live of a service's scaling and alarms.
pub async fn read<L: Live>(live: &L, plan: &ServicePlan) -> Result<Settings, AwsError> {
    let id = scaling::resource_id(&plan.update.cluster, &plan.update.service);
    Ok(Settings {
        scaling: live.scaling(&id).await?,
        alarms: live.managed_alarms(&alarm_prefix(plan), MANAGED).await?,
    })
}

/// The steps that take a service from `live` to its plan, and those that
/// take it back; alarms and scaling apart, since alarms go before the
/// rollout (its deployment configuration names them) and scaling after.
pub struct Steps {
    pub alarms: (Vec<Step>, Vec<Step>),
    pub scaling: (Vec<Step>, Vec<Step>),
}

pub fn steps(plan: &ServicePlan, live: &Settings) -> Steps {
    Steps {
        alarms: (
            alarm_steps(&live.alarms, &plan.alarms),
            alarm_steps(&plan.alarms, &live.alarms),
        ),
        scaling: (
            scaling_steps(live.scaling.as_ref(), plan.scaling.as_ref()),
            scaling_steps(plan.scaling.as_ref(), live.scaling.as_ref()),
        ),
    }
}
