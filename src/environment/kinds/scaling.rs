//! Each service's scaling and alarms (geno's): the scalable target's range,
//! its target tracking policies and scheduled actions, and the CloudWatch
//! alarms geno made for it, against what stack.yaml renders. A service
//! that scales itself and runs outside its range shows the count promote
//! brings it back within.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::scaling::{MANAGED, alarm_changes, kept_count, resource_id, scaling_changes};
use crate::deploy::taskdef::Change;
use crate::environment::scaling::alarm_prefix;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut out = Vec::new();
    for (plan, live) in in_cluster(cx).await {
        let id = resource_id(&plan.update.cluster, &plan.update.service);
        let observed = match cx.live.scaling(&id).await {
            Ok(scaling) => {
                let mut changes = scaling_changes(scaling.as_ref(), plan.scaling.as_ref());
                if let Some(s) = &plan.scaling {
                    let kept = kept_count(live.desired, s);
                    changes.extend(Change::between(
                        "desiredCount",
                        Some(live.desired.to_string()),
                        Some(kept.to_string()),
                    ));
                }
                Observed::on_service(plan, live, changes, Vec::new())
            }
            Err(e) => Observed::on_service(plan, live, Vec::new(), vec![e.to_string()]),
        };
        out.push(observed);
    }
    out
}

pub async fn alarms<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut out = Vec::new();
    for (plan, live) in in_cluster(cx).await {
        let observed = match cx.live.managed_alarms(&alarm_prefix(plan), MANAGED).await {
            Ok(alarms) => {
                Observed::on_service(plan, live, alarm_changes(&alarms, &plan.alarms), Vec::new())
            }
            Err(e) => Observed::on_service(plan, live, Vec::new(), vec![e.to_string()]),
        };
        out.push(observed);
    }
    out
}

/// The environment's dashboard (`aws.dashboard`): drawn as stack.yaml
/// says, or gone when it no longer asks for one.
pub async fn dashboard<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let (stack, env) = (cx.env.stack_name(), cx.env.name());
    let observed =
        match crate::environment::scaling::live_dashboard(cx.live, stack, env, cx.plans).await {
            Ok(live) => Observed {
                kind: "",
                subject: super::Subject::Environment,
                changes: crate::deploy::scaling::dashboard_changes(
                    live.as_ref(),
                    cx.plans.dashboard.as_ref(),
                ),
                problems: Vec::new(),
            },
            Err(e) => Observed::problems(vec![e.to_string()]),
        };
    vec![observed]
}
