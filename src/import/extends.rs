//! Compose's `include` and `extends`, resolved before conversion as
//! Docker Compose v2 resolves them: an included file's services (and
//! volumes) join this file's, their paths made relative to it; and for
//! `extends`, a service takes the keys of the service it extends (in this
//! file, or in `file:`), its own winning; mappings merge key by key,
//! `environment` and `depends_on` in either form; `ports` and the other
//! lists are joined; `volumes` replace by target; `command` and
//! `entrypoint` replace. Paths of a service from another directory are
//! made relative to this file's. Pure.

use std::collections::BTreeSet;

use crate::stack::yaml::{self, Kind, Node, Span};

/// A service that could not be extended, and why (at the `extends` key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub span: Span,
    pub service: String,
    pub why: String,
}

/// Lists compose joins rather than replaces (`volumes` is joined by target).
const JOINED: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "dns_search",
    "env_file",
    "secrets",
    "configs",
    "tmpfs",
    "devices",
    "cap_add",
    "cap_drop",
    "extra_hosts",
    "external_links",
    "links",
    "profiles",
    "security_opt",
    "volumes_from",
];

/// Every service with its `extends` resolved (and the key gone), in the
/// file's order; what could not be resolved is said, and the service kept
/// as it is written.
pub fn resolve(
    services: &[(Node, Node)],
    read: &dyn Fn(&str) -> Option<String>,
) -> (Vec<(Node, Node)>, Vec<Unresolved>) {
    let mut problems = Vec::new();
    let out = services
        .iter()
        .map(|(k, v)| {
            let name = k.scalar().unwrap_or_default();
            let mut seen = BTreeSet::from([(String::new(), name.to_string())]);
            let resolved = match extended(v, "", services, read, &mut seen) {
                Ok(node) => node,
                Err((span, why)) => {
                    problems.push(Unresolved {
                        span,
                        service: name.to_string(),
                        why,
                    });
                    without_extends(v)
                }
            };
            (k.clone(), resolved)
        })
        .collect();
    (out, problems)
}

/// Named entries of a mapping (`services:`, `volumes:`), in order.
pub type Entries = Vec<(Node, Node)>;

/// What `include:` brings in: the included files' services and top-level
/// volumes (their relative paths made relative to this file, their spans
/// the include entry's), and what could not be read.
#[derive(Default)]
pub struct Included {
    pub services: Entries,
    pub volumes: Entries,
    pub problems: Vec<Unresolved>,
    seen: BTreeSet<String>,
}

pub fn included(include: &Node, read: &dyn Fn(&str) -> Option<String>) -> Included {
    let mut out = Included::default();
    out.include(include, "", read, 0);
    out
}

impl Included {
    fn say(&mut self, span: Span, why: String) {
        self.problems.push(Unresolved {
            span,
            service: String::new(),
            why,
        });
    }

