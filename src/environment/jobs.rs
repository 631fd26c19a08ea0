//! Jobs the services wait for (migrations): each run once as a one-off ECS
//! task from the promoted digest, watched until it stops; every container
//! must exit 0, and the first failure ends the run.

use tokio_util::sync::CancellationToken;

use super::rollout::Watch;
use crate::aws::{AwsError, Ecs, Live, found};
use crate::deploy::job::{JobRecord, TaskOutcome, assess_task};
use crate::deploy::record::Record;
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::{JobPlan, TaskDefinition};
use crate::shell::Shell;
use crate::wait::{self, Check, GaveUp};

/// Why one job did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    #[error("{0}")]
    NotStarted(AwsError),
    #[error("{0}")]
    Describe(AwsError),
    /// Stopped, and not with exit code 0 everywhere.
    #[error("{0}")]
    Stopped(String),
    #[error("still {status} after {}; the task keeps running: {}", humantime::format_duration(*.after), stop_task(.cluster, .task))]
    TimedOut {
        status: String,
        after: std::time::Duration,
        cluster: String,
        task: String,
    },
    #[error("interrupted; the task keeps running: {}", stop_task(.cluster, .task))]
    Interrupted { cluster: String, task: String },
}

fn stop_task(cluster: &str, task: &str) -> String {
    format!("aws ecs stop-task --cluster {cluster} --task {task}")
}

/// The first job that failed, and the records of every job run so far.
#[derive(Debug)]
pub struct JobsFailed {
    pub job: String,
    pub failure: JobFailure,
    pub records: Vec<JobRecord>,
}

impl std::fmt::Display for JobsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.failure {
            JobFailure::NotStarted(e) => write!(f, "job {} did not start: {e}", self.job),
            other => write!(f, "job {} failed: {other}", self.job),
        }
    }
}

impl std::error::Error for JobsFailed {}

/// The task definition a job last ran with in this environment: the one
/// the current (latest successful) promotion recorded, else the family's
/// latest revision. A failed promotion may have run a newer one; what the
/// environment runs is what the last success left.
pub async fn current_job<L: Live>(
    aws: &L,
    current: Option<&Record>,
    job: &JobPlan,
) -> Result<Option<(String, TaskDefinition)>, AwsError> {
    let recorded = current.and_then(|r| {
        r.jobs
            .iter()
            .rev()
            .find(|j| j.name == job.name && j.succeeded)
            .map(|j| j.task_definition.clone())
    });
    // Deleted since, or recorded against another account or stand-in
    // (ECS says ClientException): the family's latest revision is the best
    // witness then.
    if let Some(arn) = recorded
        && let Some(td) = found(aws.task_definition(&arn).await, "ClientException")?
    {
        return Ok(Some((arn, td)));
    }
    aws.latest_task_definition(&job.task_definition.family)
        .await
}

/// Runs each job once, in order, and waits for it to stop.
pub async fn run_jobs<E: Ecs>(
    ecs: &E,
    cluster: &str,
    jobs: &[(JobPlan, String)],
    watch: Watch,
    cancel: &CancellationToken,
    shell: &Shell,
) -> Result<Vec<JobRecord>, JobsFailed> {
    let mut done = Vec::new();
    for (job, arn) in jobs {
        let started = tokio::time::Instant::now();
        shell.status(format!(
            "running job {} ({}) before {}",
            job.name,
            short_arn(arn),
            job.runs_before.join(", ")
        ));
        let task = match ecs.run_task(cluster, arn, &job.network_from).await {
            Ok(t) => t,
            Err(e) => {
                return Err(JobsFailed {
                    job: job.name.clone(),
                    failure: JobFailure::NotStarted(e),
                    records: done,
                });
            }
        };
        let outcome = watch_task(ecs, cluster, &job.name, &task, watch, cancel, shell).await;
        done.push(JobRecord {
            name: job.name.clone(),
            task_definition: arn.clone(),
            task: task.clone(),
            succeeded: outcome.is_ok(),
            reason: outcome.as_ref().err().map(|e| e.to_string()),
        });
        match outcome {
            Ok(()) => shell.status(format!(
                "  {} succeeded (exit 0) in {:.1}s",
                job.name,
                started.elapsed().as_secs_f64()
            )),
            Err(failure) => {
                return Err(JobsFailed {
                    job: job.name.clone(),
                    failure,
                    records: done,
                });
            }
        }
    }
    Ok(done)
}

