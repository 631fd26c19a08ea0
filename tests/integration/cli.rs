//! The binary's exit codes and whole output texts.

use crate::Geno;

#[test]
fn validate_accepts_the_repository_stack() {
    let out = Geno::new().args(["validate"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "stack.yaml is valid: stack `genonaut`, 6 services (3 on ECS: api, celery, image-gen), environments local, demo, dev, test, prod\n"
    );
    // What a deployed service sets that ECS never sees is said, not dropped.
    assert_eq!(
        out.stderr,
        "note: not rendered for ECS (local only; README: \"Where each field of stack.yaml goes\"):\n\
         \x20 services.api.ports[0]: published on this machine; on ECS the ALB and Service Connect reach the container port\n\
         \x20 services.celery.replicas: containers on this machine; ECS runs `ecs.desired_count` tasks (per environment: `environments.E.desired_count`)\n\
         \x20 services.image-gen.ports[0]: published on this machine; on ECS the ALB and Service Connect reach the container port\n"
    );
}

#[test]
fn validate_json_lists_errors_with_positions() {
    let out = Geno::new()
        .args([
            "-f",
            "tests/fixtures/invalid/unknown-dependency.yaml",
            "validate",
            "--json",
        ])
        .run();
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let e = &v["errors"][0];
    assert_eq!(
        e["message"],
        "services.web.depends_on.postgress: unknown service `postgress`"
    );
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(7), Some(18))
    );
    assert_eq!(e["label"], "did you mean `postgres`?");
}

#[test]
fn a_missing_file_is_one_error_with_its_cause() {
    let out = Geno::new().args(["-f", "nope.yaml", "validate"]).run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: validation stopped\n\nCaused by:\n  cannot read `nope.yaml`\n  No such file or directory (os error 2)\n"
    );
}

#[test]
fn an_unknown_environment_suggests_the_closest() {
    let out = Geno::new()
        .args([
            "-f",
            "tests/fixtures/valid/minimal.yaml",
            "render",
            "--env",
            "stagign",
        ])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: unknown environment `stagign`\n  --> tests/fixtures/valid/minimal.yaml:15:1\n   |\n15 | environments:\n   | ^^^^^^^^^^^^ did you mean `staging`?\n  = help: environments are: `staging`\n\nerror: `tests/fixtures/valid/minimal.yaml` is not valid: 1 error\n"
    );
}

#[test]
fn render_refuses_a_tag_instead_of_a_digest() {
    let out = Geno::new()
        .args(["render", "--env", "demo", "--image", "genonaut:latest"])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: `genonaut:latest` is not an image digest: expected `sha256:<64 hex>`, `repository@sha256:<64 hex>` or `BUILD=sha256:<64 hex>,…`\n"
    );
}

#[test]
fn render_for_local_says_there_is_no_aws_section() {
    let out = Geno::new().args(["render", "--env", "local"]).run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: environment `local` has no `aws` section, so there is nothing to render for ECS\n"
    );
}

