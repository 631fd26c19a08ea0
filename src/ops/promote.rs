//! `geno promote --env ENV`: the image that passed `geno smoke`, exactly, to
//! an ECS environment.
//!
//! The phases, each a function below:
//! 1. `choose`: the image (the current build or `--image`) and its local
//!    verification — or `--force`, loudly, and the record says so.
//! 2. `check`: preflight against AWS with the unpinned rendering;
//!    `--dry-run` ends here and prints the diff.
//! 3. `push`: to every service repository, tagged with the image ID and git
//!    revision; the stored manifest's config must be the chosen image.
//! 4. `decide`: which services differ from what runs (task definition or
//!    desired count); the others are left alone, and said so.
//! 5. `run_jobs_first`: the jobs the services wait for (migrations), once,
//!    before any service changes — or alone, when only their own definition
//!    changed since the last successful promotion.
//! 6. `register`: a task definition per changed service.
//! 7. `roll_out_and_smoke`: update and watch; `--smoke` against the
//!    environment; on any failure every service this promotion changed
//!    goes back (the change runner's `settle`).
//! 8. the change runner's `conclude`: the record, then a success line or
//!    an error naming the record.
//!
//! A failing phase is on record through `Change::step`.

use std::time::{Duration, Instant};

use super::{OnInterrupt, Verb};
use crate::aws::{Aws, Live};
use crate::context::Context;
use crate::deploy::record::{Kind, Outcome, Record, ServiceRecord};
use crate::deploy::rollout::{ServiceStatus, short_arn};
use crate::deploy::taskdef::{Plans, ServicePlan, ServiceUpdate, diff};
use crate::docker::Engine;
use crate::environment::change::{Change, Move};
use crate::environment::jobs::{JobsFailed, run_jobs};
use crate::environment::kinds::{
    ALARMS, CAPACITY_PROVIDERS, DESIRED_COUNT, JOB_TASK_DEFINITION, Observing, SCALING, Subject,
    TASK_DEFINITION, compare,
};
use crate::environment::preflight::{Preflight, preflight};
use crate::environment::push::{Pushed, push_everywhere};
use crate::environment::rollout::Watch;
use crate::environment::{Environment, git_revision, short_id};
use crate::error::CliResult;
use crate::render::ecs::ImageChoice;
use crate::smoke::runner::{self, Target};

/// The arguments of `geno promote`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (a key of `environments:` with an `aws` section).
    #[arg(long)]
    pub env: String,
    /// The image to promote (ID, ID prefix or tag) instead of the current
    /// build; `BUILD=IMAGE` for one of several builds (repeatable).
    #[arg(long, value_name = "[BUILD=]IMAGE")]
    pub image: Vec<String>,
    /// Promote an image without a passing `geno smoke` for this stack definition (recorded).
    #[arg(long)]
    pub force: bool,
    /// Push to this registry host instead of the environment's ECR.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub registry: Option<String>,
    #[command(flatten)]
    pub watch: super::WatchArgs,
    /// After the rollout, run the smoke suite against the environment; failure rolls back.
    #[arg(long)]
    pub smoke: bool,
    /// The environment's load balancer URL for --smoke (default: `aws.url`).
    #[arg(long)]
    pub url: Option<String>,
    /// Run the checks (verification, preflight) and print the diff; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno promote")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let opts = PromoteOptions {
            env: self.env,
            image: self.image,
            force: self.force,
            registry: self.registry,
            watch: self.watch.watch(),
            smoke: self.smoke,
            url: self.url,
            dry_run: self.dry_run,
        };
        promote(ctx, opts).await
    }
}

pub struct PromoteOptions {
    pub env: String,
    pub image: Vec<String>,
    pub force: bool,
    pub registry: Option<String>,
    pub watch: Watch,
    pub smoke: bool,
    pub url: Option<String>,
    /// Checks and the diff only: nothing pushed, registered or updated.
    pub dry_run: bool,
}

/// The images being promoted, by build.
struct Chosen {
    images: crate::spec::Images,
    /// As messages say them (`image 5d69faf904d7`, `images api 5d69…, web 0be1…`).
    short: String,
    /// It passed `geno smoke` for this definition (else `--force`).
    verified: bool,
}

