//! `geno top`'s figures, from two readings a moment apart: per service,
//! requests and 5xx answers a second, p50 and p99 response time (what the
//! local load balancer counted for the service's target groups), and the
//! CPU and memory its containers use (what the engine counts). Pure.

use std::time::Duration;

use serde::Serialize;

use crate::alb::stats::{GroupSnapshot, Snapshot};

/// One container's counters at one moment, as the engine reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time the container has used, in nanoseconds.
    pub cpu_total: u64,
    /// CPU time the whole machine has used, in nanoseconds.
    pub system_total: u64,
    pub cpus: u32,
    pub memory: u64,
    /// Its memory limit (the machine's memory when it has none).
    pub memory_limit: u64,
}

/// A container's CPU use between two samples, in percent of one core
/// (`docker stats`' figure: 200 % is two cores busy).
pub fn cpu_percent(before: &Sample, after: &Sample) -> f64 {
    let used = after.cpu_total.saturating_sub(before.cpu_total) as f64;
    let system = after.system_total.saturating_sub(before.system_total) as f64;
    if system <= 0.0 {
        return 0.0;
    }
    used / system * f64::from(after.cpus.max(1)) * 100.0
}

/// One service's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub service: String,
    pub containers: usize,
    /// The time between the two readings the rates are over.
    pub window_seconds: f64,
    /// None for a service no target group routes to.
    pub requests_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// What one service is, for the figures: its name, the target groups that
/// route to it, and its containers' samples before and after.
pub struct Reading<'a> {
    pub service: &'a str,
    pub groups: Vec<&'a str>,
    pub containers: Vec<(Sample, Sample)>,
}

/// Each service's figures over `elapsed`, from the load balancer's counters
/// before and after.
pub fn figures(
    readings: &[Reading<'_>],
    before: &Snapshot,
    after: &Snapshot,
    elapsed: Duration,
) -> Vec<Figures> {
    let secs = elapsed.as_secs_f64().max(0.001);
    readings
        .iter()
        .map(|r| {
            let counted: Vec<GroupSnapshot> = r
                .groups
                .iter()
                .filter_map(|g| {
                    let now = after.iter().find(|(n, _)| n == g)?;
                    let then = before
                        .iter()
                        .find(|(n, _)| n == g)
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default();
                    Some(now.1.since(&then))
                })
                .collect();
            let merged = merge(&counted);
            let routed = !counted.is_empty();
            Figures {
                service: r.service.to_string(),
                containers: r.containers.len(),
                window_seconds: secs,
                requests_per_second: routed.then(|| merged.requests as f64 / secs),
                errors_per_second: routed.then(|| merged.errors() as f64 / secs),
                p50_ms: merged.percentile(0.5).map(|d| d.as_millis() as u64),
                p99_ms: merged.percentile(0.99).map(|d| d.as_millis() as u64),
                cpu_percent: r.containers.iter().map(|(b, a)| cpu_percent(b, a)).sum(),
                memory_bytes: r.containers.iter().map(|(_, a)| a.memory).sum(),
            }
        })
        .collect()
}

/// Several groups' counts as one.
fn merge(groups: &[GroupSnapshot]) -> GroupSnapshot {
    let mut out = GroupSnapshot::default();
    for g in groups {
        out.requests += g.requests;
        out.balancer_5xx += g.balancer_5xx;
        for (o, c) in out.classes.iter_mut().zip(g.classes) {
            *o += c;
        }
        if out.latency.len() < g.latency.len() {
            out.latency.resize(g.latency.len(), 0);
        }
        for (o, c) in out.latency.iter_mut().zip(&g.latency) {
            *o += c;
        }
    }
    out
}

/// The figures as a table: one row a service.
pub fn table(rows: &[Figures]) -> Vec<[String; 7]> {
    let mut t = vec![["SERVICE", "REQ/S", "5XX/S", "P50", "P99", "CPU", "MEM"].map(String::from)];
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for f in rows {
        t.push([
            if f.containers == 1 {
                f.service.clone()
            } else {
                format!("{} ×{}", f.service, f.containers)
            },
            or_dash(f.requests_per_second.map(|r| format!("{r:.1}"))),
            or_dash(f.errors_per_second.map(|r| format!("{r:.1}"))),
            or_dash(f.p50_ms.map(|m| format!("<{m}ms"))),
            or_dash(f.p99_ms.map(|m| format!("<{m}ms"))),
            format!("{:.1}%", f.cpu_percent),
            format!("{:.0}MiB", f.memory_bytes as f64 / (1024.0 * 1024.0)),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::stats::Stats;

    #[test]
    fn cpu_is_the_containers_share_of_the_machines_time_in_cores() {
        let before = Sample {
            cpu_total: 1_000,
            system_total: 10_000,
            cpus: 2,
            ..Sample::default()
        };
        let after = Sample {
            cpu_total: 3_000,
            system_total: 20_000,
            cpus: 2,
            ..Sample::default()
        };
        // A fifth of the machine's time on two cores: 40 % of one core.
        assert!((cpu_percent(&before, &after) - 40.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&after, &after), 0.0);
    }

    #[test]
    fn a_services_figures_sum_its_groups_and_containers() {
        let stats = Stats::new(["api", "api-admin", "other"]);
        let before = stats.snapshot();
        for i in 0..20 {
            stats.record(
                if i % 2 == 0 { "api" } else { "api-admin" },
                false,
                200,
                true,
                Duration::from_millis(5),
            );
        }
        stats.record("api", false, 502, false, Duration::ZERO);
        stats.record("api", false, 500, true, Duration::from_millis(300));
        stats.record("other", false, 200, true, Duration::from_millis(1));
        let after = stats.snapshot();
        let sample = |cpu, mem| Sample {
            cpu_total: cpu,
            system_total: cpu * 10,
            cpus: 1,
            memory: mem,
            memory_limit: 1 << 30,
        };
        let readings = [
            Reading {
                service: "api",
                groups: vec!["api", "api-admin"],
                containers: vec![
                    (sample(0, 0), sample(100, 50 << 20)),
                    (sample(0, 0), sample(100, 30 << 20)),
                ],
            },
            Reading {
                service: "worker",
                groups: vec![],
                containers: vec![(sample(0, 0), sample(100, 10 << 20))],
            },
        ];
        let rows = figures(&readings, &before, &after, Duration::from_secs(2));
        assert_eq!(rows[0].requests_per_second, Some(11.0));
        assert_eq!(rows[0].errors_per_second, Some(1.0));
        assert_eq!(rows[0].p50_ms, Some(8));
        assert_eq!(rows[0].p99_ms, Some(512));
        assert_eq!(rows[1].requests_per_second, None);
        let t = table(&rows);
        assert_eq!(
            t[1],
            ["api ×2", "11.0", "1.0", "<8ms", "<512ms", "20.0%", "80MiB"].map(String::from)
        );
        assert_eq!(
            t[2],
            ["worker", "-", "-", "-", "-", "10.0%", "10MiB"].map(String::from)
        );
    }
}
