//! ECS as its documentation describes it, scripted per service and per
//! task, for the rollout and job tests (moto models neither deployments
//! nor tasks that stop with exit codes).

use std::sync::Mutex;

use crate::aws::{AwsError, Ecs};
use crate::deploy::job::{ContainerExit, TaskStatus};
use crate::deploy::record::ServiceRecord;
use crate::deploy::rollout::{Deployment, Event, RolloutState, ServiceStatus, short_arn};
use crate::deploy::taskdef::ServiceUpdate;

pub const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/f:1";

pub fn td(service: &str, rev: u32) -> String {
    format!("arn:aws:ecs:us-east-1:1:task-definition/{service}:{rev}")
}

/// ECS as its documentation describes it, scripted per service: each
/// `describe` after an update moves that service one step along its
/// script.
pub struct Scripted {
    pub services: Mutex<Vec<Svc>>,
    pub updates: Mutex<Vec<ServiceUpdate>>,
    /// `(service, count)` for every desired count set.
    pub counts: Mutex<Vec<(String, i32)>>,
    /// Services whose updates ECS refuses.
    pub refuse: Mutex<Vec<String>>,
    pub ran: Mutex<Vec<String>>,
    pub looks: Mutex<u32>,
    /// Every scaling or alarm change sent.
    pub scaling_steps: Mutex<Vec<crate::deploy::scaling::Step>>,
    /// Alarms by name that are in ALARM from their `n`th look on.
    pub firing: Mutex<Vec<(String, u32)>>,
    pub alarm_looks: Mutex<u32>,
}

pub struct Svc {
    name: String,
    td: String,
    steps: Vec<Step>,
    at: usize,
    updated: bool,
    desired: i32,
    events: Vec<Event>,
}

#[derive(Clone, Copy)]
pub enum Step {
    /// New deployment: `running` of 2 tasks up.
    Rolling(i32),
    Completed,
    /// Tasks fail; the circuit breaker marks the deployment FAILED.
    BreakerFailed,
    /// ...and rolls back to the old task definition.
    BreakerRolledBack,
    /// A restore to `before` goes straight through.
    Never,
    /// A blue/green, canary or linear deployment in ECS lifecycle stage
    /// `.0`, with `.1` percent of production traffic on the new tasks.
    Shifting(&'static str, i32),
}

impl Scripted {
    pub fn new(script: &[(&str, Vec<Step>)]) -> Scripted {
        Scripted {
            services: Mutex::new(
                script
                    .iter()
                    .map(|(n, steps)| Svc {
                        name: n.to_string(),
                        td: OLD.into(),
                        steps: steps.clone(),
                        at: 0,
                        updated: false,
                        desired: 2,
                        events: vec![Event {
                            id: format!("{n}-old"),
                            at: String::new(),
                            message: "old news".into(),
                        }],
                    })
                    .collect(),
            ),
            updates: Mutex::new(vec![]),
            counts: Mutex::new(vec![]),
            refuse: Mutex::new(vec![]),
            ran: Mutex::new(vec![]),
            looks: Mutex::new(0),
            scaling_steps: Mutex::new(vec![]),
            firing: Mutex::new(vec![]),
            alarm_looks: Mutex::new(0),
        }
    }
}

pub fn dep(status: &str, td: &str, state: RolloutState, running: i32) -> Deployment {
    crate::deploy::rollout::test_deployment(&format!("{status}-{td}"), status, td, state, running)
}

impl Ecs for Scripted {
    async fn scaling_step(&self, step: &crate::deploy::scaling::Step) -> Result<(), AwsError> {
        self.scaling_steps.lock().unwrap().push(step.clone());
        Ok(())
    }

    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<crate::deploy::scaling::AlarmState>, AwsError> {
        let mut looks = self.alarm_looks.lock().unwrap();
        *looks += 1;
        let firing = self.firing.lock().unwrap();
        Ok(names
            .iter()
            .map(|n| {
                let fired = firing.iter().any(|(f, at)| f == n && *looks >= *at);
                crate::deploy::scaling::AlarmState {
                    name: n.clone(),
                    value: if fired { "ALARM" } else { "OK" }.into(),
                    reason: if fired {
                        "Threshold Crossed: 2 datapoints [12.0, 9.0] were greater than the threshold (5.0)."
                    } else {
                        "Threshold Crossed: no datapoints were received"
                    }
                    .into(),
                }
            })
            .collect())
    }

    async fn run_task(
        &self,
        _cluster: &str,
        task_definition: &str,
        _network_from: &str,
    ) -> Result<String, AwsError> {
        self.ran.lock().unwrap().push(task_definition.to_string());
        Ok(format!("task-{}", short_arn(task_definition)))
    }

    async fn describe_task(&self, _cluster: &str, task: &str) -> Result<TaskStatus, AwsError> {
        // Scripted by the job's name in the task definition: `ok`
        // stops with 0 on the third look, `bad` exits 1, `stuck` runs.
        let mut looks = self.looks.lock().unwrap();
        *looks += 1;
        let (status, exit) = match (task, *looks) {
            (t, n) if t.contains("ok") && n >= 3 => ("STOPPED", Some(0)),
            (t, n) if t.contains("bad") && n >= 2 => ("STOPPED", Some(1)),
            (_, 1) => ("PROVISIONING", None),
            _ => ("RUNNING", None),
        };
        Ok(TaskStatus {
            arn: task.into(),
            last_status: status.into(),
            stopped_reason: None,
            containers: vec![ContainerExit {
                name: "migrate".into(),
                exit_code: exit,
                reason: None,
            }],
        })
    }

