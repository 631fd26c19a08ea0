//! `geno scale --env ENV SERVICE=N…`: desired counts set, watched until
//! every service is stable as a promotion is, put back if that fails, and
//! recorded in the environment's history. stack.yaml's `desired_count`
//! stays what the next promotion applies, and the command says so.

use std::collections::BTreeSet;

use crate::context::Context;
use crate::deploy::record::{CountRecord, Kind, Outcome, Record};
use crate::deploy::taskdef::ServiceUpdate;
use crate::environment::change::{checkpoint, conclude};
use crate::environment::deployed::Deployed;
use crate::environment::rollout::{Watch, watch_until_done};
use crate::error::CliResult;
use crate::stack::validate::LOCAL_ENV;

pub struct ScaleOptions {
    pub env: String,
    /// `SERVICE=N` each.
    pub counts: Vec<String>,
    pub watch: Watch,
}

/// Most tasks one service may be scaled to here: a typo (`api=30`) is
/// cheap to catch, and ECS allows more by quota, not by this.
const MOST: i32 = 1000;

pub async fn scale(ctx: &Context, opts: ScaleOptions) -> CliResult {
    let shell = &ctx.shell;
    if opts.env == LOCAL_ENV {
        return Err(anyhow::anyhow!(
            "`geno scale` acts on a deployed environment; locally, set `replicas:` in stack.yaml and run `geno up`"
        )
        .into());
    }
    let wanted = parse(&opts.counts)?;
    let d = Deployed::open(ctx, &opts.env).await?;
    let mut plans = Vec::new();
    for (name, n) in &wanted {
        plans.push((d.service(name)?, *n));
    }
    let names: Vec<String> = plans
        .iter()
        .map(|(p, _)| p.update.service.clone())
        .collect();
    let (live, missing) = d.aws.services(d.cluster(), &names).await?;
    if let Some(m) = missing.first() {
        return Err(anyhow::anyhow!(
            "ECS service {m} does not exist in cluster {}; `geno promote --env {}` deploys it first",
            d.cluster(),
            opts.env
        )
        .into());
    }
    let mut record = Record::begin(Kind::Scale, d.env.stack_name(), d.env.name(), d.cluster());
    let mut updates = Vec::new();
    for (plan, n) in &plans {
        let s = live
            .iter()
            .find(|s| s.name == plan.update.service)
            .expect("described above");
        record.counts.push(CountRecord {
            name: plan.name.clone(),
            ecs_service: s.name.clone(),
            before: s.desired,
            after: *n,
        });
        updates.push(ServiceUpdate {
            desired_count: Some(*n),
            ..ServiceUpdate::task_definition_only(d.cluster(), &s.name, &s.task_definition)
        });
    }
    // Events from before are history, not news.
    let mut seen: BTreeSet<String> = live
        .iter()
        .flat_map(|s| s.events.iter().map(|e| e.id.clone()))
        .collect();
    shell.status(format!("scaling in {}:", opts.env));
    checkpoint(shell, &d.env.records_dir(), &mut record, "rollout");
    record.outcome = Outcome::Succeeded;
    let mut sent = Vec::new();
    let mut result = Ok(());
    for (u, c) in updates.iter().zip(&record.counts) {
        if let Err(e) = d
            .aws
            .set_desired_count(d.cluster(), &u.service, c.after)
            .await
        {
            result = Err(format!("updating {}: {e}", c.name));
            break;
        }
        shell.status(format!("  {}: desired {} → {}", c.name, c.before, c.after));
        sent.push(u.clone());
    }
    if result.is_ok() {
        result = watch_until_done(
            d.aws,
            d.cluster(),
            &sent,
            opts.watch,
            &ctx.cancel,
            &mut seen,
            shell,
        )
        .await
        .map_err(|e| e.to_string());
    }
    if let Err(reason) = result {
        record.outcome = put_back(
            &d,
            &record.counts[..sent.len()],
            &updates,
            opts.watch,
            &reason,
            ctx,
        )
        .await;
    }
    let defaults: Vec<String> = plans
        .iter()
        .filter_map(|(p, n)| {
            let default = p.update.desired_count?;
            (default != *n).then(|| format!("{} {default}", p.name))
        })
        .collect();
    let env = opts.env.clone();
    conclude(
        shell,
        &d.env.records_dir(),
        record,
        |r, _| {
            let mut s = format!("scaled: {} ({})", counts(r), r.id);
            if !defaults.is_empty() {
                s.push_str(&format!(
                    "\nstack.yaml keeps desired_count {} for `{env}`: the next `geno promote --env {env}` applies that again (change stack.yaml to keep this scale)",
                    defaults.join(", ")
                ));
            }
            s
        },
        |rolled_back, reason| {
            if rolled_back {
                format!("scaling failed and every count was put back: {reason}")
            } else {
                format!("scaling failed: {reason}")
            }
        },
    )?;
    Ok(())
}

