//! Reading live services whole, for `geno init --from-ecs`: each service's
//! deployment settings, task definition and target group.

use super::{Aws, AwsError};
use crate::deploy::taskdef::TargetGroup;
use crate::import::ecs::LiveService;

impl Aws {
    /// Every service of a cluster (ACTIVE ones), by name.
    pub async fn cluster_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut pages = self
            .ecs
            .list_services()
            .cluster(cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("ecs", "ListServices", e))?;
            for arn in page.service_arns() {
                names.push(arn.rsplit('/').next().unwrap_or(arn).to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The named services as they run: settings, task definition, target
    /// group. Names ECS does not know are returned apart.
    pub async fn live_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<(Vec<LiveService>, Vec<String>), AwsError> {
        let (described, missing) = self.described_services(cluster, names).await?;
        let mut out = Vec::new();
        for s in &described {
            let td = self
                .task_definition(s.task_definition().unwrap_or_default())
                .await?;
            let dc = s.deployment_configuration();
            let target_group = match s.load_balancers().first() {
                Some(lb) => {
                    self.group_by_arn(
                        lb.target_group_arn().unwrap_or_default(),
                        lb.container_name().unwrap_or_default(),
                        lb.container_port().unwrap_or_default(),
                    )
                    .await?
                }
                None => None,
            };
            let status = super::service_status(s);
            out.push(LiveService {
                network: status.network,
                capacity: status.capacity,
                deployment: status.deployment,
                ecs_service: s.service_name().unwrap_or_default().to_string(),
                desired: s.desired_count(),
                min_healthy_percent: dc.and_then(|d| d.minimum_healthy_percent()),
                max_percent: dc.and_then(|d| d.maximum_percent()),
                circuit_breaker: dc
                    .and_then(|d| d.deployment_circuit_breaker())
                    .map(|b| (b.enable(), b.rollback())),
                grace_period: s.health_check_grace_period_seconds(),
                task_definition: td,
                target_group,
                service_connect: s
                    .deployments()
                    .iter()
                    .find(|d| d.status() == Some("PRIMARY"))
                    .and_then(|d| d.service_connect_configuration())
                    .is_some_and(|c| c.enabled()),
            });
        }
        Ok((out, missing))
    }

    async fn group_by_arn(
        &self,
        arn: &str,
        container: &str,
        port: i32,
    ) -> Result<Option<TargetGroup>, AwsError> {
        let out = self
            .elb
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeTargetGroups", e))?;
        let Some(name) = out
            .target_groups()
            .first()
            .and_then(|g| g.target_group_name())
        else {
            return Ok(None);
        };
        self.target_group(name, (container, port)).await
    }
}
