//! Readiness at the speed of the app, pure: the service's own health
//! command as an exec (the same command ECS and Docker run), how long to
//! wait between probes, and the record of when each container first passed.
//!
//! Docker (API 1.41, no `start_interval`) runs the first health check one
//! full `interval` after start; `up` probes from the start instead, and the
//! first pass releases dependents. Steady-state health stays Docker's, with
//! stack.yaml's interval, timeout and retries.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The argv to exec for a health test: `CMD` runs its arguments, `CMD-SHELL`
/// runs its string with `/bin/sh -c`; `NONE` (or nothing) has no probe.
pub fn probe_command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
            Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
        }
        _ => None,
    }
}

/// Never sooner than this after a failed probe.
pub const MIN_GAP: Duration = Duration::from_millis(250);
/// Never later than this.
pub const MAX_GAP: Duration = Duration::from_secs(1);

/// The pause after a failed probe that took `cost`: as long as the probe
/// itself (so probing never takes more than half of a core from the
/// container it waits for), between `MIN_GAP` and `MAX_GAP`.
pub fn gap_after(cost: Duration) -> Duration {
    cost.clamp(MIN_GAP, MAX_GAP)
}

/// When each container first passed its probe, kept in
/// `.geno/<stack>/ready.json` (by `state::readiness`) so `ps` and the next
/// `up` know it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadyRecord {
    /// Container ID → seconds from its start to its first passing probe.
    pub after_start: BTreeMap<String, f64>,
}

impl ReadyRecord {
    pub fn path(state_dir: &std::path::Path, stack: &str) -> std::path::PathBuf {
        state_dir.join(stack).join("ready.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_probe_is_the_health_command_itself() {
        assert_eq!(
            probe_command(&v(&[
                "CMD",
                "python",
                "-m",
                "genonaut.healthcheck",
                "http://x"
            ])),
            Some(v(&["python", "-m", "genonaut.healthcheck", "http://x"]))
        );
        assert_eq!(
            probe_command(&v(&[
                "CMD-SHELL",
                "celery inspect ping -d celery@$HOSTNAME"
            ])),
            Some(v(&[
                "/bin/sh",
                "-c",
                "celery inspect ping -d celery@$HOSTNAME"
            ]))
        );
        assert_eq!(probe_command(&v(&["NONE"])), None);
        assert_eq!(probe_command(&v(&["CMD"])), None);
        assert_eq!(probe_command(&[]), None);
    }

    #[test]
    fn the_gap_follows_the_probe_cost_within_bounds() {
        assert_eq!(gap_after(Duration::from_millis(20)), MIN_GAP);
        assert_eq!(
            gap_after(Duration::from_millis(600)),
            Duration::from_millis(600)
        );
        assert_eq!(gap_after(Duration::from_secs(4)), MAX_GAP);
    }
}
