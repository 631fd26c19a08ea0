//! Which targets of a group may take a request: the healthy ones; when none
//! is healthy but some are unhealthy, all registered ones (the ALB fails
//! open); none when the group is empty or only has targets still in their
//! first checks.

use super::health::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Indices of the targets to spread requests over.
    Route(Vec<usize>),
    /// Every target is unhealthy: route to all of them anyway.
    FailOpen(Vec<usize>),
    /// No registered targets: the ALB answers 503.
    NoTargets,
    /// Targets exist but none has passed a check yet: 503 as well.
    NoneReady,
}

pub fn select(states: &[State]) -> Selection {
    let registered: Vec<usize> = (0..states.len())
        .filter(|&i| states[i] != State::Draining)
        .collect();
    if registered.is_empty() {
        return Selection::NoTargets;
    }
    let healthy: Vec<usize> = registered
        .iter()
        .copied()
        .filter(|&i| states[i] == State::Healthy)
        .collect();
    if !healthy.is_empty() {
        return Selection::Route(healthy);
    }
    let unhealthy: Vec<usize> = registered
        .iter()
        .copied()
        .filter(|&i| states[i] == State::Unhealthy)
        .collect();
    if unhealthy.is_empty() {
        Selection::NoneReady
    } else {
        Selection::FailOpen(
            registered
                .into_iter()
                .filter(|&i| states[i] != State::Initial)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    #[test]
    fn healthy_only_when_any_is_healthy() {
        assert_eq!(
            select(&[Healthy, Unhealthy, Initial, Healthy]),
            Selection::Route(vec![0, 3])
        );
    }

    #[test]
    fn all_unhealthy_fails_open() {
        assert_eq!(
            select(&[Unhealthy, Unhealthy, Draining]),
            Selection::FailOpen(vec![0, 1])
        );
    }

    #[test]
    fn empty_groups_and_draining_only_groups_have_no_targets() {
        assert_eq!(select(&[]), Selection::NoTargets);
        assert_eq!(select(&[Draining]), Selection::NoTargets);
    }

    #[test]
    fn targets_still_in_first_checks_get_no_traffic() {
        assert_eq!(select(&[Initial, Initial]), Selection::NoneReady);
    }
}
