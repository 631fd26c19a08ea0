//! What `geno promote` would change: each service's rendered task
//! definition against the live one, field by field, its desired count, and
//! each job against what it last ran with.

use super::jobs::current_job;
use super::{Environment, short_id};
use crate::aws::Aws;
use crate::deploy::record;
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::{Change, diff};
use crate::render::ecs::ImageChoice;
use crate::shell::Shell;

/// The image a diff is for.
pub enum DiffImage {
    /// A local image (its ID), pinned by the digest it was pushed as here.
    Built(String),
    /// A digest or digest reference given as is (`--image sha256:…`).
    Pinned(ImageChoice),
}

/// Prints what promoting `image` would change; returns how many changes.
pub async fn print(
    target: &Environment,
    aws: &Aws,
    image: &DiffImage,
    shell: &Shell,
) -> anyhow::Result<usize> {
    let env = target.name();
    let records = record::load_all(&target.records_dir())?;
    // The digest is known once the image has been pushed for this
    // environment; before that the image line says what will happen.
    let (choice, image_id, pushed) = match image {
        DiffImage::Built(id) => {
            let pushed = record::digest_of(&records, id).map(|r| r.manifest_digest.clone());
            let choice = match &pushed {
                Some(d) => ImageChoice::Digest(d.clone()),
                None => ImageChoice::Unpinned,
            };
            (choice, id.as_str(), pushed.is_some())
        }
        DiffImage::Pinned(c) => (c.clone(), "", true),
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
        if !pushed {
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
            shell,
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
                shell.out_line(format!(
                    "{what}: not run yet; promote registers {} and runs it",
                    job.task_definition.family
                ))?;
            }
            Some((arn, live)) => {
                let mut changes = diff(&live, &job.task_definition);
                unpushed(&mut changes);
                changes_total += changes.len();
                let on = short_arn(&arn);
                write_changes(
                    shell,
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
    shell: &Shell,
    what: &str,
    changes: &[Change],
    same: &str,
    from: &str,
) -> std::io::Result<()> {
    if changes.is_empty() {
        return shell.out_line(format!("{what}: no changes, {same}"));
    }
    let n = changes.len();
    shell.out_line(format!(
        "{what}: {n} change{} {from}",
        if n == 1 { "" } else { "s" }
    ))?;
    for c in changes {
        shell.out_line(format!("  {c}"))?;
    }
    Ok(())
}
