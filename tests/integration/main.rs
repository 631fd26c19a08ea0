//! geno's integration tests: one binary, a small builder for running geno.

mod cli;
mod docker;
mod fixtures;
mod fuzz;
mod infra;
mod lb;
mod render;
mod schema;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the geno binary with a clean environment so the host's variables
/// (AWS_REGION, PYTHON_IMAGE…) cannot change what a test sees.
pub struct Geno {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Geno {
    fn default() -> Geno {
        Geno::new()
    }
}

impl Geno {
    pub fn new() -> Geno {
        Geno {
            args: Vec::new(),
            envs: Vec::new(),
            dir: root(),
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Geno {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Geno {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn dir(mut self, dir: &Path) -> Geno {
        self.dir = dir.to_path_buf();
        self
    }

    pub fn run(self) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_geno"))
            .args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(self.envs)
            .output()
            .expect("the geno binary runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
