//! A target's health as an ALB target group tracks it: states, reason
//! codes and the threshold counting that moves between them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Registered; its checks have not passed yet. Gets no traffic.
    Initial,
    Healthy,
    Unhealthy,
    /// Deregistered: no new requests, in-flight ones finish.
    Draining,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Draining => "draining",
        }
    }
}

/// The reason codes DescribeTargetHealth reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    #[serde(rename = "Elb.RegistrationInProgress")]
    RegistrationInProgress,
    #[serde(rename = "Elb.InitialHealthChecking")]
    InitialHealthChecking,
    #[serde(rename = "Target.ResponseCodeMismatch")]
    ResponseCodeMismatch,
    #[serde(rename = "Target.Timeout")]
    Timeout,
    #[serde(rename = "Target.FailedHealthChecks")]
    FailedHealthChecks,
    #[serde(rename = "Target.DeregistrationInProgress")]
    DeregistrationInProgress,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::RegistrationInProgress => "Elb.RegistrationInProgress",
            Reason::InitialHealthChecking => "Elb.InitialHealthChecking",
            Reason::ResponseCodeMismatch => "Target.ResponseCodeMismatch",
            Reason::Timeout => "Target.Timeout",
            Reason::FailedHealthChecks => "Target.FailedHealthChecks",
            Reason::DeregistrationInProgress => "Target.DeregistrationInProgress",
        }
    }
}

/// One health check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Pass,
    /// Answered with a status the matcher does not accept.
    Mismatch(u16),
    Timeout,
    /// Connection refused, reset, or not HTTP.
    Failed(String),
}

#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub healthy: u32,
    pub unhealthy: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    pub state: State,
    pub reason: Option<Reason>,
    pub description: String,
    #[serde(skip)]
    passes: u32,
    #[serde(skip)]
    failures: u32,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth::new()
    }
}

impl TargetHealth {
    pub fn new() -> TargetHealth {
        TargetHealth {
            state: State::Initial,
            reason: Some(Reason::RegistrationInProgress),
            description: "Target registration is in progress".into(),
            passes: 0,
            failures: 0,
        }
    }

    /// Applies one check result.
    pub fn record(&mut self, check: &Check, t: Thresholds) {
        if self.state == State::Draining {
            return;
        }
        if *check == Check::Pass {
            self.failures = 0;
            self.passes += 1;
            let enough = match self.state {
                // A new target needs one passing check (as documented for ALB).
                State::Initial | State::Healthy => true,
                State::Unhealthy => self.passes >= t.healthy,
                State::Draining => false,
            };
            if enough {
                self.state = State::Healthy;
                self.reason = None;
                self.description = String::new();
            }
            return;
        }
        self.passes = 0;
        self.failures += 1;
        let (reason, description) = match check {
            Check::Mismatch(code) => (
                Reason::ResponseCodeMismatch,
                format!("Health checks failed with these codes: [{code}]"),
            ),
            Check::Timeout => (Reason::Timeout, "Request timed out".to_string()),
            Check::Failed(why) => (
                Reason::FailedHealthChecks,
                format!("Health checks failed: {why}"),
            ),
            Check::Pass => unreachable!(),
        };
        match self.state {
            State::Initial if self.failures < t.unhealthy => {
                self.reason = Some(Reason::InitialHealthChecking);
                self.description = format!("Initial health checking in progress ({description})");
            }
            State::Healthy if self.failures < t.unhealthy => {
                // Still healthy until the threshold: one blip does not count.
            }
            _ => {
                self.state = State::Unhealthy;
                self.reason = Some(reason);
                self.description = description;
            }
        }
    }

    pub fn drain(&mut self) {
        self.state = State::Draining;
        self.reason = Some(Reason::DeregistrationInProgress);
        self.description = "Target deregistration is in progress".into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        healthy: 3,
        unhealthy: 2,
    };

    #[test]
    fn a_new_target_is_healthy_after_one_pass() {
        let mut h = TargetHealth::new();
        assert_eq!(
            (h.state, h.reason),
            (State::Initial, Some(Reason::RegistrationInProgress))
        );
        h.record(&Check::Pass, T);
        assert_eq!((h.state, h.reason), (State::Healthy, None));
    }

    #[test]
    fn a_new_target_that_keeps_failing_turns_unhealthy_at_the_threshold() {
        let mut h = TargetHealth::new();
        h.record(&Check::Timeout, T);
        assert_eq!(
            (h.state, h.reason),
            (State::Initial, Some(Reason::InitialHealthChecking))
        );
        h.record(&Check::Timeout, T);
        assert_eq!(
            (h.state, h.reason),
            (State::Unhealthy, Some(Reason::Timeout))
        );
        assert_eq!(h.description, "Request timed out");
    }

    #[test]
    fn healthy_turns_unhealthy_after_exactly_the_unhealthy_threshold() {
        let mut h = TargetHealth::new();
        h.record(&Check::Pass, T);
        h.record(&Check::Mismatch(503), T);
        assert_eq!(
            h.state,
            State::Healthy,
            "one failure is below the threshold of 2"
        );
        h.record(&Check::Pass, T);
        h.record(&Check::Mismatch(503), T);
        assert_eq!(
            h.state,
            State::Healthy,
            "a pass in between resets the count"
        );
        h.record(&Check::Mismatch(503), T);
        assert_eq!(
            (h.state, h.reason),
            (State::Unhealthy, Some(Reason::ResponseCodeMismatch))
        );
        assert_eq!(
            h.description,
            "Health checks failed with these codes: [503]"
        );
    }

    #[test]
    fn recovery_needs_the_healthy_threshold_of_consecutive_passes() {
        let mut h = TargetHealth::new();
        h.record(&Check::Failed("connection refused".into()), T);
        h.record(&Check::Failed("connection refused".into()), T);
        assert_eq!(
            (h.state, h.reason),
            (State::Unhealthy, Some(Reason::FailedHealthChecks))
        );
        h.record(&Check::Pass, T);
        h.record(&Check::Pass, T);
        h.record(&Check::Timeout, T);
        h.record(&Check::Pass, T);
        h.record(&Check::Pass, T);
        assert_eq!(h.state, State::Unhealthy, "the failure reset the count");
        h.record(&Check::Pass, T);
        assert_eq!(h.state, State::Healthy);
    }

    #[test]
    fn draining_ignores_checks() {
        let mut h = TargetHealth::new();
        h.record(&Check::Pass, T);
        h.drain();
        h.record(&Check::Pass, T);
        assert_eq!(
            (h.state, h.reason),
            (State::Draining, Some(Reason::DeregistrationInProgress))
        );
    }
}
