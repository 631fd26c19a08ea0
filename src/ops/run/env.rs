//! `geno run --env ENV SERVICE -- CMD…`: a one-off Fargate task from the
//! service's live task definition with its command replaced, in the
//! service's network configuration; its log stream printed as it comes
//! until the task stops; the exit code is the container's. Ctrl-C stops
//! the task. A live definition whose image no verified promotion put there
//! is refused unless `--force`.

use std::time::Duration;

use crate::context::Context;
use crate::deploy::live::{ImageStanding, short_task, standing, task_id};
use crate::deploy::logs::{Cursor, LogEvent};
use crate::deploy::rollout::short_arn;
use crate::deploy::taskdef::TaskDefinition;
use crate::environment::deployed::{Deployed, main_container};
use crate::error::{CliError, CliResult, INTERRUPTED};
use crate::ids::short_id;
use crate::wait::{self, Check, GaveUp, Poll};

/// How often the task and its log stream are looked at.
const POLL: Duration = Duration::from_secs(2);
/// After the task stopped, how long its last lines may take to arrive.
const LAST_LINES: Duration = Duration::from_secs(4);

pub struct EnvRunOptions {
    pub env: String,
    pub service: String,
    pub command: Vec<String>,
    pub force: bool,
}

pub async fn run(ctx: &Context, opts: EnvRunOptions) -> CliResult {
    let shell = &ctx.shell;
    if opts.command.is_empty() {
        return Err(anyhow::anyhow!(
            "`geno run --env` needs the command to run: `geno run --env {} {} -- CMD…`",
            opts.env,
            opts.service
        )
        .into());
    }
    let d = Deployed::open(ctx, &opts.env).await?;
    let live = live_definition(&d, &opts).await?;
    vouch(ctx, &d, &live, &opts)?;
    let task = d
        .aws
        .run_command(
            d.cluster(),
            &live.arn,
            &live.ecs_service,
            &live.container,
            &opts.command,
        )
        .await?;
    let id = task_id(&task).to_string();
    shell.status(format!(
        "started task {} ({}) in {}: {}",
        short_task(&id),
        short_arn(&live.arn),
        d.cluster(),
        shell_words::join(&opts.command)
    ));
    let (group, prefix) = d.log_place(&live.td, &opts.service);
    let stream = format!("{prefix}/{}/{id}", live.container);
    let stopped = follow(ctx, &d, &task, &group, &stream).await?;
    let container = &live.container;
    let main = stopped.containers.iter().find(|c| &c.name == container);
    match main.and_then(|c| c.exit_code) {
        Some(code) => {
            shell.verbose_status(format!("task {} exited with {code}", short_task(&id)));
            CliError::exit(code)
        }
        None => Err(anyhow::anyhow!(
            "task {} stopped before `{container}` ran: {}",
            short_task(&id),
            main.and_then(|c| c.reason.clone())
                .or(stopped.stopped_reason.clone())
                .unwrap_or_else(|| "no reason given".into())
        )
        .into()),
    }
}

/// The service's live task definition and its main container.
struct LiveDefinition {
    ecs_service: String,
    arn: String,
    td: TaskDefinition,
    container: String,
}

async fn live_definition(d: &Deployed<'_>, opts: &EnvRunOptions) -> CliResult<LiveDefinition> {
    let plan = d.service(&opts.service)?;
    let ecs_service = plan.update.service.clone();
    let (live, _) = d
        .aws
        .services(d.cluster(), std::slice::from_ref(&ecs_service))
        .await?;
    let Some(live) = live.first() else {
        return Err(anyhow::anyhow!(
            "ECS service {ecs_service} does not exist in cluster {}; `geno promote --env {}` deploys it first",
            d.cluster(),
            opts.env
        )
        .into());
    };
    let arn = live.task_definition.clone();
    let td = d.aws.task_definition(&arn).await?;
    let container = main_container(&td).to_string();
    Ok(LiveDefinition {
        ecs_service,
        arn,
        td,
        container,
    })
}

