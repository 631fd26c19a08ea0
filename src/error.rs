//! How errors reach the user: `error:` and a `Caused by:` chain, as cargo
//! prints them; stack files with problems print each problem in full first.

use std::io::Write;

use crate::stack::LoadError;

/// Writes `err` for a person and returns the exit code to use.
pub fn report(err: &anyhow::Error, out: &mut dyn Write) -> i32 {
    if let Some(LoadError::Invalid(invalid)) = err.downcast_ref::<LoadError>() {
        let _ = writeln!(out, "{}", invalid.render());
        let _ = writeln!(out, "error: {invalid}");
        return 1;
    }
    let _ = writeln!(out, "error: {err}");
    let mut causes = err.chain().skip(1).peekable();
    if causes.peek().is_some() {
        let _ = writeln!(out, "\nCaused by:");
        for cause in causes {
            let _ = writeln!(out, "  {cause}");
        }
    }
    1
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
