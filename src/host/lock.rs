//! One geno at a time changes a stack: an advisory lock on
//! `.geno/<stack>/lock` (flock), taken by the verbs that change the local
//! stack and released by the kernel when the process ends, however it ends.
//! The holder writes who it is into the file, so a second command can say
//! what it waits for.

use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::shell::Shell;

/// Held until dropped.
#[derive(Debug)]
pub struct StackLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{holder} is changing stack `{stack}` ({}); run again when it is done, or without --no-wait to wait for it", path.display())]
    Held {
        stack: String,
        holder: String,
        path: PathBuf,
    },
}

fn flock(file: &File, how: i32) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor this File owns.
    if unsafe { libc::flock(file.as_raw_fd(), how) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl StackLock {
    /// Takes the lock of `stack` for `verb`: at once, or after waiting for
    /// the holder (said on the shell), or — with `no_wait` — an error naming
    /// the holder.
    pub async fn acquire(
        state_dir: &Path,
        stack: &str,
        verb: &str,
        no_wait: bool,
        shell: &Shell,
    ) -> Result<StackLock, LockError> {
        let path = state_dir.join(stack).join("lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().unwrap_or(state_dir)).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if let Err(e) = flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(e));
            }
            // The holder writes who it is just after it takes the lock:
            // an empty file may only mean we looked in between, so look
            // again a few times (50 ms at most) before saying nothing.
            let mut holder = String::new();
            for _ in 0..5 {
                holder = std::fs::read_to_string(&path).unwrap_or_default();
                if !holder.trim().is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            let holder = match holder.trim() {
                "" => "another geno".to_string(),
                h => h.to_string(),
            };
            if no_wait {
                return Err(LockError::Held {
                    stack: stack.to_string(),
                    holder,
                    path,
                });
            }
            shell.status(format!(
                "waiting for {holder} to finish with stack `{stack}` (Ctrl-C to stop waiting)"
            ));
            let f = file.try_clone().map_err(io)?;
            tokio::task::spawn_blocking(move || flock(&f, libc::LOCK_EX))
                .await
                .map_err(|e| io(std::io::Error::other(e)))?
                .map_err(io)?;
        }
        // Say who holds it, for the next one.
        let who = format!(
            "geno {verb} (pid {}, since {})",
            std::process::id(),
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(who.as_bytes()).map_err(io)?;
        Ok(StackLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Verbosity;

    #[tokio::test]
    async fn a_second_holder_is_refused_with_who_holds_it_then_gets_it() {
        let dir = tempfile::tempdir().unwrap();
        let shell = Shell::buffer(Verbosity::Normal, false);
        let first = StackLock::acquire(dir.path(), "s", "up", true, &shell)
            .await
            .unwrap();
        let err = StackLock::acquire(dir.path(), "s", "down", true, &shell)
            .await
            .unwrap_err()
            .to_string();
        let pid = std::process::id();
        assert!(
            err.starts_with(&format!("geno up (pid {pid}, since ")),
            "{err}"
        );
        assert!(err.contains("is changing stack `s` ("), "{err}");
        // A waiter gets it once the holder is gone.
        let waiter = tokio::spawn(async move {
            let shell = Shell::buffer(Verbosity::Normal, false);
            let lock = StackLock::acquire(dir.path(), "s", "down", false, &shell).await;
            (lock.is_ok(), shell.take().1, dir)
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(first);
        let (ok, said, _dir) = waiter.await.unwrap();
        assert!(ok);
        assert!(said.starts_with("waiting for geno up (pid "), "{said}");
    }
}
