//! Build identity: the git revision geno is built from, for `geno --version`
//! ("unknown" outside a git checkout, as in a crate tarball); and geno's
//! init (init/geno-init.rs), compiled here into one static executable that
//! geno carries (`local::init`) and copies into local containers.

use std::process::Command;

fn main() {
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=GENO_GIT_REV={rev}");
    // A new commit or checkout changes HEAD or the branch it points to.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(r) = head.strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{}", r.trim());
    }
    println!("cargo:rerun-if-changed=build.rs");
    init();
}

/// init/geno-init.rs, std only, compiled by the same rustc for the same
/// target with glibc linked in statically: it runs in any Linux image of
/// that architecture, whatever C library (or none) the image has. Small
/// (`opt-level=s`, stripped, `panic=abort`): it is copied into every
/// container whose service restarts on an edit.
fn init() {
    let source = "init/geno-init.rs";
    println!("cargo:rerun-if-changed={source}");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("geno-init");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-name",
            "geno_init",
            "--target",
            &target,
        ])
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
        ])
        .args(["-C", "strip=symbols", "-C", "target-feature=+crt-static"])
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("rustc runs");
    assert!(
        status.success(),
        "compiling {source} failed: rustc's errors are above (a missing static C library, libc.a, comes with libc6-dev on Debian)"
    );
}
