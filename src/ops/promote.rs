//! `geno promote --env ENV`: the image that passed `geno smoke`, exactly, to
//! an ECS environment — preflight, push, digest check, task definitions
//! pinned by digest, service updates, a watched rollout, every service put
//! back on failure, and a record of it all.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use bollard::auth::DockerCredentials;

use super::deploy::{
    Target, Watch, chosen_image, current_job, failed_outcome, preflight, restore, roll_out,
    run_jobs, short_id, verification,
};
use crate::aws::Aws;
use crate::cli::Config;
use crate::deploy::record::{self, Kind, Outcome, Record, ServiceRecord};
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::{Plans, ServiceUpdate, diff};
use crate::docker::Engine;
use crate::docker::push::push;
use crate::registry::{Login, config_digest};
use crate::render::ecs::ImageChoice;

pub struct PromoteOptions {
    pub env: String,
    pub image: Option<String>,
    pub force: bool,
    pub registry: Option<String>,
    pub watch: Watch,
    pub smoke: bool,
    pub url: Option<String>,
    /// Checks and the diff only: nothing pushed, registered or updated.
    pub dry_run: bool,
}

pub fn promote(config: &Config, opts: PromoteOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let cancel = crate::shutdown::install("geno promote");
        run(config, &opts, &cancel).await
    })
}

