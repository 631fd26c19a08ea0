//! What `geno promote` would change: every resource of the kinds geno
//! owns (`kinds`: each service's task definition, field by field, and its
//! desired count; each job against what it last ran with), grouped by the
//! service or job it belongs to.

use super::kinds::{Observed, Observing, Owner, Subject, compare, observe};
use super::{Environment, short_id};
use crate::aws::Live;
use crate::deploy::record;
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::Change;
use crate::render::ecs::ImageChoice;
use crate::shell::Shell;

/// The image a diff is for.
pub enum DiffImage {
    /// Local images (their IDs by build), pinned by the digests they were
    /// pushed as here.
    Built(crate::spec::Images),
    /// A digest or digest reference given as is (`--image sha256:…`).
    Pinned(ImageChoice),
}

/// Prints what promoting `image` would change; returns how many changes.
pub async fn print<L: Live>(
    target: &Environment,
    live: &L,
    image: &DiffImage,
    shell: &Shell,
) -> anyhow::Result<usize> {
    let env = target.name();
    let records = crate::state::records::load_all(&target.records_dir())?;
    // The digest is known once the image has been pushed for this
    // environment; before that the image line says what will happen.
    let (choice, unpushed) = match image {
        DiffImage::Built(ids) => {
            let digests: crate::spec::Images = ids
                .iter()
                .filter_map(|(b, id)| Some((b.clone(), record::digest_of(&records, id)?)))
                .collect();
            let unpushed = ids
                .iter()
                .filter(|(b, _)| !digests.contains_key(*b))
                .map(|(b, id)| (b.clone(), id.clone()))
                .collect::<crate::spec::Images>();
            let choice = if !unpushed.is_empty() {
                ImageChoice::Unpinned
            } else if target.loaded.stack.pins_by_key() {
                ImageChoice::Digests(digests)
            } else {
                digests
                    .into_values()
                    .next()
                    .map(ImageChoice::Digest)
                    .unwrap_or(ImageChoice::Unpinned)
            };
            (choice, unpushed)
        }
        DiffImage::Pinned(c) => (c.clone(), Default::default()),
    };
    let mut plans = target.plans(&choice)?;
    super::resolve(live, &mut plans).await?;
    let cx = Observing::new(live, target, &plans, &records);
    match cx.services().await {
        Err(e) => anyhow::bail!("{e}"),
        Ok((_, missing)) if !missing.is_empty() => anyhow::bail!(
            "not in cluster {}: {}; create the environment (infra/) first",
            target.aws.cluster,
            missing.join(", ")
        ),
        Ok(_) => {}
    }
    let observed = compare(&cx, |_| true).await?;
    let mut changes_total = 0;
    for (subject, mut changes) in by_subject(observed) {
        if !unpushed.is_empty() {
            let build = match &subject {
                Subject::Service { name, .. } | Subject::Job { name, .. } => {
                    target.loaded.stack.build_of(name)
                }
                Subject::Environment => None,
            };
            let id = build.and_then(|b| unpushed.get(b));
            for c in changes.iter_mut().filter(|c| c.path.ends_with(".image")) {
                c.rendered = Some(match id {
                    Some(id) => format!(
                        "image {} (not yet pushed to `{env}`; promote pins its digest)",
                        short_id(id)
                    ),
                    None => "pinned by promote with the other images".to_string(),
                });
            }
        }
        match subject {
            Subject::Environment if changes.is_empty() => {}
            Subject::Environment => {
                changes_total += changes.len();
                write_changes(shell, "environment", &changes, "", "in CloudWatch")?;
            }
            Subject::Service {
                name,
                ecs_service,
                task_definition,
            } => {
                changes_total += changes.len();
                let on = short_arn(&task_definition);
                write_changes(
                    shell,
                    &format!("{name} ({ecs_service})"),
                    &changes,
                    &format!("on {on}"),
                    &format!("from {on}"),
                )?;
            }
            Subject::Job {
                name,
                runs_before,
                family,
                last_run,
            } => {
                let what = format!("{name} (one-off task before {})", runs_before.join(", "));
                match last_run {
                    None => {
                        changes_total += 1;
                        shell.out_line(format!(
                            "{what}: not run yet; promote registers {family} and runs it"
                        ))?;
                    }
                    Some(arn) => {
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
        }
    }
    Ok(changes_total)
}

/// Prints the problems of infra/'s kinds (what preflight would stop on:
/// a target group's health check changed by hand, a listener rule
/// removed…) for the environment rendered for `image`; returns how many.
pub async fn print_infra<L: Live>(
    target: &Environment,
    live: &L,
    image: &ImageChoice,
    shell: &Shell,
) -> anyhow::Result<usize> {
    let plans = target.plans(image)?;
    let cx = Observing::new(live, target, &plans, &[]);
    let problems: Vec<String> = observe(&cx, Owner::Infra)
        .await
        .into_iter()
        .flat_map(|o| o.problems)
        .collect();
    if problems.is_empty() {
        shell.out_line("infra/ (what preflight checks): as stack.yaml says")?;
    } else {
        shell.out_line(format!(
            "infra/ (what preflight checks): {} problem{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ))?;
        for p in &problems {
            shell.out_line(format!("  - {p}"))?;
        }
    }
    Ok(problems.len())
}

/// Each subject once, in the order first seen, with the changes of every
/// kind that observed it.
fn by_subject(observed: Vec<Observed>) -> Vec<(Subject, Vec<Change>)> {
    let mut out: Vec<(Subject, Vec<Change>)> = Vec::new();
    for o in observed {
        match out.iter_mut().find(|(s, _)| *s == o.subject) {
            Some((_, changes)) => changes.extend(o.changes),
            None => out.push((o.subject, o.changes)),
        }
    }
    out
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