/// `api=3` → (`api`, 3), each once.
fn parse(items: &[String]) -> anyhow::Result<Vec<(String, i32)>> {
    if items.is_empty() {
        anyhow::bail!("name the services to scale: `geno scale --env ENV api=3 celery=2`");
    }
    let mut out: Vec<(String, i32)> = Vec::new();
    for item in items {
        let Some((name, n)) = item.split_once('=') else {
            anyhow::bail!("expected SERVICE=COUNT like `api=3`, found `{item}`");
        };
        let n: i32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (0..=MOST).contains(n))
            .ok_or_else(|| {
                anyhow::anyhow!("the count in `{item}` must be a whole number from 0 to {MOST}")
            })?;
        if out.iter().any(|(s, _)| s == name) {
            anyhow::bail!("`{name}` is named twice");
        }
        out.push((name.trim().to_string(), n));
    }
    Ok(out)
}

fn counts(r: &Record) -> String {
    r.counts
        .iter()
        .map(|c| format!("{} {} → {}", c.name, c.before, c.after))
        .collect::<Vec<_>>()
        .join(", ")
}

/// After a failure: every count sent goes back, watched; not interrupted by
/// Ctrl-C (a half-scaled environment is the worse outcome).
async fn put_back(
    d: &Deployed<'_>,
    sent: &[CountRecord],
    updates: &[ServiceUpdate],
    watch: Watch,
    reason: &str,
    ctx: &Context,
) -> Outcome {
    let shell = &ctx.shell;
    shell.status(format!("scaling failed: {reason}"));
    if sent.is_empty() {
        return Outcome::Failed {
            reason: reason.to_string(),
        };
    }
    shell.status(format!("putting back {} count(s):", sent.len()));
    let mut back = Vec::new();
    for (c, u) in sent.iter().zip(updates) {
        if let Err(e) = d
            .aws
            .set_desired_count(d.cluster(), &c.ecs_service, c.before)
            .await
        {
            return Outcome::Failed {
                reason: format!("{reason}; putting {} back failed too: {e}", c.name),
            };
        }
        shell.status(format!("  {}: desired {} → {}", c.name, c.after, c.before));
        back.push(ServiceUpdate {
            desired_count: Some(c.before),
            ..u.clone()
        });
    }
    let restored = watch_until_done(
        d.aws,
        d.cluster(),
        &back,
        watch,
        &tokio_util::sync::CancellationToken::new(),
        &mut BTreeSet::new(),
        shell,
    )
    .await;
    crate::environment::rollout::failed_outcome(reason, restored)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn counts_are_service_equals_a_whole_number() {
        assert_eq!(
            parse(&["api=3".into(), "celery=0".into()]).unwrap(),
            [("api".to_string(), 3), ("celery".to_string(), 0)]
        );
        let err = |items: &[&str]| {
            parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&["api"]),
            "expected SERVICE=COUNT like `api=3`, found `api`"
        );
        assert_eq!(
            err(&["api=-1"]),
            "the count in `api=-1` must be a whole number from 0 to 1000"
        );
        assert_eq!(
            err(&["api=x"]),
            "the count in `api=x` must be a whole number from 0 to 1000"
        );
        assert_eq!(err(&["api=1", "api=2"]), "`api` is named twice");
        assert_eq!(
            err(&[]),
            "name the services to scale: `geno scale --env ENV api=3 celery=2`"
        );
    }
}