#[test]
fn variables_from_the_shell_and_env_file_reach_the_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let stack =
        std::fs::read_to_string(crate::root().join("tests/fixtures/valid/minimal.yaml")).unwrap();
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    std::fs::write(dir.path().join(".env"), "MODE=from-env-file\n").unwrap();
    let mode = |out: &crate::Output| {
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["services"]["web"]["taskDefinition"]["containerDefinitions"][0]["environment"][0]["value"]
            .clone()
    };
    let out = Geno::new()
        .dir(dir.path())
        .args(["render", "--env", "staging"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(mode(&out), "from-env-file");
    // The shell wins over the env file, as in compose.
    let out = Geno::new()
        .dir(dir.path())
        .env("MODE", "from-shell")
        .args(["render", "--env", "staging"])
        .run();
    assert_eq!(mode(&out), "from-shell");
}

#[test]
fn config_resolves_interpolation_and_redacts_templates() {
    let out = Geno::new()
        .args(["config", "--env", "demo", "--json"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["services"]["api"]["environment"]["ENV_TARGET"],
        "cloud-demo"
    );
    assert_eq!(v["services"]["api"]["ecs"]["service"], "genonaut-api-demo");
    assert_eq!(
        v["secrets"]["DATABASE_URL"]["local"]["template"],
        "<redacted>"
    );
    assert_eq!(v["services"]["postgres"]["image"], "postgres:16");
    let out = Geno::new()
        .env("POSTGRES_IMAGE", "geno-local/postgres:15")
        .args(["config"])
        .run();
    assert!(
        out.stdout.contains("image: geno-local/postgres:15"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("{{POSTGRES_PASSWORD}}"));
}

#[test]
fn every_verb_has_help() {
    for verb in [
        "validate", "config", "render", "schema", "up", "down", "ps", "logs", "exec", "run",
        "smoke", "promote", "diff", "history", "rollback",
    ] {
        let out = Geno::new().args([verb, "--help"]).run();
        assert_eq!(out.code, 0, "{verb}: {}", out.stderr);
        assert!(out.stdout.contains("Usage: geno"), "{verb}: {}", out.stdout);
    }
}

#[test]
fn promote_to_an_environment_without_aws_says_so() {
    let out = Geno::new().args(["promote", "--env", "local"]).run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: environment `local` has no `aws` section in stack.yaml: it is not deployed to ECS\n"
    );
}

#[test]
fn history_of_an_environment_without_promotions() {
    let out = Geno::new()
        .env("GENO_STACK_NAME", "never-promoted")
        .args(["history", "--env", "demo"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "no promotions to `demo` on record (kept in ./.geno/never-promoted/promotions/demo)\n"
    );
    let out = Geno::new()
        .env("GENO_STACK_NAME", "never-promoted")
        .args(["rollback", "--env", "demo"])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: nothing to roll back to: `demo` has 0 successful promotion(s) on record in ./.geno/never-promoted/promotions/demo\n"
    );
}

#[test]
fn a_usage_error_exits_2() {
    let out = Geno::new().args(["render"]).run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--env <ENV>"), "{}", out.stderr);
}

#[test]
fn the_file_flag_works_after_the_verb_and_from_geno_file() {
    let out = Geno::new()
        .args(["validate", "-f", "tests/fixtures/valid/minimal.yaml"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("tests/fixtures/valid/minimal.yaml is valid"),
        "{}",
        out.stdout
    );
    let out = Geno::new()
        .args(["validate", "--json"])
        .env("GENO_FILE", "tests/fixtures/valid/minimal.yaml")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
}

#[test]
fn the_stack_file_is_found_in_a_parent_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::root().join("tests/fixtures/valid/minimal.yaml"),
        dir.path().join("stack.yaml"),
    )
    .unwrap();
    let deep = dir.path().join("src/app");
    std::fs::create_dir_all(&deep).unwrap();
    let out = Geno::new().dir(&deep).args(["-v", "validate"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let used = dir.path().join("stack.yaml");
    assert!(
        out.stderr
            .starts_with(&format!("geno: using {}\n", used.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .starts_with(&format!("{} is valid", used.display())),
        "{}",
        out.stdout
    );
    // Nowhere to be found: the error names ./stack.yaml, as before.
    let empty = tempfile::tempdir().unwrap();
    let out = Geno::new().dir(empty.path()).args(["validate"]).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read `stack.yaml`"),
        "{}",
        out.stderr
    );
}

#[test]
fn completions_offer_the_stacks_services_and_environments() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Geno::new().args(["completions", shell]).run();
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        // fish's generator completes options' values, not positionals'.
        let words: &[&str] = if shell == "fish" {
            &["promote", "demo", "prod"]
        } else {
            &["image-gen", "celery", "promote", "demo", "prod"]
        };
        for word in words {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let out = Geno::new().args(["completions", "tcsh"]).run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid value 'tcsh'"),
        "{}",
        out.stderr
    );
}

#[test]
fn version_names_the_git_revision_it_was_built_from() {
    let out = Geno::new().args(["--version"]).run();
    assert_eq!(out.code, 0);
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(crate::root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        out.stdout,
        format!("geno {} ({rev})\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_verb_has_an_example_in_its_help() {
    let out = Geno::new().args(["--help"]).run();
    assert_eq!(out.code, 0);
    let verbs: Vec<String> = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description that wraps goes on, indented deeper.
        .filter(|l| !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|v| v != "help")
        .collect();
    assert!(verbs.len() > 20, "{verbs:?}");
    for verb in verbs {
        let out = Geno::new().args([verb.as_str(), "--help"]).run();
        assert_eq!(out.code, 0, "{verb}");
        assert!(
            out.stdout.contains("Example") && out.stdout.contains("\n  geno "),
            "`geno {verb} --help` has no example:\n{}",
            out.stdout
        );
    }
}
