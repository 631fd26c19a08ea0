//! Reading an ECS service mid-rollout: has the move to a task definition
//! completed, failed, or been rolled back by the circuit breaker? Pure; the
//! polling lives in `ops::promote`.
//!
//! The rules follow the ECS documentation (see ecs-alb-semantics.md):
//! `UpdateService` makes a new `PRIMARY` deployment, the old one turns
//! `ACTIVE` and drains; `rolloutState` goes `IN_PROGRESS` → `COMPLETED` or
//! `FAILED`; a circuit breaker with rollback puts the last completed task
//! definition back as a new deployment, which is a failure for the deployer.

use std::collections::BTreeSet;

/// What `DescribeServices` says about one service, reduced to what matters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceStatus {
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The service's task definition: what ECS is converging on now.
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS returns them.
    pub events: Vec<Event>,
    /// The service's deployment settings as ECS reports them.
    pub deployment: Option<crate::deploy::taskdef::DeploymentConfiguration>,
    /// ALB check failures ignored this long after a task starts; `None`
    /// when ECS reports none.
    pub grace_period_seconds: Option<i32>,
    /// How the service reaches the others and is reached, as its PRIMARY
    /// deployment reports it; `None` without Service Connect.
    pub service_connect: Option<crate::deploy::taskdef::ServiceConnect>,
    /// The names of the ALB target groups the service is attached to.
    pub target_groups: Vec<String>,
    /// Where its tasks run (`awsvpcConfiguration`), as ECS reports it.
    pub network: Option<crate::deploy::taskdef::AwsVpc>,
    /// Its capacity provider strategy; empty on a launch type.
    pub capacity: Vec<crate::deploy::taskdef::CapacityProviderItem>,
    /// Per target group the service is attached to, the alternate group
    /// ECS shifts traffic to in a blue/green, canary or linear deployment
    /// (the load balancer's `advancedConfiguration`), by name.
    pub alternates: Vec<(String, String)>,
    /// The ARN of the listener rule whose weights ECS moves for it, if it
    /// has one.
    pub production_rule: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deployment {
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    pub rollout_state: Option<RolloutState>,
    pub reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    pub message: String,
}

/// Where a service stands relative to the task definition it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    InProgress {
        progress: String,
    },
    Completed,
    /// The rollout to the target failed (and nothing has moved the service
    /// off it yet).
    Failed {
        reason: String,
    },
    /// The service is on another task definition now: the circuit breaker
    /// rolled it back, or someone else deployed.
    Displaced {
        now: String,
        reason: String,
    },
}

impl Assessment {
    pub fn is_final(&self) -> bool {
        !matches!(self, Assessment::InProgress { .. })
    }
}

/// Assesses `s` against `target`, the task definition ARN it was updated to.
pub fn assess(s: &ServiceStatus, target: &str) -> Assessment {
    if s.status != "ACTIVE" {
        return Assessment::Failed {
            reason: format!("the service is {}", s.status),
        };
    }
    let failed_target = s
        .deployments
        .iter()
        .find(|d| d.task_definition == target && d.rollout_state == Some(RolloutState::Failed));
    if s.task_definition != target {
        let reason = failed_target
            .and_then(|d| d.reason.clone())
            .unwrap_or_else(|| "the service was updated to another task definition".into());
        return Assessment::Displaced {
            now: s.task_definition.clone(),
            reason,
        };
    }
    if let Some(d) = failed_target {
        return Assessment::Failed {
            reason: d
                .reason
                .clone()
                .unwrap_or_else(|| "the deployment failed".into()),
        };
    }
    // The deployment of the target: ECS makes it PRIMARY at once. Some
    // emulators keep the service's first deployment and only change the
    // service's task definition; then PRIMARY is still the one to watch.
    let primary = s
        .deployments
        .iter()
        .find(|d| d.status == "PRIMARY" && d.task_definition == target)
        .or_else(|| s.deployments.iter().find(|d| d.status == "PRIMARY"));
    let Some(primary) = primary else {
        return Assessment::InProgress {
            progress: "waiting for ECS to start the deployment".into(),
        };
    };
    let others = s.deployments.len().saturating_sub(1);
    let settled = s.running == s.desired;
    let done = match primary.rollout_state {
        Some(RolloutState::Completed) => settled,
        Some(_) => false,
        // Without rollout states (older controllers): the services-stable
        // waiter's rule, one deployment left and every task running.
        None => others == 0 && settled,
    };
    if done {
        return Assessment::Completed;
    }
    let mut progress = format!(
        "{}/{} running, {} pending",
        primary.running, primary.desired, primary.pending
    );
    if primary.failed_tasks > 0 {
        progress.push_str(&format!(", {} failed to start", primary.failed_tasks));
    }
    if others > 0 {
        progress.push_str(&format!(
            ", {others} older deployment{} draining",
            if others == 1 { "" } else { "s" }
        ));
    }
    Assessment::InProgress { progress }
}

/// Events not shown before, oldest first; marks them seen.
pub fn fresh_events<'a>(events: &'a [Event], seen: &mut BTreeSet<String>) -> Vec<&'a Event> {
    let mut out: Vec<&Event> = events
        .iter()
        .filter(|e| seen.insert(e.id.clone()))
        .collect();
    out.reverse();
    out
}

/// Where a blue/green, canary or linear deployment stands: ECS's lifecycle
/// stage for it (`ServiceDeployment.lifecycleStage`) and the weights of
/// its production listener rule, by target group name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shifting {
    pub stage: String,
    pub weights: Vec<(String, i32)>,
}

