//! Target groups and their targets, shared by the server (which routes),
//! the health checker, discovery and the admin endpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::alb::health::{Check, State, TargetHealth, Thresholds};
use crate::alb::targets::{Selection, select};
use crate::stack::{LoadBalancer, TargetGroup};

#[derive(Debug)]
pub struct Target {
    pub container: String,
    pub name: String,
    pub addr: SocketAddr,
    pub health: TargetHealth,
    pub inflight: Arc<AtomicUsize>,
    pub draining_since: Option<Instant>,
    pub registered_at: Instant,
}

#[derive(Debug)]
pub struct Group {
    pub name: String,
    pub spec: TargetGroup,
    pub targets: Vec<Target>,
    next: usize,
}

/// What a request gets from a target group.
pub enum Pick {
    Target {
        addr: SocketAddr,
        name: String,
        inflight: Arc<AtomicUsize>,
    },
    /// 503: no registered targets, or none past its first checks.
    Unavailable,
}

#[derive(Debug, Default)]
pub struct TargetTable {
    pub groups: Vec<Group>,
}

pub type Shared = Arc<Mutex<TargetTable>>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    pub target_group: String,
    pub service: String,
    pub container: String,
    pub address: String,
    pub state: State,
    pub reason: Option<String>,
    pub description: String,
    pub inflight: usize,
}

impl TargetTable {
    pub fn new(lb: &LoadBalancer) -> TargetTable {
        TargetTable {
            groups: lb
                .target_groups
                .iter()
                .map(|(name, spec)| Group {
                    name: name.clone(),
                    spec: spec.clone(),
                    targets: Vec::new(),
                    next: 0,
                })
                .collect(),
        }
    }

