//! A YAML document as a tree of nodes that remember where they came from.
//!
//! The stack is parsed into this tree first (anchors, aliases and `<<` merge
//! keys applied) so that interpolation, type errors and semantic errors can
//! all point at a line and column of the file the user wrote.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A 1-based line and column (in characters), and a length on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Span {
    fn from_parser(span: saphyr_parser::Span) -> Span {
        let start = span.start;
        let end = span.end;
        let len = if end.line() == start.line() {
            end.col().saturating_sub(start.col())
        } else {
            0
        };
        Span {
            line: start.line(),
            col: start.col() + 1,
            len: len.max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A plain `null`, `~` or an empty value.
    Null,
    Scalar {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in document order; merged keys come after the explicit ones and
    /// never override them, as YAML 1.1 merge keys specify.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

impl Node {
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Scalar { value, .. } => format!("`{value}`"),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses one YAML document. An empty document is an empty mapping.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let first = match parse_exact(source) {
        Err(e) if closes_flow_at(source, &e) => e,
        other => return other,
    };
    // A flow collection closed at its parent's indentation (`command: [` …
    // `]` under `command`): libyaml and go-yaml, so PyYAML and compose,
    // take it; the scanner here does not. Each such bracket is indented
    // until it is taken, a line at a time, within a bound.
    let mut text = source.to_string();
    for _ in 0..MAX_REINDENTS {
        match parse_exact(&text) {
            Err(e) if closes_flow_at(&text, &e) => {
                let line = e.span.line.saturating_sub(1);
                text = text
                    .split('\n')
                    .enumerate()
                    .map(|(i, l)| {
                        if i == line {
                            format!(" {l}")
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            other => return other,
        }
    }
    Err(first)
}

/// How many one-space shifts `parse` tries before it gives up.
const MAX_REINDENTS: usize = 256;

/// Whether `e` is the scanner's refusal of a closing `]` or `}` that sits
/// left of the block it belongs to.
fn closes_flow_at(text: &str, e: &SyntaxError) -> bool {
    e.message.ends_with("invalid indentation")
        && text
            .split('\n')
            .nth(e.span.line.saturating_sub(1))
            .and_then(|l| l.chars().nth(e.span.col.saturating_sub(1)))
            .is_some_and(|c| c == ']' || c == '}')
}

fn parse_exact(source: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(source),
        anchors: HashMap::new(),
        depth: 0,
        nodes: 0,
    };
    builder.document()
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored nodes and how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    depth: usize,
    /// Nodes in the tree so far, aliases counted at their expanded size.
    nodes: usize,
}

/// More nodes than any stack file needs; aliases that expand past it are
/// refused ("billion laughs") instead of eating memory.
const MAX_NODES: usize = 200_000;

fn count(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::Seq(items) => items.iter().map(count).sum(),
        Kind::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

/// Deeper than this is not a stack file; stopping here keeps hostile input
/// (`[[[[[[…`) from exhausting the stack.
const MAX_DEPTH: usize = 64;

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Ok((event, Span::from_parser(span))),
            Some(Err(e)) => Err(SyntaxError {
                message: format!("invalid YAML: {}", e.info()),
                span: Span {
                    line: e.marker().line(),
                    col: e.marker().col() + 1,
                    len: 1,
                },
            }),
            None => Err(SyntaxError {
                message: "invalid YAML: unexpected end of input".into(),
                span: Span::default(),
            }),
        }
    }

    fn document(&mut self) -> Result<Node, SyntaxError> {
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(SyntaxError {
                            message: "a stack file holds one YAML document; found a second `---`"
                                .into(),
                            span,
                        });
                    }
                }
                Event::StreamEnd => break,
                other => {
                    let node = self.node(other, span)?;
                    root = Some(node);
                }
            }
        }
        Ok(root.unwrap_or(Node {
            kind: Kind::Map(Vec::new()),
            span: Span {
                line: 1,
                col: 1,
                len: 1,
            },
        }))
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, SyntaxError> {
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError {
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                span,
            });
        }
        self.nodes += 1;
        let (node, anchor) = match event {
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    self.nodes += size;
                    if self.nodes > MAX_NODES {
                        return Err(SyntaxError {
                            message: format!(
                                "aliases expand this document past {MAX_NODES} nodes; refusing to expand it"
                            ),
                            span,
                        });
                    }
                    return Ok(node.clone());
                }
                None => {
                    return Err(SyntaxError {
                        message: "alias refers to an unknown anchor".into(),
                        span,
                    });
                }
            },
            Event::Scalar(value, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let kind =
                    if !quoted && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                        Kind::Null
                    } else {
                        Kind::Scalar {
                            value: value.into_owned(),
                            quoted,
                        }
                    };
                (Node { kind, span }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.depth += 1;
                let mut items = Vec::new();
                loop {
                    let (event, item_span) = self.next()?;
                    if let Event::SequenceEnd = event {
                        break;
                    }
                    items.push(self.node(event, item_span)?);
                }
                self.depth -= 1;
                (
                    Node {
                        kind: Kind::Seq(items),
                        span,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _) => {
                self.depth += 1;
                let map = self.mapping(span)?;
                self.depth -= 1;
                (map, anchor)
            }
            _ => {
                return Err(SyntaxError {
                    message: "invalid YAML: unexpected event".into(),
                    span,
                });
            }
        };
        if anchor != 0 {
            let size = count(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }

    fn mapping(&mut self, span: Span) -> Result<Node, SyntaxError> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            if let Event::MappingEnd = event {
                break;
            }
            let key = self.node(event, key_span)?;
            let (event, value_span) = self.next()?;
            let value = self.node(event, value_span)?;
            let key_text = match &key.kind {
                Kind::Scalar { value, .. } => value.clone(),
                Kind::Null => {
                    return Err(SyntaxError {
                        message: "a mapping key must not be empty".into(),
                        span: key.span,
                    });
                }
                _ => {
                    return Err(SyntaxError {
                        message: "mapping keys must be plain strings, not lists or mappings".into(),
                        span: key.span,
                    });
                }
            };
            if key_text == "<<" && matches!(&key.kind, Kind::Scalar { quoted: false, .. }) {
                // A merge key takes one mapping or a list of them; earlier
                // ones win, and explicit keys win over all of them.
                let sources = match value.kind {
                    Kind::Map(_) => vec![value],
                    Kind::Seq(items) => items,
                    _ => {
                        return Err(SyntaxError {
                            message: "`<<` merges a mapping or a list of mappings".into(),
                            span: value.span,
                        });
                    }
                };
                for source in sources {
                    match source.kind {
                        Kind::Map(source_entries) => {
                            for (k, v) in source_entries {
                                if !merged.iter().any(|(m, _)| m.scalar() == k.scalar()) {
                                    merged.push((k, v));
                                }
                            }
                        }
                        _ => {
                            return Err(SyntaxError {
                                message: "`<<` merges a mapping or a list of mappings".into(),
                                span: source.span,
                            });
                        }
                    }
                }
                continue;
            }
            if let Some((first, _)) = entries.iter().find(|(k, _)| k.scalar() == Some(&key_text)) {
                return Err(SyntaxError {
                    message: format!(
                        "duplicate key `{key_text}` (first defined at line {})",
                        first.span.line
                    ),
                    span: key.span,
                });
            }
            entries.push((key, value));
        }
        for (k, v) in merged {
            if !entries.iter().any(|(e, _)| e.scalar() == k.scalar()) {
                entries.push((k, v));
            }
        }
        Ok(Node {
            kind: Kind::Map(entries),
            span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Node) -> Vec<&str> {
        match &node.kind {
            Kind::Map(entries) => entries.iter().filter_map(|(k, _)| k.scalar()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn merge_keys_apply_and_explicit_keys_win() {
        let doc = "base: &b\n  a: 1\n  b: 2\nsvc:\n  <<: *b\n  b: 3\n";
        let root = parse(doc).unwrap();
        let (_, svc) = root.get("svc").unwrap();
        assert_eq!(keys(svc), vec!["b", "a"]);
        assert_eq!(svc.get("b").unwrap().1.scalar(), Some("3"));
        // The merged key keeps the position where the anchor defined it.
        assert_eq!(svc.get("a").unwrap().0.span.line, 2);
    }

    #[test]
    fn spans_are_one_based_with_length() {
        let root = parse("services:\n  api:\n    image: foo\n").unwrap();
        let (_, services) = root.get("services").unwrap();
        let (_, api) = services.get("api").unwrap();
        let (key, value) = api.get("image").unwrap();
        assert_eq!(
            key.span,
            Span {
                line: 3,
                col: 5,
                len: 5
            }
        );
        assert_eq!(
            value.span,
            Span {
                line: 3,
                col: 12,
                len: 3
            }
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a` (first defined at line 1)");
        assert_eq!(err.span.line, 3);
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert_eq!(keys(&parse("").unwrap()), Vec::<&str>::new());
        assert_eq!(
            keys(&parse("# only a comment\n").unwrap()),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let doc = "[".repeat(10_000);
        assert!(parse(&doc).is_err());
    }

    #[test]
    fn null_forms_and_quoted_null() {
        let root = parse("a: ~\nb:\nc: 'null'\n").unwrap();
        assert_eq!(root.get("a").unwrap().1.kind, Kind::Null);
        assert_eq!(root.get("b").unwrap().1.kind, Kind::Null);
        assert_eq!(root.get("c").unwrap().1.scalar(), Some("null"));
    }

    #[test]
    fn a_flow_list_closed_at_its_parents_indentation_reads_as_libyaml_reads_it() {
        let loose = "web:\n  command: [\n    a,\n    b\n  ]\n  ports: [1]\n";
        let tight = "web:\n  command: [a, b]\n  ports: [1]\n";
        let (l, t) = (parse(loose).unwrap(), parse(tight).unwrap());
        let words = |n: &Node| -> Vec<String> {
            match &n.get("web").unwrap().1.get("command").unwrap().1.kind {
                Kind::Seq(items) => items
                    .iter()
                    .map(|i| i.scalar().unwrap().to_string())
                    .collect(),
                _ => vec![],
            }
        };
        assert_eq!(words(&l), words(&t));
        assert_eq!(words(&l), ["a", "b"]);
        // Other lines keep their positions.
        assert_eq!(l.get("web").unwrap().1.get("ports").unwrap().0.span.line, 6);
        // A real indentation mistake is still one, where it is.
        let bad = "web:\n  a: 1\n b: 2\n";
        assert!(parse(bad).is_err());
    }
}
