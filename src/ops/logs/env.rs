//! `geno logs --env ENV [SERVICE…]`: CloudWatch Logs of the services' and
//! jobs' tasks, from the log groups and stream prefixes stack.yaml renders,
//! interleaved by time, each line prefixed with its service and task in the
//! colours `geno logs` uses locally; `-f` polls on from the newest event,
//! and a task that replaces another is followed because its stream shares
//! the service's prefix.

use std::time::Duration;

use crate::context::Context;
use crate::deploy::live::short_task;
use crate::deploy::logs::{Cursor, LogEvent, parse_stream, select, tail};
use crate::environment::deployed::Deployed;
use crate::error::CliResult;
use crate::host::logs::prefix;
use crate::wait;

/// How often `-f` asks CloudWatch for new events (FilterLogEvents allows
/// a handful of calls a second per account).
const POLL: Duration = Duration::from_secs(2);

/// Calls in a row that may fail while following before `-f` gives up.
const FOLLOW_FAILURES: u32 = 5;

/// How far back to start when neither `--since` nor `--tail` says (as
/// `aws logs tail` does).
const DEFAULT_SINCE: Duration = Duration::from_secs(600);

pub struct EnvLogsOptions {
    pub env: String,
    pub services: Vec<String>,
    pub follow: bool,
    /// UNIX seconds.
    pub since: Option<i64>,
    pub tail: Option<usize>,
    pub grep: Option<String>,
}

pub async fn logs(ctx: &Context, opts: EnvLogsOptions) -> CliResult {
    let d = Deployed::open(ctx, &opts.env).await?;
    let sources = d.log_sources(&opts.services)?;
    let keys: Vec<String> = sources.iter().map(|s| s.key.clone()).collect();
    let names: Vec<(String, String)> = sources
        .iter()
        .map(|s| (s.key.clone(), s.name.to_string()))
        .collect();
    let now_ms = now_ms();
    let start = match opts.since {
        Some(s) => s * 1000,
        None if opts.tail.is_some() => 0,
        None => now_ms - DEFAULT_SINCE.as_millis() as i64,
    };
    // One query per log group (services may each have their own). One
    // service in a group: CloudWatch narrows to its streams. Several: one
    // query, sorted out here.
    let mut groups: Vec<(String, Option<String>)> = Vec::new();
    for s in &sources {
        match groups.iter_mut().find(|(g, _)| *g == s.group) {
            Some((_, narrow)) => *narrow = None,
            None => groups.push((s.group.clone(), Some(format!("{}/", s.key)))),
        }
    }
    // A quoted term matches the text exactly in CloudWatch; text with a
    // quote in it is matched here only.
    let pattern = opts
        .grep
        .as_deref()
        .filter(|g| !g.contains('"'))
        .map(|g| format!("\"{g}\""));
    let fetch = async |from: i64| -> anyhow::Result<Vec<LogEvent>> {
        let mut all = Vec::new();
        for (group, narrow) in &groups {
            let (events, more) = d
                .aws
                .log_events(group, from, narrow.as_deref(), pattern.as_deref())
                .await?;
            if more {
                ctx.shell.warn(format!(
                    "more than {} pages of events in {group} since then; showing the first (narrow with --since or a service)",
                    crate::aws::LOG_PAGES
                ));
            }
            all.extend(events);
        }
        Ok(select(all, &keys, opts.grep.as_deref()))
    };
    let printer = Printer::new(ctx, &names);
    let mut first = fetch(start).await?;
    if let Some(n) = opts.tail {
        first = tail(first, n);
    }
    let mut cursor = Cursor::starting_at(start);
    for e in cursor.fresh(first) {
        if !printer.print(&e)? {
            return Ok(());
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let mut ticks = wait::every(POLL, &ctx.cancel);
    // The first tick comes at once; the first poll was the query above.
    ticks.next().await;
    let mut failures = 0;
    while ticks.next().await {
        let events = match fetch(cursor.query_from()).await {
            Ok(events) => {
                failures = 0;
                events
            }
            // A throttled or dropped call: say so once, keep following.
            Err(e) if failures < FOLLOW_FAILURES => {
                failures += 1;
                if failures == 1 {
                    ctx.shell.warn(format!("{e}; trying again"));
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for e in cursor.fresh(events) {
            if !printer.print(&e)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// Prints events with a prefix per service and task.
struct Printer<'a> {
    ctx: &'a Context,
    /// (stream key `PREFIX/CONTAINER`, service name), in stack order: the
    /// colour's index.
    names: &'a [(String, String)],
    width: usize,
    colour: bool,
}

impl<'a> Printer<'a> {
    fn new(ctx: &'a Context, names: &'a [(String, String)]) -> Printer<'a> {
        Printer {
            ctx,
            names,
            // `service/task8`
            width: names.iter().map(|(_, n)| n.len() + 9).max().unwrap_or(0),
            colour: ctx.shell.colour_stdout(),
        }
    }

    /// False once stdout is closed (`| head`).
    fn print(&self, e: &LogEvent) -> anyhow::Result<bool> {
        let Some(stream) = parse_stream(&e.stream) else {
            return Ok(true);
        };
        let key = stream.key();
        let (i, name) = self
            .names
            .iter()
            .enumerate()
            .find(|(_, (k, _))| *k == key)
            .map(|(i, (_, n))| (i, n.as_str()))
            .unwrap_or((0, stream.prefix));
        let task = short_task(stream.task);
        if self.ctx.shell.json() {
            let line = serde_json::json!({
                "timestamp": e.timestamp,
                "service": name,
                "container": stream.container,
                "task": stream.task,
                "message": e.message,
            });
            return Ok(self.ctx.shell.out_line(line).is_ok());
        }
        let prefix = prefix(&format!("{name}/{task}"), self.width, i, self.colour);
        let message = e.message.trim_end_matches(['\n', '\r']);
        Ok(self
            .ctx
            .shell
            .out_line(format!("{prefix}{message}"))
            .is_ok())
    }
}
