//! One field's difference between what is live and what stack.yaml
//! renders, and the walk that finds every one between two JSON values
//! (a list of `name`d entries compared entry by entry): what `diff` prints
//! and every kind reports. Pure.

use serde_json::Value;

/// One difference between the live and the rendered value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Dotted path; list entries with a name are addressed by it
    /// (`containerDefinitions[api].environment[LOG_LEVEL]`).
    pub path: String,
    pub live: Option<String>,
    pub rendered: Option<String>,
}

impl Change {
    /// The change from `live` to `rendered` at `path`, if they differ.
    pub fn between(
        path: impl Into<String>,
        live: Option<String>,
        rendered: Option<String>,
    ) -> Option<Change> {
        (live != rendered).then(|| Change {
            path: path.into(),
            live,
            rendered,
        })
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.live, &self.rendered) {
            (None, Some(r)) => write!(f, "+ {}: {r}", self.path),
            (Some(l), None) => write!(f, "- {}: {l}", self.path),
            (Some(l), Some(r)) => write!(f, "~ {}: {l} → {r}", self.path),
            (None, None) => write!(f, "  {}", self.path),
        }
    }
}

/// Every difference between `live` and `rendered` beneath `path`.
pub fn diff_values(
    path: &str,
    live: Option<&Value>,
    rendered: Option<&Value>,
    out: &mut Vec<Change>,
) {
    match (live, rendered) {
        (Some(Value::Object(l)), Some(Value::Object(r))) => {
            let mut keys: Vec<&String> = l.keys().collect();
            keys.extend(r.keys().filter(|k| !l.contains_key(*k)));
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(&p, l.get(k), r.get(k), out);
            }
        }
        (Some(Value::Array(l)), Some(Value::Array(r))) if named(l) && named(r) => {
            let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_string();
            let mut names: Vec<String> = l.iter().map(name).collect();
            names.extend(
                r.iter()
                    .map(name)
                    .filter(|n| !l.iter().any(|v| name(v) == *n)),
            );
            for n in names {
                let find = |list: &[Value]| list.iter().find(|v| name(v) == n).cloned();
                let (lv, rv) = (find(l), find(r));
                // `{name, value}` pairs read best as the value alone.
                let simplify = |v: Option<Value>| {
                    v.map(|mut v| {
                        if let Some(o) = v.as_object_mut() {
                            o.remove("name");
                            if o.len() == 1 {
                                return o.values().next().cloned().unwrap_or_default();
                            }
                        }
                        v
                    })
                };
                diff_values(
                    &format!("{path}[{n}]"),
                    simplify(lv).as_ref(),
                    simplify(rv).as_ref(),
                    out,
                );
            }
        }
        (l, r) if l == r => {}
        (l, r) => out.push(Change {
            path: path.to_string(),
            live: l.map(show),
            rendered: r.map(show),
        }),
    }
}

fn named(list: &[Value]) -> bool {
    list.iter().all(|v| v["name"].is_string())
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