/// A live image that no verified promotion put there runs only with
/// `--force`, and loudly.
fn vouch(
    ctx: &Context,
    d: &Deployed<'_>,
    live: &LiveDefinition,
    opts: &EnvRunOptions,
) -> CliResult {
    let image = live
        .td
        .container_definitions
        .iter()
        .find(|c| c.name == live.container)
        .map(|c| c.image.clone())
        .unwrap_or_default();
    let arn = &live.arn;
    match standing(&d.records()?, &image) {
        ImageStanding::Verified { image_id, .. } => ctx.shell.verbose_status(format!(
            "{} runs verified image {}",
            short_arn(arn),
            short_id(&image_id)
        )),
        other if opts.force => ctx.shell.warn(format!(
            "running {} although {}",
            short_arn(arn),
            unverified(&other)
        )),
        other => {
            return Err(anyhow::anyhow!(
                "{} (the live task definition of {}) {}; `geno promote --env {}` a verified image, or --force to run it anyway",
                short_arn(arn),
                opts.service,
                unverified(&other),
                opts.env
            )
            .into());
        }
    }
    Ok(())
}

/// The task's log stream printed as it comes until the task stops, then
/// its last lines; Ctrl-C stops the task.
async fn follow(
    ctx: &Context,
    d: &Deployed<'_>,
    task: &str,
    group: &str,
    stream: &str,
) -> CliResult<crate::deploy::live::Task> {
    let shell = &ctx.shell;
    let id = task_id(task).to_string();
    let mut cursor = Cursor::starting_at(0);
    let print = |events: Vec<LogEvent>| {
        for e in events {
            let _ = shell.out_line(e.message.trim_end_matches(['\n', '\r']));
        }
    };
    let task_list = [task.to_string()];
    let outcome = wait::until(Poll::every(POLL), &ctx.cancel, async || {
        match stream_events(d, group, stream, &cursor).await {
            Ok(events) => print(cursor.fresh(events)),
            Err(e) => shell.verbose_status(format!("reading {stream}: {e}")),
        }
        match d.aws.tasks(d.cluster(), &task_list).await {
            Ok(t) => match t.into_iter().next() {
                Some(t) if t.last_status == "STOPPED" => Check::Ready(t),
                Some(_) => Check::NotYet,
                None => Check::Failed(anyhow::anyhow!(
                    "task {id} is no longer described by cluster {}",
                    d.cluster()
                )),
            },
            Err(e) => Check::Failed(e.into()),
        }
    })
    .await;
    let stopped = match outcome {
        Ok(t) => t,
        Err(GaveUp::Interrupted) => {
            d.aws
                .stop_task(d.cluster(), task, "interrupted by geno run")
                .await?;
            shell.status(format!("interrupted: stopped task {}", short_task(&id)));
            return Err(CliError::code(INTERRUPTED));
        }
        Err(GaveUp::Failed(e)) => return Err(e.into()),
        Err(GaveUp::TimedOut { .. }) => unreachable!("the poll has no deadline"),
    };
    // The last lines may be indexed after the task stopped.
    let deadline = tokio::time::Instant::now() + LAST_LINES;
    while tokio::time::Instant::now() < deadline {
        let fresh = cursor.fresh(
            stream_events(d, group, stream, &cursor)
                .await
                .unwrap_or_default(),
        );
        let quiet = fresh.is_empty();
        print(fresh);
        if quiet {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(stopped)
}

fn unverified(s: &ImageStanding) -> String {
    match s {
        ImageStanding::Verified { .. } => "runs a verified image".into(),
        ImageStanding::Forced { promotion } => format!(
            "runs an image promoted with --force ({promotion}), which no `geno smoke` vouched for"
        ),
        ImageStanding::Unknown => "runs an image that no promotion on record put there".into(),
    }
}

async fn stream_events(
    d: &Deployed<'_>,
    group: &str,
    stream: &str,
    cursor: &Cursor,
) -> anyhow::Result<Vec<LogEvent>> {
    let (mut events, _) = d
        .aws
        .log_events(group, cursor.query_from(), Some(stream), None)
        .await?;
    events.retain(|e| e.stream == stream);
    events.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    Ok(events)
}