async fn run(
    config: &Config,
    opts: &PromoteOptions,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<i32> {
    let mut err = std::io::stderr();
    let started_at = now();
    let clock = Instant::now();
    let mut waited = Duration::ZERO;
    let target = Target::open(config, &opts.env, opts.registry.as_deref())?;
    let engine = Engine::connect().await?;
    let image_id = chosen_image(&engine, &target, opts.image.as_deref()).await?;
    let short = short_id(&image_id).to_string();

    let verified = match verification(&target, &image_id) {
        Ok(v) => {
            let _ = writeln!(
                err,
                "image {short}: passed `geno smoke` ({} steps) at {}",
                v.steps.len(),
                v.passed_at
            );
            true
        }
        Err(e) if opts.force => {
            let _ = writeln!(
                err,
                "warning: --force: promoting image {short} WITHOUT a passing smoke run ({e}); the record will say so"
            );
            false
        }
        Err(e) => return Err(e.into()),
    };

    // What would be registered, image aside: preflight checks what it names.
    let draft = target.plans(&ImageChoice::Unpinned)?;
    let aws = Aws::connect(&target.aws.region).await;
    let t = Instant::now();
    let pre = preflight(&aws, &target, &draft).await?;
    let _ = writeln!(
        err,
        "preflight: {} as {}; cluster {}, {} services, repositories, secrets and roles present ({:.1}s)",
        target.aws.region,
        pre.identity.arn,
        target.aws.cluster,
        pre.services.len(),
        t.elapsed().as_secs_f64()
    );

    if opts.dry_run {
        let changes = super::diff::print(&target, &aws, &image_id, &mut std::io::stdout()).await?;
        let _ = writeln!(
            err,
            "dry run: image {short} may be promoted to {}; {changes} change(s) would be made; nothing was pushed or changed",
            target.env()
        );
        return Ok(0);
    }

    // One revision for the tags and the record (each lookup runs git twice).
    let revision = git_revision(&target.loaded.source.dir());
    let mut tags = vec![short.clone()];
    if let Some(rev) = &revision {
        tags.push(format!("git-{rev}"));
    }
    let pushed =
        push_everywhere(&engine, &aws, &target, &image_id, &tags, &draft, &mut err).await?;
    let _ = writeln!(
        err,
        "manifest {}: its config is image {short}, the one {}",
        pushed.digest,
        if verified {
            "that passed `geno smoke`"
        } else {
            "named (unverified, --force)"
        }
    );
    waited += pushed.seconds;
    let (digest, images) = (pushed.digest, pushed.images);

    if cancel.is_cancelled() {
        anyhow::bail!(
            "interrupted after the push; no task definition was registered and no service changed"
        );
    }

    // Decide what changes; leave identical services alone.
    let plans = target.plans(&ImageChoice::Digest(digest.clone()))?;
    let mut to_change = Vec::new();
    for plan in &plans.services {
        let live = pre
            .services
            .iter()
            .find(|s| s.name == plan.update.service)
            .ok_or_else(|| anyhow::anyhow!("service {} vanished", plan.update.service))?;
        let live_td = aws.task_definition(&live.task_definition).await?;
        let same_td = diff(&live_td, &plan.task_definition).is_empty();
        let same_count = plan.update.desired_count.is_none_or(|d| d == live.desired);
        if same_td && same_count {
            let _ = writeln!(
                err,
                "{}: already on {} with this image and definition; not redeployed",
                plan.update.service,
                short_arn(&live.task_definition)
            );
            continue;
        }
        to_change.push((plan, live, same_td));
    }

    // Jobs the services wait for (migrations) run once, before any service
    // changes, or alone when their own definition changed since the last
    // successful promotion; otherwise not at all.
    let records = record::load_all(&target.records_dir())?;
    let mut job_changed = false;
    for job in &plans.jobs {
        let last = current_job(&aws, record::current(&records), job).await?;
        job_changed |= last.is_none_or(|(_, td)| !diff(&td, &job.task_definition).is_empty());
    }
    let mut job_records = Vec::new();
    let mut job_failure = None;
    if (!to_change.is_empty() || job_changed) && !plans.jobs.is_empty() {
        let mut jobs = Vec::new();
        for job in &plans.jobs {
            let arn = match aws
                .latest_task_definition(&job.task_definition.family)
                .await?
            {
                Some((arn, live)) if diff(&live, &job.task_definition).is_empty() => arn,
                _ => aws.register(&job.task_definition).await?,
            };
            jobs.push((job.clone(), arn));
        }
        let t = Instant::now();
        let ran = run_jobs(
            &aws,
            &target.aws.cluster,
            &jobs,
            opts.watch,
            cancel,
            &mut err,
        )
        .await;
        waited += t.elapsed();
        match ran {
            Ok(records) => job_records = records,
            Err((reason, records)) => {
                job_records = records;
                job_failure = Some(reason);
            }
        }
    }

    // Register what changed.
    let mut changed: Vec<ServiceRecord> = Vec::new();
    let mut updates: Vec<ServiceUpdate> = Vec::new();
    if job_failure.is_none() {
        for (plan, live, same_td) in &to_change {
            let arn = if *same_td {
                let _ = writeln!(
                    err,
                    "{}: same task definition {}, desired count {} → {}",
                    plan.update.service,
                    short_arn(&live.task_definition),
                    live.desired,
                    plan.update.desired_count.unwrap_or(live.desired)
                );
                live.task_definition.clone()
            } else {
                let arn = aws.register(&plan.task_definition).await?;
                let _ = writeln!(
                    err,
                    "registered {} for {}",
                    short_arn(&arn),
                    plan.update.service
                );
                arn
            };
            changed.push(ServiceRecord {
                name: plan.name.clone(),
                ecs_service: plan.update.service.clone(),
                before: live.task_definition.clone(),
                after: arn.clone(),
            });
            updates.push(ServiceUpdate {
                task_definition: arn,
                ..plan.update.clone()
            });
        }
    }

    let mut record = Record {
        id: record::id_for(&started_at, &Kind::Promote),
        kind: Kind::Promote,
        stack: target.stack_name().to_string(),
        environment: target.env().to_string(),
        cluster: target.aws.cluster.clone(),
        image_id: image_id.clone(),
        manifest_digest: digest.clone(),
        images,
        git_revision: revision,
        forced: !verified,
        restores: None,
        services: changed.clone(),
        jobs: job_records,
        outcome: Outcome::Succeeded,
        started_at,
        finished_at: String::new(),
        geno_version: env!("CARGO_PKG_VERSION").into(),
    };
    // Services left alone still belong to the record: it is what the
    // environment runs after this promotion.
    for plan in &plans.services {
        if !changed.iter().any(|c| c.ecs_service == plan.update.service)
            && let Some(live) = pre.services.iter().find(|s| s.name == plan.update.service)
        {
            record.services.push(ServiceRecord {
                name: plan.name.clone(),
                ecs_service: plan.update.service.clone(),
                before: live.task_definition.clone(),
                after: live.task_definition.clone(),
            });
        }
    }

    if let Some(reason) = job_failure {
        record.outcome = Outcome::Failed {
            reason: format!("{reason}; no service was changed"),
        };
    } else if !updates.is_empty() {
        let _ = writeln!(
            err,
            "rolling out to {} service(s) in {} (timeout {}):",
            updates.len(),
            target.aws.cluster,
            humantime::format_duration(opts.watch.timeout)
        );
        let t = Instant::now();
        let result = roll_out(
            &aws,
            &target.aws.cluster,
            &updates,
            opts.watch,
            cancel,
            &mut err,
        )
        .await;
        waited += t.elapsed();
        let result = match result {
            Ok(()) if opts.smoke => {
                let t = Instant::now();
                let r = smoke_environment(config, &opts.env, opts.url.clone());
                waited += t.elapsed();
                r
            }
            other => other,
        };
        if let Err(reason) = result {
            let _ = writeln!(err, "promotion failed: {reason}");
            let t = Instant::now();
            let restored = restore(&aws, &target.aws.cluster, &changed, opts.watch, &mut err).await;
            waited += t.elapsed();
            record.outcome = failed_outcome(reason, restored);
        }
    } else if opts.smoke {
        let t = Instant::now();
        if let Err(reason) = smoke_environment(config, &opts.env, opts.url.clone()) {
            record.outcome = Outcome::Failed { reason };
        }
        waited += t.elapsed();
    }

    record.finished_at = now();
    let path = record::save(&target.records_dir(), &record)?;
    if config.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    }
    // geno's own part: everything but pushing bytes, rollout waits and smoke.
    let own = clock.elapsed().saturating_sub(waited);
    match &record.outcome {
        Outcome::Succeeded => {
            let _ = writeln!(
                err,
                "promoted image {short} to {} as {digest} ({} service(s) updated) in {:.1}s, {:.2}s of it geno's own work; recorded in {}",
                target.env(),
                changed.len(),
                clock.elapsed().as_secs_f64(),
                own.as_secs_f64(),
                path.display()
            );
            Ok(0)
        }
        Outcome::RolledBack { reason } => {
            let _ = writeln!(
                err,
                "error: promotion of image {short} to {} failed and every service was rolled back: {reason}\nrecorded in {}",
                target.env(),
                path.display()
            );
            Ok(1)
        }
        Outcome::Failed { reason } => {
            let _ = writeln!(
                err,
                "error: promotion of image {short} to {} failed: {reason}\nrecorded in {}",
                target.env(),
                path.display()
            );
            Ok(1)
        }
    }
}

