//! `geno rollback --env ENV`: the environment back to the task definitions of
//! an earlier successful promotion (by default the one before the current),
//! watched like a promotion, and recorded as one.

use std::io::Write;

use super::deploy::{Target, Watch, failed_outcome, restore, roll_out, short_id};
use super::promote::now;
use crate::aws::{Aws, Ecs};
use crate::cli::Config;
use crate::deploy::record::{self, Kind, Outcome, Record, ServiceRecord};
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::ServiceUpdate;

pub struct RollbackOptions {
    pub env: String,
    /// A record id to return to instead of the previous one.
    pub to: Option<String>,
    pub watch: Watch,
}

pub fn rollback(config: &Config, opts: RollbackOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let cancel = crate::shutdown::install("geno rollback");
        let mut err = std::io::stderr();
        let target = Target::open(config, &opts.env, None)?;
        let records = record::load_all(&target.records_dir())?;
        let goal = match &opts.to {
            Some(id) => records
                .iter()
                .find(|r| &r.id == id)
                .filter(|r| r.succeeded())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no successful promotion `{id}` to `{}`; `geno history --env {}` lists them",
                        opts.env,
                        opts.env
                    )
                })?,
            None => record::rollback_target(&records).ok_or_else(|| {
                anyhow::anyhow!(
                    "nothing to roll back to: `{}` has {} successful promotion(s) on record in {}",
                    opts.env,
                    records.iter().filter(|r| r.succeeded()).count(),
                    target.records_dir().display()
                )
            })?,
        }
        .clone();
        let aws = Aws::connect(&target.aws.region).await;
        let cluster = target.aws.cluster.clone();
        let names: Vec<String> = goal.services.iter().map(|s| s.ecs_service.clone()).collect();
        let live = aws.describe(&cluster, &names).await?;
        let started_at = now();
        let mut changed = Vec::new();
        let mut updates = Vec::new();
        for s in &goal.services {
            let now_on = live
                .iter()
                .find(|l| l.name == s.ecs_service)
                .map(|l| l.task_definition.clone())
                .unwrap_or_default();
            if now_on == s.after {
                let _ = writeln!(err, "{}: already on {}", s.ecs_service, short_arn(&s.after));
            } else {
                updates.push(ServiceUpdate::task_definition_only(&cluster, &s.ecs_service, &s.after));
            }
            changed.push(ServiceRecord {
                name: s.name.clone(),
                ecs_service: s.ecs_service.clone(),
                before: now_on,
                after: s.after.clone(),
            });
        }
        let _ = writeln!(
            err,
            "rolling `{}` back to promotion {} (image {}, {}):",
            opts.env,
            goal.id,
            short_id(&goal.image_id),
            goal.manifest_digest
        );
        let mut outcome = Outcome::Succeeded;
        if !updates.is_empty() {
            if let Err(reason) = roll_out(&aws, &cluster, &updates, opts.watch, &cancel, &mut err).await {
                let _ = writeln!(err, "rollback failed: {reason}");
                let restored = restore(&aws, &cluster, &changed, opts.watch, &mut err).await;
                outcome = failed_outcome(reason, restored);
            }
        }
        let record = Record {
            id: record::id_for(&started_at, &Kind::Rollback),
            kind: Kind::Rollback,
            stack: goal.stack.clone(),
            environment: goal.environment.clone(),
            cluster,
            image_id: goal.image_id.clone(),
            manifest_digest: goal.manifest_digest.clone(),
            images: goal.images.clone(),
            git_revision: goal.git_revision.clone(),
            forced: goal.forced,
            restores: Some(goal.id.clone()),
            services: changed,
            jobs: vec![],
            outcome,
            started_at,
            finished_at: now(),
            geno_version: env!("CARGO_PKG_VERSION").into(),
        };
        let path = record::save(&target.records_dir(), &record)?;
        if config.json {
            println!("{}", serde_json::to_string_pretty(&record)?);
        }
        match &record.outcome {
            Outcome::Succeeded => {
                let _ = writeln!(
                    err,
                    "`{}` is back on promotion {} (image {}); recorded in {}",
                    opts.env,
                    goal.id,
                    short_id(&goal.image_id),
                    path.display()
                );
                Ok(0)
            }
            Outcome::RolledBack { reason } | Outcome::Failed { reason } => {
                let _ = writeln!(err, "error: rollback of `{}` failed: {reason}\nrecorded in {}", opts.env, path.display());
                Ok(1)
            }
        }
    })
}
