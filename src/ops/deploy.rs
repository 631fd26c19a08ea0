//! What promote, rollback and diff share: the environment they act on, the
//! image and verification checks, preflight, and rolling services to task
//! definitions with a watch and a way back.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use tokio_util::sync::CancellationToken;

use super::local::STATE_DIR;
use super::smoke::{Verification, record_path};
use crate::aws::{Aws, AwsError, Ecs, Identity, found};
use crate::cli::Config;
use crate::deploy::job::{JobRecord, TaskOutcome, assess_task};
use crate::deploy::record::{Outcome, ServiceRecord};
use crate::deploy::rollout::{Assessment, ServiceStatus, assess, fresh_events, short_arn};
use crate::deploy::taskdef::{JobPlan, Plans, ServiceUpdate, plans};
use crate::docker::Engine;
use crate::render::ecs::{ImageChoice, render};
use crate::stack::{AwsEnvironment, AwsSecret, Loaded, load};

/// An environment on AWS, loaded for acting on.
pub struct Target {
    pub loaded: Loaded,
    pub aws: AwsEnvironment,
    pub state_dir: PathBuf,
}

impl Target {
    /// Loads stack.yaml for `env`; `registry` replaces the environment's
    /// registry (a plain registry standing in for ECR).
    pub fn open(config: &Config, env: &str, registry: Option<&str>) -> anyhow::Result<Target> {
        let mut loaded = load(&config.file, &config.load_options(env))?;
        let Some(aws) = loaded
            .stack
            .environments
            .get_mut(env)
            .and_then(|e| e.aws.as_mut())
        else {
            anyhow::bail!(
                "environment `{env}` has no `aws` section in {}: it is not deployed to ECS",
                config.file.display()
            );
        };
        if let Some(r) = registry {
            aws.registry = Some(r.to_string());
        }
        let aws = aws.clone();
        let state_dir = loaded.source.dir().join(STATE_DIR);
        Ok(Target {
            loaded,
            aws,
            state_dir,
        })
    }

    pub fn env(&self) -> &str {
        &self.loaded.env
    }

    pub fn stack_name(&self) -> &str {
        &self.loaded.stack.name
    }

    pub fn records_dir(&self) -> PathBuf {
        crate::deploy::record::dir(&self.state_dir, self.stack_name(), self.env())
    }

    pub fn plans(&self, image: &ImageChoice) -> anyhow::Result<Plans> {
        let rendering = render(&self.loaded.stack, self.env(), image)?;
        Ok(plans(&rendering)?)
    }

    /// Whether pushes go to this account's ECR (credentials from its token).
    pub fn uses_ecr(&self) -> bool {
        self.aws.registry_override().is_none()
    }
}

/// The image to act on: `--image` (an ID, a prefix of one, or a tag), or
/// the build of the current source, which must exist.
pub async fn chosen_image(
    engine: &Engine,
    target: &Target,
    explicit: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(name) = explicit {
        return match engine.docker.inspect_image(name).await {
            Ok(image) => image
                .id
                .ok_or_else(|| anyhow::anyhow!("image `{name}` has no ID")),
            Err(e) if crate::docker::is_not_found(&e) => {
                anyhow::bail!("no image `{name}` on this machine's Docker engine")
            }
            Err(e) => Err(crate::docker::DockerError::from(e).into()),
        };
    }
    let stack = &target.loaded.stack;
    crate::docker::build::current_image(engine, &stack.name, &target.loaded.source.dir(), &stack.image)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the image for the current source of `{}` has not been built; run `geno up` and `geno smoke` first, or name one with --image",
                stack.name
            )
        })
}

/// Why an image may not be promoted without `--force`.
#[derive(Debug, thiserror::Error)]
pub enum Unverified {
    #[error(
        "image {short} has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
    )]
    Never { short: String },
    #[error(
        "image {short} passed `geno smoke` on {at}, but for another definition of the stack (commands, ports, secrets or health checks changed since); run `geno up && geno smoke` again (or --force)"
    )]
    OtherDefinition { short: String, at: String },
    #[error("verification record {} is not valid: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
}

