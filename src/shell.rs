//! Everything geno says goes through one `Shell`: status lines, warnings and
//! notes on stderr, data on stdout (text or, with `--json`, JSON), tables,
//! and the streamed output of containers. It knows whether stderr is a
//! terminal, whether to colour, how verbose to be, and in tests it writes
//! into buffers that the test reads back (after cargo's `Shell`).

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

/// How much to say beyond the essentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Normal,
    Verbose,
}

enum Output {
    Stream,
    Buffer { out: Vec<u8>, err: Vec<u8> },
}

pub struct Shell {
    output: Mutex<Output>,
    verbosity: Verbosity,
    json: bool,
    /// Colour on stderr (a terminal, and NO_COLOR unset).
    colour_err: bool,
    /// Colour on stdout (log prefixes).
    colour_out: bool,
    /// While above zero, progress lines show only under `-v` (see `hushed`).
    hush: std::sync::atomic::AtomicUsize,
}

/// Progress hushed while it lives (see `Shell::hushed`).
pub struct Hush<'a>(&'a Shell);

impl Drop for Hush<'_> {
    fn drop(&mut self) {
        self.0
            .hush
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("verbosity", &self.verbosity)
            .field("json", &self.json)
            .finish()
    }
}

impl Shell {
    /// The process's stdout and stderr.
    pub fn new(verbosity: Verbosity, json: bool) -> Shell {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Shell {
            output: Mutex::new(Output::Stream),
            verbosity,
            json,
            colour_err: !no_colour && io::stderr().is_terminal(),
            colour_out: !no_colour && io::stdout().is_terminal(),
            hush: Default::default(),
        }
    }

    /// Writes into memory, for tests: read it back with `take`.
    pub fn buffer(verbosity: Verbosity, json: bool) -> Shell {
        Shell {
            output: Mutex::new(Output::Buffer {
                out: Vec::new(),
                err: Vec::new(),
            }),
            verbosity,
            json,
            colour_err: false,
            colour_out: false,
            hush: Default::default(),
        }
    }

