//! Engine faults, injected for real: a private dockerd of the test's own
//! (its own data root, exec root, socket and containerd) in a network
//! namespace of its own, so that its bridges and iptables rules never touch
//! the machine's engine, is killed or restarted under a running stack,
//! mid-`up` and mid-build. geno runs in the same namespace (`nsenter
//! --net`, which leaves the mounts alone) with `DOCKER_HOST` at the
//! private socket. geno must say in one line that the
//! engine went away, end (no hang, no panic), and converge on the next `up`
//! once the engine is back.
//!
//! Gated: `GENO_ENGINE_FAULTS=1` (scripts/test sets it) and root, as a
//! daemon and a namespace are started; ignored by default like every test
//! that needs an engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker::{TestStack, WAITING_STACK, base_image};
use crate::{Geno, Output};

/// A dockerd of the test's own, in its own network namespace.
struct PrivateEngine {
    ns: String,
    dir: tempfile::TempDir,
    daemon: Option<Child>,
}

fn sh(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

impl PrivateEngine {
    /// Starts the daemon and loads `images` into it from the machine's engine.
    fn start(images: &[String]) -> PrivateEngine {
        let ns = format!("geno-faults-{}", std::process::id());
        let out = sh("ip", &["netns", "add", &ns]);
        assert!(out.status.success(), "ip netns add: {out:?}");
        let out = sh(
            "nsenter",
            &[
                &format!("--net=/run/netns/{ns}"),
                "ip",
                "link",
                "set",
                "lo",
                "up",
            ],
        );
        assert!(out.status.success(), "lo up: {out:?}");
        let dir = tempfile::Builder::new()
            .prefix("geno-engine-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("daemon.json"), "{}").unwrap();
        let mut engine = PrivateEngine {
            ns,
            dir,
            daemon: None,
        };
        engine.start_daemon();
        for image in images {
            let mut save = Command::new("docker")
                .args(["save", image])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let out = Command::new("docker")
                .env("DOCKER_HOST", engine.host())
                .arg("load")
                .stdin(save.stdout.take().unwrap())
                .output()
                .unwrap();
            assert!(save.wait().unwrap().success(), "docker save {image}");
            assert!(out.status.success(), "docker load {image}: {out:?}");
        }
        engine
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn netns_arg(&self) -> String {
        format!("--net=/run/netns/{}", self.ns)
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The machine's engine's storage driver, so the private one stores
    /// layers as well as it can here (fuse-overlayfs where the kernel
    /// allows no overlay in a container).
    fn storage_driver() -> String {
        let out = sh("docker", &["info", "-f", "{{.Driver}}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// (Re)starts the daemon on the same data root; returns once it answers.
    fn start_daemon(&mut self) {
        if let Err(e) = self.try_start_daemon() {
            panic!("{e}");
        }
    }

    fn try_start_daemon(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        let path = |p: &str| d.join(p).display().to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .unwrap();
        // nsenter enters the network namespace only; `ip netns exec` would
        // also remount /sys, hiding the cgroup mounts dockerd needs.
        let child = Command::new("nsenter")
            .arg(self.netns_arg())
            .arg("dockerd")
            .args(["--config-file", &path("daemon.json")])
            .args(["--data-root", &path("root")])
            .args(["--exec-root", &path("exec")])
            .args(["--pidfile", &path("dockerd.pid")])
            .args(["--host", &self.host()])
            .args(["--storage-driver", &Self::storage_driver()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("docker")
                .env("DOCKER_HOST", self.host())
                .args(["version", "-f", "{{.Server.Version}}"])
                .output()
                .unwrap();
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the private dockerd did not answer within 60 s:\n{}",
                    std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// SIGKILL to the engine and its containerd, as when its service's
    /// processes are killed together; the containers' shims live on.
    fn kill(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // dockerd's containerd dies with it (a parent-death signal) or is
        // killed here. Until reaped, a dead containerd is a zombie, which
        // the next dockerd takes for a live one and waits on; orphaned, it
        // may have been handed to this process (a subreaper under some
        // runners) or to init.
        let pid_file = self.dir.path().join("exec/containerd/containerd.pid");
        let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return;
        };
        // SAFETY: signals the containerd this test's daemon started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            // SAFETY: reaps only a child of this process, if it is one.
            unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Processes started for this engine (they name its directory on
    /// their command line).
    fn processes(&self) -> Vec<i32> {
        let root = self.dir.path().display().to_string();
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&root) {
                pids.push(pid);
            }
        }
        pids
    }

    /// SIGTERM, as `systemctl restart docker` begins: the engine stops its
    /// containers and exits.
    fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            // SAFETY: signals a child process this test started.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// geno for `stack`, in the namespace, at the private engine.
    fn geno(&self, stack: &TestStack) -> Geno {
        Geno::new()
            .dir(stack.dir.path())
            .env("DOCKER_HOST", &self.host())
            .env("GENO_TEST_IMAGE", &base_image())
            .within(&["nsenter", &self.netns_arg()])
    }

    fn run(&self, stack: &TestStack, args: &[&str]) -> Output {
        self.geno(stack).args(args).run()
    }

    /// Runs `args` and calls `at` on the first stderr line that starts
    /// with `trigger`; then waits for geno to end (at most 120 s).
    fn interrupted(
        &mut self,
        stack: &TestStack,
        args: &[&str],
        trigger: &str,
        at: impl FnOnce(&mut PrivateEngine),
    ) -> (i32, Vec<String>) {
        let geno = self.geno(stack).args(args);
        crate::acting_at(geno, trigger, |_| at(self))
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        // Started again if a test left it dead, to remove its containers.
        if self.daemon.is_none() {
            let _ = self.try_start_daemon();
        }
        let _ = Command::new("sh")
            .env("DOCKER_HOST", self.host())
            .args(["-c", "docker ps -aq | xargs -r docker rm -f"])
            .output();
        self.stop();
        // Whatever outlived the daemon (a containerd or shim started for it).
        for pid in self.processes() {
            // SAFETY: a process this test's daemon started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let root = self.dir.path().display().to_string();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        for m in mounts.lines().rev() {
            if let Some(point) = m.split_whitespace().nth(1)
                && point.starts_with(&root)
            {
                let _ = sh("umount", &["-l", point]);
            }
        }
        let _ = sh("ip", &["netns", "del", &self.ns]);
    }
}

/// Whether this run may start daemons and namespaces.
fn enabled() -> bool {
    let on = std::env::var("GENO_ENGINE_FAULTS").is_ok_and(|v| v == "1");
    // SAFETY: reads this process's effective user.
    let root = unsafe { libc::geteuid() } == 0;
    if !on || !root {
        eprintln!("skipped: needs GENO_ENGINE_FAULTS=1 (scripts/test sets it) and root");
    }
    on && root
}

/// The last line geno wrote: the one that says what happened.
fn last(said: &[String]) -> &str {
    said.iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or("", |l| l.as_str())
}

fn assert_engine_lost(code: i32, said: &[String], engine: &PrivateEngine) {
    assert_eq!(code, 1, "{said:?}");
    assert!(!said.iter().any(|l| l.contains("panicked")), "{said:?}");
    let line = last(said);
    assert!(
        line.starts_with("error: lost the Docker engine at ")
            || line.starts_with("error: cannot reach the Docker engine at "),
        "{said:?}"
    );
    assert!(line.contains(&engine.host()), "{line}");
    eprintln!("geno said: {line}");
}

/// Every service's container runs, by `geno ps --json`.
fn all_running(engine: &PrivateEngine, stack: &TestStack, services: &[&str]) {
    let out = engine.run(stack, &["--json", "ps"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for service in services {
        let row = v["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["service"] == *service)
            .unwrap_or_else(|| panic!("no {service}: {v}"));
        assert_eq!(row["state"], "running", "{v}");
    }
}

#[test]
#[ignore = "starts a private Docker daemon: scripts/test runs it with GENO_ENGINE_FAULTS=1"]
fn the_engine_dying_or_restarting_under_geno_is_one_line_and_the_next_up_converges() {
    if !enabled() {
        return;
    }
    let mut engine = PrivateEngine::start(&[base_image()]);
    let stack = TestStack::new("faults", WAITING_STACK);
    let dockerfile = |step: &str| {
        std::fs::write(
            stack.dir.path().join("Dockerfile"),
            format!("FROM {}\n{step}\n", base_image()),
        )
        .unwrap()
    };
    dockerfile("RUN echo one > /marker");

    // 1. Mid-up: the engine dies (SIGKILL) while geno waits for db's health.
    let (code, said) =
        engine.interrupted(&stack, &["up", "--timeout", "120s"], "starting db", |e| {
            e.kill()
        });
    assert_engine_lost(code, &said, &engine);
    // While it is away, any verb says so in one line.
    let out = engine.run(&stack, &["ps"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(&engine.host()), "{}", out.stderr);
    engine.start_daemon();
    let out = engine.run(&stack, &["up", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    all_running(&engine, &stack, &["db", "app"]);

    // 2. Under a running stack: the engine restarts (SIGTERM stops the
    // containers; it comes back without them running).
    engine.stop();
    engine.start_daemon();
    let out = engine.run(&stack, &["up", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    all_running(&engine, &stack, &["db", "app"]);

    // 3. Mid-build: a step that takes a while, and the engine dies under it.
    dockerfile("RUN sleep 6 && echo two > /marker");
    let (code, said) = engine.interrupted(&stack, &["up", "--timeout", "120s"], "building", |e| {
        std::thread::sleep(Duration::from_secs(2));
        e.kill()
    });
    assert_engine_lost(code, &said, &engine);
    engine.start_daemon();
    let out = engine.run(&stack, &["up", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    all_running(&engine, &stack, &["db", "app"]);
    let out = engine.run(&stack, &["exec", "app", "--", "cat", "/marker"]);
    assert_eq!(out.stdout.trim(), "two", "{}", out.stderr);
}