    fn include(
        &mut self,
        include: &Node,
        dir: &str,
        read: &dyn Fn(&str) -> Option<String>,
        depth: usize,
    ) {
        let Kind::Seq(items) = &include.kind else {
            self.say(include.span, "`include` is a list of files".into());
            return;
        };
        for item in items {
            // `- file.yaml`, or `- path: file.yaml` (or a list of paths).
            let paths: Vec<String> = match (&item.kind, item.get("path")) {
                (Kind::Scalar { value, .. }, _) => vec![value.clone()],
                (_, Some((_, p))) => match &p.kind {
                    Kind::Scalar { value, .. } => vec![value.clone()],
                    Kind::Seq(ps) => ps
                        .iter()
                        .filter_map(|x| x.scalar())
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            for p in paths {
                self.file(item.span, &join(dir, &p), read, depth);
            }
        }
    }

    fn file(
        &mut self,
        span: Span,
        path: &str,
        read: &dyn Fn(&str) -> Option<String>,
        depth: usize,
    ) {
        if depth > 8 || !self.seen.insert(path.to_string()) {
            self.say(
                span,
                format!("{path} is included twice (or in a circle); read once"),
            );
            return;
        }
        let Some(text) = read(path) else {
            self.say(
                span,
                format!("{path} cannot be read; its services are not carried"),
            );
            return;
        };
        let root = match yaml::parse(&text) {
            Ok(r) => r,
            Err(e) => {
                self.say(span, format!("{path}: {e}"));
                return;
            }
        };
        let here = parent(path);
        if let Some((_, nested)) = root.get("include") {
            self.include(nested, &here, read, depth + 1);
        }
        if let Some((
            _,
            Node {
                kind: Kind::Map(s), ..
            },
        )) = root.get("services")
        {
            // `extends` within the included file resolves there.
            let (resolved, mut unresolved) = resolve(s, &|f| read(&join(&here, f)));
            self.problems.append(&mut unresolved);
            for (k, v) in resolved {
                let v = rebase_paths(&v, &relative_dir("", &here));
                self.services.push((respan(&k, span), respan(&v, span)));
            }
        }
        if let Some((
            _,
            Node {
                kind: Kind::Map(v), ..
            },
        )) = root.get("volumes")
        {
            for (k, spec) in v {
                self.volumes.push((respan(k, span), respan(spec, span)));
            }
        }
    }
}

type Failure = (Span, String);

/// `service` (from the file `dir`, "" for this one) with what it extends
/// merged beneath it.
fn extended(
    service: &Node,
    dir: &str,
    here: &[(Node, Node)],
    read: &dyn Fn(&str) -> Option<String>,
    seen: &mut BTreeSet<(String, String)>,
) -> Result<Node, Failure> {
    let Some((key, ext)) = service.get("extends") else {
        return Ok(service.clone());
    };
    let (base_name, file) = match &ext.kind {
        Kind::Scalar { value, .. } => (value.clone(), None),
        Kind::Map(_) => (
            ext.get("service")
                .and_then(|(_, s)| s.scalar())
                .unwrap_or_default()
                .to_string(),
            ext.get("file")
                .and_then(|(_, f)| f.scalar())
                .map(str::to_string),
        ),
        _ => {
            return Err((
                key.span,
                "`extends` names a service, or a `file` and `service`".into(),
            ));
        }
    };
    if base_name.is_empty() {
        return Err((key.span, "`extends` without `service`".into()));
    }
    let (base, base_dir) = match &file {
        None => {
            let found = here
                .iter()
                .find(|(k, _)| k.scalar() == Some(base_name.as_str()))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| (key.span, format!("no service `{base_name}` to extend")))?;
            (found, dir.to_string())
        }
        Some(f) => {
            let path = join(dir, f);
            let text = read(&path).ok_or_else(|| (key.span, format!("{path} cannot be read")))?;
            let root = yaml::parse(&text).map_err(|e| (key.span, format!("{path}: {e}")))?;
            let found = root
                .get("services")
                .and_then(|(_, s)| s.get(&base_name))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| (key.span, format!("{path} has no service `{base_name}`")))?;
            // Its own `extends` reads from where it lives; its keys are
            // reported at this file's `extends`.
            let base_dir = parent(&path);
            (respan(&found, key.span), base_dir)
        }
    };
    if !seen.insert((base_dir.clone(), base_name.clone())) {
        return Err((
            key.span,
            format!("`extends` goes round in a circle through `{base_name}`"),
        ));
    }
    let base_here: Vec<(Node, Node)> = match &file {
        None => here.to_vec(),
        Some(_) => Vec::new(),
    };
    let base = extended(&base, &base_dir, &base_here, read, seen)?;
    let base = if base_dir == dir {
        base
    } else {
        rebase_paths(&base, &relative_dir(dir, &base_dir))
    };
    Ok(merge_service(&base, &without_extends(service)))
}

fn without_extends(service: &Node) -> Node {
    match &service.kind {
        Kind::Map(entries) => Node {
            kind: Kind::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.scalar() != Some("extends"))
                    .cloned()
                    .collect(),
            ),
            span: service.span,
        },
        _ => service.clone(),
    }
}

/// `own` over `base`, key by key, as compose merges a service.
fn merge_service(base: &Node, own: &Node) -> Node {
    let (Kind::Map(b), Kind::Map(o)) = (&base.kind, &own.kind) else {
        return own.clone();
    };
    let mut out: Vec<(Node, Node)> = Vec::new();
    for (k, bv) in b {
        let key = k.scalar().unwrap_or_default();
        let merged = match o.iter().find(|(ok, _)| ok.scalar() == Some(key)) {
            None => bv.clone(),
            Some((_, ov)) => merge_key(key, bv, ov),
        };
        out.push((k.clone(), merged));
    }
    for (k, ov) in o {
        if !b.iter().any(|(bk, _)| bk.scalar() == k.scalar()) {
            out.push((k.clone(), ov.clone()));
        }
    }
    Node {
        kind: Kind::Map(out),
        span: own.span,
    }
}

