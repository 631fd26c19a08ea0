//! Target groups and their targets, shared by the server (which routes),
//! the health checker, discovery and the admin endpoint. The table sits
//! behind a lock for those that change or report it; what a request needs
//! from it, the routes, is published after every change for the proxy
//! threads, which read it without a lock and pick without allocating.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
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
}

/// What a request gets from a target group.
pub enum Pick {
    Target {
        addr: SocketAddr,
        name: Arc<str>,
        inflight: Arc<AtomicUsize>,
        /// Whether it is one of a rehearsed shift's new targets.
        next: bool,
    },
    /// 503: no registered targets, or none past its first checks.
    Unavailable,
}

/// Where requests to each target group may go now (the targets the ALB's
/// selection allows), in the table's group order; no target is a 503.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routes {
    pub groups: Vec<(String, Vec<Route>)>,
    /// Per group (same order), a rehearsed traffic shift: the new
    /// release's targets (not among the group's own then) and the percent
    /// of requests they get.
    pub shifts: Vec<Option<(Vec<Route>, u8)>>,
}

/// One target a request may go to.
#[derive(Debug, Clone)]
pub struct Route {
    pub addr: SocketAddr,
    pub name: Arc<str>,
    pub inflight: Arc<AtomicUsize>,
}

impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.addr == other.addr
            && self.name == other.name
            && Arc::ptr_eq(&self.inflight, &other.inflight)
    }
}

impl Routes {
    /// Round-robin within `group`, by the caller's own counter per group
    /// (`next[i]` for the group at index `i`): no lock, no allocation.
    pub fn pick(&self, group: &str, next: &[AtomicUsize]) -> Pick {
        let Some((i, (_, targets))) = self
            .groups
            .iter()
            .enumerate()
            .find(|(_, (n, _))| n == group)
        else {
            return Pick::Unavailable;
        };
        let n = next.get(i).map_or(0, |c| c.fetch_add(1, Ordering::Relaxed));
        // A shift: of every hundred requests, `percent` go to the new
        // targets, spread evenly (the n-th is new when the count of new ones
        // up to it steps up); each lane round-robins by its own count. A
        // lane with no target ready sends its share to the other.
        let (lane, k, is_next) = match self.shifts.get(i) {
            Some(Some((new, percent))) => {
                let p = usize::from(*percent);
                let before = n / 100 * p + (n % 100) * p / 100;
                let to_new = (n % 100 + 1) * p / 100 > (n % 100) * p / 100;
                if (to_new && !new.is_empty()) || targets.is_empty() {
                    (new, before, true)
                } else {
                    (targets, n - before, false)
                }
            }
            _ => (targets, n, false),
        };
        if lane.is_empty() {
            return Pick::Unavailable;
        }
        let t = &lane[k % lane.len()];
        Pick::Target {
            addr: t.addr,
            name: t.name.clone(),
            inflight: t.inflight.clone(),
            next: is_next,
        }
    }
}

/// The table, and its routes as last published.
pub struct Table {
    table: Mutex<TargetTable>,
    routes: ArcSwap<Routes>,
    /// What each group has answered (`geno top`).
    pub stats: crate::alb::stats::Stats,
}

pub type Shared = Arc<Table>;

impl Table {
    pub fn shared(table: TargetTable) -> Shared {
        let routes = ArcSwap::from_pointee(table.routes());
        let stats = crate::alb::stats::Stats::new(table.groups.iter().map(|g| g.name.as_str()));
        Arc::new(Table {
            table: Mutex::new(table),
            routes,
            stats,
        })
    }

