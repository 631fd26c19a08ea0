//! `geno diff --env ENV`: what `geno promote` would change — each service's
//! rendered task definition against the live one, field by field, and its
//! desired count.

use std::io::Write;

use super::deploy::{Target, chosen_image, current_job, short_id};
use crate::aws::Aws;
use crate::cli::Config;
use crate::deploy::record;
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::{Change, diff};
use crate::docker::Engine;
use crate::render::ecs::ImageChoice;

pub struct DiffOptions {
    pub env: String,
    pub image: Option<String>,
    pub registry: Option<String>,
    pub exit_code: bool,
}

pub fn run(config: &Config, opts: DiffOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let target = Target::open(config, &opts.env, opts.registry.as_deref())?;
        let engine = Engine::connect().await?;
        let image_id = chosen_image(&engine, &target, opts.image.as_deref()).await?;
        let aws = Aws::connect(&target.aws.region).await;
        let changes = print(&target, &aws, &image_id, &mut std::io::stdout()).await?;
        Ok(if opts.exit_code && changes > 0 { 1 } else { 0 })
    })
}

/// Prints what promoting `image_id` would change; returns how many changes.
pub async fn print(
    target: &Target,
    aws: &Aws,
    image_id: &str,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let env = target.env();
    let records = record::load_all(&target.records_dir())?;
    // The digest is known once the image has been pushed for this
    // environment; before that the image line says what will happen.
    let pushed = record::digest_of(&records, image_id).map(|r| r.manifest_digest.clone());
    let choice = match &pushed {
        Some(d) => ImageChoice::Digest(d.clone()),
        None => ImageChoice::Unpinned,
    };
    let plans = target.plans(&choice)?;
    let names: Vec<String> = plans
        .services
        .iter()
        .map(|p| p.update.service.clone())
        .collect();
    let (live, missing) = aws.services(&target.aws.cluster, &names).await?;
    if !missing.is_empty() {
        anyhow::bail!(
            "not in cluster {}: {}; create the environment (infra/) first",
            target.aws.cluster,
            missing.join(", ")
        );
    }
    let mut changes_total = 0;
    let unpushed = |changes: &mut Vec<Change>| {
        if pushed.is_none() {
            for c in changes.iter_mut() {
                if c.path.ends_with(".image") {
                    c.rendered = Some(format!(
                        "image {} (not yet pushed to `{}`; promote pins its digest)",
                        short_id(image_id),
                        env
                    ));
                }
            }
        }
    };
    for plan in &plans.services {
        let Some(service) = live.iter().find(|s| s.name == plan.update.service) else {
            continue;
        };
        let live_td = aws.task_definition(&service.task_definition).await?;
        let mut changes = diff(&live_td, &plan.task_definition);
        unpushed(&mut changes);
        if let Some(d) = plan.update.desired_count
            && d != service.desired
        {
            changes.push(Change {
                path: "desiredCount".into(),
                live: Some(service.desired.to_string()),
                rendered: Some(d.to_string()),
            });
        }
        changes_total += changes.len();
        let what = format!("{} ({})", plan.name, plan.update.service);
        let on = short_arn(&service.task_definition);
        write_changes(
            out,
            &what,
            &changes,
            &format!("on {on}"),
            &format!("from {on}"),
        )?;
    }
    let current = record::current(&records);
    for job in &plans.jobs {
        let what = format!(
            "{} (one-off task before {})",
            job.name,
            job.runs_before.join(", ")
        );
        match current_job(aws, current, job).await? {
            None => {
                changes_total += 1;
                writeln!(
                    out,
                    "{what}: not run yet; promote registers {} and runs it",
                    job.task_definition.family
                )?;
            }
            Some((arn, live)) => {
                let mut changes = diff(&live, &job.task_definition);
                unpushed(&mut changes);
                changes_total += changes.len();
                let on = short_arn(&arn);
                write_changes(
                    out,
                    &what,
                    &changes,
                    &format!("last run on {on}"),
                    &format!("from {on}; promote runs it"),
                )?;
            }
        }
    }
    Ok(changes_total)
}

/// `WHAT: no changes, SAME` or `WHAT: N changes FROM` and one line each.
fn write_changes(
    out: &mut dyn Write,
    what: &str,
    changes: &[Change],
    same: &str,
    from: &str,
) -> std::io::Result<()> {
    if changes.is_empty() {
        return writeln!(out, "{what}: no changes, {same}");
    }
    let n = changes.len();
    writeln!(
        out,
        "{what}: {n} change{} {from}",
        if n == 1 { "" } else { "s" }
    )?;
    for c in changes {
        writeln!(out, "  {c}")?;
    }
    Ok(())
}
