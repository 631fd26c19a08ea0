//! Bringing an existing definition into stack.yaml: a compose file
//! (`compose`) or live ECS services (`ecs`). Pure: callers read the
//! sources and write the files.

pub mod compose;
pub mod ecs;

/// A YAML scalar for the text these write: plain when that reads back as
/// the same string, else double-quoted (JSON's string syntax is YAML's).
pub(crate) fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@+=".contains(c))
        && !s.starts_with(['-', '@'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// A YAML flow sequence of scalars: `[a, "b c"]`.
pub(crate) fn flow<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(q).collect();
    format!("[{}]", items.join(", "))
}
