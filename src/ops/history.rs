//! `geno history --env ENV`: the promotions, rollbacks and scales on record
//! for an environment, newest first, and its last smoke run.

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::deploy::record::{self, Kind, Outcome};
use crate::environment::{Environment, short_id};
use crate::error::CliResult;

/// The arguments of `geno history`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub env: String,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        history(ctx, &self.env).await
    }
}

pub async fn history(ctx: &Context, env: &str) -> CliResult {
    let shell = &ctx.shell;
    let target = Environment::open(ctx, env, None)?;
    let records = crate::state::records::load_all(&target.records_dir())?;
    if shell.json() {
        shell.print_json(&records)?;
        return Ok(());
    }
    if records.is_empty() {
        shell.status(format!(
            "no promotions to `{env}` on record (kept in {})",
            target.records_dir().display()
        ));
    } else {
        table(shell, &records)?;
    }
    if let Some(run) = crate::state::records::latest_smoke(&target.records_dir()) {
        let steps = run["report"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let count = |o: &str| steps.iter().filter(|s| s["outcome"] == o).count();
        shell.status(format!(
            "last smoke run against `{env}`: {} at {} ({} passed, {} failed, {} skipped)",
            if run["report"]["passed"] == true {
                "passed"
            } else {
                "FAILED"
            },
            run["finishedAt"].as_str().unwrap_or("?"),
            count("passed"),
            count("failed"),
            count("skipped"),
        ));
    }
    Ok(())
}

/// The records, newest first, and what the latest one ended with.
fn table(shell: &crate::shell::Shell, records: &[record::Record]) -> CliResult {
    let current = record::current(records).map(|r| r.id.clone());
    let mut rows = vec![[
        String::new(),
        "ID".into(),
        "KIND".into(),
        "RESULT".into(),
        "IMAGE".into(),
        "DIGEST".into(),
        "CHANGED".into(),
        "GIT".into(),
    ]];
    for r in records.iter().rev() {
        let result = match &r.outcome {
            Outcome::Succeeded => "succeeded".to_string(),
            Outcome::RolledBack { .. } => "rolled back".to_string(),
            Outcome::Failed { .. } => "FAILED".to_string(),
            Outcome::InProgress { phase, pid } if crate::environment::change::alive(*pid) => {
                format!("under way ({phase})")
            }
            Outcome::InProgress { phase, .. } => format!("INTERRUPTED at {phase}"),
        };
        let kind = match (&r.kind, &r.restores) {
            (Kind::Promote, _) if r.forced => "promote (forced)".to_string(),
            (Kind::Promote, _) => "promote".to_string(),
            (Kind::Rollback, Some(to)) => format!("rollback to {to}"),
            (Kind::Rollback, None) => "rollback".to_string(),
            (Kind::Restart, _) => format!(
                "restart {}",
                r.services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (Kind::Scale, _) => format!(
                "scale {}",
                r.counts
                    .iter()
                    .map(|c| format!("{} {}→{}", c.name, c.before, c.after))
                    .chain(r.ranges.iter().map(|c| format!(
                        "{} {}–{}→{}–{}",
                        c.name, c.before.0, c.before.1, c.after.0, c.after.1
                    )))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        rows.push([
            if current.as_ref() == Some(&r.id) {
                "*".into()
            } else {
                String::new()
            },
            r.id.clone(),
            kind,
            result,
            r.carried()
                .iter()
                .map(|(_, id, _)| short_id(id))
                .collect::<Vec<_>>()
                .join(","),
            r.carried()
                .iter()
                .map(|(_, _, d)| short_id(d))
                .collect::<Vec<_>>()
                .join(","),
            if r.kind == Kind::Restart {
                r.services.len().to_string()
            } else {
                (r.services.iter().filter(|s| s.before != s.after).count()
                    + r.counts.iter().filter(|c| c.before != c.after).count()
                    + r.ranges.iter().filter(|c| c.before != c.after).count())
                .to_string()
            },
            r.git_revision.clone().unwrap_or_default(),
        ]);
    }
    shell.table(&rows)?;
    for r in records.iter().rev().take(1) {
        if let Outcome::RolledBack { reason } | Outcome::Failed { reason } = &r.outcome {
            shell.status(format!("latest ({}): {reason}", r.id));
        }
    }
    Ok(())
}
