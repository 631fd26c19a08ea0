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
use crate::wait::{self, Check, Poll};

/// How long after `started` the command first exited 0 in container `id`;
/// `None` when the container stopped, `deadline` passed or Ctrl-C came first.
pub async fn until_ready(
    engine: Engine,
    id: String,
    command: Vec<String>,
    timeout: Duration,
    started: Instant,
    deadline: Instant,
    cancel: CancellationToken,
) -> Option<Duration> {
    let probe = || {
        let (engine, id, command) = (engine.clone(), id.clone(), command.clone());
        async move {
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
