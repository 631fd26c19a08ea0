//! stack.yaml written by geno (`init --from-ecs`, `init --from-compose`):
//! one emitter for a document tree, with geno's `# geno:` comments above
//! the entries they explain. A tree is built from the model's own types
//! (`Node::of`, so a field the model gains is written without a change
//! here) or by hand where the source holds what the model cannot (a
//! compose file's `${PORT:-8000}` where the model has a number). Short
//! maps and lists of scalars are written in flow style (`{ context: . }`,
//! `[8000]`), the rest as blocks; top-level entries are set apart by a
//! blank line.

use serde::Serialize;
use serde_json::Value;

/// Widest line a flow collection is written on.
const WIDTH: usize = 100;

/// Keys whose maps are blocks however short: one variable or probe
/// setting a line reads (and diffs) better.
const BLOCK_KEYS: &[&str] = &["environment", "variables", "healthcheck", "health_check"];

/// Top-level sections whose every entry is a block: a service reads as
/// one, however little it says.
const BLOCK_SECTIONS: &[&str] = &["services"];

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar as it is written (`8000`, `true`, `"a b"`).
    Scalar(String),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

/// A map's entry and the comment lines above it (without `# `).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Node,
    pub comments: Vec<String>,
}

impl Node {
    /// A string, plain when that reads back as the same string.
    pub fn str(s: &str) -> Node {
        Node::Scalar(quote(s))
    }

    /// A number or any other scalar written as it displays.
    pub fn plain(v: impl std::fmt::Display) -> Node {
        Node::Scalar(v.to_string())
    }

    /// A list of strings.
    pub fn strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Node {
        Node::Seq(items.into_iter().map(Node::str).collect())
    }

    /// An empty map, to fill with `set`.
    pub fn map() -> Node {
        Node::Map(Vec::new())
    }

    /// A model value as it serializes (defaults skipped as the model
    /// skips them, fields in declaration order).
    pub fn of<T: Serialize>(value: &T) -> Node {
        from_json(&serde_json::to_value(value).unwrap_or(Value::Null))
    }

    /// Sets `key` of a map (replacing it in place, or appending); a no-op
    /// on anything else.
    pub fn set(&mut self, key: &str, value: Node) -> &mut Node {
        if let Node::Map(entries) = self {
            match entries.iter().position(|e| e.key == key) {
                Some(i) => entries[i].value = value,
                None => entries.push(Entry {
                    key: key.to_string(),
                    value,
                    comments: Vec::new(),
                }),
            }
        }
        self
    }

    /// Removes `key` from a map.
    pub fn remove(&mut self, key: &str) {
        if let Node::Map(entries) = self {
            entries.retain(|e| e.key != key);
        }
    }

    /// The node at `path` (map keys), if there is one.
    pub fn get_mut(&mut self, path: &[&str]) -> Option<&mut Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        self.entry_mut(first)?.value.get_mut(rest)
    }

    fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        match self {
            Node::Map(entries) => entries.iter_mut().find(|e| e.key == key),
            _ => None,
        }
    }

    /// Puts `# text` above the entry at `path`; returns whether there is one.
    pub fn comment(&mut self, path: &[&str], text: impl Into<String>) -> bool {
        let Some((last, parent)) = path.split_last() else {
            return false;
        };
        match self.get_mut(parent).and_then(|p| p.entry_mut(last)) {
            Some(e) => {
                e.comments.push(text.into());
                true
            }
            None => false,
        }
    }

    fn is_empty_collection(&self) -> bool {
        matches!(self, Node::Map(e) if e.is_empty()) || matches!(self, Node::Seq(i) if i.is_empty())
    }

    /// The flow form, if the node has no comments inside.
    fn flow(&self) -> Option<String> {
        match self {
            Node::Scalar(s) => Some(s.clone()),
            Node::Seq(items) => {
                let items: Option<Vec<String>> = items.iter().map(Node::flow).collect();
                Some(format!("[{}]", items?.join(", ")))
            }
            Node::Map(entries) if entries.is_empty() => Some("{}".into()),
            Node::Map(entries) => {
                let mut parts = Vec::new();
                for e in entries {
                    if !e.comments.is_empty() {
                        return None;
                    }
                    parts.push(format!("{}: {}", quote(&e.key), e.value.flow()?));
                }
                Some(format!("{{ {} }}", parts.join(", ")))
            }
        }
    }

    /// Whether to write this node on its key's line: scalars, empty
    /// collections, and small collections that fit.
    fn inline(&self, indent: usize, key: &str) -> Option<String> {
        if let Node::Scalar(s) = self {
            return Some(s.clone());
        }
        if self.is_empty_collection() {
            return self.flow();
        }
        let depth = depth(self);
        if let Node::Map(entries) = self {
            // A map of collections flows only as one entry
            // (`local: { generate: { length: 32 } }`), and a long map not at all.
            let nested = depth >= 2 && entries.len() > 1;
            if BLOCK_KEYS.contains(&key) || nested || entries.len() > 4 {
                return None;
            }
        }
        // A top-level section of sections is a block, however short.
        if (indent == 0 && depth >= 2) || depth > 3 {
            return None;
        }
        let flow = self.flow()?;
        (indent * 2 + key.len() + 2 + flow.len() <= WIDTH).then_some(flow)
    }
}