    /// The table, to read; a change goes through `update`.
    pub fn read(&self) -> impl std::ops::Deref<Target = TargetTable> + '_ {
        self.lock()
    }

    fn lock(&self) -> MutexGuard<'_, TargetTable> {
        self.table.lock().expect("target table lock")
    }

    /// Changes the table and publishes its routes if they changed.
    pub fn update<T>(&self, change: impl FnOnce(&mut TargetTable) -> T) -> T {
        let mut table = self.lock();
        let out = change(&mut table);
        let routes = table.routes();
        if **self.routes.load() != routes {
            self.routes.store(Arc::new(routes));
        }
        out
    }

    /// Reads the table, taking what the health checker consumes
    /// (`take_check_now`, `fast`), without republishing: nothing done here moves a
    /// route, so the 100 ms tick computes none.
    pub fn schedule<T>(&self, read: impl FnOnce(&mut TargetTable) -> T) -> T {
        read(&mut self.lock())
    }

    /// The routes as last published: a proxy thread's read, lock-free.
    pub fn routes(&self) -> arc_swap::Guard<Arc<Routes>> {
        self.routes.load()
    }
}

#[derive(Debug, Default)]
pub struct TargetTable {
    pub groups: Vec<Group>,
    /// Containers drained for a restart in place (same ID), with their
    /// targets: discovery does not register them again until geno admits
    /// them (`admit`), or, if geno never does (it was killed), until
    /// `HOLD_AT_MOST` has passed.
    held: HashMap<String, Held>,
    /// Targets to check at the next health tick rather than at their interval.
    check_now: HashSet<String>,
    /// Containers geno has just started or restarted: while their targets
    /// are `initial` they are checked every `FAST_CHECK`, and a failed
    /// check does not count (the app is starting), until `FAST_FOR` ends.
    fast: HashMap<String, Instant>,
    /// Rehearsed traffic shifts (`geno up --rehearse`), by group.
    shifts: HashMap<String, Shift>,
}

/// A rehearsed traffic shift: the new release's containers and the
/// percent of the group's requests they get (the ALB's weighted forward
/// between two target groups, here within one).
#[derive(Debug, Default)]
struct Shift {
    next: HashSet<String>,
    percent: u8,
}

#[derive(Debug)]
struct Held {
    since: Instant,
    /// (group, container ID, name, address) of each target it had.
    targets: Vec<(String, String, String, SocketAddr)>,
}