/// Follows one task until it stops; says each new status once.
async fn watch_task<E: Ecs>(
    ecs: &E,
    cluster: &str,
    job: &str,
    task: &str,
    watch: Watch,
    cancel: &CancellationToken,
    shell: &Shell,
) -> Result<(), JobFailure> {
    let mut last = String::new();
    let result = wait::until(watch.poll(), cancel, async || {
        let status = match ecs.describe_task(cluster, task).await {
            Ok(s) => s,
            Err(e) => return Check::Failed(JobFailure::Describe(e)),
        };
        match assess_task(&status) {
            TaskOutcome::Succeeded => Check::Ready(()),
            TaskOutcome::Failed { reason } => Check::Failed(JobFailure::Stopped(reason)),
            TaskOutcome::Running { status } => {
                if status != last {
                    shell.status(format!("  {job}: {status}"));
                    last = status;
                }
                Check::NotYet
            }
        }
    })
    .await;
    result.map_err(|gave_up| match gave_up {
        GaveUp::Failed(f) => f,
        GaveUp::TimedOut { .. } => JobFailure::TimedOut {
            status: last.clone(),
            after: watch.timeout,
            cluster: cluster.to_string(),
            task: task.to_string(),
        },
        GaveUp::Interrupted => JobFailure::Interrupted {
            cluster: cluster.to_string(),
            task: task.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::taskdef::TaskDefinition;
    use crate::environment::scripted::*;
    use crate::shell::Verbosity;
    use std::time::Duration;

    const WATCH: Watch = Watch {
        timeout: Duration::from_secs(600),
        poll: Duration::from_secs(5),
    };

    fn job(name: &str) -> (JobPlan, String) {
        let td: TaskDefinition = serde_json::from_value(serde_json::json!({
            "family": name, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": name, "image": "i", "essential": true}],
        }))
        .unwrap();
        (
            JobPlan {
                name: name.into(),
                build: "image".into(),
                repository: "r".into(),
                task_definition: td,
                runs_before: vec!["api".into()],
                network_from: "api".into(),
            },
            td_arn(name),
        )
    }

    /// `run_jobs` uninterrupted; what it returned and what it said.
    async fn run(
        ecs: &Scripted,
        jobs: &[(JobPlan, String)],
        watch: Watch,
    ) -> (Result<Vec<JobRecord>, JobsFailed>, String) {
        let shell = Shell::buffer(Verbosity::Normal, false);
        let r = run_jobs(ecs, "c", jobs, watch, &CancellationToken::new(), &shell).await;
        (r, shell.take().1)
    }

    fn td_arn(name: &str) -> String {
        format!("arn:aws:ecs:us-east-1:1:task-definition/{name}:1")
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_to_exit_0_before_the_services() {
        let ecs = Scripted::new(&[]);
        let (records, said) = run(&ecs, &[job("ok")], WATCH).await;
        let records = records.unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].succeeded);
        assert_eq!(
            said,
            "running job ok (ok:1) before api\n  ok: PROVISIONING\n  ok: RUNNING\n  ok succeeded (exit 0) in 10.0s\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_job_stops_the_run_with_its_exit_code() {
        let ecs = Scripted::new(&[]);
        let failed = run(&ecs, &[job("bad"), job("ok")], WATCH)
            .await
            .0
            .unwrap_err();
        assert_eq!(
            failed.to_string(),
            "job bad failed: container migrate exited with code 1"
        );
        assert_eq!(failed.records.len(), 1, "the second job never ran");
        assert_eq!(
            failed.records[0].reason.as_deref(),
            Some("container migrate exited with code 1")
        );
        assert_eq!(*ecs.ran.lock().unwrap(), [td_arn("bad")]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_never_stops_times_out_saying_how_to_stop_it() {
        let ecs = Scripted::new(&[]);
        let watch = Watch {
            timeout: Duration::from_secs(30),
            poll: Duration::from_secs(5),
        };
        let failed = run(&ecs, &[job("stuck")], watch).await.0.unwrap_err();
        assert_eq!(
            failed.to_string(),
            "job stuck failed: still RUNNING after 30s; the task keeps running: aws ecs stop-task --cluster c --task task-stuck:1"
        );
    }
}