fn merge_key(key: &str, base: &Node, own: &Node) -> Node {
    match key {
        "environment" | "labels" | "depends_on" | "annotations" => {
            merge_maps(&as_map(key, base), &as_map(key, own))
        }
        "volumes" => join_by(base, own, |n| {
            n.scalar()
                .map(|s| s.split(':').nth(1).unwrap_or(s).to_string())
                .or_else(|| {
                    n.get("target")
                        .and_then(|(_, t)| t.scalar())
                        .map(str::to_string)
                })
        }),
        k if JOINED.contains(&k) => join_by(base, own, |n| n.scalar().map(str::to_string)),
        "command" | "entrypoint" => own.clone(),
        _ => match (&base.kind, &own.kind) {
            (Kind::Map(_), Kind::Map(_)) => merge_maps(base, own),
            _ => own.clone(),
        },
    }
}

/// Mappings merged recursively, `own` winning.
fn merge_maps(base: &Node, own: &Node) -> Node {
    let (Kind::Map(b), Kind::Map(o)) = (&base.kind, &own.kind) else {
        return own.clone();
    };
    let mut out: Vec<(Node, Node)> = b
        .iter()
        .map(
            |(k, bv)| match o.iter().find(|(ok, _)| ok.scalar() == k.scalar()) {
                Some((_, ov)) => (
                    k.clone(),
                    match (&bv.kind, &ov.kind) {
                        (Kind::Map(_), Kind::Map(_)) => merge_maps(bv, ov),
                        _ => ov.clone(),
                    },
                ),
                None => (k.clone(), bv.clone()),
            },
        )
        .collect();
    for (k, ov) in o {
        if !b.iter().any(|(bk, _)| bk.scalar() == k.scalar()) {
            out.push((k.clone(), ov.clone()));
        }
    }
    Node {
        kind: Kind::Map(out),
        span: own.span,
    }
}

/// A list form (`KEY=VALUE`, or names for `depends_on`) as a mapping.
fn as_map(key: &str, n: &Node) -> Node {
    let Kind::Seq(items) = &n.kind else {
        return n.clone();
    };
    let entries = items
        .iter()
        .filter_map(|i| {
            let text = i.scalar()?;
            let scalar = |s: &str, span| Node {
                kind: Kind::Scalar {
                    value: s.to_string(),
                    quoted: true,
                },
                span,
            };
            Some(if key == "depends_on" {
                let cond = Node {
                    kind: Kind::Map(vec![(
                        scalar("condition", i.span),
                        scalar("service_started", i.span),
                    )]),
                    span: i.span,
                };
                (scalar(text, i.span), cond)
            } else {
                match text.split_once('=') {
                    Some((k, v)) => (scalar(k, i.span), scalar(v, i.span)),
                    None => (
                        scalar(text, i.span),
                        Node {
                            kind: Kind::Null,
                            span: i.span,
                        },
                    ),
                }
            })
        })
        .collect();
    Node {
        kind: Kind::Map(entries),
        span: n.span,
    }
}

/// `base`'s items then `own`'s; an item of `own` with the same identity
/// replaces `base`'s in its place.
fn join_by(base: &Node, own: &Node, id: impl Fn(&Node) -> Option<String>) -> Node {
    let (Kind::Seq(b), Kind::Seq(o)) = (&base.kind, &own.kind) else {
        return own.clone();
    };
    let mut out: Vec<Node> = b.clone();
    for item in o {
        let key = id(item);
        match key.and_then(|k| {
            out.iter()
                .position(|x| id(x).as_deref() == Some(k.as_str()))
        }) {
            Some(at) => out[at] = item.clone(),
            None => out.push(item.clone()),
        }
    }
    Node {
        kind: Kind::Seq(out),
        span: own.span,
    }
}

/// Every span of `n` set to `span` (keys from another file are reported
/// where this file extends them).
fn respan(n: &Node, span: Span) -> Node {
    let kind = match &n.kind {
        Kind::Map(entries) => Kind::Map(
            entries
                .iter()
                .map(|(k, v)| (respan(k, span), respan(v, span)))
                .collect(),
        ),
        Kind::Seq(items) => Kind::Seq(items.iter().map(|i| respan(i, span)).collect()),
        other => other.clone(),
    };
    Node { kind, span }
}

