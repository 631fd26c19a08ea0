//! `geno validate`: load the stack for every environment and report.

use anyhow::Context;
use serde_json::json;

use crate::cli::Config;
use crate::stack::{LoadError, validate_all};

pub fn validate(config: &Config) -> anyhow::Result<i32> {
    let opts = config.load_options("local");
    match validate_all(&config.file, &opts) {
        Ok(loaded) => {
            let stack = &loaded[0].stack;
            let envs: Vec<&str> = loaded.iter().map(|l| l.env.as_str()).collect();
            let ecs: Vec<&str> = stack
                .services
                .iter()
                .filter(|(_, s)| s.ecs.is_some())
                .map(|(n, _)| n.as_str())
                .collect();
            if config.json {
                let out = json!({
                    "valid": true,
                    "file": config.file.display().to_string(),
                    "stack": stack.name,
                    "services": stack.services.keys().collect::<Vec<_>>(),
                    "ecsServices": ecs,
                    "environments": envs,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{} is valid: stack `{}`, {} services ({} on ECS: {}), environments {}",
                    config.file.display(),
                    stack.name,
                    stack.services.len(),
                    ecs.len(),
                    ecs.join(", "),
                    envs.join(", ")
                );
            }
            Ok(0)
        }
        Err(LoadError::Invalid(invalid)) if config.json => {
            let errors: Vec<_> = invalid
                .diagnostics
                .iter()
                .map(|d| {
                    json!({
                        "message": d.message,
                        "file": d.location.as_ref().map(|l| l.file.clone()),
                        "line": d.location.as_ref().map(|l| l.span.line),
                        "column": d.location.as_ref().map(|l| l.span.col),
                        "label": d.label,
                        "help": d.help,
                    })
                })
                .collect();
            let out = json!({ "valid": false, "file": invalid.file, "errors": errors });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(1)
        }
        Err(e) => Err(e).context("validation stopped"),
    }
}
