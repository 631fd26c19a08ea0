//! `geno smoke`: the stack's smoke tests through its load balancer (local)
//! or a deployed environment: HTTP steps against its URL, `targets` steps
//! through the ALB's target health, `exec` steps through ECS Exec. A
//! verification record when they pass locally; a record of the run beside
//! the environment's promotions otherwise.

use std::path::PathBuf;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::deploy::record;
use crate::deploy::verification::Verification;
use crate::environment::deployed::Deployed;
use crate::error::{CliError, CliResult};
use crate::host::LocalStack;
use crate::proxy::daemon;
use crate::smoke::runner::{self, Place, Target};
use crate::smoke::{Report, junit};
use crate::stack::validate::LOCAL_ENV;

/// The arguments of `geno smoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment: `local` runs against this machine's stack; another
    /// runs the HTTP steps against its URL.
    #[arg(long, default_value = "local")]
    pub env: String,
    /// The load balancer URL of a deployed environment.
    #[arg(long)]
    pub url: Option<String>,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno smoke")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        smoke(
            ctx,
            SmokeOptions {
                env: self.env,
                url: self.url,
                junit: self.junit,
            },
        )
        .await
    }
}

pub struct SmokeOptions {
    pub env: String,
    pub url: Option<String>,
    pub junit: Option<PathBuf>,
}

pub async fn smoke(ctx: &Context, opts: SmokeOptions) -> CliResult {
    let report = if super::Place::of(Some(&opts.env)) == super::Place::Local && opts.url.is_none() {
        let local = LocalStack::open(ctx).await?;
        let report = against_local(ctx, &local).await?;
        finish(ctx, &opts, &report)?;
        if report.passed && !report.images.is_empty() {
            // A container into which files were synced no longer runs its
            // image: the run vouches for nothing that promote could ship.
            let members = local.engine.members(local.name()).await?;
            let drift = crate::host::sync::drift(&local, &members, true).await?;
            if drift.is_empty() {
                verify(ctx, &local, &report)?;
            } else {
                ctx.shell.warn(format!(
                    "not verified: {}; `geno up` rebuilds the image from them, then `geno smoke` can vouch for it",
                    crate::host::sync::describe(&drift)
                ));
            }
        }
        report
    } else {
        let loaded = ctx.load(&opts.env)?;
        let base = runner::environment_url(&loaded, opts.url.as_deref())?;
        let deployed = loaded
            .stack
            .environments
            .get(&opts.env)
            .is_some_and(|e| e.aws.is_some());
        if deployed {
            let d = Deployed::open(ctx, &opts.env).await?;
            let target = Target {
                stack: &loaded.stack,
                environment: &opts.env,
                base: Some(base),
                url_only: opts.url.is_some(),
                place: Place::Deployed(&d),
                images: Default::default(),
            };
            let started_at = record::now();
            let report = suite(ctx, &target).await?;
            finish(ctx, &opts, &report)?;
            let id = record::id_for(&started_at, &record::Kind::Promote);
            let path = crate::state::records::save_smoke(
                &d.env.records_dir(),
                &id,
                &serde_json::json!({
                    "id": id,
                    "startedAt": started_at,
                    "finishedAt": record::now(),
                    "report": report,
                }),
            )?;
            ctx.shell
                .verbose_status(format!("recorded in {}", path.display()));
            report
        } else {
            let target = Target {
                stack: &loaded.stack,
                environment: &opts.env,
                base: Some(base),
                url_only: true,
                place: Place::Url,
                images: Default::default(),
            };
            let report = suite(ctx, &target).await?;
            finish(ctx, &opts, &report)?;
            report
        }
    };
    if report.passed {
        Ok(())
    } else {
        Err(CliError::code(1))
    }
}

async fn against_local(ctx: &Context, local: &LocalStack) -> anyhow::Result<Report> {
    // A stack without a load balancer is tested at each service's port.
    let base = match local.stack().load_balancer {
        None => None,
        Some(_) => {
            let lb = daemon::running(&local.state_dir(), local.name())
                .await
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the load balancer of `{}` is not running; run `geno up` first",
                        local.name()
                    )
                })?;
            // Through the first HTTPS listener if there is one (HTTP often
            // only redirects to it), else the first.
            let listeners = local
                .stack()
                .load_balancer
                .as_ref()
                .map(|b| b.listeners.clone())
                .unwrap_or_default();
            let at = listeners
                .iter()
                .position(|l| l.protocol == crate::stack::ListenerProtocol::Https)
                .unwrap_or(0);
            let scheme = listeners.get(at).map_or("http", |l| l.protocol.scheme());
            Some(format!(
                "{scheme}://{}",
                lb.listeners.get(at).cloned().unwrap_or_default()
            ))
        }
    };
    let target = Target {
        stack: local.stack(),
        environment: LOCAL_ENV,
        base,
        url_only: false,
        place: Place::Local(local),
        images: runner::running_images(local).await?,
    };
    suite(ctx, &target).await
}

async fn suite(ctx: &Context, target: &Target<'_>) -> anyhow::Result<Report> {
    if target.stack.smoke.is_empty() {
        anyhow::bail!(
            "`{}` has no smoke tests (add a `smoke:` list to stack.yaml)",
            target.stack.name
        );
    }
    runner::run_suite(target, &ctx.cancel, &ctx.shell).await
}

/// The JUnit file, the JSON report, and the closing count.
fn finish(ctx: &Context, opts: &SmokeOptions, report: &Report) -> anyhow::Result<()> {
    if let Some(path) = &opts.junit {
        std::fs::write(path, junit(report))?;
    }
    if ctx.shell.json() {
        ctx.shell.print_json(report)?;
    }
    let (ok, failed, skipped) = runner::counts(report);
    ctx.shell.status(format!(
        "{ok} passed, {failed} failed, {skipped} skipped in {:.1}s",
        report.seconds
    ));
    Ok(())
}

/// The records `geno promote` looks for: one per image, each naming every
/// image the run covered.
fn verify(ctx: &Context, local: &LocalStack, report: &Report) -> anyhow::Result<()> {
    let stack = local.stack();
    let record = Verification {
        image_id: String::new(),
        images: report.images.clone(),
        definition_hash: crate::spec::definition_hash(&local.loaded.declared),
        stack: local.name().to_string(),
        environment: LOCAL_ENV.into(),
        passed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        geno_version: env!("CARGO_PKG_VERSION").into(),
        steps: report
            .steps
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
    };
    let (record, what) = if stack.pins_by_key() {
        let what = crate::environment::describe_images(stack, &record.images);
        (record, format!("images {what}"))
    } else {
        let id = record.images.values().next().cloned().unwrap_or_default();
        let what = format!("image {}", &id[..19.min(id.len())]);
        (
            Verification {
                image_id: id,
                images: Default::default(),
                ..record
            },
            what,
        )
    };
    let paths = crate::state::verifications::save(&local.state_dir(), &record)?;
    ctx.shell.status(format!(
        "verified: {what} passed; recorded in {}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}