/// How long a drained container that still runs is kept out of rotation
/// without word from geno that it is ready again.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(120);
/// The cadence of checks on a target geno has just (re)started.
pub const FAST_CHECK: Duration = Duration::from_millis(100);
/// How long that cadence lasts at most.
pub const FAST_FOR: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    pub target_group: String,
    pub service: String,
    /// The container's name.
    pub container: String,
    /// The container's ID.
    #[serde(default)]
    pub id: String,
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
                })
                .collect(),
            held: HashMap::new(),
            check_now: HashSet::new(),
            fast: HashMap::new(),
            shifts: HashMap::new(),
        }
    }

    pub fn group_mut(&mut self, name: &str) -> Option<&mut Group> {
        self.groups.iter_mut().find(|g| g.name == name)
    }

    /// Where requests may go now: per group, the targets `select` allows.
    pub fn routes(&self) -> Routes {
        let mut routes = Routes::default();
        for g in &self.groups {
            let states: Vec<State> = g.targets.iter().map(|t| t.health.state).collect();
            let allowed = match select(&states) {
                Selection::Route(c) | Selection::FailOpen(c) => c,
                Selection::NoTargets | Selection::NoneReady => Vec::new(),
            };
            let shift = self.shifts.get(&g.name);
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for &i in &allowed {
                let t = &g.targets[i];
                let route = Route {
                    addr: t.addr,
                    name: Arc::from(t.name.as_str()),
                    inflight: t.inflight.clone(),
                };
                match shift.is_some_and(|s| s.next.contains(&t.container)) {
                    true => new.push(route),
                    false => old.push(route),
                }
            }
            routes.groups.push((g.name.clone(), old));
            routes.shifts.push(shift.map(|s| (new, s.percent)));
        }
        routes
    }

    /// Starts or moves a rehearsed traffic shift in `group`: `next` (if
    /// given) are the new release's containers, which get `percent` of its
    /// requests. False for a group the table does not have.
    pub fn shift(&mut self, group: &str, next: Option<Vec<String>>, percent: u8) -> bool {
        if self.group_mut(group).is_none() {
            return false;
        }
        let shift = self.shifts.entry(group.to_string()).or_default();
        if let Some(next) = next {
            shift.next = next.into_iter().collect();
        }
        shift.percent = percent.min(100);
        true
    }

    /// Ends the shift in `group`: its targets are one set again.
    pub fn unshift(&mut self, group: &str) -> bool {
        self.shifts.remove(group).is_some()
    }

    /// The containers of the new release in `group`'s shift.
    pub fn shifted(&self, group: &str) -> Vec<String> {
        self.shifts
            .get(group)
            .map(|s| s.next.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The round-robin counters a proxy thread keeps, one per group.
    pub fn counters(&self) -> Vec<AtomicUsize> {
        self.groups.iter().map(|_| AtomicUsize::new(0)).collect()
    }

    pub fn report(&self) -> Vec<TargetReport> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.targets.iter().map(move |t| TargetReport {
                    target_group: g.name.clone(),
                    service: g.spec.service.clone(),
                    container: t.name.clone(),
                    id: t.container.clone(),
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
        self.held.retain(|_, h| h.since.elapsed() < HOLD_AT_MOST);
        let held = std::mem::take(&mut self.held);
        let Some(g) = self.group_mut(group) else {
            self.held = held;
            return;
        };
        for (id, name, addr) in running {
            if held.contains_key(id) || held.contains_key(name) {
                continue;
            }
            let known = g.targets.iter_mut().find(|t| t.container == *id);
            match known {
                // A container renamed (a rehearsed release taking over)
                // keeps its target, under its new name.
                Some(t) => {
                    t.addr = *addr;
                    if t.name != *name {
                        t.name = name.clone();
                    }
                }
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
            let runs = running.iter().any(|(id, _, _)| *id == t.container);
            if t.draining_since.is_none() && !runs {
                t.health.drain();
                t.draining_since = Some(Instant::now());
                tracing::info!(target_group = %group, target = %t.name, "deregistered (draining)");
            }
        }
        self.held = held;
        self.expire();
    }

    /// Drains one container's targets now (before geno replaces or
    /// restarts it) and keeps it out until `admit` names it (see `held`).
    pub fn drain(&mut self, container: &str) -> usize {
        let mut n = 0;
        let mut targets = Vec::new();
        for g in &mut self.groups {
            for t in g
                .targets
                .iter_mut()
                .filter(|t| t.container == container || t.name == container)
            {
                if t.draining_since.is_none() {
                    targets.push((g.name.clone(), t.container.clone(), t.name.clone(), t.addr));
                    t.health.drain();
                    t.draining_since = Some(Instant::now());
                }
                n += 1;
            }
        }
        self.held.insert(
            container.to_string(),
            Held {
                since: Instant::now(),
                targets,
            },
        );
        n
    }

    /// geno's word that it has just (re)started a container: one drained
    /// for a restart is registered again at once (a new, `initial`
    /// target, as ECS registers a new task), and its targets are checked
    /// from the next tick every `FAST_CHECK` until one passes — the ALB's
    /// rule that a new target needs one passing check, without waiting
    /// out an interval. Failed checks meanwhile do not count against it.
    /// Returns how many targets it has now.
    pub fn admit(&mut self, container: &str) -> usize {
        if let Some(held) = self.held.remove(container) {
            for (group, id, name, addr) in held.targets {
                let Some(g) = self.group_mut(&group) else {
                    continue;
                };
                if !g
                    .targets
                    .iter()
                    .any(|t| t.container == id && t.draining_since.is_none())
                {
                    tracing::info!(target_group = %group, target = %name, %addr, "registered (restarted)");
                    g.targets.push(Target {
                        container: id,
                        name,
                        addr,
                        health: TargetHealth::new(),
                        inflight: Arc::new(AtomicUsize::new(0)),
                        draining_since: None,
                        registered_at: Instant::now(),
                    });
                }
            }
        }
        self.fast
            .insert(container.to_string(), Instant::now() + FAST_FOR);
        self.check_now.insert(container.to_string());
        self.groups
            .iter()
            .flat_map(|g| g.targets.iter())
            .filter(|t| {
                (t.container == container || t.name == container) && t.draining_since.is_none()
            })
            .count()
    }

    /// Whether a target is checked at the fast cadence (see `admit`);
    /// ends the cadence for a target past its first checks.
    pub fn fast(&mut self, container: &str, name: &str, state: State) -> bool {
        let now = Instant::now();
        self.fast.retain(|_, until| *until > now);
        let key = if self.fast.contains_key(container) {
            container
        } else if self.fast.contains_key(name) {
            name
        } else {
            return false;
        };
        if state == State::Initial {
            return true;
        }
        self.fast.remove(key);
        false
    }

    /// Whether a target is due for a check now, whatever its interval
    /// (consumed by the health checker, which asks once per tick).
    pub fn take_check_now(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.check_now)
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
            name: None,
            listeners: vec![],
            target_groups: [(
                "web".to_string(),
                TargetGroup {
                    name: None,
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

    thread_local! {
        /// This test's round-robin counter (each test runs on a thread of
        /// its own), as a proxy thread keeps one per group.
        static NEXT: [AtomicUsize; 1] = const { [AtomicUsize::new(0)] };
    }

    /// What the routes the table publishes give the next request to `web`.
    fn pick(r: &TargetTable) -> Pick {
        NEXT.with(|next| r.routes().pick("web", next))
    }

    fn picked(r: &mut TargetTable) -> Option<String> {
        match pick(r) {
            Pick::Target { name, .. } => Some(name.to_string()),
            Pick::Unavailable => None,
        }
    }

    #[test]
    fn a_pick_allocates_nothing_and_waits_for_no_lock() {
        let mut t = table(30);
        t.sync("web", &members(2));
        t.record("web", "id1", &Check::Pass);
        t.record("web", "id2", &Check::Pass);
        let shared = Table::shared(t);
        let next = shared.read().counters();
        // The first read sets up this thread's slot in the published routes.
        drop(shared.routes().pick("web", &next));
        let before = crate::counting_alloc::allocations();
        let mut to_first = 0;
        for _ in 0..1000 {
            if let Pick::Target { name, .. } = shared.routes().pick("web", &next)
                && &*name == "web-1"
            {
                to_first += 1;
            }
        }
        assert_eq!(crate::counting_alloc::allocations(), before);
        assert_eq!(to_first, 500, "round robin over both targets");
        // Picks go on while another thread holds the table (a health
        // check being recorded): the request path takes no lock of it.
        let (held, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let (held_tx, held_rx) = held;
        let (release_tx, release_rx) = release;
        let holder = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                shared.update(|_| {
                    held_tx.send(()).unwrap();
                    // Bounded: a pick that waited for the lock would make
                    // this time out, and the test fail, not hang.
                    release_rx.recv_timeout(Duration::from_secs(10)).is_ok()
                })
            })
        };
        held_rx.recv().unwrap();
        assert!(matches!(
            shared.routes().pick("web", &next),
            Pick::Target { .. }
        ));
        release_tx.send(()).unwrap();
        assert!(
            holder.join().unwrap(),
            "the pick waited for the table's lock"
        );
    }

    #[test]
    fn a_shift_sends_its_percent_to_the_new_targets_spread_and_round_robin_within_each() {
        let mut t = table(30);
        t.sync("web", &members(3));
        for id in ["id1", "id2", "id3"] {
            t.record("web", id, &Check::Pass);
        }
        // id3 is the new release: 10 of every 100 requests, never two in a row.
        assert!(t.shift("web", Some(vec!["id3".into()]), 10));
        let picks: Vec<String> = (0..200).filter_map(|_| picked(&mut t)).collect();
        let count = |n: &str| picks.iter().filter(|p| *p == n).count();
        assert_eq!(
            (count("web-1"), count("web-2"), count("web-3")),
            (90, 90, 20)
        );
        assert!(!picks.windows(2).any(|w| w[0] == "web-3" && w[1] == "web-3"));
        // Its share moves; with no old target ready, all goes to the new.
        t.shift("web", None, 50);
        let picks: Vec<String> = (0..100).filter_map(|_| picked(&mut t)).collect();
        assert_eq!(picks.iter().filter(|p| *p == "web-3").count(), 50);
        t.shift("web", None, 0);
        assert!((0..50).all(|_| picked(&mut t).as_deref() != Some("web-3")));
        t.sync("web", &members(3)[2..]);
        assert_eq!(picked(&mut t).as_deref(), Some("web-3"));
        // Ended: one set again. A shift in a group it lacks is refused.
        t.sync("web", &members(3));
        t.record("web", "id1", &Check::Pass);
        t.record("web", "id2", &Check::Pass);
        assert!(t.unshift("web"));
        assert!(!t.shift("nowhere", None, 5));
        let picks: Vec<String> = (0..30).filter_map(|_| picked(&mut t)).collect();
        assert!(
            picks.iter().filter(|p| *p == "web-3").count() >= 9,
            "{picks:?}"
        );
    }

    #[test]
    fn routes_are_published_when_a_change_moves_them() {
        let mut t = table(30);
        t.sync("web", &members(1));
        let shared = Table::shared(t);
        let next = shared.read().counters();
        assert!(matches!(
            shared.routes().pick("web", &next),
            Pick::Unavailable
        ));
        let before = shared.routes().clone();
        shared.update(|t| t.record("web", "id1", &Check::Pass));
        let Pick::Target { name, .. } = shared.routes().pick("web", &next) else {
            panic!("a passing check publishes the target")
        };
        assert_eq!(&*name, "web-1");
        assert_ne!(**shared.routes(), *before);
        // A change that moves no route publishes nothing new.
        let published = shared.routes().clone();
        shared.update(|t| t.record("web", "id1", &Check::Pass));
        assert!(Arc::ptr_eq(&published, &shared.routes()));
        shared.update(|t| t.sync("web", &[]));
        assert!(matches!(
            shared.routes().pick("web", &next),
            Pick::Unavailable
        ));
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
        let Pick::Target { inflight, .. } = pick(&r) else {
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
    fn a_container_drained_for_a_restart_stays_out_until_geno_admits_it() {
        let mut r = table(0);
        r.sync("web", &members(2));
        r.record("web", "id1", &Check::Pass);
        r.record("web", "id2", &Check::Pass);
        assert_eq!(r.drain("id1"), 1);
        assert!(r.drained("id1"));
        // Still running (the restart has not begun): not registered again.
        r.sync("web", &members(2));
        assert!((0..4).all(|_| picked(&mut r).as_deref() == Some("web-2")));
        assert!(r.take_check_now().is_empty());
        // Restarted: registered anew at once (initial, no traffic), checked
        // at the next tick and then at the fast cadence while initial.
        assert_eq!(r.admit("id1"), 1);
        assert_eq!(r.take_check_now(), HashSet::from(["id1".to_string()]));
        let report = r.report();
        assert_eq!(
            report
                .iter()
                .map(|t| (t.container.as_str(), t.state))
                .collect::<Vec<_>>(),
            [("web-2", State::Healthy), ("web-1", State::Initial)]
        );
        assert!(r.fast("id1", "web-1", State::Initial));
        assert!(
            !r.fast("id2", "web-2", State::Healthy),
            "only what geno admitted"
        );
        r.sync("web", &members(2));
        assert_eq!(r.report().len(), 2, "discovery does not register it twice");
        r.record("web", "id1", &Check::Pass);
        assert!(
            !r.fast("id1", "web-1", State::Healthy),
            "past its first checks: normal cadence"
        );
        assert!(!r.fast("id1", "web-1", State::Initial), "and it stays so");
        let names: std::collections::BTreeSet<_> = (0..4).filter_map(|_| picked(&mut r)).collect();
        assert_eq!(names.len(), 2, "both replicas serve again");
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
