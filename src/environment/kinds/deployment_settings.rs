//! Each service's deployment settings (geno's): the minimum healthy and
//! maximum percent, the circuit breaker, and the health check grace period
//! stack.yaml renders, against what the service has. A setting changed by
//! hand in the console shows in `diff`, and promote puts it back.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::taskdef::Change;

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    in_cluster(cx)
        .await
        .into_iter()
        .map(|(plan, live)| {
            let mut changes = Vec::new();
            let mut compare = |path: &str, live: Option<String>, rendered: String| {
                changes.extend(Change::between(path, live, Some(rendered)));
            };
            if let Some(want) = &plan.update.deployment_configuration {
                let have = live.deployment.as_ref();
                let breaker = |f: fn(&crate::deploy::taskdef::CircuitBreaker) -> bool| {
                    have.map(|h| f(&h.deployment_circuit_breaker).to_string())
                };
                compare(
                    "deploymentConfiguration.minimumHealthyPercent",
                    have.map(|h| h.minimum_healthy_percent.to_string()),
                    want.minimum_healthy_percent.to_string(),
                );
                compare(
                    "deploymentConfiguration.maximumPercent",
                    have.map(|h| h.maximum_percent.to_string()),
                    want.maximum_percent.to_string(),
                );
                compare(
                    "deploymentConfiguration.deploymentCircuitBreaker.enable",
                    breaker(|b| b.enable),
                    want.deployment_circuit_breaker.enable.to_string(),
                );
                compare(
                    "deploymentConfiguration.deploymentCircuitBreaker.rollback",
                    breaker(|b| b.rollback),
                    want.deployment_circuit_breaker.rollback.to_string(),
                );
            }
            if let Some(want) = plan.update.health_check_grace_period_seconds {
                compare(
                    "healthCheckGracePeriodSeconds",
                    live.grace_period_seconds.map(|g| g.to_string()),
                    want.to_string(),
                );
            }
            Observed::on_service(plan, live, changes, Vec::new())
        })
        .collect()
}
