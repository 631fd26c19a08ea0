//! How services reach each other on ECS (Service Connect): the namespace
//! infra/ creates, and each service's configuration, which geno applies
//! with the task definition whose named ports it refers to. A service
//! whose aliases differ from stack.yaml's names and ports is one its
//! callers cannot reach as they did locally.

use super::{Observed, Observing, in_cluster, unique};
use crate::aws::Live;
use crate::deploy::connect::connect_drift;

/// The namespaces the plans name (infra's): each must exist in Cloud Map.
pub async fn namespaces<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut problems = Vec::new();
    for name in wanted(cx) {
        match cx.namespace(&name).await {
            Ok(Some(_)) => {}
            Ok(None) => problems.push(format!(
                "Cloud Map namespace {name} does not exist in {} (infra/ creates it: apply infra/ with `geno render --env {} --format tfvars`)",
                cx.env.aws.region,
                cx.env.name()
            )),
            Err(e) => problems.push(e.to_string()),
        }
    }
    vec![Observed::problems(problems)]
}

/// Each service's Service Connect configuration (geno's), rendered
/// against its PRIMARY deployment's.
pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut out = Vec::new();
    for (plan, live) in in_cluster(cx).await {
        let Some(rendered) = &plan.update.service_connect_configuration else {
            continue;
        };
        let ns = match &rendered.namespace {
            Some(n) => cx.namespace(n).await.ok().flatten().cloned(),
            None => None,
        };
        let changes = connect_drift(live.service_connect.as_ref(), rendered, ns.as_ref());
        out.push(Observed::on_service(plan, live, changes, Vec::new()));
    }
    out
}

fn wanted<L: Live>(cx: &Observing<'_, L>) -> Vec<String> {
    unique(
        cx.plans
            .services
            .iter()
            .filter_map(|p| p.update.service_connect_configuration.as_ref())
            .filter_map(|sc| sc.namespace.clone()),
    )
}