/// geno's own time against time spent waiting on registries, rollouts and
/// smoke runs, for the closing line.
struct Clock {
    started: Instant,
    waited: Duration,
}

impl Clock {
    async fn waiting<T>(&mut self, work: impl Future<Output = T>) -> T {
        let t = Instant::now();
        let out = work.await;
        self.waited += t.elapsed();
        out
    }
}

pub async fn promote(ctx: &Context, opts: PromoteOptions) -> CliResult {
    let mut clock = Clock {
        started: Instant::now(),
        waited: Duration::ZERO,
    };
    let env = Environment::open(ctx, &opts.env, opts.registry.as_deref())?;
    let engine = ctx.engine().await?;
    // What would be registered, image aside: preflight checks what it
    // names, and it says which images are chosen.
    let mut draft = env.plans(&ImageChoice::Unpinned)?;
    let chosen = choose(ctx, &env, engine, &draft, &opts).await?;
    let aws = ctx.aws(&env.aws.region).await;
    crate::environment::resolve(aws, &mut draft).await?;
    let pre = check(ctx, &env, aws, &draft).await?;
    if opts.dry_run {
        let changes = crate::environment::diff::print(
            &env,
            aws,
            &crate::environment::diff::DiffImage::Built(chosen.images.clone()),
            &ctx.shell,
        )
        .await?;
        ctx.shell.status(format!(
            "dry run: {} may be promoted to {}; {changes} change(s) would be made; nothing was pushed or changed",
            chosen.short,
            env.name()
        ));
        return Ok(());
    }

    let mut record = Record::begin(
        Kind::Promote,
        env.stack_name(),
        env.name(),
        &env.aws.cluster,
    );
    if !env.loaded.stack.pins_by_key() {
        record.image_id = chosen.images.values().next().cloned().unwrap_or_default();
    }
    record.forced = !chosen.verified;
    record.git_revision = git_revision(&env.loaded.source.dir());
    let mut change = Change::begin(env.handles(ctx, aws, opts.watch), record);
    // An error from here on is on record too (`step`), not left "under way".
    change.phase("push");
    let pushed = push(ctx, &env, engine, aws, &chosen, &change.record, &draft).await;
    let pushed = change.step(pushed)?;
    clock.waited += pushed.seconds;
    if env.loaded.stack.pins_by_key() {
        change.record.builds = chosen
            .images
            .iter()
            .map(|(b, id)| {
                let carried = crate::deploy::record::Carried {
                    image_id: id.clone(),
                    manifest_digest: pushed.digests.get(b).cloned().unwrap_or_default(),
                };
                (b.clone(), carried)
            })
            .collect();
    } else {
        change.record.manifest_digest = pushed.digests.values().next().cloned().unwrap_or_default();
    }
    change.record.images = pushed.images.clone();
    if ctx.cancel.is_cancelled() {
        change.step::<()>(Err(anyhow::anyhow!(
            "interrupted after the push; no task definition was registered and no service changed"
        )))?;
    }

    let pinned = if env.loaded.stack.pins_by_key() {
        ImageChoice::Digests(pushed.digests.clone())
    } else {
        ImageChoice::Digest(change.record.manifest_digest.clone())
    };
    let mut plans = change.step(env.plans(&pinned))?;
    // What was found for the draft (subnets and groups by tag, the ALB
    // names alarms watch): the same.
    for plan in &mut plans.services {
        if let Some(found) = draft.services.iter().find(|d| d.name == plan.name) {
            plan.update.network_configuration = found.update.network_configuration.clone();
            plan.scaling = found.scaling.clone();
            plan.alarms = found.alarms.clone();
        }
    }
    plans.dashboard = draft.dashboard.clone();
    change.phase("jobs");
    let to_change = change.step(decide(ctx, &env, aws, &plans, &pre).await)?;
    let ran = run_jobs_first(&env, &mut change, &plans, &to_change, &mut clock).await;
    let job_failure = change.step(ran)?;
    let mut changed = Vec::new();
    if let Some(failed) = job_failure {
        change.record.outcome = Outcome::Failed {
            reason: format!("{failed}; no service was changed"),
        };
    } else {
        change.phase("register");
        let rollout;
        (changed, rollout) = change.step(register(ctx, aws, &to_change).await)?;
        let (mut moves, mut settings) =
            change.step(with_settings(aws, &to_change, rollout).await)?;
        if let Some((m, said)) = change.step(dashboard_move(&env, aws, &plans).await)? {
            moves.insert(0, m);
            settings.extend(said);
        }
        change.alarms = rollback_alarms(&to_change);
        // What is about to move, on record before it moves.
        change.record.services = services_after(&plans, &pre, changed.clone());
        change.record.settings = settings;
        change.phase("rollout");
        roll_out_and_smoke(ctx, &env, &mut change, &moves, &opts, &mut clock).await;
    }
    let updated = changed.len();
    change.record.services = services_after(&plans, &pre, changed);
    let env_name = env.name().to_string();
    change.conclude(
        |record, path| closing_line(&chosen, &env_name, record, updated, &clock, path),
        |rolled_back, reason| {
            format!(
                "promotion of {} to {env_name} failed{}: {reason}",
                chosen.short,
                if rolled_back {
                    " and every service was rolled back"
                } else {
                    ""
                }
            )
        },
    )?;
    Ok(())
}

