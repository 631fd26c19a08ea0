//! Each service's deployment settings (geno's): the minimum healthy and
//! maximum percent, the circuit breaker, the strategy (rolling, blue/green,
//! canary, linear) and its bakes, and the health check grace period
//! stack.yaml renders, against what the service has. A setting changed by
//! hand in the console shows in `diff`, and promote puts it back.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::taskdef::{CanaryConfiguration, Change, LinearConfiguration};

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
            if let Some(want) = &plan.update.deployment_configuration {
                let have = live.deployment.as_ref();
                compare(
                    "deploymentConfiguration.strategy",
                    Some(have.map_or("ROLLING", |h| h.strategy()).to_string()),
                    want.strategy().to_string(),
                );
                if want.shifts_traffic() {
                    compare(
                        "deploymentConfiguration.bakeTimeInMinutes",
                        have.and_then(|h| h.bake_time_in_minutes)
                            .map(|m| m.to_string()),
                        want.bake_time_in_minutes.unwrap_or(0).to_string(),
                    );
                }
                let canary = |c: &CanaryConfiguration| {
                    format!(
                        "{}% for {}m",
                        c.canary_percent, c.canary_bake_time_in_minutes
                    )
                };
                let linear = |l: &LinearConfiguration| {
                    format!("{}% every {}m", l.step_percent, l.step_bake_time_in_minutes)
                };
                if let Some(c) = &want.canary_configuration {
                    compare(
                        "deploymentConfiguration.canaryConfiguration",
                        have.and_then(|h| h.canary_configuration.as_ref())
                            .map(canary),
                        canary(c),
                    );
                }
                if let Some(l) = &want.linear_configuration {
                    compare(
                        "deploymentConfiguration.linearConfiguration",
                        have.and_then(|h| h.linear_configuration.as_ref())
                            .map(linear),
                        linear(l),
                    );
                }
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
