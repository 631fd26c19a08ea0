//! Stand-ins for AWS and a registry, shared by the tests that promote to
//! and operate an environment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::docker::TestStack;
use crate::{free_port, root};

pub fn venv_bin(name: &str) -> PathBuf {
    let dir = std::env::var("GENO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv"));
    let bin = dir.join("bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: scripts/python-tests.sh makes the venv (scripts/test runs it)",
        bin.display()
    );
    bin
}

/// AWS and a registry on free loopback ports, stopped on drop: moto behind
/// tests/aws/ecs_scripted.py (ECS as documented where moto does not model
/// it), and Debian's docker-registry.
pub struct StandIn {
    children: Vec<Child>,
    pub endpoint: String,
    pub registry: String,
    _dir: tempfile::TempDir,
}

impl StandIn {
    pub fn start() -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let moto_port = free_port();
        let moto = Command::new(venv_bin("python"))
            .arg(root().join("tests/aws/ecs_scripted.py"))
            .arg(moto_port.to_string())
            // Services report every task running: rollouts complete at once.
            .env("MOTO_ECS_SERVICE_RUNNING", "3")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("moto.log")).unwrap())
            .spawn()
            .expect("tests/aws/ecs_scripted.py starts");
        let reg_port = free_port();
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{reg_port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let registry_bin =
            std::env::var("GENO_DOCKER_REGISTRY").unwrap_or_else(|_| "docker-registry".into());
        let registry = Command::new(&registry_bin)
            .args(["serve", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{registry_bin} does not start ({e}): scripts/test installs Debian's docker-registry")
            });
        let s = StandIn {
            children: vec![moto, registry],
            endpoint: format!("http://127.0.0.1:{moto_port}"),
            registry: format!("127.0.0.1:{reg_port}"),
            _dir: dir,
        };
        for (addr, path) in [
            (format!("127.0.0.1:{moto_port}"), "/moto-api/"),
            (s.registry.clone(), "/v2/"),
        ] {
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::net::TcpStream::connect(&addr).is_err() {
                assert!(Instant::now() < deadline, "{addr}{path} did not come up");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        s
    }

    pub fn aws_env(&self, mut cmd: Command) -> Command {
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1");
        cmd
    }

    /// Creates what infra/ creates for `env`, from geno's tfvars rendering.
    pub fn seed(&self, stack: &TestStack, env: &str, skip_ssm: &[String]) {
        self.seed_in(stack.dir.path(), env, skip_ssm);
    }

    /// `seed` for the stack.yaml in `dir`.
    pub fn seed_in(&self, dir: &Path, env: &str, skip_ssm: &[String]) {
        let out = self
            .geno_in(dir)
            .args(["render", "--env", env, "--format", "tfvars"])
            .run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let file = dir.join(format!("{env}.tfvars.json"));
        std::fs::write(&file, out.stdout).unwrap();
        let mut args = vec![
            root().join("tests/aws/seed.py").into_os_string(),
            file.into(),
        ];
        for s in skip_ssm {
            args.extend(["--skip-ssm".into(), s.into()]);
        }
        self.python(args);
    }

    /// The venv's Python against the stand-in; what it printed (it must
    /// succeed).
    pub fn python<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = self
            .aws_env(Command::new(venv_bin("python")))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The AWS CLI against the stand-in, as JSON.
    pub fn aws(&self, args: &[&str]) -> Value {
        let out = self
            .aws_env(Command::new(venv_bin("aws")))
            .args(args)
            .args(["--output", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Some calls answer nothing (register-targets).
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn geno(&self, stack: &TestStack) -> crate::Geno {
        self.with_aws(stack.geno())
    }

    /// geno in `dir`, with no Docker engine in play.
    pub fn geno_in(&self, dir: &Path) -> crate::Geno {
        self.with_aws(crate::Geno::new().dir(dir))
    }

    fn with_aws(&self, geno: crate::Geno) -> crate::Geno {
        geno.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("GENO_REGISTRY", &self.registry)
            .env("PYTHON_IMAGE", &python_image())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn python_image() -> String {
    std::env::var("PYTHON_IMAGE").unwrap_or_else(|_| "geno-local/python:3.11".into())
}
