//! What geno's task supervisor does when a container of a task with
//! sidecars exits, as the ECS service scheduler would: an essential
//! container's exit stops the task, which starts again by the service's
//! restart policy after a back-off that grows while it keeps failing. A
//! container someone stopped (geno replacing or restarting the task, `geno
//! stop`, `docker stop`) is left to them. Pure: the supervisor feeds it the
//! engine's events.

use std::time::Duration;

use crate::stack::LocalRestart;

/// A container of a task exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub essential: bool,
    pub code: i64,
    /// A stop or kill came first (`geno stop`, `down`, `restart`, a
    /// replacement, or `docker stop`): it was meant, and whoever meant it
    /// sees to the rest of the task.
    pub stopped: bool,
    pub restart: LocalRestart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A non-essential container ended: the task goes on.
    Nothing,
    /// Stop the task's other containers, and leave it stopped.
    StopTask,
    /// Stop the task's other containers, then start the task again after
    /// this pause.
    Replace(Duration),
}

/// The pause before a task that failed `failures` times in a row starts
/// again: 1 s, doubling, at most 30 s (the engine's own restart back-off
/// grows the same way).
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs((1u64 << failures.min(5)).min(30))
}

pub fn decide(exit: &Exit, failures: u32) -> Decision {
    if !exit.essential || exit.stopped {
        return Decision::Nothing;
    }
    let again = match exit.restart {
        LocalRestart::No => false,
        LocalRestart::OnFailure => exit.code != 0,
        LocalRestart::Always | LocalRestart::UnlessStopped => true,
    };
    match again {
        true => Decision::Replace(backoff(failures)),
        false => Decision::StopTask,
    }
}

/// A restart policy as the label on a task's containers says it.
pub fn policy(label: Option<&str>) -> LocalRestart {
    match label {
        Some("no") => LocalRestart::No,
        Some("on-failure") => LocalRestart::OnFailure,
        Some("always") => LocalRestart::Always,
        _ => LocalRestart::UnlessStopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(essential: bool, code: i64, stopped: bool, restart: LocalRestart) -> Exit {
        Exit {
            essential,
            code,
            stopped,
            restart,
        }
    }

    #[test]
    fn an_essential_exit_replaces_the_task_by_its_policy_and_a_stop_only_stops_it() {
        use LocalRestart::*;
        let one = Duration::from_secs(1);
        assert_eq!(
            decide(&exit(false, 1, false, UnlessStopped), 0),
            Decision::Nothing
        );
        assert_eq!(
            decide(&exit(true, 1, false, UnlessStopped), 0),
            Decision::Replace(one)
        );
        assert_eq!(
            decide(&exit(true, 0, false, Always), 0),
            Decision::Replace(one)
        );
        assert_eq!(
            decide(&exit(true, 0, false, OnFailure), 0),
            Decision::StopTask
        );
        assert_eq!(
            decide(&exit(true, 3, false, OnFailure), 0),
            Decision::Replace(one)
        );
        assert_eq!(decide(&exit(true, 3, false, No), 0), Decision::StopTask);
        assert_eq!(decide(&exit(true, 143, true, Always), 0), Decision::Nothing);
    }

    #[test]
    fn the_back_off_doubles_to_thirty_seconds() {
        let secs: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(policy(Some("on-failure")), LocalRestart::OnFailure);
        assert_eq!(policy(None), LocalRestart::UnlessStopped);
    }
}
