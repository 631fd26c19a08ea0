//! Preflight: everything a promotion needs, checked before anything
//! changes — identity and account, cluster and services, repositories,
//! secrets (names only), roles, and the ALB target groups' health checks —
//! every problem listed at once.

use std::collections::BTreeSet;

use super::Environment;
use crate::aws::{Aws, AwsError, Identity};
use crate::deploy::live::{DeclaredSecret, Store, declared};
use crate::deploy::rollout::ServiceStatus;
use crate::deploy::taskdef::Plans;

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Without an identity nothing else can be asked.
    #[error(transparent)]
    Identity(#[from] AwsError),
    #[error(
        "preflight for `{env}` found {} problem{}; nothing was changed:\n{}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Problems { env: String, problems: Vec<String> },
}

/// Everything that must exist before anything is changed, checked at once.
pub struct Preflight {
    pub identity: Identity,
    /// The services as they are now, in plan order.
    pub services: Vec<ServiceStatus>,
}

/// Checks identity, cluster, services, repositories, secrets and roles;
/// lists every problem in one error. Names only: no secret value is read.
pub async fn preflight(
    aws: &Aws,
    target: &Environment,
    all: &Plans,
) -> Result<Preflight, PreflightError> {
    let plans = &all.services;
    // Without an identity nothing else can be asked: fail with that alone.
    let identity = aws.identity().await?;
    let env = &target.aws;
    let mut problems: Vec<String> = Vec::new();
    let mut check = |r: Result<Vec<String>, AwsError>, say: &dyn Fn(&str) -> String| match r {
        Ok(missing) => problems.extend(missing.iter().map(|m| say(m))),
        Err(e) => problems.push(e.to_string()),
    };
    if identity.account != env.account_id {
        check(Ok(vec![identity.account.clone()]), &|a| {
            format!(
                "the AWS credentials are for account {a} ({}), but environment `{}` is in account {}",
                identity.arn,
                target.name(),
                env.account_id
            )
        });
    }
    let mut services = Vec::new();
    match aws.cluster_status(&env.cluster).await {
        Ok(Some(s)) if s == "ACTIVE" => {
            let names: Vec<String> = plans.iter().map(|p| p.update.service.clone()).collect();
            match aws.services(&env.cluster, &names).await {
                Ok((found, missing)) => {
                    check(Ok(missing), &|m| {
                        format!("ECS service {m} does not exist in cluster {}", env.cluster)
                    });
                    for name in &names {
                        if let Some(s) = found.iter().find(|s| &s.name == name) {
                            services.push(s.clone());
                        }
                    }
                }
                Err(e) => check(Err(e), &|m| m.to_string()),
            }
        }
        Ok(Some(s)) => check(Ok(vec![s]), &|s| {
            format!("ECS cluster {} is {s}, not ACTIVE", env.cluster)
        }),
        Ok(None) => check(Ok(vec![env.cluster.clone()]), &|c| {
            format!("ECS cluster {c} does not exist in {}", env.region)
        }),
        Err(e) => check(Err(e), &|m| m.to_string()),
    }
    if target.uses_ecr() {
        let repos: Vec<String> = unique(plans.iter().map(|p| p.repository.clone()));
        check(aws.missing_repositories(&repos).await, &|r| {
            format!("ECR repository {r} does not exist in {}", env.region)
        });
    }
    let secrets = secret_sources(target, all);
    let of = |store: Store| -> Vec<String> {
        unique(
            secrets
                .iter()
                .filter(|d| d.store == store)
                .map(|d| d.id.clone()),
        )
    };
    // The stack.yaml names that read `id`, for `geno secrets set`.
    let names = |id: &str| -> String {
        secrets
            .iter()
            .filter(|d| d.id == id)
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let (ssm, sm) = (of(Store::Ssm), of(Store::SecretsManager));
    if !ssm.is_empty() {
        check(aws.missing_parameters(&ssm).await, &|p| {
            format!(
                "SSM parameter {p} does not exist: `geno secrets set --env {} {}` writes it",
                target.name(),
                names(p)
            )
        });
    }
    if !sm.is_empty() {
        check(aws.missing_secrets(&sm).await, &|s| {
            format!(
                "Secrets Manager secret {s} does not exist: `geno secrets set --env {} {}` writes it",
                target.name(),
                names(s)
            )
        });
    }
    // The ALB must check health the way stack.yaml (and so `geno up`'s load
    // balancer) does, or what was tested locally means little.
    let mut groups = Vec::new();
    for plan in plans {
        let Some(wanted) = &plan.target_group else {
            continue;
        };
        match aws
            .target_group(
                &wanted.name,
                (&wanted.container_name, wanted.container_port),
            )
            .await
        {
            Ok(None) => groups.push(format!(
                "ALB target group {} does not exist (infra/ creates it)",
                wanted.name
            )),
            Ok(Some(live)) => {
                let drift = crate::deploy::taskdef::target_group_drift(&live, wanted);
                if !drift.is_empty() {
                    groups.push(format!(
                        "ALB target group {} differs from stack.yaml: {}; apply infra/ with `geno render --env {} --format tfvars`",
                        wanted.name,
                        drift.join(", "),
                        target.name()
                    ));
                }
            }
            Err(e) => groups.push(e.to_string()),
        }
    }
    check(Ok(groups), &|g| g.to_string());
    let roles = unique(all.task_definitions().flat_map(|td| {
        [td.execution_role_arn.clone(), td.task_role_arn.clone()]
            .into_iter()
            .flatten()
    }));
    check(aws.missing_roles(&roles).await, &|r| {
        format!("IAM role {r} does not exist")
    });
    if !problems.is_empty() {
        return Err(PreflightError::Problems {
            env: target.name().to_string(),
            problems,
        });
    }
    Ok(Preflight { identity, services })
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// The secrets the plans' task definitions read, as stack.yaml declares
/// them for this environment.
fn secret_sources(target: &Environment, plans: &Plans) -> Vec<DeclaredSecret> {
    declared(&target.loaded.stack, plans)
        .into_iter()
        .filter(|d| !d.used_by.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_in_one_error() {
        let err = PreflightError::Problems {
            env: "test".into(),
            problems: vec![
                "SSM parameter /a does not exist".into(),
                "IAM role r does not exist".into(),
            ],
        };
        assert_eq!(
            err.to_string(),
            "preflight for `test` found 2 problems; nothing was changed:\n  - SSM parameter /a does not exist\n  - IAM role r does not exist"
        );
    }
}