pub fn verification(target: &Target, image_id: &str) -> Result<Verification, Unverified> {
    let short = short_id(image_id).to_string();
    let path = record_path(&target.state_dir, target.stack_name(), image_id);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Err(Unverified::Never { short }),
    };
    let v: Verification = serde_json::from_str(&text).map_err(|e| Unverified::Unreadable {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if v.definition_hash != crate::spec::definition_hash(&target.loaded.stack) {
        return Err(Unverified::OtherDefinition {
            short,
            at: v.passed_at,
        });
    }
    Ok(v)
}

pub use crate::docker::build::short_id;

/// Everything that must exist before anything is changed, checked at once.
pub struct Preflight {
    pub identity: Identity,
    /// The services as they are now, in plan order.
    pub services: Vec<ServiceStatus>,
}

/// Checks identity, cluster, services, repositories, secrets and roles;
/// lists every problem in one error. Names only: no secret value is read.
pub async fn preflight(aws: &Aws, target: &Target, all: &Plans) -> anyhow::Result<Preflight> {
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
                target.env(),
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
    let (ssm, sm) = secret_sources(target, all);
    if !ssm.is_empty() {
        check(aws.missing_parameters(&ssm).await, &|p| {
            format!("SSM parameter {p} does not exist")
        });
    }
    if !sm.is_empty() {
        check(aws.missing_secrets(&sm).await, &|s| {
            format!("Secrets Manager secret {s} does not exist")
        });
    }
    // The ALB must check health the way stack.yaml (and so `geno up`'s load
    // balancer) does, or what was tested locally means little.
    let mut groups = Vec::new();
    for plan in plans {
        let Some(wanted) = &plan.target_group else {
            continue;
        };
        match aws.target_group(&wanted.name, wanted).await {
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
                        target.env()
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
        let n = problems.len();
        anyhow::bail!(
            "preflight for `{}` found {n} problem{}; nothing was changed:\n{}",
            target.env(),
            if n == 1 { "" } else { "s" },
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(Preflight { identity, services })
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// SSM parameter names and Secrets Manager secret IDs the plans' task
/// definitions read, from stack.yaml's sources.
fn secret_sources(target: &Target, plans: &Plans) -> (Vec<String>, Vec<String>) {
    let used = unique(plans.task_definitions().flat_map(|td| {
        td.container_definitions
            .iter()
            .flat_map(|c| c.secrets.iter().map(|s| s.name.clone()))
            .collect::<Vec<_>>()
    }));
    let mut ssm = Vec::new();
    let mut sm = Vec::new();
    for name in used {
        match target
            .loaded
            .stack
            .secrets
            .get(&name)
            .and_then(|s| s.aws.as_ref())
        {
            Some(AwsSecret::Ssm(p)) => ssm.push(ssm_name(p)),
            Some(AwsSecret::SecretsManager(s)) => sm.push(secret_id(s)),
            None => {}
        }
    }
    (unique(ssm.into_iter()), unique(sm.into_iter()))
}

/// `arn:…:parameter/a/b` → `/a/b`; `arn:…:parameter/name` → `name`.
fn ssm_name(p: &str) -> String {
    match p.split_once(":parameter") {
        Some((_, rest)) if p.starts_with("arn:") => {
            if rest.matches('/').count() > 1 {
                rest.to_string()
            } else {
                rest.trim_start_matches('/').to_string()
            }
        }
        _ => p.to_string(),
    }
}

/// The secret itself, without a `:json-key:version-stage:version-id` suffix.
fn secret_id(s: &str) -> String {
    if s.starts_with("arn:") {
        s.split(':').take(7).collect::<Vec<_>>().join(":")
    } else {
        s.split(':').next().unwrap_or(s).to_string()
    }
}

/// How long to watch and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    pub timeout: Duration,
    pub poll: Duration,
}

/// Sends each update, then watches until every service has completed, one
/// has failed, the time is up or the user interrupts. `Err` holds why it
/// failed.
pub async fn roll_out<E: Ecs>(
    ecs: &E,
    cluster: &str,
    updates: &[ServiceUpdate],
    watch: Watch,
    cancel: &CancellationToken,
    out: &mut dyn Write,
) -> Result<(), String> {
    let names: Vec<String> = updates.iter().map(|u| u.service.clone()).collect();
    // Events from before this rollout are history, not news.
    let mut seen = BTreeSet::new();
    if let Ok(before) = ecs.describe(cluster, &names).await {
        for s in &before {
            seen.extend(s.events.iter().map(|e| e.id.clone()));
        }
    }
    for u in updates {
        ecs.update(u)
            .await
            .map_err(|e| format!("updating {}: {e}", u.service))?;
        let _ = writeln!(out, "  {} → {}", u.service, short_arn(&u.task_definition));
    }
    wait(ecs, cluster, updates, watch, cancel, &mut seen, out).await
}

async fn wait<E: Ecs>(
    ecs: &E,
    cluster: &str,
    updates: &[ServiceUpdate],
    watch: Watch,
    cancel: &CancellationToken,
    seen: &mut BTreeSet<String>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let names: Vec<String> = updates.iter().map(|u| u.service.clone()).collect();
    let started = Instant::now();
    let mut last_progress: Vec<Option<String>> = vec![None; updates.len()];
    loop {
        let statuses = ecs
            .describe(cluster, &names)
            .await
            .map_err(|e| e.to_string())?;
        let mut all_done = true;
        for (i, u) in updates.iter().enumerate() {
            let Some(s) = statuses.iter().find(|s| s.name == u.service) else {
                return Err(format!("service {} is no longer described", u.service));
            };
            for e in fresh_events(&s.events, seen) {
                let _ = writeln!(out, "  {} event: {}", u.service, e.message);
            }
            match assess(s, &u.task_definition) {
                Assessment::Completed => {
                    if last_progress[i].as_deref() != Some("done") {
                        let _ = writeln!(
                            out,
                            "  {} reached {} ({}/{} running) in {:.1}s",
                            u.service,
                            short_arn(&u.task_definition),
                            s.running,
                            s.desired,
                            started.elapsed().as_secs_f64()
                        );
                        last_progress[i] = Some("done".into());
                    }
                }
                Assessment::InProgress { progress } => {
                    all_done = false;
                    if last_progress[i].as_ref() != Some(&progress) {
                        let _ = writeln!(out, "  {}: {progress}", u.service);
                        last_progress[i] = Some(progress);
                    }
                }
                Assessment::Failed { reason } => {
                    return Err(format!("{} failed: {reason}", u.service));
                }
                Assessment::Displaced { now, reason } => {
                    return Err(format!(
                        "{} was rolled back by ECS to {} ({reason})",
                        u.service,
                        short_arn(&now)
                    ));
                }
            }
        }
        if all_done {
            return Ok(());
        }
        if started.elapsed() + watch.poll > watch.timeout {
            let waiting: Vec<String> = updates
                .iter()
                .zip(&last_progress)
                .filter(|(_, p)| p.as_deref() != Some("done"))
                .map(|(u, p)| format!("{} ({})", u.service, p.clone().unwrap_or_default()))
                .collect();
            return Err(format!(
                "timed out after {} waiting for {}",
                humantime::format_duration(watch.timeout),
                waiting.join(", ")
            ));
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err("interrupted".into()),
            _ = tokio::time::sleep(watch.poll) => {}
        }
    }
}

/// The task definition a job last ran with in this environment: the one
/// the current (latest successful) promotion recorded, else the family's
/// latest revision. A failed promotion may have run a newer one; what the
/// environment runs is what the last success left.
pub async fn current_job(
    aws: &Aws,
    current: Option<&crate::deploy::record::Record>,
    job: &JobPlan,
) -> Result<Option<(String, crate::deploy::taskdef::TaskDefinition)>, AwsError> {
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

/// Runs each job once, in order, as a one-off task and waits for it to stop;
/// the first failure ends the run. `Err` holds why, with the records so far.
pub async fn run_jobs<E: Ecs>(
    ecs: &E,
    cluster: &str,
    jobs: &[(JobPlan, String)],
    watch: Watch,
    cancel: &CancellationToken,
    out: &mut dyn Write,
) -> Result<Vec<JobRecord>, (String, Vec<JobRecord>)> {
    let mut done = Vec::new();
    for (job, arn) in jobs {
        let started = Instant::now();
        let _ = writeln!(
            out,
            "running job {} ({}) before {}",
            job.name,
            short_arn(arn),
            job.runs_before.join(", ")
        );
        let task = match ecs.run_task(cluster, arn, &job.network_from).await {
            Ok(t) => t,
            Err(e) => return Err((format!("job {} did not start: {e}", job.name), done)),
        };
        let mut last = String::new();
        let outcome = loop {
            let status = match ecs.describe_task(cluster, &task).await {
                Ok(s) => s,
                Err(e) => break Err(e.to_string()),
            };
            match assess_task(&status) {
                TaskOutcome::Succeeded => break Ok(()),
                TaskOutcome::Failed { reason } => break Err(reason),
                TaskOutcome::Running { status } => {
                    if status != last {
                        let _ = writeln!(out, "  {}: {status}", job.name);
                        last = status;
                    }
                }
            }
            if started.elapsed() + watch.poll > watch.timeout {
                break Err(format!(
                    "still {last} after {}; the task keeps running: aws ecs stop-task --cluster {cluster} --task {task}",
                    humantime::format_duration(watch.timeout)
                ));
            }
            tokio::select! {
                _ = cancel.cancelled() => break Err(format!(
                    "interrupted; the task keeps running: aws ecs stop-task --cluster {cluster} --task {task}"
                )),
                _ = tokio::time::sleep(watch.poll) => {}
            }
        };
        let record = JobRecord {
            name: job.name.clone(),
            task_definition: arn.clone(),
            task: task.clone(),
            succeeded: outcome.is_ok(),
            reason: outcome.clone().err(),
        };
        done.push(record);
        match outcome {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "  {} succeeded (exit 0) in {:.1}s",
                    job.name,
                    started.elapsed().as_secs_f64()
                );
            }
            Err(reason) => return Err((format!("job {} failed: {reason}", job.name), done)),
        }
    }
    Ok(done)
}

/// After a failure: every service of the change back to where it was, and
/// watched until it is there. Not interruptible by the first Ctrl-C: a half
/// restored environment is the worst outcome.
pub async fn restore<E: Ecs>(
    ecs: &E,
    cluster: &str,
    changed: &[ServiceRecord],
    watch: Watch,
    out: &mut dyn Write,
) -> Result<(), String> {
    let updates: Vec<ServiceUpdate> = changed
        .iter()
        .filter(|s| !s.before.is_empty() && s.before != s.after)
        .map(|s| ServiceUpdate::task_definition_only(cluster, &s.ecs_service, &s.before))
        .collect();
    if updates.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "rolling back {} service(s):", updates.len());
    roll_out(
        ecs,
        cluster,
        &updates,
        watch,
        &CancellationToken::new(),
        out,
    )
    .await
}

/// The outcome of a failed change after trying to restore.
pub fn failed_outcome(reason: String, restored: Result<(), String>) -> Outcome {
    match restored {
        Ok(()) => Outcome::RolledBack { reason },
        Err(e) => Outcome::Failed {
            reason: format!("{reason}; rolling back failed too: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::job::{ContainerExit, TaskStatus};
    use crate::deploy::rollout::{Deployment, Event, RolloutState};
    use crate::deploy::taskdef::TaskDefinition;
    use std::sync::Mutex;

    #[test]
    fn secret_names_from_sources() {
        assert_eq!(ssm_name("/genonaut/demo/x"), "/genonaut/demo/x");
        assert_eq!(
            ssm_name("arn:aws:ssm:us-east-1:1:parameter/genonaut/demo/x"),
            "/genonaut/demo/x"
        );
        assert_eq!(ssm_name("arn:aws:ssm:us-east-1:1:parameter/flat"), "flat");
        assert_eq!(secret_id("db:password::"), "db");
        assert_eq!(
            secret_id("arn:aws:secretsmanager:us-east-1:1:secret:db-AbC:password::"),
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC"
        );
    }

    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/f:1";

    fn td(service: &str, rev: u32) -> String {
        format!("arn:aws:ecs:us-east-1:1:task-definition/{service}:{rev}")
    }

    /// ECS as its documentation describes it, scripted per service: each
    /// `describe` after an update moves that service one step along its
    /// script.
    struct Scripted {
        services: Mutex<Vec<Svc>>,
        updates: Mutex<Vec<ServiceUpdate>>,
        ran: Mutex<Vec<String>>,
        looks: Mutex<u32>,
    }

    struct Svc {
        name: String,
        td: String,
        steps: Vec<Step>,
        at: usize,
        updated: bool,
        events: Vec<Event>,
    }

    #[derive(Clone, Copy)]
    enum Step {
        /// New deployment: `running` of 2 tasks up.
        Rolling(i32),
        Completed,
        /// Tasks fail; the circuit breaker marks the deployment FAILED.
        BreakerFailed,
        /// ...and rolls back to the old task definition.
        BreakerRolledBack,
        /// A restore to `before` goes straight through.
        Never,
    }

    impl Scripted {
        fn new(script: &[(&str, Vec<Step>)]) -> Scripted {
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
                            events: vec![Event {
                                id: format!("{n}-old"),
                                at: String::new(),
                                message: "old news".into(),
                            }],
                        })
                        .collect(),
                ),
                updates: Mutex::new(vec![]),
                ran: Mutex::new(vec![]),
                looks: Mutex::new(0),
            }
        }
    }

    fn dep(status: &str, td: &str, state: RolloutState, running: i32) -> Deployment {
        crate::deploy::rollout::test_deployment(
            &format!("{status}-{td}"),
            status,
            td,
            state,
            running,
        )
    }

    impl Ecs for Scripted {
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
                let (td, running, deployments) = match step {
                    Step::Never => (
                        target.clone(),
                        2,
                        vec![dep("PRIMARY", &target, RolloutState::Completed, 2)],
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
                        2,
                        vec![dep("PRIMARY", &target, RolloutState::Completed, 2)],
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
                        d.reason =
                            Some("ECS deployment circuit breaker: rolling back to OLD".into());
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
                    desired: 2,
                    running,
                    pending: 0,
                    deployments,
                    events: s.events.clone(),
                });
            }
            Ok(out)
        }

        async fn update(&self, u: &ServiceUpdate) -> Result<(), AwsError> {
            self.updates.lock().unwrap().push(u.clone());
            let mut services = self.services.lock().unwrap();
            let s = services.iter_mut().find(|s| s.name == u.service).unwrap();
            if u.task_definition == OLD {
                // A restore: straight back.
                s.steps = vec![Step::Never];
            }
            s.td = u.task_definition.clone();
            s.at = 0;
            s.updated = true;
            Ok(())
        }
    }

    fn updates(names: &[&str]) -> Vec<ServiceUpdate> {
        names
            .iter()
            .map(|n| ServiceUpdate::task_definition_only("c", n, &td(n, 2)))
            .collect()
    }

    fn records(names: &[&str]) -> Vec<ServiceRecord> {
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

    /// `roll_out` of every named service to its revision 2, uninterrupted;
    /// what it returned and what it printed.
    async fn roll(ecs: &Scripted, names: &[&str], watch: Watch) -> (Result<(), String>, String) {
        let mut out = Vec::new();
        let r = roll_out(
            ecs,
            "c",
            &updates(names),
            watch,
            &CancellationToken::new(),
            &mut out,
        )
        .await;
        (r, String::from_utf8(out).unwrap())
    }

    const WATCH: Watch = Watch {
        timeout: Duration::from_secs(600),
        poll: Duration::from_secs(5),
    };

    #[tokio::test(start_paused = true)]
    async fn waits_for_every_service_and_reports_progress_and_events() {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Rolling(1), Step::Completed]),
        ]);
        let (result, text) = roll(&ecs, &["api", "worker"], WATCH).await;
        result.unwrap();
        assert_eq!(
            text,
            "  api → api:2\n  worker → worker:2\n\
             \x20 api event: step 0\n  api: 0/2 running, 2 pending, 1 older deployment draining\n\
             \x20 worker event: step 0\n  worker: 1/2 running, 1 pending, 1 older deployment draining\n\
             \x20 api event: step 1\n  api: 1/2 running, 1 pending, 1 older deployment draining\n\
             \x20 worker event: step 1\n  worker reached worker:2 (2/2 running) in 5.0s\n\
             \x20 api event: step 2\n  api reached api:2 (2/2 running) in 10.0s\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_circuit_breaker_failure_rolls_every_service_back() {
        let ecs = Scripted::new(&[
            (
                "api",
                vec![Step::Rolling(0), Step::Rolling(1), Step::Completed],
            ),
            ("worker", vec![Step::Rolling(0), Step::BreakerFailed]),
            ("imagegen", vec![Step::Completed]),
        ]);
        let names = ["api", "worker", "imagegen"];
        let (result, _) = roll(&ecs, &names, WATCH).await;
        assert_eq!(
            result.unwrap_err(),
            "worker failed: ECS deployment circuit breaker: tasks failed to start."
        );
        let mut out = Vec::new();
        restore(&ecs, "c", &records(&names), WATCH, &mut out)
            .await
            .unwrap();
        let sent: Vec<(String, String)> = ecs
            .updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| (u.service.clone(), short_arn(&u.task_definition).to_string()))
            .collect();
        assert_eq!(
            sent,
            [
                ("api".into(), "api:2".into()),
                ("worker".into(), "worker:2".into()),
                ("imagegen".into(), "imagegen:2".into()),
                // Not only the one that failed: all three go back.
                ("api".into(), "f:1".into()),
                ("worker".into(), "f:1".into()),
                ("imagegen".into(), "f:1".into()),
            ]
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("rolling back 3 service(s):"), "{text}");
        assert!(text.contains("worker reached f:1"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_breaker_rollback_by_ecs_is_a_failure() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(0), Step::BreakerRolledBack])]);
        let (result, _) = roll(&ecs, &["api"], WATCH).await;
        assert_eq!(
            result.unwrap_err(),
            "api was rolled back by ECS to f:1 (ECS deployment circuit breaker: rolling back to OLD)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_rollout_times_out_naming_what_it_waited_for() {
        let ecs = Scripted::new(&[
            ("api", vec![Step::Rolling(1); 1000]),
            ("worker", vec![Step::Completed]),
        ]);
        let watch = Watch {
            timeout: Duration::from_secs(60),
            poll: Duration::from_secs(5),
        };
        let started = tokio::time::Instant::now();
        let (result, _) = roll(&ecs, &["api", "worker"], watch).await;
        assert_eq!(
            result.unwrap_err(),
            "timed out after 1m waiting for api (1/2 running, 1 pending, 1 older deployment draining)"
        );
        assert!(started.elapsed() <= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_stops_the_watch() {
        let ecs = Scripted::new(&[("api", vec![Step::Rolling(1); 1000])]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = roll_out(
            &ecs,
            "c",
            &updates(&["api"]),
            WATCH,
            &cancel,
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(err, "interrupted");
        assert_eq!(
            failed_outcome(err.clone(), Err("x".into())),
            Outcome::Failed {
                reason: "interrupted; rolling back failed too: x".into()
            }
        );
    }

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
                task_definition: td,
                runs_before: vec!["api".into()],
                network_from: "api".into(),
            },
            td_arn(name),
        )
    }

    fn td_arn(name: &str) -> String {
        format!("arn:aws:ecs:us-east-1:1:task-definition/{name}:1")
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_runs_to_exit_0_before_the_services() {
        let ecs = Scripted::new(&[]);
        let mut out = Vec::new();
        let records = run_jobs(
            &ecs,
            "c",
            &[job("ok")],
            WATCH,
            &CancellationToken::new(),
            &mut out,
        )
        .await
        .unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].succeeded);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "running job ok (ok:1) before api\n  ok: PROVISIONING\n  ok: RUNNING\n  ok succeeded (exit 0) in 10.0s\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_job_stops_the_run_with_its_exit_code() {
        let ecs = Scripted::new(&[]);
        let (err, records) = run_jobs(
            &ecs,
            "c",
            &[job("bad"), job("ok")],
            WATCH,
            &CancellationToken::new(),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(err, "job bad failed: container migrate exited with code 1");
        assert_eq!(records.len(), 1, "the second job never ran");
        assert_eq!(*ecs.ran.lock().unwrap(), [td_arn("bad")]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_never_stops_times_out_saying_how_to_stop_it() {
        let ecs = Scripted::new(&[]);
        let watch = Watch {
            timeout: Duration::from_secs(30),
            poll: Duration::from_secs(5),
        };
        let (err, _) = run_jobs(
            &ecs,
            "c",
            &[job("stuck")],
            watch,
            &CancellationToken::new(),
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            "job stuck failed: still RUNNING after 30s; the task keeps running: aws ecs stop-task --cluster c --task task-stuck:1"
        );
    }
}