/// The image in every repository the environment's services use, under
/// one manifest digest whose config is the image ID.
struct Pushed {
    digest: String,
    /// `registry/repository@digest` per repository.
    images: Vec<String>,
    /// Time spent moving bytes (not geno's own work).
    seconds: Duration,
}

async fn push_everywhere(
    engine: &Engine,
    aws: &Aws,
    target: &Target,
    image_id: &str,
    tags: &[String],
    draft: &Plans,
    err: &mut dyn Write,
) -> anyhow::Result<Pushed> {
    let mut waited = Duration::ZERO;
    let registry = target.aws.registry();
    let login = if target.uses_ecr() {
        let l = aws.ecr_login().await?;
        Some(Login {
            username: l.username,
            password: l.password,
        })
    } else {
        None
    };
    let credentials = login.as_ref().map(|l| DockerCredentials {
        username: Some(l.username.clone()),
        password: Some(l.password.clone()),
        serveraddress: Some(registry.clone()),
        ..Default::default()
    });
    let mut repositories: Vec<String> = Vec::new();
    for p in &draft.services {
        if !repositories.contains(&p.repository) {
            repositories.push(p.repository.clone());
        }
    }
    let mut digest = String::new();
    let mut images = Vec::new();
    for repo in &repositories {
        let t = Instant::now();
        let full = format!("{registry}/{repo}");
        let pushed = push(engine, image_id, &full, tags, credentials.clone(), err).await?;
        waited += t.elapsed();
        let _ = writeln!(
            err,
            "pushed {full}@{}: {} layer(s) uploaded, {} already there, {} mounted from another repository ({:.1}s)",
            pushed.digest,
            pushed.uploaded,
            pushed.existing,
            pushed.mounted,
            t.elapsed().as_secs_f64()
        );
        // The pinned manifest must name the verified image as its config.
        let config_of = config_digest(&registry, repo, &pushed.digest, login.as_ref()).await?;
        if config_of != image_id {
            anyhow::bail!(
                "{full}@{} names image {config_of}, not the verified image {image_id}; nothing was deployed",
                pushed.digest
            );
        }
        if !digest.is_empty() && digest != pushed.digest {
            anyhow::bail!(
                "{full} stored the image as {}, another repository as {digest}; nothing was deployed",
                pushed.digest
            );
        }
        digest = pushed.digest;
        images.push(format!("{full}@{digest}"));
    }
    Ok(Pushed {
        digest,
        images,
        seconds: waited,
    })
}

/// The stack's smoke suite against the environment's URL, on its own
/// thread: `geno smoke` owns its runtime.
fn smoke_environment(config: &Config, env: &str, url: Option<String>) -> Result<(), String> {
    let config = config.clone();
    let opts = super::smoke::SmokeOptions {
        env: env.to_string(),
        url,
        junit: None,
    };
    let outcome = std::thread::spawn(move || {
        let mut quiet = config;
        quiet.json = false;
        super::smoke::smoke(&quiet, opts).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the smoke run crashed".to_string())?;
    match outcome {
        Ok(0) => Ok(()),
        Ok(_) => Err("smoke tests failed against the environment".into()),
        Err(e) => Err(format!("smoke tests could not run: {e}")),
    }
}

pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// `HEAD`'s short hash, with `-dirty` when the work tree has changes; none
/// outside a git checkout.
pub fn git_revision(dir: &std::path::Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = run(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}