    pub fn group_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.name == name)
    }

    /// Round-robin over the targets `select` allows.
    pub fn pick(&mut self, group: &str) -> Pick {
        let Some(g) = self.group_mut(group) else {
            return Pick::Unavailable;
        };
        let states: Vec<State> = g.targets.iter().map(|t| t.health.state).collect();
        let candidates = match select(&states) {
            Selection::Route(c) | Selection::FailOpen(c) => c,
            Selection::NoTargets | Selection::NoneReady => return Pick::Unavailable,
        };
        let i = candidates[g.next % candidates.len()];
        g.next = g.next.wrapping_add(1);
        let t = &g.targets[i];
        Pick::Target {
            addr: t.addr,
            name: t.name.clone(),
            inflight: t.inflight.clone(),
        }
    }

    pub fn report(&self) -> Vec<TargetReport> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.targets.iter().map(move |t| TargetReport {
                    target_group: g.name.clone(),
                    service: g.spec.service.clone(),
                    container: t.name.clone(),
                    address: t.addr.to_string(),
                    state: t.health.state,
                    reason: t.health.reason.map(|r| r.code().to_string()),
                    description: t.health.description.clone(),
                    inflight: t.inflight.load(Ordering::SeqCst),
                })
            })
            .collect()
    }

    /// Registers what runs now and drains what no longer does.
    pub fn sync(&mut self, group: &str, running: &[(String, String, SocketAddr)]) {
        let Some(g) = self.group_mut(group) else {
            return;
        };
        for (id, name, addr) in running {
            let known = g.targets.iter_mut().find(|t| t.container == *id);
            match known {
                Some(t) if t.addr != *addr => t.addr = *addr,
                Some(_) => {}
                None => {
                    tracing::info!(target_group = %group, target = %name, %addr, "registered");
                    g.targets.push(Target {
                        container: id.clone(),
                        name: name.clone(),
                        addr: *addr,
                        health: TargetHealth::new(),
                        inflight: Arc::new(AtomicUsize::new(0)),
                        draining_since: None,
                        registered_at: Instant::now(),
                    });
                }
            }
        }
        for t in g.targets.iter_mut() {
            if t.draining_since.is_none() && !running.iter().any(|(id, _, _)| *id == t.container) {
                t.health.drain();
                t.draining_since = Some(Instant::now());
                tracing::info!(target_group = %group, target = %t.name, "deregistered (draining)");
            }
        }
        self.expire();
    }

    /// Drains one container's targets now (before `geno up` replaces it).
    pub fn drain(&mut self, container: &str) -> usize {
        let mut n = 0;
        for g in &mut self.groups {
            for t in g
                .targets
                .iter_mut()
                .filter(|t| t.container == container || t.name == container)
            {
                if t.draining_since.is_none() {
                    t.health.drain();
                    t.draining_since = Some(Instant::now());
                }
                n += 1;
            }
        }
        n
    }

    /// Whether a draining container has no requests left (or its delay ran out).
    pub fn drained(&mut self, container: &str) -> bool {
        self.expire();
        !self
            .groups
            .iter()
            .flat_map(|g| g.targets.iter())
            .any(|t| t.container == container || t.name == container)
    }

    /// Drops draining targets whose requests finished or whose
    /// deregistration delay passed.
    pub fn expire(&mut self) {
        for g in &mut self.groups {
            let delay: Duration = g.spec.deregistration_delay.0;
            g.targets.retain(|t| match t.draining_since {
                None => true,
                Some(since) => t.inflight.load(Ordering::SeqCst) > 0 && since.elapsed() < delay,
            });
        }
    }

    pub fn record(&mut self, group: &str, container: &str, check: &Check) {
        let Some(g) = self.group_mut(group) else {
            return;
        };
        let thresholds = Thresholds {
            healthy: g.spec.health_check.healthy_threshold,
            unhealthy: g.spec.health_check.unhealthy_threshold,
        };
        if let Some(t) = g.targets.iter_mut().find(|t| t.container == container) {
            let before = t.health.state;
            t.health.record(check, thresholds);
            if t.health.state != before {
                tracing::info!(
                    target_group = %group,
                    target = %t.name,
                    from = before.as_str(),
                    to = t.health.state.as_str(),
                    reason = t.health.reason.map(|r| r.code()).unwrap_or(""),
                    "target health changed"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{AlbHealthCheck, Dur};

    fn table(dereg: u64) -> TargetTable {
        let hc = AlbHealthCheck {
            path: "/health".into(),
            port: None,
            interval: Dur::secs(5),
            timeout: Dur::secs(2),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        };
        let lb = LoadBalancer {
            listeners: vec![],
            target_groups: [(
                "web".to_string(),
                TargetGroup {
                    service: "web".into(),
                    port: 80,
                    health_check: hc,
                    deregistration_delay: Dur::secs(dereg),
                },
            )]
            .into_iter()
            .collect(),
            idle_timeout: Dur::secs(60),
        };
        TargetTable::new(&lb)
    }

    fn members(n: u8) -> Vec<(String, String, SocketAddr)> {
        (1..=n)
            .map(|i| {
                (
                    format!("id{i}"),
                    format!("web-{i}"),
                    SocketAddr::from(([10, 0, 0, i], 80)),
                )
            })
            .collect()
    }

    fn picked(r: &mut TargetTable) -> Option<String> {
        match r.pick("web") {
            Pick::Target { name, .. } => Some(name),
            Pick::Unavailable => None,
        }
    }

    #[test]
    fn new_targets_wait_for_a_passing_check_then_share_round_robin() {
        let mut r = table(30);
        r.sync("web", &members(2));
        assert_eq!(picked(&mut r), None, "initial targets get no traffic");
        r.record("web", "id1", &Check::Pass);
        assert_eq!(
            [picked(&mut r), picked(&mut r)],
            [Some("web-1".into()), Some("web-1".into())]
        );
        r.record("web", "id2", &Check::Pass);
        let names: std::collections::BTreeSet<_> = (0..4).filter_map(|_| picked(&mut r)).collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn unhealthy_targets_leave_the_rotation_and_all_unhealthy_fails_open() {
        let mut r = table(30);
        r.sync("web", &members(2));
        for id in ["id1", "id2"] {
            r.record("web", id, &Check::Pass);
        }
        for _ in 0..2 {
            r.record("web", "id1", &Check::Timeout);
        }
        assert!((0..4).all(|_| picked(&mut r).as_deref() == Some("web-2")));
        for _ in 0..2 {
            r.record("web", "id2", &Check::Mismatch(500));
        }
        let names: std::collections::BTreeSet<_> = (0..4).filter_map(|_| picked(&mut r)).collect();
        assert_eq!(names.len(), 2, "fail open");
    }

    #[test]
    fn a_deregistered_target_drains_until_its_requests_finish() {
        let mut r = table(300);
        r.sync("web", &members(1));
        r.record("web", "id1", &Check::Pass);
        let Pick::Target { inflight, .. } = r.pick("web") else {
            panic!("a healthy target")
        };
        inflight.fetch_add(1, Ordering::SeqCst);
        r.sync("web", &[]);
        assert_eq!(r.report()[0].state, State::Draining);
        assert_eq!(picked(&mut r), None, "no new requests while draining: 503");
        assert!(!r.drained("id1"), "one request still in flight");
        inflight.fetch_sub(1, Ordering::SeqCst);
        assert!(r.drained("id1"));
        assert!(r.report().is_empty());
    }

    #[test]
    fn draining_ends_at_the_deregistration_delay_even_with_requests_left() {
        let mut r = table(0);
        r.sync("web", &members(1));
        let inflight = r.groups[0].targets[0].inflight.clone();
        inflight.fetch_add(1, Ordering::SeqCst);
        assert_eq!(r.drain("web-1"), 1);
        assert!(r.drained("id1"), "a zero delay drops it at once");
    }
}
