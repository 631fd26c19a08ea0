//! `geno history --env ENV`: the promotions and rollbacks on record for an
//! environment, newest first.

use super::deploy::{Target, short_id};
use crate::cli::Config;
use crate::deploy::record::{self, Kind, Outcome};

pub fn history(config: &Config, env: &str) -> anyhow::Result<i32> {
    let target = Target::open(config, env, None)?;
    let records = record::load_all(&target.records_dir())?;
    if config.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
        return Ok(0);
    }
    if records.is_empty() {
        eprintln!(
            "no promotions to `{env}` on record (kept in {})",
            target.records_dir().display()
        );
        return Ok(0);
    }
    let current = record::current(&records).map(|r| r.id.clone());
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
        };
        let kind = match (&r.kind, &r.restores) {
            (Kind::Promote, _) if r.forced => "promote (forced)".to_string(),
            (Kind::Promote, _) => "promote".to_string(),
            (Kind::Rollback, Some(to)) => format!("rollback to {to}"),
            (Kind::Rollback, None) => "rollback".to_string(),
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
            short_id(&r.image_id).to_string(),
            short_id(&r.manifest_digest).to_string(),
            r.services
                .iter()
                .filter(|s| s.before != s.after)
                .count()
                .to_string(),
            r.git_revision.clone().unwrap_or_default(),
        ]);
    }
    super::table::write(&mut std::io::stdout(), &rows)?;
    for r in records.iter().rev().take(1) {
        if let Outcome::RolledBack { reason } | Outcome::Failed { reason } = &r.outcome {
            eprintln!("latest ({}): {reason}", r.id);
        }
    }
    Ok(0)
}
