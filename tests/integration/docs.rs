//! The README's "Coming from docker compose" and "Coming from a deploy
//! script" sections: every command they list is a real command. Those that
//! need neither a Docker engine nor AWS run for real against the
//! repository's stack.yaml; the others are parsed in full (verb, flags,
//! values) by running them with `--help`, which clap answers only when
//! everything before it parses.

use crate::{Geno, root};

/// The indented `geno …` lines of the README section under `heading`.
fn commands(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section `{heading}`"));
    let body = &readme[start + 4..];
    let end = body.find("\n## ").unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("    geno "))
        .map(str::to_string)
        .collect()
}

/// Verbs that run offline against the repository's stack.yaml.
const OFFLINE: [&str; 3] = ["validate", "config", "render"];

fn check(heading: &str, at_least: usize) {
    let cmds = commands(heading);
    assert!(cmds.len() >= at_least, "{heading}: {cmds:?}");
    for cmd in cmds {
        let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        let verb = words.iter().find(|w| !w.starts_with('-')).unwrap().clone();
        let args: Vec<String> = if OFFLINE.contains(&verb.as_str()) {
            words.clone()
        } else {
            // `--help` before any `--`: what follows is the command's own.
            let mut w = words.clone();
            let at = w.iter().position(|a| a == "--").unwrap_or(w.len());
            w.insert(at, "--help".into());
            w
        };
        let out = Geno::new().args(&args).run();
        assert_eq!(
            out.code,
            0,
            "`geno {cmd}` (run as `geno {}`):\n{}{}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        if !OFFLINE.contains(&verb.as_str()) {
            assert!(
                out.stdout.contains("Usage: geno"),
                "`geno {cmd}`: {}",
                out.stdout
            );
        }
    }
}

#[test]
fn coming_from_docker_compose_lists_real_commands() {
    check("Coming from docker compose", 10);
}

#[test]
fn coming_from_a_deploy_script_lists_real_commands() {
    check("Coming from a deploy script", 10);
}
