//! Where each service's tasks run, when stack.yaml says (`ecs.network`,
//! `ecs.capacity`): geno's placement and capacity providers, compared with
//! what the service has and applied with the service update; and infra's
//! subnets and security groups, which must exist (by ID) or be found (by
//! tag) before a task can be placed in them.

use super::{Observed, Observing, in_cluster};
use crate::aws::Live;
use crate::deploy::taskdef::{AwsVpc, Change, Selector, strategy_text};

/// The subnets, groups and public IP of each service that names them.
pub async fn placement<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    in_cluster(cx)
        .await
        .into_iter()
        .filter_map(|(plan, live)| {
            let want = &plan
                .update
                .network_configuration
                .as_ref()?
                .awsvpc_configuration;
            let have = live.network.as_ref();
            fn list(v: &[String]) -> String {
                let mut v = v.to_vec();
                v.sort();
                v.join(", ")
            }
            let field = |f: fn(&AwsVpc) -> String| (have.map(f), Some(f(want)));
            let mut changes = Vec::new();
            for (path, (live, rendered)) in [
                (
                    "networkConfiguration.awsvpcConfiguration.subnets",
                    field(|v| list(&v.subnets)),
                ),
                (
                    "networkConfiguration.awsvpcConfiguration.securityGroups",
                    field(|v| list(&v.security_groups)),
                ),
                (
                    "networkConfiguration.awsvpcConfiguration.assignPublicIp",
                    field(|v| v.assign_public_ip.clone()),
                ),
            ] {
                changes.extend(Change::between(path, live, rendered));
            }
            Some(Observed::on_service(plan, live, changes, Vec::new()))
        })
        .collect()
}

/// The FARGATE / FARGATE_SPOT shares of each service that names them.
pub async fn capacity<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    in_cluster(cx)
        .await
        .into_iter()
        .filter_map(|(plan, live)| {
            let want = plan.update.capacity_provider_strategy.as_ref()?;
            let changes = Change::between(
                "capacityProviderStrategy",
                Some(strategy_text(&live.capacity)),
                Some(strategy_text(want)),
            );
            Some(Observed::on_service(
                plan,
                live,
                changes.into_iter().collect(),
                Vec::new(),
            ))
        })
        .collect()
}

/// Every subnet and security group a service names exists; every tag
/// finds at least one.
pub async fn subnets_and_groups<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let region = &cx.env.aws.region;
    let mut problems = Vec::new();
    for plan in &cx.plans.services {
        let Some(placement) = &plan.placement else {
            continue;
        };
        let service = &plan.update.service;
        for (what, chosen, subnets) in [
            ("subnet", &placement.subnets, true),
            ("security group", &placement.security_groups, false),
        ] {
            let found = match subnets {
                true => cx.live.subnets(chosen).await,
                false => cx.live.security_groups(chosen).await,
            };
            let found = match found {
                Ok(found) => found,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            match chosen {
                Selector::Ids(ids) => problems.extend(
                    ids.iter()
                        .filter(|id| !found.contains(id))
                        .map(|id| format!("{what} {id} of {service} does not exist in {region}")),
                ),
                Selector::Tags(_) if found.is_empty() => problems.push(format!(
                    "no {what} in {region} has {} ({service}'s `ecs.network`)",
                    chosen.describe()
                )),
                Selector::Tags(_) => {}
            }
        }
    }
    vec![Observed::problems(problems)]
}
