//! One-off tasks (jobs such as `migrate`): reading a task's state the way
//! ECS reports it, and what a promotion records of a run. Pure.

use serde::{Deserialize, Serialize};

/// What `DescribeTasks` says about one task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskStatus {
    pub arn: String,
    /// `PROVISIONING` … `RUNNING` … `STOPPED`.
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerExit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerExit {
    pub name: String,
    /// Absent when the container never ran (image pull, secrets, …).
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Running { status: String },
    Succeeded,
    Failed { reason: String },
}

/// A job succeeds only when the task stopped and every container exited 0.
pub fn assess_task(t: &TaskStatus) -> TaskOutcome {
    if t.last_status != "STOPPED" {
        return TaskOutcome::Running {
            status: t.last_status.clone(),
        };
    }
    if t.containers.is_empty() {
        return TaskOutcome::Failed {
            reason: format!(
                "the task stopped without running a container ({})",
                t.stopped_reason.as_deref().unwrap_or("no reason given")
            ),
        };
    }
    for c in &t.containers {
        match c.exit_code {
            Some(0) => {}
            Some(code) => {
                return TaskOutcome::Failed {
                    reason: format!(
                        "container {} exited with code {code}{}",
                        c.name,
                        c.reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                };
            }
            None => {
                return TaskOutcome::Failed {
                    reason: format!(
                        "container {} did not run: {}",
                        c.name,
                        c.reason
                            .as_deref()
                            .or(t.stopped_reason.as_deref())
                            .unwrap_or("no reason given")
                    ),
                };
            }
        }
    }
    TaskOutcome::Succeeded
}

/// A job run, as the promotion record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub name: String,
    pub task_definition: String,
    pub task: String,
    pub succeeded: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: &str, exits: &[Option<i32>]) -> TaskStatus {
        TaskStatus {
            arn: "t".into(),
            last_status: status.into(),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: exits
                .iter()
                .map(|e| ContainerExit {
                    name: "migrate".into(),
                    exit_code: *e,
                    reason: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_job_succeeds_only_stopped_with_every_exit_code_zero() {
        assert_eq!(
            assess_task(&task("RUNNING", &[None])),
            TaskOutcome::Running {
                status: "RUNNING".into()
            }
        );
        assert_eq!(
            assess_task(&task("STOPPED", &[Some(0)])),
            TaskOutcome::Succeeded
        );
        assert_eq!(
            assess_task(&task("STOPPED", &[Some(3)])),
            TaskOutcome::Failed {
                reason: "container migrate exited with code 3".into()
            }
        );
        let mut pull = task("STOPPED", &[None]);
        pull.containers[0].reason = Some("CannotPullContainerError: not found".into());
        assert_eq!(
            assess_task(&pull),
            TaskOutcome::Failed {
                reason: "container migrate did not run: CannotPullContainerError: not found".into()
            }
        );
        assert_eq!(
            assess_task(&task("STOPPED", &[])),
            TaskOutcome::Failed {
                reason: "the task stopped without running a container (Essential container in task exited)".into()
            }
        );
    }
}
