//! Subnets and security groups stack.yaml chooses by tag, found in EC2 and
//! written into the service updates, so what is compared and sent names
//! them by ID as ECS does. A tag that finds nothing leaves the update
//! without a network configuration: preflight names it (`kinds::network`).

use crate::aws::{AwsError, Live};
use crate::deploy::taskdef::{AwsVpc, NetworkConfiguration, Plans, Selector};

pub async fn resolve<L: Live>(live: &L, plans: &mut Plans) -> Result<(), AwsError> {
    for plan in &mut plans.services {
        let Some(placement) = &plan.placement else {
            continue;
        };
        if plan.update.network_configuration.is_some() {
            continue;
        }
        let by_tag = |s: &Selector| matches!(s, Selector::Tags(_));
        if !by_tag(&placement.subnets) && !by_tag(&placement.security_groups) {
            continue;
        }
        let subnets = live.subnets(&placement.subnets).await?;
        let security_groups = live.security_groups(&placement.security_groups).await?;
        if subnets.is_empty() || security_groups.is_empty() {
            continue;
        }
        plan.update.network_configuration = Some(NetworkConfiguration {
            awsvpc_configuration: AwsVpc {
                subnets,
                security_groups,
                assign_public_ip: if placement.public_ip {
                    "ENABLED"
                } else {
                    "DISABLED"
                }
                .into(),
            },
        });
    }
    Ok(())
}