impl Shifting {
    /// One line for a person: `production traffic moving: web 90%,
    /// web-alt 10%`.
    pub fn text(&self) -> String {
        let what = match self.stage.as_str() {
            "RECONCILE_SERVICE" => "reconciling the service",
            "PRE_SCALE_UP" | "SCALE_UP" | "POST_SCALE_UP" => "starting the new tasks",
            "TEST_TRAFFIC_SHIFT" | "POST_TEST_TRAFFIC_SHIFT" => "test traffic on the new tasks",
            "PRODUCTION_TRAFFIC_SHIFT" => "production traffic moving",
            "POST_PRODUCTION_TRAFFIC_SHIFT" => "production traffic moved",
            "BAKE_TIME" => "baking: the old tasks kept for an instant rollback",
            "CLEAN_UP" => "stopping the old tasks",
            other => other,
        };
        if self.weights.is_empty() {
            return what.to_string();
        }
        // By name: ECS may list the pair either way round.
        let mut weights = self.weights.clone();
        weights.sort();
        let weights = weights
            .iter()
            .map(|(group, w)| format!("{group} {w}%"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{what}: {weights}")
    }
}

/// The short form of a task definition ARN (`family:revision`).
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit_once('/').map(|(_, t)| t).unwrap_or(arn)
}

/// A deployment of 2 desired tasks, `running` of them up; for the tests
/// here and the scripted ECS in `ops::deploy`.
#[cfg(test)]
pub(crate) fn test_deployment(
    id: &str,
    status: &str,
    td: &str,
    state: RolloutState,
    running: i32,
) -> Deployment {
    Deployment {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        rollout_state: Some(state),
        reason: None,
        desired: 2,
        running,
        pending: 2 - running,
        failed_tasks: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/genonaut-api-demo:4";
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/genonaut-api-demo:5";

    use super::test_deployment as dep;

    fn service(td: &str, running: i32, deployments: Vec<Deployment>) -> ServiceStatus {
        ServiceStatus {
            name: "genonaut-api-demo".into(),
            status: "ACTIVE".into(),
            task_definition: td.into(),
            desired: 2,
            running,
            pending: 0,
            deployments,
            events: vec![],
            ..Default::default()
        }
    }

    #[test]
    fn a_rolling_update_is_in_progress_until_primary_completes() {
        let s = service(
            NEW,
            3,
            vec![
                dep("n", "PRIMARY", NEW, RolloutState::InProgress, 1),
                dep("o", "ACTIVE", OLD, RolloutState::Completed, 2),
            ],
        );
        assert_eq!(
            assess(&s, NEW),
            Assessment::InProgress {
                progress: "1/2 running, 1 pending, 1 older deployment draining".into()
            }
        );
        let s = service(
            NEW,
            2,
            vec![dep("n", "PRIMARY", NEW, RolloutState::Completed, 2)],
        );
        assert_eq!(assess(&s, NEW), Assessment::Completed);
    }

    #[test]
    fn completed_but_not_all_running_is_not_done() {
        let s = service(
            NEW,
            1,
            vec![dep("n", "PRIMARY", NEW, RolloutState::Completed, 1)],
        );
        assert!(!assess(&s, NEW).is_final());
    }

    #[test]
    fn a_failed_rollout_is_a_failure_with_its_reason() {
        let mut d = dep("n", "PRIMARY", NEW, RolloutState::Failed, 0);
        d.reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        d.failed_tasks = 3;
        let s = service(
            NEW,
            2,
            vec![d, dep("o", "ACTIVE", OLD, RolloutState::Completed, 2)],
        );
        assert_eq!(
            assess(&s, NEW),
            Assessment::Failed {
                reason: "ECS deployment circuit breaker: tasks failed to start.".into()
            }
        );
    }

    #[test]
    fn a_circuit_breaker_rollback_is_not_success() {
        // ECS put the old task definition back as a new, completed deployment.
        let mut failed = dep("n", "ACTIVE", NEW, RolloutState::Failed, 0);
        failed.reason = Some("ECS deployment circuit breaker: rolling back".into());
        let s = service(
            OLD,
            2,
            vec![dep("r", "PRIMARY", OLD, RolloutState::Completed, 2), failed],
        );
        assert_eq!(
            assess(&s, NEW),
            Assessment::Displaced {
                now: OLD.into(),
                reason: "ECS deployment circuit breaker: rolling back".into()
            }
        );
    }

    #[test]
    fn without_rollout_states_one_deployment_and_all_running_is_done() {
        let mut n = dep("n", "PRIMARY", NEW, RolloutState::Completed, 2);
        n.rollout_state = None;
        let mut o = dep("o", "ACTIVE", OLD, RolloutState::Completed, 1);
        o.rollout_state = None;
        assert!(!assess(&service(NEW, 2, vec![n.clone(), o]), NEW).is_final());
        assert_eq!(
            assess(&service(NEW, 2, vec![n]), NEW),
            Assessment::Completed
        );
    }

    #[test]
    fn a_draining_service_fails() {
        let mut s = service(NEW, 0, vec![]);
        s.status = "DRAINING".into();
        assert_eq!(
            assess(&s, NEW),
            Assessment::Failed {
                reason: "the service is DRAINING".into()
            }
        );
    }

    #[test]
    fn events_come_once_oldest_first() {
        let ev = |id: &str| Event {
            id: id.into(),
            at: String::new(),
            message: id.into(),
        };
        let mut seen = BTreeSet::new();
        let first = vec![ev("2"), ev("1")];
        let got: Vec<&str> = fresh_events(&first, &mut seen)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(got, ["1", "2"]);
        let second = vec![ev("3"), ev("2"), ev("1")];
        let got: Vec<&str> = fresh_events(&second, &mut seen)
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(got, ["3"]);
        assert_eq!(short_arn(NEW), "genonaut-api-demo:5");
    }
}
