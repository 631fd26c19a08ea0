//! `geno restart --env ENV [SERVICE…]`: new tasks for the task definitions
//! that run (a forced new deployment), watched like a promotion and on
//! record as a restart, for a rotated secret or a changed parameter: ECS
//! reads both only when a task starts.

use crate::aws::Live;
use crate::context::Context;
use crate::deploy::record::{Kind, Record, ServiceRecord};
use crate::deploy::rollout::ServiceStatus;
use crate::environment::change::{Change, Move};
use crate::environment::deployed::Deployed;
use crate::environment::rollout::Watch;
use crate::error::CliResult;

pub async fn restart(ctx: &Context, env: &str, services: &[String], watch: Watch) -> CliResult {
    let d = Deployed::open(ctx, env).await?;
    let names = ecs_services(&d, services)?;
    let (live, missing) = d.aws.services(d.cluster(), &names).await?;
    if let Some(m) = missing.first() {
        return Err(anyhow::anyhow!(
            "ECS service {m} does not exist in cluster {}; `geno promote --env {env}` deploys it first",
            d.cluster()
        )
        .into());
    }
    let (record, moves) = plan(&d, &live);
    ctx.shell.status(format!("restarting in {env}:"));
    let mut change = Change::begin(d.env.handles(ctx, d.aws, watch), record);
    change.phase("rollout");
    let result = change.apply(&moves).await;
    change.settle("restart", result).await;
    change.conclude(
        |r, _| {
            format!(
                "restarted: {} on the task definitions they ran ({})",
                r.services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                r.id
            )
        },
        |_, reason| {
            format!(
                "restart failed: {reason}; the tasks from before keep serving while ECS has them (a circuit breaker with rollback returns to them)"
            )
        },
    )?;
    Ok(())
}

/// The ECS services of the services named (every deployed one when none
/// is), in stack.yaml's order.
fn ecs_services<L: Live>(d: &Deployed<'_, L>, services: &[String]) -> anyhow::Result<Vec<String>> {
    if services.is_empty() {
        return Ok(d
            .plans
            .services
            .iter()
            .map(|p| p.update.service.clone())
            .collect());
    }
    let mut names = Vec::new();
    for s in services {
        names.push(d.service(s)?.update.service.clone());
    }
    Ok(names)
}

/// The record and one move per service as it runs: its own task
/// definition again, new tasks.
fn plan<L: Live>(d: &Deployed<'_, L>, live: &[ServiceStatus]) -> (Record, Vec<Move>) {
    let mut record = Record::begin(Kind::Restart, d.env.stack_name(), d.env.name(), d.cluster());
    let mut moves = Vec::new();
    for p in &d.plans.services {
        let Some(s) = live.iter().find(|s| s.name == p.update.service) else {
            continue;
        };
        let was = ServiceRecord {
            name: p.name.clone(),
            ecs_service: s.name.clone(),
            before: s.task_definition.clone(),
            after: s.task_definition.clone(),
        };
        moves.push(Move::restart(d.cluster(), &was));
        record.services.push(was);
    }
    (record, moves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::change::Send;
    use crate::environment::paper::{demo, in_order};

    #[tokio::test]
    async fn each_service_named_gets_new_tasks_of_what_it_runs_and_nothing_to_put_back() {
        let (_dir, _ctx, env, plans) = demo();
        let paper = in_order(&plans);
        let d = Deployed::with(env, &paper).unwrap();
        let names = ecs_services(&d, &["worker".to_string()]).unwrap();
        assert_eq!(names, ["shop-worker-demo"]);
        let live: Vec<ServiceStatus> = paper
            .services
            .iter()
            .filter(|s| names.contains(&s.name))
            .cloned()
            .collect();
        let (record, moves) = plan(&d, &live);
        assert_eq!(record.kind, Kind::Restart);
        assert_eq!(record.services.len(), 1);
        assert_eq!(record.services[0].before, record.services[0].after);
        let [m] = moves.as_slice() else {
            panic!("{moves:?}")
        };
        assert_eq!(m.back, None);
        let Send::Service(u) = &m.forward else {
            panic!("{m:?}")
        };
        assert_eq!(u.task_definition, live[0].task_definition);
        assert_eq!(u.force_new_deployment, Some(true));
        // Only the task definition: nothing an operator set since changes.
        assert_eq!(
            (u.desired_count, &u.deployment_configuration),
            (None, &None)
        );
        // Every deployed service when none is named; a job is refused.
        assert_eq!(ecs_services(&d, &[]).unwrap().len(), 2);
        assert!(
            ecs_services(&d, &["setup".to_string()])
                .unwrap_err()
                .to_string()
                .starts_with("`setup` is a job")
        );
    }
}