    /// What a buffered shell has written so far: (stdout, stderr); emptied.
    pub fn take(&self) -> (String, String) {
        let mut o = self.lock();
        match &mut *o {
            Output::Stream => (String::new(), String::new()),
            Output::Buffer { out, err } => (
                String::from_utf8_lossy(&std::mem::take(out)).into_owned(),
                String::from_utf8_lossy(&std::mem::take(err)).into_owned(),
            ),
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn verbose(&self) -> bool {
        self.verbosity >= Verbosity::Verbose
    }

    /// Whether stdout is a terminal that takes colour (log prefixes).
    pub fn colour_stdout(&self) -> bool {
        self.colour_out
    }

    /// Whether stdin and stdout are both terminals (an interactive session).
    pub fn interactive(&self) -> bool {
        matches!(*self.lock(), Output::Stream)
            && io::stdin().is_terminal()
            && io::stdout().is_terminal()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Output> {
        // A panic while printing leaves the buffer usable.
        self.output.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write_err(&self, bytes: &[u8]) {
        match &mut *self.lock() {
            // A closed stderr has nobody to tell.
            Output::Stream => {
                let mut e = io::stderr().lock();
                let _ = e.write_all(bytes);
                let _ = e.flush();
            }
            Output::Buffer { err, .. } => err.extend_from_slice(bytes),
        }
    }

    fn write_out(&self, bytes: &[u8]) -> io::Result<()> {
        match &mut *self.lock() {
            Output::Stream => {
                let mut o = io::stdout().lock();
                o.write_all(bytes)?;
                o.flush()
            }
            Output::Buffer { out, .. } => {
                out.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn labelled(&self, label: &str, colour: &str, message: &dyn Display) {
        let line = if self.colour_err {
            format!("\x1b[{colour}m{label}:\x1b[0m {message}\n")
        } else {
            format!("{label}: {message}\n")
        };
        self.write_err(line.as_bytes());
    }

    /// A line of progress on stderr, as it is (only under `-v` while hushed).
    pub fn status(&self, message: impl Display) {
        if self.hush.load(std::sync::atomic::Ordering::SeqCst) == 0 || self.verbose() {
            self.write_err(format!("{message}\n").as_bytes());
        }
    }

    /// Progress a person asked for with `-v`.
    pub fn verbose_status(&self, message: impl Display) {
        if self.verbose() {
            self.write_err(format!("{message}\n").as_bytes());
        }
    }

    /// Hushes progress lines while the guard lives: shared machinery
    /// (converge's "starting …", "… ready after …") under a verb that says
    /// one line of its own per piece of work, as the edit loop does.
    /// Warnings and errors still show.
    pub fn hushed(&self) -> Hush<'_> {
        self.hush.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Hush(self)
    }

    /// `warning: …` on stderr.
    pub fn warn(&self, message: impl Display) {
        self.labelled("warning", "1;33", &message);
    }

    /// `note: …` on stderr.
    pub fn note(&self, message: impl Display) {
        self.labelled("note", "1;36", &message);
    }

    /// `error: …` on stderr; only the error reporter calls it.
    pub fn error(&self, message: impl Display) {
        self.labelled("error", "1;31", &message);
    }

    /// Text on stderr without a newline added (rendered diagnostics).
    pub fn err_text(&self, text: &str) {
        self.write_err(text.as_bytes());
    }

    /// A line of data on stdout. `Err` when stdout is closed (`| head`):
    /// callers streaming lines stop there.
    pub fn out_line(&self, line: impl Display) -> io::Result<()> {
        self.write_out(format!("{line}\n").as_bytes())
    }

    /// Text on stdout as it is.
    pub fn out_text(&self, text: &str) -> io::Result<()> {
        self.write_out(text.as_bytes())
    }

    /// Raw bytes of a process's stdout or stderr, passed through.
    pub fn pass_through(&self, bytes: &[u8], to_stderr: bool) {
        if to_stderr {
            self.write_err(bytes);
        } else {
            let _ = self.write_out(bytes);
        }
    }

    /// `value` as pretty JSON on stdout.
    pub fn print_json(&self, value: &impl serde::Serialize) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        text.push('\n');
        self.write_out(text.as_bytes())
    }

    /// Left-aligned columns on stdout.
    pub fn table<const N: usize>(&self, rows: &[[String; N]]) -> io::Result<()> {
        self.write_out(table(rows).as_bytes())
    }

    /// A `Write` into the shell's stderr, for adapters that report progress
    /// line by line (builds, pushes).
    pub fn err_writer(&self) -> ErrWriter<'_> {
        ErrWriter(self)
    }
}

pub struct ErrWriter<'a>(&'a Shell);

impl Write for ErrWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_err(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Plain left-aligned text columns, two spaces apart, no trailing blanks.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffered_shell_keeps_stdout_and_stderr_apart() {
        let shell = Shell::buffer(Verbosity::Normal, false);
        shell.status("building");
        shell.warn("volume kept");
        shell.note("nothing changed");
        shell.verbose_status("hidden at normal verbosity");
        shell.out_line("data").unwrap();
        shell.print_json(&serde_json::json!({"a": 1})).unwrap();
        let (out, err) = shell.take();
        assert_eq!(out, "data\n{\n  \"a\": 1\n}\n");
        assert_eq!(
            err,
            "building\nwarning: volume kept\nnote: nothing changed\n"
        );
        assert_eq!(shell.take(), (String::new(), String::new()));
    }

    #[test]
    fn verbose_lines_show_at_verbose() {
        let shell = Shell::buffer(Verbosity::Verbose, true);
        shell.verbose_status("detail");
        assert!(shell.json());
        assert_eq!(shell.take().1, "detail\n");
    }

    #[test]
    fn tables_align_columns_without_trailing_blanks() {
        let rows = [
            ["NAME".to_string(), "STATE".into(), "".into()],
            ["api".into(), "running".into(), "x".into()],
        ];
        assert_eq!(table(&rows), "NAME  STATE\napi   running  x\n");
    }

    #[test]
    fn adapters_write_progress_through_the_shell() {
        let shell = Shell::buffer(Verbosity::Normal, false);
        writeln!(shell.err_writer(), "step 1/3").unwrap();
        assert_eq!(shell.take().1, "step 1/3\n");
    }
}
