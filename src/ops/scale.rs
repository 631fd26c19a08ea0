//! `geno scale --env ENV SERVICE=N…`: desired counts set, watched until
//! every service is stable as a promotion is, put back if that fails, and
//! recorded in the environment's history. stack.yaml's `desired_count`
//! stays what the next promotion applies, and the command says so.
//!
//! A service that scales itself takes a range instead (`SERVICE=MIN..MAX`,
//! its scalable target's), never a count the scaler would override.

use super::{OnInterrupt, Place, Verb};
use crate::context::Context;
use crate::deploy::record::{CountRecord, Kind, RangeRecord, Record};
use crate::deploy::scaling::Step;
use crate::environment::change::{Change, Move};
use crate::environment::deployed::Deployed;
use crate::environment::rollout::Watch;
use crate::error::CliResult;

/// The arguments of `geno scale`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub env: String,
    /// `SERVICE=COUNT`, or `SERVICE=MIN..MAX` for a service that scales
    /// itself; one or more.
    #[arg(required = true, value_name = "SERVICE=COUNT|MIN..MAX")]
    pub counts: Vec<String>,
    #[command(flatten)]
    pub watch: super::WatchArgs,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Finish("geno scale")
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let opts = ScaleOptions {
            env: self.env,
            counts: self.counts,
            watch: self.watch.watch(),
        };
        scale(ctx, opts).await
    }
}

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
    if Place::of(Some(&opts.env)) == Place::Local {
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
    let mut moves = Vec::new();
    for (plan, target) in &plans {
        let s = live
            .iter()
            .find(|s| s.name == plan.update.service)
            .expect("described above");
        let id = crate::deploy::scaling::resource_id(d.cluster(), &s.name);
        let scaling = d.aws.scaling(&id).await?;
        let n = match (target, &scaling) {
            (Target::Count(n), None) => *n,
            (Target::Count(n), Some(sc)) => {
                return Err(anyhow::anyhow!(
                    "`{}` scales itself between {} and {} tasks here, so a count set by hand would be the scaler's to undo; give it a range instead, e.g. `{}={}..{}` (`{}={n}..{n}` holds it at {n})",
                    plan.name,
                    sc.min_capacity,
                    sc.max_capacity,
                    plan.name,
                    sc.min_capacity.min(*n),
                    sc.max_capacity.max(*n),
                    plan.name
                )
                .into());
            }
            (Target::Range(..), None) => {
                return Err(anyhow::anyhow!(
                    "`{}` does not scale itself in `{}`, so it has no range to set; give it a count (`{}=N`), or `ecs.scaling` in stack.yaml and promote",
                    plan.name,
                    opts.env,
                    plan.name
                )
                .into());
            }
            (Target::Range(lo, hi), Some(sc)) => {
                let range = RangeRecord {
                    name: plan.name.clone(),
                    ecs_service: s.name.clone(),
                    before: (sc.min_capacity, sc.max_capacity),
                    after: (*lo, *hi),
                };
                let register = |(min, max): (i32, i32)| Step::Register {
                    resource_id: id.clone(),
                    min,
                    max,
                };
                moves.push(Move::steps(
                    &s.name,
                    &plan.name,
                    vec![register(range.after)],
                    vec![register(range.before)],
                ));
                record.ranges.push(range);
                // Within the new range at once, as the scaler would bring it.
                s.desired.clamp(*lo, *hi)
            }
        };
        if n == s.desired && matches!(target, Target::Range(..)) {
            continue;
        }
        let count = CountRecord {
            name: plan.name.clone(),
            ecs_service: s.name.clone(),
            before: s.desired,
            after: n,
        };
        moves.push(Move::count(&count, &s.task_definition));
        record.counts.push(count);
    }
    shell.status(format!("scaling in {}:", opts.env));
    let mut change = Change::begin(d.env.handles(ctx, d.aws, opts.watch), record);
    change.phase("rollout");
    let result = change.apply(&moves).await;
    change.settle("scaling", result).await;
    // What stack.yaml keeps, where this scale departs from it.
    let mut counts_kept = Vec::new();
    let mut ranges_kept = Vec::new();
    for (p, target) in &plans {
        match (target, &p.scaling) {
            (Target::Count(n), _) => {
                if let Some(default) = p.update.desired_count.filter(|d| d != n) {
                    counts_kept.push(format!("{} {default}", p.name));
                }
            }
            (Target::Range(lo, hi), Some(s)) if (s.min_capacity, s.max_capacity) != (*lo, *hi) => {
                ranges_kept.push(format!("{} {}..{}", p.name, s.min_capacity, s.max_capacity));
            }
            (Target::Range(..), _) => {}
        }
    }
    let mut defaults = Vec::new();
    if !counts_kept.is_empty() {
        defaults.push(format!("desired_count {}", counts_kept.join(", ")));
    }
    if !ranges_kept.is_empty() {
        defaults.push(format!("the scaling range {}", ranges_kept.join(", ")));
    }
    let env = opts.env.clone();
    change.conclude(
        |r, _| {
            let mut s = format!("scaled: {} ({})", counts(r), r.id);
            if !defaults.is_empty() {
                s.push_str(&format!(
                    "\nstack.yaml keeps {} for `{env}`: the next `geno promote --env {env}` applies that again (change stack.yaml to keep this scale)",
                    defaults.join(" and ")
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

/// What a service is scaled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Count(i32),
    /// The range of a service that scales itself.
    Range(i32, i32),
}

/// `api=3` → (`api`, 3), `api=2..10` → (`api`, 2 to 10), each once.
fn parse(items: &[String]) -> anyhow::Result<Vec<(String, Target)>> {
    if items.is_empty() {
        anyhow::bail!("name the services to scale: `geno scale --env ENV api=3 celery=2`");
    }
    let mut out: Vec<(String, Target)> = Vec::new();
    for item in items {
        let Some((name, n)) = item.split_once('=') else {
            anyhow::bail!("expected SERVICE=COUNT like `api=3`, found `{item}`");
        };
        let count = |text: &str, what: &str| {
            text.trim()
                .parse::<i32>()
                .ok()
                .filter(|n| (0..=MOST).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the {what} in `{item}` must be a whole number from 0 to {MOST}"
                    )
                })
        };
        let target = match n.split_once("..") {
            Some((lo, hi)) => {
                let (lo, hi) = (count(lo, "minimum")?, count(hi, "maximum")?);
                if lo > hi {
                    anyhow::bail!("`{item}`: the minimum {lo} is above the maximum {hi}");
                }
                Target::Range(lo, hi)
            }
            None => Target::Count(count(n, "count")?),
        };
        if out.iter().any(|(s, _)| s == name) {
            anyhow::bail!("`{name}` is named twice");
        }
        out.push((name.trim().to_string(), target));
    }
    Ok(out)
}

fn counts(r: &Record) -> String {
    r.ranges
        .iter()
        .map(|c| {
            format!(
                "{} {}..{} → {}..{}",
                c.name, c.before.0, c.before.1, c.after.0, c.after.1
            )
        })
        .chain(
            r.counts
                .iter()
                .map(|c| format!("{} {} → {}", c.name, c.before, c.after)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{Target, parse};

    #[test]
    fn counts_are_service_equals_a_whole_number_and_ranges_two() {
        assert_eq!(
            parse(&["api=3".into(), "celery=0".into(), "web=2..10".into()]).unwrap(),
            [
                ("api".to_string(), Target::Count(3)),
                ("celery".to_string(), Target::Count(0)),
                ("web".to_string(), Target::Range(2, 10))
            ]
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
            err(&["api=5..2"]),
            "`api=5..2`: the minimum 5 is above the maximum 2"
        );
        assert_eq!(
            err(&["api=1..x"]),
            "the maximum in `api=1..x` must be a whole number from 0 to 1000"
        );
        assert_eq!(
            err(&[]),
            "name the services to scale: `geno scale --env ENV api=3 celery=2`"
        );
    }
}
