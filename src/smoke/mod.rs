//! Smoke tests: their semantics, pure (placeholders, JSON paths,
//! expectations, the reports for `--json` and `--junit`), and `runner`,
//! which sends the requests and runs the commands.

pub mod runner;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// `{{name}}` replaced by captured values; unknown names stay as they are.
pub fn substitute(text: &str, captures: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in captures {
        out = out
            .replace(&format!("{{{{{k}}}}}"), v)
            .replace(&format!("{{{{ {k} }}}}"), v);
    }
    out
}

/// The `{{name}}` placeholders in `text` that `captures` has no value for.
pub fn unresolved(text: &str, captures: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if plain && !captures.contains_key(name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// Substitutes inside every string of a JSON value.
pub fn substitute_json(
    value: &serde_json::Value,
    captures: &BTreeMap<String, String>,
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(substitute(s, captures)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_json(v, captures)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_json(v, captures)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `status`, `image.ref`, `items.0.id`, with an optional leading `$.`.
pub fn json_path<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let path = path.strip_prefix("$.").unwrap_or(path);
    let path = path.strip_prefix('$').unwrap_or(path);
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |v, seg| match v {
        serde_json::Value::Object(m) => m.get(seg),
        serde_json::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Why an HTTP response does not meet a step's expectations, if it does not.
pub fn check_http(
    expect: &crate::stack::HttpExpect,
    status: u16,
    body: &str,
    captures: &BTreeMap<String, String>,
) -> Result<(), String> {
    if status != expect.status {
        return Err(format!("expected status {}, got {status}", expect.status));
    }
    if let Some(needle) = &expect.body_contains {
        let needle = substitute(needle, captures);
        if !body.contains(&needle) {
            return Err(format!("body does not contain `{needle}`"));
        }
    }
    if !expect.json.is_empty() {
        let json: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
        for (path, want) in &expect.json {
            let want = substitute_json(want, captures);
            match json_path(&json, path) {
                None => return Err(format!("`{path}` is missing from the response")),
                Some(got) if *got != want => {
                    return Err(format!("`{path}` is {got}, expected {want}"));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Values to keep: name → text of the value at a JSON path.
pub fn capture(
    wanted: &indexmap::IndexMap<String, String>,
    body: &str,
) -> Result<BTreeMap<String, String>, String> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let json: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| format!("cannot capture from a non-JSON body: {e}"))?;
    wanted
        .iter()
        .map(|(name, path)| {
            let v = json_path(&json, path)
                .ok_or_else(|| format!("cannot capture `{name}`: `{path}` is missing"))?;
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Ok((name.clone(), text))
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub name: String,
    pub kind: &'static str,
    pub outcome: Outcome,
    pub seconds: f64,
    pub attempts: u32,
    /// Why it failed or was skipped; the failing response or output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub stack: String,
    pub environment: String,
    pub target: String,
    /// The image the stack's services run, when it runs one.
    pub image_id: Option<String>,
    /// The image of each build, when the stack runs several.
    #[serde(skip_serializing_if = "more_than_one_not")]
    pub images: crate::spec::Images,
    pub passed: bool,
    pub seconds: f64,
    pub steps: Vec<StepResult>,
}

fn more_than_one_not(images: &crate::spec::Images) -> bool {
    images.len() <= 1
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A JUnit XML report: one testsuite, one testcase per step.
pub fn junit(report: &Report) -> String {
    let failures = report
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .count();
    let skipped = report
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Skipped)
        .count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        xml_escape(&format!(
            "geno smoke {} ({})",
            report.stack, report.environment
        )),
        report.steps.len(),
        report.seconds
    );
    for s in &report.steps {
        let _ = write!(
            x,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&format!("smoke.{}", s.kind)),
            xml_escape(&s.name),
            s.seconds
        );
        match (&s.outcome, &s.detail) {
            (Outcome::Passed, _) => x.push_str("/>\n"),
            (Outcome::Failed, detail) => {
                let d = detail.clone().unwrap_or_default();
                let first = d.lines().next().unwrap_or("").to_string();
                let _ = write!(
                    x,
                    ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n",
                    xml_escape(&first),
                    xml_escape(&d)
                );
            }
            (Outcome::Skipped, detail) => {
                let _ = write!(
                    x,
                    ">\n    <skipped message=\"{}\"/>\n  </testcase>\n",
                    xml_escape(detail.as_deref().unwrap_or(""))
                );
            }
        }
    }
    x.push_str("</testsuite>\n");
    x
}

#[cfg(test)]
mod tests {
    #[test]
    fn unresolved_placeholders_are_named_once() {
        let caps = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert_eq!(
            super::unresolved("/x/{{a}}/{{ job_id }}/{{job_id}}/{{not a name}}", &caps),
            ["job_id"]
        );
        assert!(super::unresolved("{{a}} {{", &caps).is_empty());
    }

    use super::*;
    use serde_json::json;

    fn caps() -> BTreeMap<String, String> {
        [("job_id".to_string(), "42".to_string())].into()
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            substitute("/jobs/{{job_id}}/x/{{ job_id }}", &caps()),
            "/jobs/42/x/42"
        );
        assert_eq!(substitute("/jobs/{{other}}", &caps()), "/jobs/{{other}}");
        assert_eq!(
            substitute_json(&json!({"a": ["{{job_id}}", 1]}), &caps()),
            json!({"a": ["42", 1]})
        );
    }

    #[test]
    fn json_paths() {
        let v = json!({"status": "ok", "image": {"ref": "r"}, "items": [{"id": 7}]});
        assert_eq!(json_path(&v, "status"), Some(&json!("ok")));
        assert_eq!(json_path(&v, "$.image.ref"), Some(&json!("r")));
        assert_eq!(json_path(&v, "items.0.id"), Some(&json!(7)));
        assert_eq!(json_path(&v, "items.1.id"), None);
        assert_eq!(json_path(&v, "$"), Some(&v));
    }

    #[test]
    fn expectations_say_what_differs() {
        let mut e = crate::stack::HttpExpect::default();
        e.json.insert("status".into(), json!("completed"));
        assert_eq!(
            check_http(&e, 503, "{}", &caps()).unwrap_err(),
            "expected status 200, got 503"
        );
        assert_eq!(
            check_http(&e, 200, r#"{"status": "running"}"#, &caps()).unwrap_err(),
            "`status` is \"running\", expected \"completed\""
        );
        assert_eq!(
            check_http(&e, 200, "oops", &caps())
                .unwrap_err()
                .split(':')
                .next(),
            Some("body is not JSON")
        );
        assert!(check_http(&e, 200, r#"{"status": "completed"}"#, &caps()).is_ok());
    }

    #[test]
    fn captures_keep_strings_unquoted() {
        let mut wanted = indexmap::IndexMap::new();
        wanted.insert("id".to_string(), "id".to_string());
        wanted.insert("n".to_string(), "count".to_string());
        let got = capture(&wanted, r#"{"id": "abc", "count": 3}"#).unwrap();
        assert_eq!(got["id"], "abc");
        assert_eq!(got["n"], "3");
        assert_eq!(
            capture(&wanted, r#"{"id": "abc"}"#).unwrap_err(),
            "cannot capture `n`: `count` is missing"
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let report = Report {
            stack: "s".into(),
            environment: "local".into(),
            target: "http://127.0.0.1:8080".into(),
            image_id: None,
            images: Default::default(),
            passed: false,
            seconds: 1.5,
            steps: vec![
                StepResult {
                    name: "a <b>".into(),
                    kind: "http",
                    outcome: Outcome::Passed,
                    seconds: 0.5,
                    attempts: 1,
                    detail: None,
                },
                StepResult {
                    name: "c".into(),
                    kind: "exec",
                    outcome: Outcome::Failed,
                    seconds: 1.0,
                    attempts: 2,
                    detail: Some("expected \"x\"\nbody".into()),
                },
            ],
        };
        let x = junit(&report);
        assert!(x.contains("tests=\"2\" failures=\"1\" skipped=\"0\""));
        assert!(x.contains("name=\"a &lt;b&gt;\""));
        assert!(x.contains(
            "<failure message=\"expected &quot;x&quot;\">expected &quot;x&quot;\nbody</failure>"
        ));
    }
}