/// How deeply collections nest in `node` (a scalar is 0).
fn depth(node: &Node) -> usize {
    match node {
        Node::Scalar(_) => 0,
        Node::Seq(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Node::Map(entries) => 1 + entries.iter().map(|e| depth(&e.value)).max().unwrap_or(0),
    }
}

fn from_json(v: &Value) -> Node {
    match v {
        Value::Null => Node::Scalar("null".into()),
        Value::Bool(b) => Node::plain(b),
        Value::Number(n) => Node::plain(n),
        Value::String(s) => Node::str(s),
        Value::Array(items) => Node::Seq(items.iter().map(from_json).collect()),
        Value::Object(map) => Node::Map(
            map.iter()
                .map(|(k, v)| Entry {
                    key: k.clone(),
                    value: from_json(v),
                    comments: Vec::new(),
                })
                .collect(),
        ),
    }
}

/// The document: `header` comment lines, then `root` (a map), its
/// top-level entries set apart by blank lines.
pub fn write(header: &[String], root: &Node) -> String {
    let mut out = String::new();
    for line in header {
        comment_line(&mut out, 0, line);
    }
    if let Node::Map(entries) = root {
        for (i, e) in entries.iter().enumerate() {
            // `name:` stays with the header; every later section stands apart.
            if i > 1 || (i == 1 && !e.key.is_empty()) {
                out.push('\n');
            }
            entry(&mut out, 0, e);
        }
    }
    out
}

fn comment_line(out: &mut String, indent: usize, text: &str) {
    out.push_str(&"  ".repeat(indent));
    if text.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        out.push_str(text);
        out.push('\n');
    }
}

fn entry(out: &mut String, indent: usize, e: &Entry) {
    entry_as(out, indent, e, false);
}

/// An entry; `as_block` writes a non-empty map as a block whatever its size.
fn entry_as(out: &mut String, indent: usize, e: &Entry, as_block: bool) {
    for c in &e.comments {
        comment_line(out, indent, c);
    }
    let pad = "  ".repeat(indent);
    let key = quote(&e.key);
    let inline = match &e.value {
        Node::Map(entries) if as_block && !entries.is_empty() => None,
        value => value.inline(indent, &key),
    };
    match inline {
        Some(text) => out.push_str(&format!("{pad}{key}: {text}\n")),
        None if indent == 0 && BLOCK_SECTIONS.contains(&e.key.as_str()) => {
            out.push_str(&format!("{pad}{key}:\n"));
            if let Node::Map(entries) = &e.value {
                for child in entries {
                    entry_as(out, 1, child, true);
                }
            }
        }
        None => {
            out.push_str(&format!("{pad}{key}:\n"));
            block(out, indent + 1, &e.value);
        }
    }
}

fn block(out: &mut String, indent: usize, node: &Node) {
    let pad = "  ".repeat(indent);
    match node {
        Node::Scalar(s) => out.push_str(&format!("{pad}{s}\n")),
        Node::Map(entries) => {
            for e in entries {
                entry(out, indent, e);
            }
        }
        Node::Seq(items) => {
            for item in items {
                // A list item's map starts on the dash's line.
                let mut text = String::new();
                match item.inline(indent, "-") {
                    Some(flow) if !matches!(item, Node::Map(e) if !e.is_empty()) => {
                        text = format!("{flow}\n")
                    }
                    _ => block(&mut text, indent + 1, item),
                }
                let body = text.strip_prefix(&"  ".repeat(indent + 1)).unwrap_or(&text);
                out.push_str(&format!("{pad}- {body}"));
            }
        }
    }
}

