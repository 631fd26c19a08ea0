//! Preflight: everything a promotion needs, checked before anything
//! changes — identity and account, then every resource kind infra/ owns
//! (`kinds`): cluster and services, repositories, secrets (names only),
//! the ALB target groups' health checks, roles — every problem listed at
//! once.

use super::Environment;
use super::kinds::{Observing, Owner, observe};
use crate::aws::{AwsError, Identity, Live};
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

/// Checks the identity and account, then every resource kind infra/ owns
/// (cluster, services, repositories, secrets, target groups, roles); lists
/// every problem in one error. Names only: no secret value is read.
pub async fn preflight<L: Live>(
    live: &L,
    target: &Environment,
    all: &Plans,
) -> Result<Preflight, PreflightError> {
    // Without an identity nothing else can be asked: fail with that alone.
    let identity = live.identity().await?;
    let env = &target.aws;
    let mut problems: Vec<String> = Vec::new();
    if identity.account != env.account_id {
        problems.push(format!(
            "the AWS credentials are for account {} ({}), but environment `{}` is in account {}",
            identity.account,
            identity.arn,
            target.name(),
            env.account_id
        ));
    }
    let cx = Observing::new(live, target, all, &[]);
    for observed in observe(&cx, Owner::Infra).await {
        problems.extend(observed.problems);
    }
    if !problems.is_empty() {
        return Err(PreflightError::Problems {
            env: target.name().to_string(),
            problems,
        });
    }
    let services = match cx.services().await {
        Ok((found, _)) => found.clone(),
        Err(_) => Vec::new(),
    };
    Ok(Preflight { identity, services })
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