    async fn describe(
        &self,
        _cluster: &str,
        names: &[String],
    ) -> Result<Vec<ServiceStatus>, AwsError> {
        let mut services = self.services.lock().unwrap();
        let mut out = Vec::new();
        for s in services.iter_mut().filter(|s| names.contains(&s.name)) {
            let step = if s.updated {
                s.steps.get(s.at).copied().unwrap_or(Step::Completed)
            } else {
                Step::Never
            };
            let target = s.td.clone();
            let settled = s.desired;
            let (td, running, deployments) = match step {
                Step::Never => (
                    target.clone(),
                    settled,
                    vec![dep("PRIMARY", &target, RolloutState::Completed, settled)],
                ),
                Step::Shifting(..) => (
                    target.clone(),
                    2,
                    vec![
                        dep("PRIMARY", &target, RolloutState::InProgress, 2),
                        dep("ACTIVE", OLD, RolloutState::Completed, 2),
                    ],
                ),
                Step::Rolling(n) => (
                    target.clone(),
                    2,
                    vec![
                        dep("PRIMARY", &target, RolloutState::InProgress, n),
                        dep("ACTIVE", OLD, RolloutState::Completed, 2 - n),
                    ],
                ),
                Step::Completed => (
                    target.clone(),
                    settled,
                    vec![dep("PRIMARY", &target, RolloutState::Completed, settled)],
                ),
                Step::BreakerFailed => {
                    let mut d = dep("PRIMARY", &target, RolloutState::Failed, 0);
                    d.failed_tasks = 3;
                    d.reason =
                        Some("ECS deployment circuit breaker: tasks failed to start.".into());
                    (
                        target.clone(),
                        2,
                        vec![d, dep("ACTIVE", OLD, RolloutState::Completed, 2)],
                    )
                }
                Step::BreakerRolledBack => {
                    let mut d = dep("ACTIVE", &target, RolloutState::Failed, 0);
                    d.reason = Some("ECS deployment circuit breaker: rolling back to OLD".into());
                    s.td = OLD.into();
                    (
                        OLD.to_string(),
                        2,
                        vec![dep("PRIMARY", OLD, RolloutState::InProgress, 2), d],
                    )
                }
            };
            if !matches!(step, Step::Never) && s.at < s.steps.len() {
                s.events.insert(
                    0,
                    Event {
                        id: format!("{}-{}", s.name, s.at),
                        at: String::new(),
                        message: format!("step {}", s.at),
                    },
                );
                s.at += 1;
            }
            out.push(ServiceStatus {
                name: s.name.clone(),
                status: "ACTIVE".into(),
                task_definition: td,
                desired: s.desired,
                running,
                pending: 0,
                deployments,
                events: s.events.clone(),
                ..Default::default()
            });
        }
        Ok(out)
    }

    async fn set_desired_count(
        &self,
        _cluster: &str,
        service: &str,
        count: i32,
    ) -> Result<(), AwsError> {
        self.refused(service)?;
        self.counts
            .lock()
            .unwrap()
            .push((service.to_string(), count));
        let mut services = self.services.lock().unwrap();
        let s = services.iter_mut().find(|s| s.name == service).unwrap();
        // A count going back (below what the script raised it to) settles
        // at once, as a restore does.
        if count < s.desired {
            s.steps = vec![Step::Never];
        }
        s.desired = count;
        s.at = 0;
        s.updated = true;
        Ok(())
    }

    async fn shifting(
        &self,
        _cluster: &str,
        service: &str,
        _rule: Option<&str>,
    ) -> Result<Option<crate::deploy::rollout::Shifting>, AwsError> {
        let services = self.services.lock().unwrap();
        let s = services.iter().find(|s| s.name == service).unwrap();
        // The step `describe` last reported.
        Ok(match s.steps.get(s.at.saturating_sub(1)) {
            Some(Step::Shifting(stage, new)) => Some(crate::deploy::rollout::Shifting {
                stage: stage.to_string(),
                weights: vec![
                    (format!("{service}-tg"), 100 - new),
                    (format!("{service}-tg-alt"), *new),
                ],
            }),
            _ => None,
        })
    }

    async fn update(&self, u: &ServiceUpdate) -> Result<(), AwsError> {
        self.refused(&u.service)?;
        self.updates.lock().unwrap().push(u.clone());
        let mut services = self.services.lock().unwrap();
        let s = services.iter_mut().find(|s| s.name == u.service).unwrap();
        if u.task_definition == OLD && u.force_new_deployment != Some(true) {
            // A restore: straight back. (New tasks of OLD follow the script.)
            s.steps = vec![Step::Never];
        }
        s.td = u.task_definition.clone();
        s.at = 0;
        s.updated = true;
        Ok(())
    }
}

impl Scripted {
    /// ECS's answer to a refused update, for services in `refuse`.
    fn refused(&self, service: &str) -> Result<(), AwsError> {
        if self.refuse.lock().unwrap().iter().any(|r| r == service) {
            return Err(AwsError::Other {
                operation: "UpdateService",
                reason: format!("service {service} is not ACTIVE"),
            });
        }
        Ok(())
    }
}

pub fn updates(names: &[&str]) -> Vec<ServiceUpdate> {
    names
        .iter()
        .map(|n| ServiceUpdate::task_definition_only("c", n, &td(n, 2)))
        .collect()
}

pub fn records(names: &[&str]) -> Vec<ServiceRecord> {
    names
        .iter()
        .map(|n| ServiceRecord {
            name: n.to_string(),
            ecs_service: n.to_string(),
            before: OLD.into(),
            after: td(n, 2),
        })
        .collect()
}
