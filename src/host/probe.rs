//! Probing a container's readiness: its service's own health command run
//! through the Engine API's exec from the moment it starts, one probe at a
//! time, each after a pause as long as the last one took (between 250 ms
//! and 1 s), until the first pass.
//!
//! Measured on the Genonaut stack (2 cores): overlapping a still-running
//! probe with another (up to three at once, a second apart, so that a
//! `celery inspect ping` waiting out its own timeout is not the only
//! chance) made cold `up` slower, 20.1–22.8 s against 17.1–18.6 s serial,
//! interleaved runs: the probes' start-up CPU slows the workers they wait
//! for. Pauses of two or three times the probe's cost were slower too
//! (19.8–22.9 s).

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::docker::Engine;
use crate::local::readiness::gap_after;
use crate::proxy::daemon::{self, LbState};
use crate::proxy::targets::FAST_CHECK;
use crate::wait::{self, Check, Poll};

/// How long a probe of a load-balanced container waits for the load
/// balancer's own check to pass before it execs the health command anyway
/// (an ALB health path that answers later than the app, or not at all).
pub const GATE_AT_MOST: Duration = Duration::from_secs(30);

/// One container's readiness probe: its service's health command, run in
/// container `id` through the engine, each run bounded by `timeout`.
pub struct Probe {
    pub engine: Engine,
    pub id: String,
    pub command: Vec<String>,
    pub timeout: Duration,
    /// The load balancer, for a container it routes to (see `until_ready`).
    pub gate: Option<LbState>,
}

/// How long after `started` the probe's command first exited 0 in its
/// container; `None` when the container stopped, `deadline` passed or
/// Ctrl-C came first.
///
/// The gate: the load balancer, for a container it routes to. Its HTTP check
/// (every 100 ms for a target geno just started) costs the container
/// nothing, while each exec starts a process that reads its files through
/// the same storage driver the starting app reads its own through (on
/// fuse-overlayfs here, a restart of the Genonaut api took 2.3–2.8 s alone
/// and 2.7–3.1 s with exec probes beside it). So the exec waits until the
/// load balancer has seen the app answer, then confirms with one probe.
pub async fn until_ready(
    p: Probe,
    started: Instant,
    deadline: Instant,
    cancel: CancellationToken,
) -> Option<Duration> {
    let Probe {
        engine,
        id,
        command,
        timeout,
        gate,
    } = p;
    let probe = || {
        let (engine, id, command, gate) =
            (engine.clone(), id.clone(), command.clone(), gate.clone());
        async move {
            if let Some(lb) = &gate
                && started.elapsed() < GATE_AT_MOST
                && !daemon::healthy(lb, &id).await
            {
                return Check::Again(FAST_CHECK);
            }
            let t = Instant::now();
            match tokio::time::timeout(timeout, engine.exec_capture(&id, command)).await {
                Ok(Ok((0, _, _))) => Check::Ready(started.elapsed()),
                // Not yet: the process is starting, or answered "not ready".
                Ok(Ok(_)) | Err(_) => Check::Again(gap_after(t.elapsed())),
                // The container is gone or stopped: `up`'s observation says why.
                Ok(Err(_)) => Check::Failed(()),
            }
        }
    };
    let poll = Poll::every(gap_after(Duration::ZERO)).until(deadline);
    wait::until_in_task(poll, &cancel, probe).await.ok()
}
