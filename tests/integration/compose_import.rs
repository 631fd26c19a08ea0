//! `geno init --from-compose` on a corpus of compose files written for it
//! (tests/fixtures/compose/*/compose.yaml): web + worker + db stacks,
//! several builds, profiles, health checks of every form, env files,
//! anchors and extension fields, interpolation, jobs, host-only features,
//! watch rules, the v2 format, long syntax, deploy sections, build args and
//! targets, images only, top-level keys geno has no use for, env file
//! syntax, engine options, volume forms, service names, extends, include,
//! inline Dockerfiles, and well-known self-hosted applications. Each converts
//! to a stack.yaml that passes `geno validate`, with every item it cannot
//! carry reported at its line; the text and the report are snapshots.

use std::path::Path;

use crate::{Geno, root};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `geno init --from-compose compose.yaml` in `dir`.
fn import(dir: &Path) -> crate::Output {
    Geno::new()
        .dir(dir)
        .args(["init", "--from-compose", "compose.yaml"])
        .run()
}

#[test]
fn every_compose_file_of_the_corpus_converts_and_validates() {
    let corpus = root().join("tests/fixtures/compose");
    let mut cases: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("compose.yaml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(&name);
        copy_dir(&case, &dir);
        // 07 requires SECRET_KEY (`${SECRET_KEY:?…}`), as compose would.
        let out = Geno::new()
            .dir(&dir)
            .env("SECRET_KEY", "from-the-shell")
            .args(["init", "--from-compose", "compose.yaml"])
            .run();
        assert_eq!(out.code, 0, "{name}:\n{}", out.stderr);
        // Every item not carried names its line in the compose file.
        for line in out.stderr.lines().filter(|l| l.starts_with("warning:")) {
            assert!(
                line.starts_with("warning: not carried: compose.yaml:"),
                "{name}: {line}"
            );
        }
        // Each inline Dockerfile written is there, and is a Dockerfile the
        // stack names.
        let text = std::fs::read_to_string(dir.join("stack.yaml")).unwrap();
        for line in out.stderr.lines() {
            if let Some(rest) = line.strip_prefix("wrote ./")
                && let Some((file, _)) = rest.split_once(": the compose file's dockerfile_inline")
            {
                let written = std::fs::read_to_string(dir.join(file)).unwrap();
                assert!(written.starts_with("FROM "), "{name}: {file}: {written}");
                assert!(text.contains(file), "{name}: stack.yaml names {file}");
            }
        }
        let check = Geno::new()
            .dir(&dir)
            .env("SECRET_KEY", "from-the-shell")
            .args(["validate"])
            .run();
        assert_eq!(check.code, 0, "{name}:\n{text}\n{}", check.stderr);
        insta::assert_snapshot!(
            format!("compose_{name}"),
            format!("{text}\n--- geno init said ---\n{}", out.stderr)
        );
    }
}

#[test]
fn bad_input_is_one_clear_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Geno::new()
        .dir(tmp.path())
        .args(["init", "--from-compose", "nope.yaml"])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: cannot read `nope.yaml`: No such file or directory (os error 2)\n"
    );
    std::fs::write(
        tmp.path().join("compose.yaml"),
        "services:\n  web:\n    image: [unclosed\n",
    )
    .unwrap();
    let out = import(tmp.path());
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("error: compose.yaml:4:1: ")
            && out
                .stderr
                .ends_with("(not a YAML document; nothing was written)\n"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("stack.yaml").exists());
    std::fs::write(
        tmp.path().join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("stack.yaml"), "mine").unwrap();
    let out = import(tmp.path());
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: stack.yaml exists; nothing was written (pass --force to replace it, or --out PATH)\n"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("stack.yaml")).unwrap(),
        "mine"
    );
    let out = Geno::new()
        .dir(tmp.path())
        .args(["init", "--from-compose", "compose.yaml", "--force"])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn an_inline_dockerfile_never_overwrites_a_file_that_says_something_else() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("compose.yaml"),
        "services:\n  app:\n    build:\n      context: .\n      dockerfile_inline: |\n        FROM busybox\n",
    )
    .unwrap();
    let init = || import(tmp.path());
    let first = init();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let name = first
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("wrote ./")?
                .split_once(": the compose")?
                .0
                .into()
        })
        .map(str::to_string)
        .unwrap();
    // Edited by hand, and stack.yaml gone: a second import stops.
    std::fs::write(tmp.path().join(&name), "FROM debian\n").unwrap();
    std::fs::remove_file(tmp.path().join("stack.yaml")).unwrap();
    let second = init();
    assert_eq!(second.code, 1);
    assert_eq!(
        second.stderr,
        format!(
            "error: ./{name} exists with other content; nothing was written (it would hold the compose file's inline Dockerfile: pass --force to replace it)\n"
        )
    );
    assert!(!tmp.path().join("stack.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(&name)).unwrap(),
        "FROM debian\n"
    );
}

#[test]
fn a_written_stack_that_does_not_validate_says_it_was_written_then_why() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("compose.yaml"),
        "services:\n  a:\n    image: redis\n    ports: [\"6379:6379\"]\n  b:\n    image: redis\n    ports: [\"6379:6379\"]\n",
    )
    .unwrap();
    let out = import(tmp.path());
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "\nwarning: wrote stack.yaml, but it does not pass `geno validate` yet; fix what is listed below, then run `geno validate`\nerror: services.b.ports[0]: host port 6379 is already used by `a`\n"
        ),
        "{}",
        out.stderr
    );
    assert!(tmp.path().join("stack.yaml").exists());
}
