//! Compose-compatible variable interpolation and `.env` files.
//!
//! Supported: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}` and `$$`
//! for a literal dollar. Defaults may nest (`${A:-${B:-x}}`), as in compose.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    #[error("required variable `{name}` is not set{}", message_suffix(.message))]
    Required { name: String, message: String },
    #[error("unterminated `${{` (missing `}}`)")]
    Unterminated,
    #[error("invalid variable name in `{text}`")]
    BadName { text: String },
    #[error(
        "a lone `$` must be followed by a name, `{{` or another `$` (write `$$` for a literal dollar)"
    )]
    LoneDollar,
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Where variable values come from: the process environment first, then the
/// env file, the way compose gives the shell precedence over `.env`.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl Lookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

pub fn interpolate(input: &str, vars: &dyn Lookup) -> Result<String, InterpError> {
    if !input.contains('$') {
        return Ok(input.to_string());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = matching_brace(body_and_tail).ok_or(InterpError::Unterminated)?;
            out.push_str(&expand_braced(&body_and_tail[..end], vars)?);
            rest = &body_and_tail[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(InterpError::LoneDollar);
            }
            out.push_str(&vars.get(&after[..len]).unwrap_or_default());
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` closing a `${`, skipping nested `${…}` in defaults.
fn matching_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn name_len(s: &str) -> usize {
    let mut len = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

fn expand_braced(body: &str, vars: &dyn Lookup) -> Result<String, InterpError> {
    let len = name_len(body);
    let name = &body[..len];
    let op = &body[len..];
    if name.is_empty() {
        return Err(InterpError::BadName {
            text: format!("${{{body}}}"),
        });
    }
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let (operator, arg) = [":-", ":?", ":+", "-", "?", "+"]
        .into_iter()
        .find(|o| op.starts_with(o))
        .map(|o| (o, &op[o.len()..]))
        .unwrap_or(("", op));
    if operator.is_empty() {
        if !arg.is_empty() {
            return Err(InterpError::BadName {
                text: format!("${{{body}}}"),
            });
        }
        return Ok(value.unwrap_or_default());
    }
    let arg_expanded = || interpolate(arg, vars);
    match operator {
        ":-" if non_empty => Ok(value.unwrap_or_default()),
        ":-" => arg_expanded(),
        "-" if set => Ok(value.unwrap_or_default()),
        "-" => arg_expanded(),
        ":?" if non_empty => Ok(value.unwrap_or_default()),
        "?" if set => Ok(value.unwrap_or_default()),
        ":?" | "?" => Err(InterpError::Required {
            name: name.to_string(),
            message: arg_expanded()?,
        }),
        ":+" if non_empty => arg_expanded(),
        "+" if set => arg_expanded(),
        _ => Ok(String::new()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EnvFileError {
    pub line: usize,
    pub message: String,
}

/// Parses a dotenv file: `KEY=value`, `export KEY=value`, `#` comments,
/// single quotes taken literally, double quotes with `\n`, `\"`, `\\`.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>, EnvFileError> {
    let mut vars = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(EnvFileError {
                line: index + 1,
                message: "expected KEY=value".into(),
            });
        };
        let key = key.trim();
        if key.is_empty() || name_len(key) != key.len() {
            return Err(EnvFileError {
                line: index + 1,
                message: format!("`{key}` is not a valid variable name"),
            });
        }
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
        {
            inner.to_string()
        } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            unescape_double(inner)
        } else {
            // An unquoted value ends at a ` #` comment.
            value
                .split(" #")
                .next()
                .unwrap_or("")
                .trim_end()
                .to_string()
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("SET", "value"), ("EMPTY", ""), ("PORT", "8001")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(input: &str) -> Result<String, InterpError> {
        interpolate(input, &vars())
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(run("no variables here").unwrap(), "no variables here");
    }

    #[test]
    fn braced_and_bare_names() {
        assert_eq!(run("${SET}/$SET:$PORT").unwrap(), "value/value:8001");
        assert_eq!(run("${UNSET}x").unwrap(), "x");
    }

    #[test]
    fn colon_dash_treats_empty_as_unset_and_dash_does_not() {
        assert_eq!(run("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(run("${EMPTY-d}").unwrap(), "");
        assert_eq!(run("${UNSET-d}").unwrap(), "d");
        assert_eq!(run("${SET:-d}").unwrap(), "value");
    }

    #[test]
    fn defaults_nest_and_may_contain_colons() {
        assert_eq!(run("${UNSET:-${PORT}}").unwrap(), "8001");
        assert_eq!(run("${UNSET:-${ALSO_UNSET:-x}}").unwrap(), "x");
        assert_eq!(
            run("${IMG:-postgres:16}").unwrap(),
            "postgres:16",
            "a default may hold a colon"
        );
    }

    #[test]
    fn required_variables() {
        assert_eq!(
            run("${UNSET:?set it in .env}").unwrap_err().to_string(),
            "required variable `UNSET` is not set: set it in .env"
        );
        assert_eq!(
            run("${EMPTY:?}").unwrap_err().to_string(),
            "required variable `EMPTY` is not set"
        );
        assert_eq!(run("${EMPTY?}").unwrap(), "");
    }

    #[test]
    fn plus_forms() {
        assert_eq!(run("${SET:+yes}").unwrap(), "yes");
        assert_eq!(run("${EMPTY:+yes}").unwrap(), "");
        assert_eq!(run("${EMPTY+yes}").unwrap(), "yes");
    }

    #[test]
    fn dollar_escape() {
        assert_eq!(run("$$HOME and $${SET}").unwrap(), "$HOME and ${SET}");
        assert_eq!(run("${UNSET:-$$}").unwrap(), "$");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(run("${SET").unwrap_err(), InterpError::Unterminated);
        assert_eq!(run("cost: $5").unwrap_err(), InterpError::LoneDollar);
        assert_eq!(
            run("${1BAD}").unwrap_err().to_string(),
            "invalid variable name in `${1BAD}`"
        );
        assert_eq!(
            run("${SET!x}").unwrap_err().to_string(),
            "invalid variable name in `${SET!x}`"
        );
    }

    #[test]
    fn env_file_forms() {
        let text =
            "# comment\nexport A=1\nB='lit $x'\nC=\"two\\nlines\"\nD=plain # trailing\n\nE=\n";
        let vars = parse_env_file(text).unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "lit $x");
        assert_eq!(vars["C"], "two\nlines");
        assert_eq!(vars["D"], "plain");
        assert_eq!(vars["E"], "");
    }

    #[test]
    fn env_file_errors_name_the_line() {
        assert_eq!(
            parse_env_file("A=1\nnot a pair\n").unwrap_err().to_string(),
            "line 2: expected KEY=value"
        );
        assert_eq!(
            parse_env_file("1X=2\n").unwrap_err().to_string(),
            "line 1: `1X` is not a valid variable name"
        );
    }
}
