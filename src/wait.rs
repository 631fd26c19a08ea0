//! One way to wait for something: a probe that looks once and answers with
//! a pure condition's verdict (ready, not yet, failed), polled at a cadence
//! until it is ready, fails, the caller's deadline passes or the user
//! interrupts — and the reason for giving up says which (after
//! kube-runtime's `await_condition`: the condition is pure, the caller owns
//! the timeout). Every wait in geno goes through `until`; every periodic
//! task ticks with `every`.

use std::future::Future;
use std::ops::AsyncFnMut;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One look's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T, E> {
    Ready(T),
    /// Look again after the poll's `every`.
    NotYet,
    /// Look again after this pause (a probe that sets its own cadence).
    Again(Duration),
    Failed(E),
}

/// Why `until` stopped without the thing being ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUp<E> {
    /// The deadline passed; `after` is how long the wait had.
    TimedOut { after: Duration },
    /// The cancellation token fired (Ctrl-C).
    Interrupted,
    /// The probe saw a failure that waiting cannot mend.
    Failed(E),
}

/// How often to look, and until when.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub every: Duration,
    pub deadline: Option<Instant>,
}

impl Poll {
    /// Look every `every`, with no deadline (the token still stops it).
    pub fn every(every: Duration) -> Poll {
        Poll {
            every,
            deadline: None,
        }
    }

    /// Give up `timeout` from now.
    pub fn timeout(self, timeout: Duration) -> Poll {
        Poll {
            deadline: Some(Instant::now() + timeout),
            ..self
        }
    }

    /// Give up at `deadline` (shared by several waits of one command).
    pub fn until(self, deadline: Instant) -> Poll {
        Poll {
            deadline: Some(deadline),
            ..self
        }
    }
}

/// Looks at once, then every `poll.every`, until the probe is ready or
/// failed, the deadline passes (after one last look at the deadline), or
/// `cancel` fires while waiting.
pub async fn until<T, E>(
    poll: Poll,
    cancel: &CancellationToken,
    mut probe: impl AsyncFnMut() -> Check<T, E>,
) -> Result<T, GaveUp<E>> {
    let started = Instant::now();
    loop {
        match step(&poll, started, probe().await) {
            Step::Done(r) => return r,
            Step::Pause(d) => pause(cancel, d).await?,
        }
    }
}

/// `until` for a probe that runs in a spawned task: a closure returning a
/// `Send` future (rustc cannot yet prove an async closure's future `Send`).
pub async fn until_in_task<T, E, F, Fut>(
    poll: Poll,
    cancel: &CancellationToken,
    mut probe: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check<T, E>>,
{
    let started = Instant::now();
    loop {
        match step(&poll, started, probe().await) {
            Step::Done(r) => return r,
            Step::Pause(d) => pause(cancel, d).await?,
        }
    }
}

enum Step<T, E> {
    Done(Result<T, GaveUp<E>>),
    Pause(Duration),
}

/// What one look's verdict means for the wait.
fn step<T, E>(poll: &Poll, started: Instant, verdict: Check<T, E>) -> Step<T, E> {
    let wanted = match verdict {
        Check::Ready(t) => return Step::Done(Ok(t)),
        Check::Failed(e) => return Step::Done(Err(GaveUp::Failed(e))),
        Check::NotYet => poll.every,
        Check::Again(pause) => pause,
    };
    let now = Instant::now();
    match poll.deadline {
        Some(d) if now >= d => Step::Done(Err(GaveUp::TimedOut {
            after: d.saturating_duration_since(started),
        })),
        Some(d) => Step::Pause(wanted.min(d - now)),
        None => Step::Pause(wanted),
    }
}

async fn pause<E>(cancel: &CancellationToken, d: Duration) -> Result<(), GaveUp<E>> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(GaveUp::Interrupted),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

/// A background task's heartbeat (discovery, health checks): `next`
/// answers `true` at once, then after each `period`, and `false` once
/// `cancel` fires. A loop, not a closure, so the task stays `Send`.
pub struct Ticks<'a> {
    period: Duration,
    cancel: &'a CancellationToken,
    first: bool,
}

pub fn every(period: Duration, cancel: &CancellationToken) -> Ticks<'_> {
    Ticks {
        period,
        cancel,
        first: true,
    }
}

impl Ticks<'_> {
    pub async fn next(&mut self) -> bool {
        if std::mem::take(&mut self.first) {
            return !self.cancel.is_cancelled();
        }
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(self.period) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ready_on_the_third_look() {
        let mut looks = 0;
        let started = Instant::now();
        let r: Result<u32, GaveUp<()>> = until(
            Poll::every(Duration::from_secs(1)).timeout(Duration::from_secs(10)),
            &CancellationToken::new(),
            async || {
                looks += 1;
                if looks == 3 {
                    Check::Ready(looks)
                } else {
                    Check::NotYet
                }
            },
        )
        .await;
        assert_eq!(r, Ok(3));
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_may_set_its_own_cadence() {
        let mut looks = Vec::new();
        let started = Instant::now();
        let r: Result<(), GaveUp<()>> = until(
            Poll::every(Duration::from_secs(10)).timeout(Duration::from_secs(5)),
            &CancellationToken::new(),
            async || {
                looks.push(started.elapsed().as_millis());
                Check::Again(Duration::from_millis(1500 * looks.len() as u64))
            },
        )
        .await;
        assert!(matches!(r, Err(GaveUp::TimedOut { .. })));
        // Pauses of 1.5 s, then 3 s cut short by the deadline at 5 s.
        assert_eq!(looks, [0, 1500, 4500, 5000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_ends_the_wait_at_once() {
        let r: Result<(), GaveUp<&str>> = until(
            Poll::every(Duration::from_secs(1)),
            &CancellationToken::new(),
            async || Check::Failed("exited with 1"),
        )
        .await;
        assert_eq!(r, Err(GaveUp::Failed("exited with 1")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_gets_one_last_look_and_is_not_overrun() {
        let mut looks = 0;
        let started = Instant::now();
        let r: Result<(), GaveUp<()>> = until(
            Poll::every(Duration::from_secs(5)).timeout(Duration::from_secs(12)),
            &CancellationToken::new(),
            async || {
                looks += 1;
                Check::NotYet
            },
        )
        .await;
        assert_eq!(
            r,
            Err(GaveUp::TimedOut {
                after: Duration::from_secs(12)
            })
        );
        // At 0, 5, 10 and the deadline, 12.
        assert_eq!(looks, 4);
        assert_eq!(started.elapsed(), Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_is_not_a_timeout() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            c.cancel();
        });
        let r: Result<(), GaveUp<()>> = until(
            Poll::every(Duration::from_secs(1)).timeout(Duration::from_secs(60)),
            &cancel,
            async || Check::NotYet,
        )
        .await;
        assert_eq!(r, Err(GaveUp::Interrupted));
    }

    #[tokio::test(start_paused = true)]
    async fn every_ticks_until_cancelled() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            c.cancel();
        });
        let mut ticks = 0;
        let mut heart = every(Duration::from_secs(1), &cancel);
        while heart.next().await {
            ticks += 1;
        }
        assert_eq!(ticks, 3, "at 0, 1 and 2 s");
    }
}
