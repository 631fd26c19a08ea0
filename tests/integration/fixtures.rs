//! The broken-stack corpus: each `tests/fixtures/invalid/NAME.yaml` must be
//! rejected with exactly the text in `NAME.stderr`. `GENO_BLESS=1` rewrites
//! the expected files (review the diff before committing).

use std::fs;

use crate::{Geno, root};

#[test]
fn every_invalid_fixture_fails_with_its_expected_message() {
    let dir = root().join("tests/fixtures/invalid");
    let bless = std::env::var_os("GENO_BLESS").is_some();
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "the corpus has {} files", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let out = Geno::new().args(["-f", &rel, "validate"]).run();
        let expected_path = path.with_extension("stderr");
        if bless {
            fs::write(&expected_path, &out.stderr).unwrap();
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if out.code != 1 || !out.stdout.is_empty() || out.stderr != expected {
            failures.push(format!(
                "{rel}: exit {}\n--- expected\n{expected}--- actual\n{}",
                out.code, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
