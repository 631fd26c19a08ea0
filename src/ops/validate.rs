//! `geno validate`: load the stack for every environment and report.

use serde_json::json;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::stack::{LoadError, validate_all};

/// The arguments of `geno validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        validate(ctx).await
    }
}

pub async fn validate(ctx: &Context) -> CliResult {
    let file = &ctx.settings.file;
    let shell = &ctx.shell;
    match validate_all(file, &ctx.settings.load_options("local")) {
        Ok(loaded) => {
            let stack = &loaded[0].stack;
            let envs: Vec<&str> = loaded.iter().map(|l| l.env.as_str()).collect();
            let ecs: Vec<&str> = stack
                .services
                .iter()
                .filter(|(_, s)| s.ecs.is_some())
                .map(|(n, _)| n.as_str())
                .collect();
            if shell.json() {
                shell.print_json(&json!({
                    "valid": true,
                    "file": file.display().to_string(),
                    "stack": stack.name,
                    "services": stack.services.keys().collect::<Vec<_>>(),
                    "ecsServices": ecs,
                    "environments": envs,
                }))?;
            } else {
                shell.out_line(format!(
                    "{} is valid: stack `{}`, {} services ({} on ECS: {}), environments {}",
                    file.display(),
                    stack.name,
                    stack.services.len(),
                    ecs.len(),
                    ecs.join(", "),
                    envs.join(", ")
                ))?;
                if let Some(note) = crate::render::fidelity::local_only_note(stack) {
                    shell.note(note);
                }
            }
            Ok(())
        }
        Err(LoadError::Invalid(invalid)) if shell.json() => {
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
            shell.print_json(&json!({ "valid": false, "file": invalid.file, "errors": errors }))?;
            Err(CliError::code(1))
        }
        Err(e) => Err(anyhow::Error::from(e).context("validation stopped").into()),
    }
}