/// A service from directory `rel` (relative to this file's): its build
/// context, env files and bind mounts made relative to this file.
fn rebase_paths(service: &Node, rel: &str) -> Node {
    if rel.is_empty() {
        return service.clone();
    }
    let Kind::Map(entries) = &service.kind else {
        return service.clone();
    };
    let fix = |s: &str| -> String {
        if s.starts_with('/') || s.starts_with('~') || s.starts_with('$') {
            s.to_string()
        } else {
            join(rel, s)
        }
    };
    let scalar_with = |n: &Node, value: String| Node {
        kind: Kind::Scalar {
            value,
            quoted: true,
        },
        span: n.span,
    };
    let out = entries
        .iter()
        .map(|(k, v)| {
            let v = match (k.scalar().unwrap_or_default(), &v.kind) {
                ("build", Kind::Scalar { value, .. }) => scalar_with(v, fix(value)),
                ("build", Kind::Map(b)) => Node {
                    kind: Kind::Map(
                        b.iter()
                            .map(|(bk, bv)| match (bk.scalar(), bv.scalar()) {
                                (Some("context"), Some(c)) => (bk.clone(), scalar_with(bv, fix(c))),
                                _ => (bk.clone(), bv.clone()),
                            })
                            .collect(),
                    ),
                    span: v.span,
                },
                ("env_file", Kind::Scalar { value, .. }) => scalar_with(v, fix(value)),
                ("env_file", Kind::Seq(items)) => Node {
                    kind: Kind::Seq(
                        items
                            .iter()
                            .map(|i| match i.scalar() {
                                Some(p) => scalar_with(i, fix(p)),
                                None => i.clone(),
                            })
                            .collect(),
                    ),
                    span: v.span,
                },
                ("volumes", Kind::Seq(items)) => Node {
                    kind: Kind::Seq(
                        items
                            .iter()
                            .map(|i| match i.scalar() {
                                Some(s) if s.starts_with('.') => match s.split_once(':') {
                                    Some((src, rest)) => {
                                        scalar_with(i, format!("{}:{rest}", fix(src)))
                                    }
                                    None => i.clone(),
                                },
                                _ => i.clone(),
                            })
                            .collect(),
                    ),
                    span: v.span,
                },
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    Node {
        kind: Kind::Map(out),
        span: service.span,
    }
}

/// `dir/path` with `.` segments gone (`dir` may be empty).
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in dir.split('/').chain(path.split('/')) {
        match seg {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if joined.is_empty() {
        ".".into()
    } else if joined.starts_with("..") {
        joined
    } else {
        format!("./{joined}")
    }
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) => dir.trim_start_matches("./").to_string(),
        None => String::new(),
    }
}

/// `to` relative to `from` (both relative to this file's directory).
fn relative_dir(from: &str, to: &str) -> String {
    let from = from.trim_start_matches("./");
    let to = to.trim_start_matches("./");
    if from.is_empty() {
        return to.to_string();
    }
    let ups = from.split('/').filter(|s| !s.is_empty()).count();
    let mut out = vec![".."; ups].join("/");
    if !to.is_empty() {
        out = format!("{out}/{to}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(text: &str) -> Vec<(Node, Node)> {
        let root = yaml::parse(text).unwrap();
        match &root.get("services").unwrap().1.kind {
            Kind::Map(m) => m.clone(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn paths_join_and_rebase_like_compose_resolves_them() {
        assert_eq!(join("", "./api"), "./api");
        assert_eq!(join("common", "./data"), "./common/data");
        assert_eq!(join("common", "../x"), "./x");
        assert_eq!(relative_dir("", "common"), "common");
        assert_eq!(parent("common/base.yaml"), "common");
        assert_eq!(parent("base.yaml"), "");
    }

    #[test]
    fn a_cycle_and_a_missing_base_are_said_at_the_extends_key() {
        let s = services(
            "services:\n  a:\n    extends: b\n  b:\n    extends: a\n  c:\n    extends: nope\n",
        );
        let (out, problems) = resolve(&s, &|_| None);
        assert_eq!(out.len(), 3);
        let said: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.span.line, p.why.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                (5, "`extends` goes round in a circle through `a`"),
                (3, "`extends` goes round in a circle through `b`"),
                (7, "no service `nope` to extend"),
            ]
        );
    }
}
