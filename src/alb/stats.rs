//! What the load balancer has answered, per target group: requests, their
//! status classes, and the targets' response time in a histogram of
//! doubling buckets, counted with relaxed atomics on the request path (no
//! lock, no allocation), as the ALB's `RequestCount`,
//! `HTTPCode_Target_NXX_Count` and `TargetResponseTime` count them. Read
//! as snapshots; rates and percentiles come from the difference of two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bucket `i` holds response times below 2^i ms (bucket 0: below 1 ms);
/// the last holds everything from 2^(BUCKETS-2) ms (about 17 min) up.
pub const BUCKETS: usize = 22;

/// One target group's counters.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    /// 1xx … 5xx answered by a target.
    classes: [AtomicU64; 5],
    /// 5xx the load balancer answered itself (no target, a target that
    /// failed or timed out): the ALB's `HTTPCode_ELB_5XX_Count`.
    balancer_5xx: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

/// Every target group's counters, made once for the groups the load
/// balancer has.
pub struct Stats {
    /// Per group: all its answers, and those of a rehearsed shift's new
    /// targets (`geno up --rehearse`) apart.
    groups: Vec<(String, Counters, Counters)>,
}

/// One group's counters at one moment (or the difference of two).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub requests: u64,
    pub classes: [u64; 5],
    pub balancer_5xx: u64,
    pub latency: Vec<u64>,
}

/// Every group's counters at one moment, by group key.
pub type Snapshot = Vec<(String, GroupSnapshot)>;

fn bucket(elapsed: Duration) -> usize {
    let ms = elapsed.as_millis() as u64;
    // 0 ms → 0, 1 ms → 1, 2–3 → 2, 4–7 → 3 …
    let b = (u64::BITS - ms.leading_zeros()) as usize;
    b.min(BUCKETS - 1)
}

impl Stats {
    pub fn new<'a>(groups: impl IntoIterator<Item = &'a str>) -> Stats {
        Stats {
            groups: groups
                .into_iter()
                .map(|g| (g.to_string(), Counters::default(), Counters::default()))
                .collect(),
        }
    }

    /// One answer of group `group`: its status, whether a target gave it,
    /// and how long the target took to answer.
    pub fn record(
        &self,
        group: &str,
        next: bool,
        status: u16,
        from_target: bool,
        elapsed: Duration,
    ) {
        let Some((_, all, new)) = self.groups.iter().find(|(g, ..)| g == group) else {
            return;
        };
        all.count(status, from_target, elapsed);
        if next {
            new.count(status, from_target, elapsed);
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_of(|(g, all, _)| (g, all))
    }

    /// What the new targets of each group's rehearsed shift answered.
    pub fn next_snapshot(&self) -> Snapshot {
        self.snapshot_of(|(g, _, new)| (g, new))
    }

    fn snapshot_of(
        &self,
        which: impl Fn(&(String, Counters, Counters)) -> (&String, &Counters),
    ) -> Snapshot {
        self.groups
            .iter()
            .map(|entry| {
                let (g, c) = which(entry);
                let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
                (
                    g.clone(),
                    GroupSnapshot {
                        requests: load(&c.requests),
                        classes: c.classes.each_ref().map(load),
                        balancer_5xx: load(&c.balancer_5xx),
                        latency: c.latency.iter().map(load).collect(),
                    },
                )
            })
            .collect()
    }
}

impl Counters {
    fn count(&self, status: u16, from_target: bool, elapsed: Duration) {
        let c = self;
        c.requests.fetch_add(1, Ordering::Relaxed);
        if !from_target {
            if status >= 500 {
                c.balancer_5xx.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        let class = (status / 100).clamp(1, 5) as usize - 1;
        c.classes[class].fetch_add(1, Ordering::Relaxed);
        c.latency[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
    }
}

impl GroupSnapshot {
    /// What was counted between `before` and `self`.
    pub fn since(&self, before: &GroupSnapshot) -> GroupSnapshot {
        let sub = |a: u64, b: u64| a.saturating_sub(b);
        GroupSnapshot {
            requests: sub(self.requests, before.requests),
            classes: std::array::from_fn(|i| sub(self.classes[i], before.classes[i])),
            balancer_5xx: sub(self.balancer_5xx, before.balancer_5xx),
            latency: self
                .latency
                .iter()
                .enumerate()
                .map(|(i, a)| sub(*a, before.latency.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// 5xx answers, the targets' and the load balancer's own.
    pub fn errors(&self) -> u64 {
        self.classes[4] + self.balancer_5xx
    }

    /// The response time below which a fraction `q` of the targets'
    /// answers came: the upper bound of the bucket that holds it (so at
    /// most twice the true value); none without answers.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.latency.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_millis(1u64 << i));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_times_fall_in_doubling_buckets() {
        assert_eq!(bucket(Duration::from_micros(400)), 0);
        assert_eq!(bucket(Duration::from_millis(1)), 1);
        assert_eq!(bucket(Duration::from_millis(3)), 2);
        assert_eq!(bucket(Duration::from_millis(4)), 3);
        assert_eq!(bucket(Duration::from_millis(900)), 10);
        assert_eq!(bucket(Duration::from_secs(100_000)), BUCKETS - 1);
    }

    #[test]
    fn rates_and_percentiles_come_from_the_difference_of_two_snapshots() {
        let stats = Stats::new(["api", "web"]);
        stats.record("api", false, 200, true, Duration::from_millis(3));
        let before = stats.snapshot();
        for _ in 0..98 {
            stats.record("api", false, 200, true, Duration::from_millis(5));
        }
        stats.record("api", false, 500, true, Duration::from_millis(700));
        stats.record("api", false, 503, false, Duration::ZERO);
        stats.record("nowhere", false, 200, true, Duration::ZERO);
        let after = stats.snapshot();
        let d = after[0].1.since(&before[0].1);
        assert_eq!(d.requests, 100);
        assert_eq!(d.classes, [0, 98, 0, 0, 1]);
        assert_eq!(d.errors(), 2);
        // 5 ms is in the 4–7 ms bucket: below 8 ms.
        assert_eq!(d.percentile(0.5), Some(Duration::from_millis(8)));
        assert_eq!(d.percentile(0.98), Some(Duration::from_millis(8)));
        // The 99th of 99 answers is the slow one (700 ms: below 1024).
        assert_eq!(d.percentile(0.99), Some(Duration::from_millis(1024)));
        assert_eq!(
            after[1].1.since(&before[1].1),
            GroupSnapshot {
                latency: vec![0; BUCKETS],
                ..Default::default()
            }
        );
        assert_eq!(after[1].1.percentile(0.5), None);
    }
}
