//! How a change to an environment (a promotion or a rollback) ends: on
//! failure every service it moved goes back; either way the record is
//! saved, shown as JSON under `--json`, and the command ends with a
//! success line or an error that names the record.

use std::path::Path;

use super::rollout::{Watch, failed_outcome, restore};
use crate::aws::Ecs;
use crate::deploy::record::{self, Outcome, Record, ServiceRecord};
use crate::shell::Shell;

/// After `failure` (a rollout, job or smoke run that failed): every
/// service in `changed` back to its previous task definition, watched; the
/// outcome says whether that worked.
pub async fn undo<E: Ecs>(
    what: &str,
    failure: impl std::fmt::Display,
    ecs: &E,
    cluster: &str,
    changed: &[ServiceRecord],
    watch: Watch,
    shell: &Shell,
) -> Outcome {
    shell.status(format!("{what} failed: {failure}"));
    let restored = restore(ecs, cluster, changed, watch, shell).await;
    failed_outcome(failure, restored)
}

/// Saves `record` (finished now); says `success`, or fails with
/// `failure(rolled back?, reason)` and where the record is.
pub fn conclude(
    shell: &Shell,
    dir: &Path,
    mut record: Record,
    success: impl FnOnce(&Record, &Path) -> String,
    failure: impl FnOnce(bool, &str) -> String,
) -> anyhow::Result<()> {
    record.finished_at = record::now();
    let path = record::save(dir, &record)?;
    if shell.json() {
        shell.print_json(&record)?;
    }
    match &record.outcome {
        Outcome::Succeeded => {
            shell.status(success(&record, &path));
            Ok(())
        }
        Outcome::RolledBack { reason } => {
            anyhow::bail!("{}\nrecorded in {}", failure(true, reason), path.display())
        }
        Outcome::Failed { reason } => {
            anyhow::bail!("{}\nrecorded in {}", failure(false, reason), path.display())
        }
        Outcome::InProgress { phase, .. } => anyhow::bail!(
            "{}\nrecorded in {}",
            failure(false, &format!("it ended while still at `{phase}`")),
            path.display()
        ),
    }
}

/// Saves `record` at `phase` on the way: if this process is killed, the
/// record says the change was interrupted there. A failure to save is a
/// warning; the change goes on.
pub fn checkpoint(shell: &Shell, dir: &Path, record: &mut Record, phase: &str) {
    record.at(phase);
    match record::save(dir, record) {
        Ok(_) => shell.verbose_status(format!("phase `{phase}` (on record)")),
        Err(e) => shell.warn(format!("the record could not be saved at `{phase}`: {e}")),
    }
}

/// Whether process `pid` runs (signal 0 checks without sending).
pub fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks the process exists.
    pid == std::process::id() || unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::Kind;
    use crate::shell::Verbosity;

    #[test]
    fn a_failed_change_is_an_error_naming_its_record_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, true);
        let mut r = Record::begin(Kind::Rollback, "s", "demo", "c");
        r.outcome = Outcome::Failed {
            reason: "timed out".into(),
        };
        let err = conclude(
            &shell,
            dir.path(),
            r.clone(),
            |_, _| "ok".into(),
            |back, why| format!("rollback failed (rolled back: {back}): {why}"),
        )
        .unwrap_err();
        let path = dir.path().join(format!("{}.json", r.id));
        assert_eq!(
            err.to_string(),
            format!(
                "rollback failed (rolled back: false): timed out\nrecorded in {}",
                path.display()
            )
        );
        let (out, err) = shell.take();
        let saved: Record = serde_json::from_str(&out).unwrap();
        assert_eq!(saved.outcome, r.outcome);
        assert!(!saved.finished_at.is_empty());
        assert_eq!(err, "");
        assert_eq!(record::load_all(dir.path()).unwrap(), vec![saved]);
    }

    #[test]
    fn a_successful_change_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let r = Record::begin(Kind::Promote, "s", "demo", "c");
        conclude(
            &shell,
            dir.path(),
            r,
            |r, _| format!("{} done", r.environment),
            |_, _| String::new(),
        )
        .unwrap();
        assert_eq!(shell.take(), (String::new(), "demo done\n".to_string()));
    }
}
