//! `--json`: each verb that prints data prints exactly one JSON document on
//! stdout and its progress on stderr. Verbs are called in-process with a
//! buffered `Shell` (what they said is read back), and through the binary
//! where the exit code matters.

use std::collections::BTreeMap;
use std::path::Path;

use geno::context::{Context, Settings};
use geno::deploy::record::{Kind, Outcome, Record, ServiceRecord};
use geno::shell::{Shell, Verbosity};
use geno::state::records;
use serde_json::Value;

use crate::{Geno, free_port, root};

fn ctx(file: &Path, json: bool) -> Context {
    Context::new(
        Settings {
            file: file.to_path_buf(),
            env_file: None,
            vars: BTreeMap::new(),
            verbose: 0,
            profiles: Vec::new(),
        },
        Shell::buffer(Verbosity::Normal, json),
    )
}

/// (stdout as JSON, stderr) of what the verb said.
fn said(c: &Context) -> (Value, String) {
    let (out, err) = c.shell.take();
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    (v, err)
}

#[tokio::test]
async fn validate_prints_the_stack_it_checked() {
    let c = ctx(&root().join("stack.yaml"), true);
    geno::ops::validate::validate(&c).await.unwrap();
    let (v, err) = said(&c);
    assert_eq!(v["valid"], true);
    assert_eq!(v["stack"], "genonaut");
    assert_eq!(
        v["ecsServices"],
        serde_json::json!(["api", "celery", "image-gen"])
    );
    assert_eq!(err, "");
}

#[tokio::test]
async fn validate_of_a_broken_stack_prints_errors_and_exits_1() {
    let c = ctx(
        &root().join("tests/fixtures/invalid/unknown-dependency.yaml"),
        true,
    );
    let failure = geno::ops::validate::validate(&c).await.unwrap_err();
    assert_eq!(failure.exit_code, 1);
    assert!(failure.error.is_none(), "the JSON says it all");
    let (v, _) = said(&c);
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["line"], 7);
}

#[tokio::test]
async fn config_prints_the_resolved_stack() {
    let c = ctx(&root().join("stack.yaml"), true);
    geno::ops::config::config(&c, "demo").await.unwrap();
    let (v, err) = said(&c);
    assert_eq!(v["name"], "genonaut");
    assert_eq!(v["services"]["api"]["command"][0], "uvicorn");
    assert_eq!(err, "");
}

#[tokio::test]
async fn render_is_json_in_either_mode() {
    for json in [false, true] {
        let c = ctx(&root().join("stack.yaml"), json);
        geno::ops::render::render(&c, "demo", None, geno::ops::render::Format::Ecs)
            .await
            .unwrap();
        let (v, _) = said(&c);
        assert_eq!(
            v["services"]["api"]["taskDefinition"]["family"],
            "genonaut-api-demo"
        );
    }
}

fn promotion(id: &str, after: &str) -> Record {
    let mut r = Record::begin(Kind::Promote, "genonaut", "demo", "genonaut-demo");
    r.id = id.into();
    r.started_at = format!("2026-11-2{id}T10:00:00Z");
    r.image_id = format!("sha256:{id}{}", "0".repeat(63));
    r.manifest_digest = format!("sha256:{id}{}", "1".repeat(63));
    r.services = vec![ServiceRecord {
        name: "api".into(),
        ecs_service: "genonaut-api-demo".into(),
        before: "td:1".into(),
        after: after.into(),
    }];
    r
}

#[tokio::test]
async fn history_lists_records_as_json_and_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::copy(root().join("stack.yaml"), &file).unwrap();
    let records = records::dir(&dir.path().join(".geno"), "genonaut", "demo");
    records::save(&records, &promotion("1", "td:2")).unwrap();
    let mut failed = promotion("2", "td:3");
    failed.outcome = Outcome::RolledBack {
        reason: "api failed: circuit breaker".into(),
    };
    records::save(&records, &failed).unwrap();

    let c = ctx(&file, true);
    geno::ops::history::history(&c, "demo").await.unwrap();
    let (v, err) = said(&c);
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2"], "oldest first, as stored");
    assert_eq!(v[1]["outcome"]["status"], "rolledBack");
    assert_eq!(err, "");

    let c = ctx(&file, false);
    geno::ops::history::history(&c, "demo").await.unwrap();
    let (out, err) = c.shell.take();
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows[1].contains(" 2 ") && rows[1].contains("rolled back"),
        "{out}"
    );
    assert!(rows[2].starts_with('*'), "the current one: {out}");
    assert_eq!(err, "latest (2): api failed: circuit breaker\n");
}

#[tokio::test]
async fn history_without_records_is_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::copy(root().join("stack.yaml"), &file).unwrap();
    let c = ctx(&file, true);
    geno::ops::history::history(&c, "demo").await.unwrap();
    assert_eq!(said(&c).0, serde_json::json!([]));
}

#[test]
fn smoke_against_a_url_prints_its_report_and_exits_1_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: s\nimage: {}\nservices:\n  web:\n    command: serve\n\
         smoke:\n  - name: answers\n    http: {path: /health, expect: {status: 200}}\n  \
         - name: a command in it\n    exec: {service: web, command: [\"true\"]}\n",
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = Geno::new()
        .dir(dir.path())
        .args(["--json", "smoke", "--url", &url])
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["target"], url.as_str());
    assert_eq!(v["steps"][0]["outcome"], "failed");
    assert_eq!(v["steps"][1]["outcome"], "skipped");
    assert!(out.stderr.contains("FAIL  answers"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\n0 passed, 1 failed, 1 skipped in "),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.lines().any(|l| l.starts_with("error:")),
        "a failed suite is not an error: {}",
        out.stderr
    );
}
