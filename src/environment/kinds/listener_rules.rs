//! The ALB listeners' protocols, certificates, rules and default actions
//! (infra/): the routes ECS
//! serves must be the routes `geno up`'s load balancer served when the
//! stack was tested, so a rule missing, changed or added by hand is a
//! problem before a promotion.

use super::{Observed, Observing};
use crate::aws::Live;
use crate::deploy::listener::{Found, Listener, listener_drift};

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let mut out = Vec::new();
    for wanted in &cx.plans.listeners {
        out.push(observe_one(cx, wanted).await);
    }
    out
}

async fn observe_one<L: Live>(cx: &Observing<'_, L>, wanted: &Listener) -> Observed {
    let (lb, port) = (&wanted.load_balancer, wanted.port);
    let fix = format!(
        "apply infra/ with `geno render --env {} --format tfvars`",
        cx.env.name()
    );
    let problem = match cx.live.listener(lb, port).await {
        Ok(Found::NoLoadBalancer) => format!("ALB {lb} does not exist (infra/ creates it)"),
        Ok(Found::NoListener) => {
            format!("ALB {lb} has no listener on port {port} (infra/ creates it)")
        }
        Ok(Found::Listener(live)) => {
            let drift = listener_drift(&live, wanted);
            if drift.is_empty() {
                return Observed::problems(Vec::new());
            }
            format!(
                "ALB {lb}, listener {port}, differs from stack.yaml: {}; {fix}",
                drift.join("; ")
            )
        }
        Err(e) => e.to_string(),
    };
    Observed::problems(vec![problem])
}
