//! `geno logs`: every container's output, one line at a time, prefixed with
//! its container name in a colour of its own; with `--env`, the deployed
//! tasks' CloudWatch Logs (`env`).

pub mod env;

use super::{OnInterrupt, Place, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::host::LocalStack;
use crate::host::logs::stream;
use crate::stack::Dur;

/// The arguments of `geno logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services to show, each with its sidecars, or `SERVICE/SIDECAR` for
    /// one sidecar (default: all).
    pub services: Vec<String>,
    /// Keep following new output.
    #[arg(short, long)]
    pub follow: bool,
    /// Only output since then: `10m` ago, a UNIX time or an RFC 3339 time
    /// (with --env, default 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Lines from the end of each container's log (default: all); with
    /// --env, the last N events.
    #[arg(long, short = 'n')]
    pub tail: Option<String>,
    /// Only lines that contain this text.
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
    /// A deployed environment instead of the local stack.
    #[arg(long)]
    pub env: Option<String>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno logs")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let place = Place::of(self.env.as_deref());
        let opts = LogsOptions {
            services: self.services,
            follow: self.follow,
            since: self.since,
            tail: self.tail,
            grep: self.grep,
        };
        match place {
            Place::Deployed(env) => on_env(ctx, env, opts).await,
            Place::Local => logs(ctx, opts).await,
        }
    }
}

pub struct LogsOptions {
    pub services: Vec<String>,
    pub follow: bool,
    pub since: Option<String>,
    pub tail: Option<String>,
    pub grep: Option<String>,
}

pub async fn logs(ctx: &Context, opts: LogsOptions) -> CliResult {
    let local = LocalStack::open(ctx).await?;
    for s in &opts.services {
        local.check_container(s)?;
    }
    let since = match &opts.since {
        None => 0,
        Some(text) => since_epoch(text)?,
    };
    stream(
        ctx,
        &local,
        &opts.services,
        opts.follow,
        since,
        opts.tail.clone(),
        opts.grep.clone(),
    )
    .await?;
    Ok(())
}

/// `--env`: the same options read against CloudWatch Logs.
pub async fn on_env(ctx: &Context, env: &str, opts: LogsOptions) -> CliResult {
    let since = match &opts.since {
        None => None,
        Some(text) => Some(i64::from(since_epoch(text)?)),
    };
    let tail =
        match opts.tail.as_deref() {
            None | Some("all") => None,
            Some(n) => Some(n.parse::<usize>().map_err(|_| {
                anyhow::anyhow!("--tail takes a number of lines or `all`, not `{n}`")
            })?),
        };
    env::logs(
        ctx,
        env::EnvLogsOptions {
            env: env.to_string(),
            services: opts.services,
            follow: opts.follow,
            since,
            tail,
            grep: opts.grep,
        },
    )
    .await
}

/// `10m` (ago) or a UNIX timestamp.
fn since_epoch(text: &str) -> anyhow::Result<i32> {
    if let Some(d) = Dur::parse(text).filter(|_| !text.chars().all(|c| c.is_ascii_digit())) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return Ok(now.saturating_sub(d.0).as_secs() as i32);
    }
    if let Ok(ts) = text.parse::<i32>() {
        return Ok(ts);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        let secs = t
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        return Ok(secs as i32);
    }
    anyhow::bail!("--since takes a duration (`10m`), a UNIX time or an RFC 3339 time, not `{text}`")
}