/// The line a successful promotion ends with: what went where, and how
/// much of the time was geno's own.
fn closing_line(
    chosen: &Chosen,
    env: &str,
    record: &Record,
    updated: usize,
    clock: &Clock,
    path: &std::path::Path,
) -> String {
    let took = clock.started.elapsed();
    format!(
        "promoted {} to {env} as {} ({updated} service(s) updated) in {:.1}s, {:.2}s of it geno's own work; recorded in {}",
        chosen.short,
        if record.builds.is_empty() {
            record.manifest_digest.clone()
        } else {
            record
                .builds
                .iter()
                .map(|(b, c)| format!("{b}@{}", c.manifest_digest))
                .collect::<Vec<_>>()
                .join(", ")
        },
        took.as_secs_f64(),
        took.saturating_sub(clock.waited).as_secs_f64(),
        path.display()
    )
}

/// Phase 1: The images and whether they may go: verified together, or
/// forced.
async fn choose(
    ctx: &Context,
    env: &Environment,
    engine: &Engine,
    draft: &Plans,
    opts: &PromoteOptions,
) -> anyhow::Result<Chosen> {
    let images = env.chosen_images(engine, draft, &opts.image).await?;
    let stack = &env.loaded.stack;
    if images.is_empty() {
        anyhow::bail!(
            "no service of `{}` deployed to `{}` runs an image the stack builds; nothing to promote",
            stack.name,
            env.name()
        );
    }
    let described = crate::environment::describe_images(stack, &images);
    let short = if images.len() == 1 && !stack.pins_by_key() {
        format!("image {described}")
    } else {
        format!("images {described}")
    };
    // Before anything is pushed: an image ECS could not start is refused.
    for (build, image_id) in &images {
        let inspected = engine
            .docker
            .inspect_image(image_id)
            .await
            .map_err(crate::docker::DockerError::from)?;
        crate::deploy::platform::check(
            short_id(image_id),
            inspected.os.as_deref().unwrap_or("linux"),
            inspected.architecture.as_deref().unwrap_or_default(),
            stack.build(build).and_then(|b| b.platform),
            env.name(),
        )
        .map_err(anyhow::Error::msg)?;
    }
    let verified = match env.verification(&images) {
        Ok(v) => {
            ctx.shell.status(format!(
                "{short}: passed `geno smoke` ({} steps) at {}",
                v.steps.len(),
                v.passed_at
            ));
            true
        }
        Err(e) if opts.force => {
            ctx.shell.warn(format!(
                "--force: promoting {short} WITHOUT a passing smoke run ({e}); the record will say so"
            ));
            false
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Chosen {
        images,
        short,
        verified,
    })
}

/// Phase 2: Everything the promotion needs exists and matches stack.yaml.
async fn check(
    ctx: &Context,
    env: &Environment,
    aws: &Aws,
    draft: &Plans,
) -> anyhow::Result<Preflight> {
    let t = Instant::now();
    let pre = preflight(aws, env, draft).await?;
    ctx.shell.status(format!(
        "preflight: {} as {}; cluster {}, {} services, repositories, secrets and roles present ({:.1}s)",
        env.aws.region,
        pre.identity.arn,
        env.aws.cluster,
        pre.services.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok(pre)
}

/// Phase 3: The image in every repository, its manifest checked.
async fn push(
    ctx: &Context,
    env: &Environment,
    engine: &Engine,
    aws: &Aws,
    chosen: &Chosen,
    record: &Record,
    draft: &Plans,
) -> anyhow::Result<Pushed> {
    let mut tags = Vec::new();
    if let Some(rev) = &record.git_revision {
        tags.push(format!("git-{rev}"));
    }
    let pushed =
        push_everywhere(engine, aws, env, &chosen.images, &tags, draft, &ctx.shell).await?;
    for (build, digest) in &pushed.digests {
        let id = chosen
            .images
            .get(build)
            .map(String::as_str)
            .unwrap_or_default();
        ctx.shell.status(format!(
            "manifest {digest}: its config is image {}{}, the one {}",
            short_id(id),
            if env.loaded.stack.pins_by_key() {
                format!(" (build `{build}`)")
            } else {
                String::new()
            },
            if chosen.verified {
                "that passed `geno smoke`"
            } else {
                "named (unverified, --force)"
            }
        ));
    }
    Ok(pushed)
}

/// A service whose rendering differs from what runs.
struct ToChange<'a> {
    plan: &'a ServicePlan,
    live: &'a ServiceStatus,
    /// The kinds that differ (`kinds::TASK_DEFINITION`…).
    differs: Vec<&'static str>,
}

impl ToChange<'_> {
    fn same_task_definition(&self) -> bool {
        !self.differs.contains(&TASK_DEFINITION)
    }

    /// Whether the ECS service itself is updated (not only its scaling
    /// or alarms).
    fn updates_service(&self) -> bool {
        self.differs.iter().any(|k| ![SCALING, ALARMS].contains(k))
    }

    /// Whether its scaling or alarms change.
    fn changes_settings(&self) -> bool {
        self.differs.iter().any(|k| [SCALING, ALARMS].contains(k))
    }
}

/// Phase 4: The services to change, from the kinds geno owns on a service
/// (task definition, desired count, deployment settings, Service
/// Connect…): a service whose every kind matches is left alone.
async fn decide<'a, L: Live>(
    ctx: &Context,
    env: &Environment,
    live: &L,
    plans: &'a Plans,
    pre: &'a Preflight,
) -> anyhow::Result<Vec<ToChange<'a>>> {
    let cx = Observing::with_services(live, env, plans, &[], pre.services.clone());
    let observed = compare(&cx, |k| k.name != JOB_TASK_DEFINITION).await?;
    let mut to_change = Vec::new();
    for plan in &plans.services {
        let service = &plan.update.service;
        let live = pre
            .services
            .iter()
            .find(|s| &s.name == service)
            .ok_or_else(|| anyhow::anyhow!("service {service} vanished"))?;
        let differs: Vec<&str> = observed
            .iter()
            .filter(|o| o.differs_on(o.kind, service))
            .map(|o| o.kind)
            .collect();
        if differs.is_empty() {
            ctx.shell.status(format!(
                "{service}: already on {} with this image and definition; not redeployed",
                short_arn(&live.task_definition)
            ));
            continue;
        }
        to_change.push(ToChange {
            plan,
            live,
            differs,
        });
    }
    Ok(to_change)
}

