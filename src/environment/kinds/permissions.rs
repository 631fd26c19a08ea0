//! What the roles must allow (infra/ grants it from the tfvars): the
//! execution role reads every secret the task definitions declare, or the
//! task does not start; the task role does what the services' `iam`
//! statements say, or the app fails at its first call. Read from the
//! roles' inline and attached policies.

use super::{Observed, Observing};
use crate::aws::Live;
use crate::deploy::iam::{Statement, execution_statements, not_allowed, task_statements};

pub async fn observe<L: Live>(cx: &Observing<'_, L>) -> Vec<Observed> {
    let stack = &cx.env.loaded.stack;
    let aws = &cx.env.aws;
    let roles = [
        (
            &aws.execution_role_arn,
            execution_statements(stack, cx.env.name()),
            "ECS reads the task's secrets with it: the task cannot start",
        ),
        (
            &aws.task_role_arn,
            task_statements(stack),
            "the services' `iam` statements ask for it",
        ),
    ];
    let mut problems = Vec::new();
    for (role, wanted, why) in roles {
        problems.extend(role_problems(cx, role, &wanted, why).await);
    }
    vec![Observed::problems(problems)]
}

async fn role_problems<L: Live>(
    cx: &Observing<'_, L>,
    role: &str,
    wanted: &[Statement],
    why: &str,
) -> Vec<String> {
    if wanted.is_empty() {
        return Vec::new();
    }
    let documents = match cx.live.role_policies(role).await {
        // A missing role is the roles kind's problem.
        Ok(None) => return Vec::new(),
        Ok(Some(d)) => d,
        Err(e) => return vec![e.to_string()],
    };
    let missing = not_allowed(&documents, wanted);
    let mut by_action: Vec<(String, Vec<String>)> = Vec::new();
    for (action, resource) in missing {
        match by_action.iter_mut().find(|(a, _)| *a == action) {
            Some((_, resources)) => resources.push(resource),
            None => by_action.push((action, vec![resource])),
        }
    }
    by_action
        .into_iter()
        .map(|(action, resources)| {
            format!(
                "IAM role {role} does not allow {action} on {} ({why}); apply infra/ with `geno render --env {} --format tfvars`",
                resources.join(", "),
                cx.env.name()
            )
        })
        .collect()
}
