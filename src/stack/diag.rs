//! Diagnostics: a message, where it points in the file, and how it is shown.
//!
//! The rendering follows rustc/cargo: `error:` line, ` --> file:line:col`,
//! the source line, and a caret under the offending text.

use std::fmt;

use super::yaml::{Kind, Node, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    /// Text beside the caret.
    pub label: Option<String>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub span: Span,
    pub line_text: String,
}

impl Location {
    /// A location in `source`; a span past its end (a parser that ran out
    /// of text) points at the end of the last line instead.
    pub fn new(file: &str, source: &str, span: Span) -> Location {
        let lines = source.lines().count();
        let span = if span.line > lines.max(1) {
            let last = source.lines().last().unwrap_or("");
            Span {
                line: lines.max(1),
                col: last.chars().count() + 1,
                len: 0,
            }
        } else {
            span
        };
        let line_text = source
            .lines()
            .nth(span.line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        Location {
            file: file.to_string(),
            span,
            line_text,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(loc) = &self.location {
            let Span { line, col, len } = loc.span;
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            writeln!(f, "{pad}--> {}:{line}:{col}", loc.file)?;
            writeln!(f, "{pad} |")?;
            writeln!(f, "{line} | {}", loc.line_text)?;
            // Keep tabs so the caret lines up under tab-indented text.
            let lead: String = loc
                .line_text
                .chars()
                .take(col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let available = loc.line_text.chars().count().saturating_sub(col - 1).max(1);
            let carets = "^".repeat(len.clamp(1, available));
            match &self.label {
                Some(label) => writeln!(f, "{pad} | {lead}{carets} {label}")?,
                None => writeln!(f, "{pad} | {lead}{carets}")?,
            }
        } else if let Some(label) = &self.label {
            writeln!(f, "  = note: {label}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Seg {
        Seg::Key(s.clone())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// Whether an error is about a mapping key itself or about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Key,
    Value,
}

/// A semantic problem found on the typed stack, located by path; the loader
/// turns the path into a span of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Seg>,
    pub at: At,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(path: Vec<Seg>, at: At, message: impl Into<String>) -> Problem {
        Problem {
            path,
            at,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Problem {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    pub fn dotted_path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) if out.is_empty() => out.push_str(k),
                Seg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Builds a path from a mix of keys and indices: `path!["services", name, "ports", 0]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {
        vec![$($crate::stack::diag::Seg::from($seg)),*]
    };
}

/// The span of the deepest node the path reaches: where a path runs past
/// what the document spells out (a default value), the nearest ancestor.
pub fn locate(root: &Node, path: &[Seg], at: At) -> Span {
    let mut node = root;
    let mut key_span = root.span;
    for (i, seg) in path.iter().enumerate() {
        let next = match (seg, &node.kind) {
            (Seg::Key(k), Kind::Map(entries)) => entries
                .iter()
                .find(|(key, _)| key.scalar() == Some(k.as_str()))
                .map(|(key, value)| (key.span, value)),
            (Seg::Index(idx), Kind::Seq(items)) => items.get(*idx).map(|v| (v.span, v)),
            // `depends_on: [a, b]` is addressed like its mapping form.
            (Seg::Key(k), Kind::Seq(items)) => items
                .iter()
                .find(|v| v.scalar() == Some(k.as_str()))
                .map(|v| (v.span, v)),
            _ => None,
        };
        match next {
            Some((kspan, value)) => {
                key_span = kspan;
                node = value;
                if i + 1 == path.len() {
                    return match (at, &value.kind) {
                        (At::Key, _) => kspan,
                        (At::Value, Kind::Scalar { .. }) => value.span,
                        // A mapping or list as a whole: point at its key.
                        (At::Value, _) => kspan,
                    };
                }
            }
            None => return key_span,
        }
    }
    key_span
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::yaml::parse;

    #[test]
    fn renders_caret_under_the_span_with_label_and_help() {
        let src = "services:\n  api:\n    depends_on: [db]\n";
        let d = Diagnostic {
            message: "services.api.depends_on[0]: unknown service `db`".into(),
            location: Some(Location::new(
                "stack.yaml",
                src,
                Span {
                    line: 3,
                    col: 18,
                    len: 2,
                },
            )),
            label: Some("did you mean `postgres`?".into()),
            help: Some("services are: api".into()),
        };
        assert_eq!(
            d.to_string(),
            "error: services.api.depends_on[0]: unknown service `db`\n \
             --> stack.yaml:3:18\n  |\n3 |     depends_on: [db]\n  |                  ^^ did you mean `postgres`?\n  = help: services are: api\n"
        );
    }

    #[test]
    fn locate_follows_keys_and_indices() {
        let root = parse("a:\n  b:\n    - x\n    - y: 1\n").unwrap();
        let p = path!["a", "b", 1, "y"];
        let s = locate(&root, &p, At::Value);
        assert_eq!((s.line, s.col), (4, 10));
        let s = locate(&root, &p, At::Key);
        assert_eq!((s.line, s.col), (4, 7));
        // Past the end: the nearest key that exists.
        let missing = path!["a", "missing", "deeper"];
        let s = locate(&root, &missing, At::Value);
        assert_eq!((s.line, s.col), (1, 1));
    }
}
