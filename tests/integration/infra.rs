//! The tfvars files under infra/environments are geno's rendering of
//! stack.yaml, not hand edits. `GENO_BLESS=1` rewrites them.

use crate::{Geno, root};

#[test]
fn tfvars_files_are_current() {
    let bless = std::env::var_os("GENO_BLESS").is_some();
    for env in ["demo", "dev", "test", "prod"] {
        let out = Geno::new()
            .args(["render", "--env", env, "--format", "tfvars"])
            .run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let path = root().join(format!("infra/environments/{env}.tfvars.json"));
        if bless {
            std::fs::write(&path, &out.stdout).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "{} is stale: run `geno render --env {env} --format tfvars > {}` (or GENO_BLESS=1 cargo test)",
            path.display(),
            path.display()
        );
    }
}

#[test]
fn demo_tfvars_snapshot() {
    let out = Geno::new()
        .args(["render", "--env", "demo", "--format", "tfvars"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_json_snapshot!(v);
}
