//! `geno top --env ENV [SERVICE…]`: per deployed service, its tasks and the
//! last minute CloudWatch has of its requests and 5xx a second, p50/p99
//! response time (the ALB's, for the target groups routing to it) and CPU
//! and memory (ECS's, of what its tasks reserve), refreshed every interval.

use std::time::Duration;

use crate::aws::Live;
use crate::deploy::metrics::{EnvFigures, figures, queries, table};
use crate::deploy::scaling::arn_suffix;
use crate::environment::deployed::Deployed;
use crate::shell::Shell;

/// How far back to look for the last full minute: CloudWatch publishes
/// ECS and ALB metrics a few minutes late.
const LOOK_BACK: i64 = 10 * 60;

/// The figures of each service now.
pub async fn read<L: Live>(
    d: &Deployed<'_, L>,
    services: &[String],
    now: i64,
) -> anyhow::Result<Vec<EnvFigures>> {
    let wanted = d.services(services)?;
    let names: Vec<String> = wanted.iter().map(|p| p.update.service.clone()).collect();
    let (live, _) = d.aws.services(d.cluster(), &names).await?;
    let mut all = Vec::new();
    let mut per_service = Vec::new();
    for (i, plan) in wanted.iter().enumerate() {
        let mut groups = Vec::new();
        for tg in &plan.target_groups {
            if let Some((group, Some(balancer))) = d.aws.group_and_balancer(&tg.name).await? {
                groups.push((arn_suffix(&group), arn_suffix(&balancer)));
            }
        }
        let q = queries(i, plan, &groups);
        all.extend(q.iter().map(|q| q.request()));
        per_service.push(q);
    }
    // To the end of the minute under way: a datapoint of this second is in.
    let end = (now / 60 + 1) * 60;
    let latest = d.aws.metric_data(&all, end - LOOK_BACK, end).await?;
    Ok(wanted
        .iter()
        .zip(&per_service)
        .map(|(plan, q)| {
            let tasks = live
                .iter()
                .find(|s| s.name == plan.update.service)
                .map_or((0, 0), |s| (s.running, s.desired));
            figures(&plan.name, tasks, q, &latest)
        })
        .collect())
}

pub async fn top(
    d: &Deployed<'_>,
    services: &[String],
    interval: Duration,
    once: bool,
    cancel: &tokio_util::sync::CancellationToken,
    shell: &Shell,
) -> anyhow::Result<()> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout()) && !shell.json();
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let rows = read(d, services, now).await?;
        if shell.json() {
            shell.print_json(&rows)?;
        } else {
            if tty && !once {
                shell.out_text("\x1b[H\x1b[2J")?;
                shell.out_line(format!(
                    "{} on {}: the last minute CloudWatch has, every {} (Ctrl-C to stop)",
                    d.env.name(),
                    d.cluster(),
                    humantime::format_duration(interval)
                ))?;
            }
            shell.table(&table(&rows))?;
        }
        if once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = cancel.cancelled() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::paper::{demo, in_order};

    #[tokio::test]
    async fn each_service_gets_its_tasks_and_last_minute_from_cloudwatch() {
        let (_dir, _ctx, env, plans) = demo();
        let mut paper = in_order(&plans);
        paper.groups.insert(
            "shop-web-demo".into(),
            (
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-demo/73e2".into(),
                Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-demo/50dc".into()),
            ),
        );
        for (metric, stat, value) in [
            ("CPUUtilization", "Average", 30.0),
            ("MemoryUtilization", "Average", 55.5),
            ("RequestCount", "Sum", 1200.0),
            ("HTTPCode_Target_5XX_Count", "Sum", 3.0),
            ("TargetResponseTime", "p50", 0.012),
            ("TargetResponseTime", "p99", 0.250),
        ] {
            paper.metrics.insert((metric.into(), stat.into()), value);
        }
        let d = Deployed::with(env, &paper).unwrap();
        let rows = read(&d, &[], 1_800_000_000).await.unwrap();
        let t = table(&rows);
        assert_eq!(
            t[1],
            [
                "web", "2/2", "20.0", "0.1", "12ms", "250ms", "30.0%", "55.5%"
            ]
            .map(String::from)
        );
        // The worker has no target group: CPU and memory only.
        assert_eq!(
            t[2],
            ["worker", "1/1", "-", "-", "-", "-", "30.0%", "55.5%"].map(String::from)
        );
        // One call for every service's queries.
        assert_eq!(paper.calls_to("GetMetricData"), 1);
    }
}
