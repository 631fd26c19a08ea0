//! `geno rollback --env ENV`: the environment back to the task definitions of
//! an earlier successful promotion (by default the one before the current),
//! watched like a promotion, and recorded as one.
//!
//! 1. `goal`: the promotion to return to (`--to`, or the one before the current).
//! 2. `moves`: which services are not on its task definitions now.
//! 3. roll out and watch; on failure every moved service goes back.
//! 4. the change runner's `conclude`: the record, and a success line or an
//!    error naming it.

use super::{OnInterrupt, Verb};
use crate::aws::Ecs;
use crate::context::Context;
use crate::deploy::record::{self, Kind, Record, ServiceRecord};
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::ServiceUpdate;
use crate::environment::Environment;
use crate::environment::change::{Change, Move};
use crate::environment::rollout::Watch;
use crate::error::CliResult;

/// The arguments of `geno rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub env: String,
    /// The promotion to return to (an ID from `geno history`); default: the one before the current.
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    #[command(flatten)]
    pub watch: super::WatchArgs,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno rollback")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let opts = RollbackOptions {
            env: self.env,
            to: self.to,
            watch: self.watch.watch(),
        };
        rollback(ctx, opts).await
    }
}

pub struct RollbackOptions {
    pub env: String,
    /// A record id to return to instead of the previous one.
    pub to: Option<String>,
    pub watch: Watch,
}

pub async fn rollback(ctx: &Context, opts: RollbackOptions) -> CliResult {
    let env = Environment::open(ctx, &opts.env, None)?;
    let goal = goal(&env, opts.to.as_deref())?;
    let aws = ctx.aws(&env.aws.region).await;
    let cluster = env.aws.cluster.clone();
    let (changed, moves) = moves(ctx, aws, &cluster, &goal).await?;
    ctx.shell.status(format!(
        "rolling `{}` back to promotion {} ({}):",
        opts.env,
        goal.id,
        goal.carried_line()
    ));
    let mut record = Record::begin(Kind::Rollback, &goal.stack, &goal.environment, &cluster);
    record.image_id = goal.image_id.clone();
    record.manifest_digest = goal.manifest_digest.clone();
    record.builds = goal.builds.clone();
    record.images = goal.images.clone();
    record.git_revision = goal.git_revision.clone();
    record.forced = goal.forced;
    record.restores = Some(goal.id.clone());
    // On record before anything moves: a rollback killed mid-way says so.
    record.services = changed;
    let mut change = Change::begin(env.handles(ctx, aws, opts.watch), record);
    change.phase("rollout");
    let result = if moves.is_empty() {
        Ok(())
    } else {
        change.apply(&moves).await
    };
    change.settle("rollback", result).await;
    change.conclude(
        |_, path| {
            format!(
                "`{}` is back on promotion {} ({}); recorded in {}",
                opts.env,
                goal.id,
                goal.carried_line(),
                path.display()
            )
        },
        |_, reason| format!("rollback of `{}` failed: {reason}", opts.env),
    )?;
    Ok(())
}

/// The successful promotion to return to.
fn goal(env: &Environment, to: Option<&str>) -> anyhow::Result<Record> {
    let records = crate::state::records::load_all(&env.records_dir())?;
    let name = env.name();
    let found = match to {
        Some(id) => records
            .iter()
            .find(|r| r.id == id)
            .filter(|r| r.succeeded())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no successful promotion `{id}` to `{name}`; `geno history --env {name}` lists them"
                )
            })?,
        None => record::rollback_target(&records).ok_or_else(|| {
            anyhow::anyhow!(
                "nothing to roll back to: `{name}` has {} successful promotion(s) on record in {}",
                records.iter().filter(|r| r.succeeded()).count(),
                env.records_dir().display()
            )
        })?,
    };
    Ok(found.clone())
}

/// Every service of the goal with where it is now and where it goes, and
/// the moves for those not already there.
async fn moves<E: Ecs>(
    ctx: &Context,
    ecs: &E,
    cluster: &str,
    goal: &Record,
) -> anyhow::Result<(Vec<ServiceRecord>, Vec<Move>)> {
    let names: Vec<String> = goal
        .services
        .iter()
        .map(|s| s.ecs_service.clone())
        .collect();
    let live = ecs.describe(cluster, &names).await?;
    let mut changed = Vec::new();
    let mut updates = Vec::new();
    for s in &goal.services {
        let now_on = live
            .iter()
            .find(|l| l.name == s.ecs_service)
            .map(|l| l.task_definition.clone())
            .unwrap_or_default();
        if now_on == s.after {
            ctx.shell.status(format!(
                "{}: already on {}",
                s.ecs_service,
                short_arn(&s.after)
            ));
        }
        let was = ServiceRecord {
            name: s.name.clone(),
            ecs_service: s.ecs_service.clone(),
            before: now_on,
            after: s.after.clone(),
        };
        if was.before != was.after {
            let update = ServiceUpdate::task_definition_only(cluster, &s.ecs_service, &s.after);
            updates.push(Move::task_definition(cluster, &was, update));
        }
        changed.push(was);
    }
    Ok((changed, updates))
}
