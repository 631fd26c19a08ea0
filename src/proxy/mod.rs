//! The local load balancer: an async reverse proxy with ALB semantics.
//!
//! `geno up` starts it as a background process (`geno lb`); it finds targets
//! by watching the stack's containers, health-checks them over HTTP the way
//! the ALB does, and routes by the listener rules in stack.yaml. An admin
//! endpoint on loopback reports target health and what each group has
//! answered, and drains targets that `geno up` is about to replace.

pub mod admin;
pub mod daemon;
pub mod pool;
pub mod server;
pub mod targets;

use std::time::Duration;

use crate::stack::AlbHealthCheck;

/// Health check timing as the local proxy runs it.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub interval: Duration,
    pub timeout: Duration,
}

/// `--fast-health` shortens interval and timeout tenfold (not below 500 ms
/// and 250 ms); thresholds stay, and so do the rendered ECS values.
pub fn timing(hc: &AlbHealthCheck, fast: bool) -> Timing {
    if fast {
        Timing {
            interval: (hc.interval.0 / 10).max(Duration::from_millis(500)),
            timeout: (hc.timeout.0 / 10).max(Duration::from_millis(250)),
        }
    } else {
        Timing {
            interval: hc.interval.0,
            timeout: hc.timeout.0,
        }
    }
}
