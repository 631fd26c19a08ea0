//! How a command ends: `CliError` carries the error (if any) and the exit
//! code to `main`, which alone reports it — `error:` and a `Caused by:`
//! chain, as cargo prints them; a stack file with problems prints each
//! problem in full first. No verb prints `error:` itself.

use std::fmt;

use crate::shell::Shell;
use crate::stack::LoadError;

/// A command's failure: what to report, and the code to exit with. With no
/// error, the command has already said what there was to say (a container's
/// own exit code, `diff --exit-code`, an interrupt).
pub struct CliError {
    pub error: Option<anyhow::Error>,
    pub exit_code: i32,
}

/// What every verb returns.
pub type CliResult<T = ()> = Result<T, CliError>;

/// The exit code of a run the user interrupted (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

impl CliError {
    pub fn new(error: anyhow::Error, exit_code: i32) -> CliError {
        CliError {
            error: Some(error),
            exit_code,
        }
    }

    /// Exit with `exit_code`, reporting nothing more.
    pub fn code(exit_code: i32) -> CliError {
        CliError {
            error: None,
            exit_code,
        }
    }

    /// `Ok` for exit code 0, else a silent `CliError`.
    pub fn exit(code: i32) -> CliResult {
        if code == 0 {
            Ok(())
        } else {
            Err(CliError::code(code))
        }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "{e:?} (exit {})", self.exit_code),
            None => write!(f, "exit {}", self.exit_code),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(err: E) -> CliError {
        CliError::new(err.into(), 1)
    }
}

/// Writes the failure for a person and returns the exit code to use.
pub fn report(failure: &CliError, shell: &Shell) -> i32 {
    let Some(err) = &failure.error else {
        return failure.exit_code;
    };
    if let Some(LoadError::Invalid(invalid)) = err.downcast_ref::<LoadError>() {
        shell.err_text(&format!("{}\n", invalid.render()));
        shell.error(invalid);
        return failure.exit_code;
    }
    shell.error(err);
    let mut causes = err.chain().skip(1).peekable();
    if causes.peek().is_some() {
        shell.err_text("\nCaused by:\n");
        for cause in causes {
            shell.err_text(&format!("  {cause}\n"));
        }
    }
    failure.exit_code
}

/// An error and its causes, outermost first, as text.
pub fn causes(err: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Verbosity;
    use anyhow::Context;

    #[test]
    fn an_error_and_its_causes_are_reported_once() {
        let shell = Shell::buffer(Verbosity::Normal, false);
        let err: anyhow::Error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing the record")
            .unwrap_err();
        assert_eq!(report(&err.into(), &shell), 1);
        assert_eq!(
            shell.take().1,
            "error: writing the record\n\nCaused by:\n  disk full\n"
        );
    }

    #[test]
    fn a_bare_exit_code_says_nothing() {
        let shell = Shell::buffer(Verbosity::Normal, false);
        assert_eq!(report(&CliError::code(3), &shell), 3);
        assert_eq!(shell.take(), (String::new(), String::new()));
        assert!(CliError::exit(0).is_ok());
        assert_eq!(CliError::exit(2).unwrap_err().exit_code, 2);
    }
}
