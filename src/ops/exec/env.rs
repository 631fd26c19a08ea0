//! `geno exec --env ENV SERVICE [--task ID] -- CMD…`: ECS Exec into a
//! running task of the service (the newest, or the one named by a prefix
//! of its ID), through AWS's session-manager-plugin.

use crate::context::Context;
use crate::deploy::live::{exec_blocker, short_task};
use crate::environment::deployed::{Deployed, main_container};
use crate::environment::exec::exec;
use crate::error::{CliError, CliResult};

pub struct EnvExecOptions {
    pub env: String,
    pub service: String,
    pub task: Option<String>,
    pub command: Vec<String>,
}

pub async fn run(ctx: &Context, opts: EnvExecOptions) -> CliResult {
    // Checked before any AWS call: nothing is opened that cannot be used.
    crate::environment::exec::plugin().map_err(|e| anyhow::anyhow!(e))?;
    let d = Deployed::open(ctx, &opts.env).await?;
    let plan = d.service(&opts.service)?;
    let container = main_container(&plan.task_definition).to_string();
    let tasks = d
        .aws
        .service_tasks(d.cluster(), &plan.update.service)
        .await?;
    let task = match &opts.task {
        Some(prefix) => {
            let matching: Vec<_> = tasks
                .iter()
                .filter(|t| t.id().starts_with(prefix.as_str()))
                .collect();
            match matching.as_slice() {
                [one] => *one,
                [] => {
                    return Err(anyhow::anyhow!(
                        "no running task of {} starts with `{prefix}`; its tasks are: {}",
                        plan.update.service,
                        list(&tasks)
                    )
                    .into());
                }
                _ => {
                    return Err(anyhow::anyhow!(
                        "`{prefix}` names {} tasks of {}; give more of the ID",
                        matching.len(),
                        plan.update.service
                    )
                    .into());
                }
            }
        }
        None => tasks
            .iter()
            .find(|t| t.last_status == "RUNNING")
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has no running task in cluster {} (`geno ps --env {}` shows why)",
                    plan.update.service,
                    d.cluster(),
                    opts.env
                )
            })?,
    };
    if let Some(why) = exec_blocker(task, &container) {
        return Err(anyhow::anyhow!("cannot exec into {}: {why}", opts.service).into());
    }
    ctx.shell.verbose_status(format!(
        "exec into task {} ({container}) of {}",
        short_task(task.id()),
        plan.update.service
    ));
    let ended = exec(d.aws, d.cluster(), task, &container, &opts.command, false).await?;
    CliError::exit(ended.code)
}

fn list(tasks: &[crate::deploy::live::Task]) -> String {
    if tasks.is_empty() {
        return "none".into();
    }
    tasks
        .iter()
        .map(|t| format!("{} ({})", short_task(t.id()), t.last_status))
        .collect::<Vec<_>>()
        .join(", ")
}