/// A YAML scalar for `s`: plain when that reads back as the same string,
/// else double-quoted (JSON's string syntax is YAML's).
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@+=".contains(c))
        && !s.starts_with(['-', '@'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Node {
        let mut root = Node::map();
        root.set("name", Node::str("shop"));
        root.set("image", {
            let mut m = Node::map();
            m.set("context", Node::str("."));
            m
        });
        let mut web = Node::map();
        web.set(
            "command",
            Node::strs(["gunicorn", "app:app", "--bind", "0.0.0.0:8000"]),
        );
        web.set("ports", Node::Seq(vec![Node::plain(8000)]));
        web.set("environment", {
            let mut env = Node::map();
            for (k, v) in [
                ("A", "1"),
                ("B", "two words"),
                ("C", "true"),
                ("D", "x"),
                ("E", "y"),
            ] {
                env.set(k, Node::str(v));
            }
            env
        });
        let mut services = Node::map();
        services.set("web", web);
        root.set("services", services);
        let mut rule = Node::map();
        rule.set("priority", Node::plain(10));
        rule.set("conditions", {
            let mut c = Node::map();
            c.set("path", Node::strs(["/*"]));
            c
        });
        let mut lb = Node::map();
        lb.set("rules", Node::Seq(vec![rule.clone(), rule]));
        root.set("load_balancer", lb);
        root.set("environments", {
            let mut e = Node::map();
            e.set("local", Node::map());
            e
        });
        root
    }

    #[test]
    fn writes_blocks_flows_comments_and_lists_of_maps() {
        let mut root = doc();
        assert!(root.comment(&["services", "web", "ports"], "geno: not published."));
        assert!(!root.comment(&["services", "nope"], "lost"));
        let text = write(&["Read by a test.".to_string()], &root);
        assert_eq!(
            text,
            "# Read by a test.\n\
             name: shop\n\
             \n\
             image: { context: . }\n\
             \n\
             services:\n\
             \x20 web:\n\
             \x20   command: [gunicorn, \"app:app\", \"--bind\", \"0.0.0.0:8000\"]\n\
             \x20   # geno: not published.\n\
             \x20   ports: [8000]\n\
             \x20   environment:\n\
             \x20     A: \"1\"\n\
             \x20     B: \"two words\"\n\
             \x20     C: \"true\"\n\
             \x20     D: x\n\
             \x20     E: \"y\"\n\
             \n\
             load_balancer:\n\
             \x20 rules:\n\
             \x20   - priority: 10\n\
             \x20     conditions: { path: [\"/*\"] }\n\
             \x20   - priority: 10\n\
             \x20     conditions: { path: [\"/*\"] }\n\
             \n\
             environments:\n\
             \x20 local: {}\n"
        );
    }

    #[test]
    fn what_is_written_reads_back_as_the_same_tree() {
        let text = write(&[], &doc());
        let root = crate::stack::yaml::parse(&text).unwrap();
        let at = |path: &[&str]| {
            let mut node = &root;
            for key in path {
                node = match key.parse::<usize>() {
                    Ok(i) => match &node.kind {
                        crate::stack::yaml::Kind::Seq(items) => &items[i],
                        other => panic!("{other:?}"),
                    },
                    Err(_) => node.get(key).unwrap().1,
                };
            }
            match &node.kind {
                crate::stack::yaml::Kind::Scalar { value, quoted } => (value.clone(), *quoted),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            at(&["services", "web", "environment", "C"]),
            ("true".into(), true)
        );
        assert_eq!(
            at(&["services", "web", "ports", "0"]),
            ("8000".into(), false)
        );
        assert_eq!(
            at(&["services", "web", "command", "1"]),
            ("app:app".into(), true)
        );
        assert_eq!(
            at(&["load_balancer", "rules", "1", "conditions", "path", "0"]),
            ("/*".into(), true)
        );
    }

    #[test]
    fn scalars_that_would_read_as_something_else_are_quoted() {
        for (s, q) in [
            ("plain", "plain"),
            ("yes", "\"yes\""),
            ("8000", "\"8000\""),
            ("", "\"\""),
            ("-x", "\"-x\""),
            ("a: b", "\"a: b\""),
            ("${GENO_ENV}", "\"${GENO_ENV}\""),
            ("${PORT:-80}:80", "\"${PORT:-80}:80\""),
            ("a \"b\"", "\"a \\\"b\\\"\""),
        ] {
            assert_eq!(quote(s), q, "{s}");
        }
    }
}