/// Phase 5: The jobs, when a service changes or their own definition changed
/// since the last successful promotion; their records go into the change's
/// record, and the failure, if one failed, comes back.
async fn run_jobs_first(
    env: &Environment,
    change: &mut Change<'_, Aws>,
    plans: &Plans,
    to_change: &[ToChange<'_>],
    clock: &mut Clock,
) -> anyhow::Result<Option<JobsFailed>> {
    if plans.jobs.is_empty() {
        return Ok(None);
    }
    let aws = change.on.ecs;
    let records = crate::state::records::load_all(&env.records_dir())?;
    let cx = Observing::new(aws, env, plans, &records);
    let observed = compare(&cx, |k| k.name == JOB_TASK_DEFINITION).await?;
    // A job never run, or whose definition changed since it last ran.
    let job_changed = observed
        .iter()
        .any(|o| !o.changes.is_empty() || matches!(o.subject, Subject::Job { last_run: None, .. }));
    if to_change.is_empty() && !job_changed {
        return Ok(None);
    }
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
    let on = &change.on;
    let ran = clock
        .waiting(run_jobs(
            aws,
            &on.cluster,
            &jobs,
            on.watch,
            on.cancel,
            on.shell,
        ))
        .await;
    Ok(match ran {
        Ok(records) => {
            change.record.jobs = records;
            None
        }
        Err(mut failed) => {
            change.record.jobs = std::mem::take(&mut failed.records);
            Some(failed)
        }
    })
}

/// Phase 6: A task definition per changed service (kept when only the count
/// changes); what each moves from and to, and the moves to make.
async fn register(
    ctx: &Context,
    aws: &Aws,
    to_change: &[ToChange<'_>],
) -> anyhow::Result<(Vec<ServiceRecord>, Vec<Move>)> {
    let mut changed = Vec::new();
    let mut moves = Vec::new();
    for c in to_change.iter().filter(|c| c.updates_service()) {
        let (plan, live) = (c.plan, c.live);
        let arn = if c.same_task_definition() {
            let what = c
                .differs
                .iter()
                .filter(|k| ![SCALING, ALARMS].contains(k))
                .map(|k| match plan.update.desired_count {
                    Some(d) if *k == DESIRED_COUNT => {
                        format!("desired count {} → {d}", live.desired)
                    }
                    _ => format!("{k} back to what stack.yaml says"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            ctx.shell.status(format!(
                "{}: same task definition {}, {what}",
                plan.update.service,
                short_arn(&live.task_definition),
            ));
            live.task_definition.clone()
        } else {
            let arn = aws.register(&plan.task_definition).await?;
            ctx.shell.status(format!(
                "registered {} for {}",
                short_arn(&arn),
                plan.update.service
            ));
            arn
        };
        let was = ServiceRecord {
            name: plan.name.clone(),
            ecs_service: plan.update.service.clone(),
            before: live.task_definition.clone(),
            after: arn.clone(),
        };
        // A new capacity provider strategy moves no task by itself.
        let force = c.differs.contains(&CAPACITY_PROVIDERS)
            || plan.update.force_new_deployment == Some(true);
        // A service that scales itself keeps its count, brought within
        // its range.
        let desired_count = match &plan.scaling {
            Some(s) => {
                let kept = crate::deploy::scaling::kept_count(live.desired, s);
                (kept != live.desired).then_some(kept)
            }
            None => plan.update.desired_count,
        };
        let update = ServiceUpdate {
            task_definition: arn,
            force_new_deployment: force.then_some(true),
            desired_count,
            ..plan.update.clone()
        };
        moves.push(
            Move::task_definition(&plan.update.cluster, &was, update)
                .restoring_connect(&was, live.service_connect.as_ref())
                .restoring_placement(&was, live),
        );
        changed.push(was);
    }
    Ok((changed, moves))
}

/// The moves that change services' scaling and alarms, around the
/// rollout: alarms first (the deployment configuration names them), then
/// the rollout's moves, then scaling and the count a service that scales
/// itself is kept at; and the lines that say them, for the record.
async fn with_settings<L: Live>(
    live: &L,
    to_change: &[ToChange<'_>],
    rollout: Vec<Move>,
) -> anyhow::Result<(Vec<Move>, Vec<String>)> {
    let (mut before, mut after, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    for c in to_change.iter().filter(|c| c.changes_settings()) {
        let (plan, status) = (c.plan, c.live);
        let settings = crate::environment::scaling::read(live, plan).await?;
        let steps = crate::environment::scaling::steps(plan, &settings);
        let service = &plan.update.service;
        for (forward, _) in [&steps.alarms, &steps.scaling] {
            lines.extend(
                forward
                    .iter()
                    .map(|s| format!("{}: {}", plan.name, s.describe())),
            );
        }
        if !steps.alarms.0.is_empty() {
            let (f, b) = steps.alarms;
            before.push(Move::steps(service, &plan.name, f, b));
        }
        if !steps.scaling.0.is_empty() {
            let (f, b) = steps.scaling;
            after.push(Move::steps(service, &plan.name, f, b));
        }
        if let Some(s) = &plan.scaling {
            let kept = crate::deploy::scaling::kept_count(status.desired, s);
            if kept != status.desired {
                lines.push(format!(
                    "{}: desired {} → {kept}, within its range",
                    plan.name, status.desired
                ));
            }
            // An updated service gets its count with the update.
            if kept != status.desired && !c.updates_service() {
                let count = crate::deploy::record::CountRecord {
                    name: plan.name.clone(),
                    ecs_service: service.clone(),
                    before: status.desired,
                    after: kept,
                };
                after.push(Move::count(&count, &status.task_definition));
            }
        }
    }
    before.extend(rollout);
    before.extend(after);
    Ok((before, lines))
}

/// The move that draws the environment's dashboard as stack.yaml says
/// (or removes the one geno drew when it no longer asks for one), and
/// what it says; none when it is as drawn.
async fn dashboard_move<L: Live>(
    env: &Environment,
    live: &L,
    plans: &Plans,
) -> anyhow::Result<Option<(Move, Vec<String>)>> {
    use crate::deploy::scaling::dashboard_steps;
    let was =
        crate::environment::scaling::live_dashboard(live, env.stack_name(), env.name(), plans)
            .await?;
    let forward = dashboard_steps(was.as_ref(), plans.dashboard.as_ref());
    let Some(first) = forward.first() else {
        return Ok(None);
    };
    let name = match first {
        crate::deploy::scaling::Step::PutDashboard(d) => d.name.clone(),
        crate::deploy::scaling::Step::DeleteDashboard(n) => n.clone(),
        _ => String::new(),
    };
    let said = forward.iter().map(|s| s.describe()).collect();
    let back = dashboard_steps(plans.dashboard.as_ref(), was.as_ref());
    Ok(Some((
        Move::steps(&name, "environment", forward, back),
        said,
    )))
}

/// The alarms that roll back the services this promotion updates, and
/// the longest of their bake times.
fn rollback_alarms(to_change: &[ToChange<'_>]) -> crate::environment::rollout::Alarms {
    let mut out = crate::environment::rollout::Alarms::default();
    for c in to_change.iter().filter(|c| c.updates_service()) {
        for a in c.plan.rollback_alarms() {
            out.names.push(a.alarm_name.clone());
        }
        if !c.plan.rollback_alarms().is_empty() {
            out.bake = out.bake.max(c.plan.bake());
        }
    }
    out
}

/// Phase 7: The rollout, then `--smoke`; any failure puts every changed
/// service back. The outcome is the change's record's.
async fn roll_out_and_smoke(
    ctx: &Context,
    env: &Environment,
    change: &mut Change<'_, Aws>,
    moves: &[Move],
    opts: &PromoteOptions,
    clock: &mut Clock,
) {
    let rolled = if moves.is_empty() {
        Ok(())
    } else {
        let services: std::collections::BTreeSet<&str> = moves
            .iter()
            .filter(|m| m.label != "environment")
            .map(|m| m.service.as_str())
            .collect();
        ctx.shell.status(format!(
            "rolling out to {} service(s) in {} (timeout {}):",
            services.len(),
            env.aws.cluster,
            humantime::format_duration(opts.watch.timeout)
        ));
        clock
            .waiting(change.apply(moves))
            .await
            .map_err(anyhow::Error::from)
    };
    let result = match rolled {
        Ok(()) if opts.smoke => clock.waiting(smoke_environment(ctx, env, opts)).await,
        other => other,
    };
    let t = Instant::now();
    change.settle("promotion", result).await;
    clock.waited += t.elapsed();
}

/// The stack's smoke suite against the environment's URL.
async fn smoke_environment(
    ctx: &Context,
    env: &Environment,
    opts: &PromoteOptions,
) -> anyhow::Result<()> {
    let base = runner::environment_url(&env.loaded, opts.url.as_deref())?;
    let target = Target {
        stack: &env.loaded.stack,
        environment: env.name(),
        base: Some(base),
        url_only: true,
        place: runner::Place::Url,
        images: Default::default(),
    };
    match runner::run_suite(&target, &ctx.cancel, &ctx.shell).await {
        Ok(report) if report.passed => Ok(()),
        Ok(_) => anyhow::bail!("smoke tests failed against the environment"),
        Err(e) => anyhow::bail!("smoke tests could not run: {e}"),
    }
}

/// What the environment runs after this promotion: the changed services
/// and, unchanged, the others.
fn services_after(
    plans: &Plans,
    pre: &Preflight,
    mut changed: Vec<ServiceRecord>,
) -> Vec<ServiceRecord> {
    for plan in &plans.services {
        if !changed.iter().any(|c| c.ecs_service == plan.update.service)
            && let Some(live) = pre.services.iter().find(|s| s.name == plan.update.service)
        {
            changed.push(ServiceRecord {
                name: plan.name.clone(),
                ecs_service: plan.update.service.clone(),
                before: live.task_definition.clone(),
                after: live.task_definition.clone(),
            });
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::paper::{demo, in_order};

    /// What promote decides to change against `paper`, as
    /// `(service, only its count differs)`, and what it said.
    async fn decided(
        paper_for: impl Fn(&Plans) -> crate::environment::paper::Paper,
    ) -> (Vec<(String, bool)>, String) {
        let (_dir, ctx, env, plans) = demo();
        let paper = paper_for(&plans);
        let pre = preflight(&paper, &env, &plans).await.unwrap();
        let to_change = decide(&ctx, &env, &paper, &plans, &pre).await.unwrap();
        let out = to_change
            .iter()
            .map(|c| (c.plan.update.service.clone(), c.same_task_definition()))
            .collect();
        (out, ctx.shell.take().1)
    }

    #[tokio::test]
    async fn identical_services_are_left_alone_and_said_so() {
        let (to_change, said) = decided(in_order).await;
        assert_eq!(to_change, []);
        assert_eq!(
            said,
            "shop-web-demo: already on shop-web-demo:3 with this image and definition; not redeployed\n\
             shop-worker-demo: already on shop-worker-demo:3 with this image and definition; not redeployed\n"
        );
    }

    #[tokio::test]
    async fn a_changed_definition_and_a_changed_count_are_each_a_change() {
        let (to_change, said) = decided(|plans| {
            let mut paper = in_order(plans);
            let web = paper.services[0].task_definition.clone();
            paper.task_definitions.get_mut(&web).unwrap().cpu = "512".into();
            paper.services[1].desired = 5;
            paper
        })
        .await;
        // web gets a new task definition; worker keeps its own, count only.
        assert_eq!(
            to_change,
            [
                ("shop-web-demo".to_string(), false),
                ("shop-worker-demo".to_string(), true)
            ]
        );
        assert_eq!(said, "");
    }

    #[tokio::test]
    async fn a_service_connect_alias_changed_by_hand_is_put_back_on_the_same_definition() {
        let (to_change, _) = decided(|plans| {
            let mut paper = in_order(plans);
            let sc = paper.services[0].service_connect.as_mut().unwrap();
            sc.services[0].client_aliases[0].dns_name = Some("webapp".into());
            // ECS reports the namespace by ARN: the same one, no change.
            paper.services[1]
                .service_connect
                .as_mut()
                .unwrap()
                .namespace = Some(paper.namespaces[0].arn.clone());
            paper
        })
        .await;
        assert_eq!(to_change, [("shop-web-demo".to_string(), true)]);
    }

    #[tokio::test]
    async fn deployment_settings_changed_by_hand_are_put_back_on_the_same_definition() {
        let (to_change, said) = decided(|plans| {
            let mut paper = in_order(plans);
            paper.services[0]
                .deployment
                .as_mut()
                .unwrap()
                .maximum_percent = 150;
            paper
        })
        .await;
        assert_eq!(to_change, [("shop-web-demo".to_string(), true)]);
        assert_eq!(
            said,
            "shop-worker-demo: already on shop-worker-demo:3 with this image and definition; not redeployed\n"
        );
    }

    #[tokio::test]
    async fn the_services_preflight_described_are_not_described_again() {
        let (_dir, ctx, env, plans) = demo();
        let paper = in_order(&plans);
        let pre = preflight(&paper, &env, &plans).await.unwrap();
        decide(&ctx, &env, &paper, &plans, &pre).await.unwrap();
        assert_eq!(paper.calls_to("DescribeServices"), 1);
    }
}
