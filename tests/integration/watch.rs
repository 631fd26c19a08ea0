//! `geno watch` against the real engine: files synced into every replica
//! and deleted there, replicas restarted one at a time behind the load
//! balancer with no failed request, a burst of writes as one action, a
//! crash shown and recovered from, drift keeping `smoke` from vouching,
//! `up` restoring it, and a rebuild replacing only the services on the
//! stack's image. Ignored by default like the other engine tests.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::docker::TestStack;
use crate::{free_port, http};

fn python_image() -> String {
    std::env::var("PYTHON_IMAGE").unwrap_or_else(|_| "geno-local/python:3.11".into())
}

/// Answers `/health` and, on anything else, the hostname and the version it
/// read from /app/app/version.txt when it started (a sync alone changes
/// nothing; a restart does).
const SERVER: &str = r#"
import http.server, socket
VERSION = open("/app/app/version.txt").read().strip()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"ok" if self.path == "/health" else f"{socket.gethostname()} {VERSION}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"#;

fn stack_body(port: u16) -> String {
    format!(
        r#"
image: {{}}
services:
  web:
    command: [python3, /app/app/srv.py]
    ports: [8000]
    replicas: 2
    healthcheck:
      test: [CMD, python3, -c, "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
      interval: 30s
      timeout: 5s
      retries: 3
    stop_grace_period: 2s
    # Deployed (so promote has an image to refuse), without the ECS limits here.
    ecs: {{ service: watch-web, repository: watch-web, cpu: 256, memory: 512 }}
    local: {{ limits: false }}
    develop:
      watch:
        - path: app
          action: sync+restart
          target: /app/app
          ignore: ["*.tmp"]
        - path: build.txt
          action: rebuild
  other:
    image: IMAGE
    command: [sleep, infinity]
    stop_grace_period: 1s
load_balancer:
  listeners:
    - port: {port}
      rules: []
      default_action: {{ forward: web }}
  target_groups:
    web:
      service: web
      port: 8000
      health_check: {{ path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }}
      deregistration_delay: 5s
environments:
  demo:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: watch-demo
      execution_role_arn: arn:aws:iam::123456789012:role/x
      task_role_arn: arn:aws:iam::123456789012:role/y
      log_group: /ecs/watch-demo
smoke:
  - name: web answers
    http: {{ path: /x, expect: {{ status: 200 }} }}
"#
    )
}

/// A stack whose one image copies `app/` to /app/app, WORKDIR /app.
fn watch_stack(tag: &str) -> (TestStack, u16) {
    let port = free_port();
    let s = TestStack::new(tag, &stack_body(port));
    let dir = s.dir.path();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/srv.py"), SERVER).unwrap();
    std::fs::write(dir.join("app/version.txt"), "one\n").unwrap();
    std::fs::write(dir.join("build.txt"), "1\n").unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM {}\nWORKDIR /app\nCOPY app /app/app\n", python_image()),
    )
    .unwrap();
    (s, port)
}

/// `geno watch` as a child process, its stderr kept in a file.
struct Watching {
    child: Child,
    log: PathBuf,
}

impl Watching {
    fn start(s: &TestStack) -> Watching {
        let log = s.dir.path().join("watch.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_geno"));
        cmd.arg("watch")
            .current_dir(s.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for var in ["DOCKER_HOST", "GENO_TEST_IMAGE"] {
            if let Ok(v) = std::env::var(var) {
                cmd.env(var, v);
            }
        }
        let w = Watching {
            child: cmd.spawn().unwrap(),
            log,
        };
        w.wait_for("watching ", 1, Duration::from_secs(30));
        w
    }

    fn text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until `needle` appears `times` times in the log; the log.
    fn wait_for(&self, needle: &str, times: usize, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.text();
            if text.matches(needle).count() >= times {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` ×{times} not in the watch log within {within:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C: the loop ends and says the stack keeps running.
    fn stop(mut self) -> String {
        // SAFETY: SIGINT to the child this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "geno watch did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
        self.text()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What each replica of `web` answers through the load balancer (hostname → version).
fn versions(port: u16) -> std::collections::BTreeMap<String, String> {
    (0..8)
        .filter_map(|_| {
            let (status, body) = http(&format!("127.0.0.1:{port}"), "GET", "/x", None, None);
            (status == 200).then(|| {
                let (host, version) = body.split_once(' ')?;
                Some((host.to_string(), version.to_string()))
            })?
        })
        .collect()
}

fn until_versions(port: u16, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let v = versions(port);
        if v.len() == 2 && v.values().all(|x| x == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replicas answer {v:?}, want both `{want}`"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn in_web(s: &TestStack, index: u32, command: &[&str]) -> crate::Output {
    let index = index.to_string();
    let mut args = vec!["exec", "-T", "--index", &index, "web", "--"];
    args.extend_from_slice(command);
    s.run(args)
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn edits_reach_every_replica_which_restart_one_at_a_time_while_the_lb_keeps_answering() {
    let (s, port) = watch_stack("watchlb");
    let out = s.run(["up", "--fast-health", "--timeout", "180s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    until_versions(port, "one", Duration::from_secs(30));
    let ids = s.ids();
    let w = Watching::start(&s);

    // A stream of requests through the load balancer during the reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stream = {
        let (stop, ok, bad) = (stop.clone(), ok.clone(), bad.clone());
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(120);
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                let (status, _) = http(&format!("127.0.0.1:{port}"), "GET", "/x", None, None);
                if (200..300).contains(&status) {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    bad.fetch_add(1, Ordering::SeqCst);
                    seen.push(status);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        })
    };
    std::fs::write(s.dir.path().join("app/version.txt"), "two\n").unwrap();
    let log = w.wait_for("restarted", 1, Duration::from_secs(90));
    until_versions(port, "two", Duration::from_secs(30));
    stop.store(true, Ordering::SeqCst);
    let statuses = stream.join().unwrap();
    assert!(ok.load(Ordering::SeqCst) > 20, "the stream ran: {log}");
    assert_eq!(
        bad.load(Ordering::SeqCst),
        0,
        "non-2xx during the reload: {statuses:?}\n{log}"
    );
    assert!(
        log.contains("app/version.txt → web: synced 1 file, restarted ") && log.contains("ready "),
        "{log}"
    );
    assert_eq!(s.ids(), ids, "restarted in place: the same containers");

    // A new file reaches both replicas; its deletion too. An ignored one does not.
    std::fs::write(s.dir.path().join("app/extra.txt"), "x").unwrap();
    std::fs::write(s.dir.path().join("app/scratch.tmp"), "x").unwrap();
    w.wait_for("restarted", 2, Duration::from_secs(90));
    for i in [1, 2] {
        assert_eq!(in_web(&s, i, &["cat", "/app/app/extra.txt"]).stdout, "x");
        assert_ne!(
            in_web(&s, i, &["test", "-e", "/app/app/scratch.tmp"]).code,
            0
        );
    }
    std::fs::remove_file(s.dir.path().join("app/extra.txt")).unwrap();
    w.wait_for("deleted 1", 1, Duration::from_secs(90));
    for i in [1, 2] {
        assert_ne!(in_web(&s, i, &["test", "-e", "/app/app/extra.txt"]).code, 0);
    }

    // A burst of 100 writes is one action.
    let before = w.text().matches("restarted").count();
    for n in 0..100 {
        std::fs::write(
            s.dir.path().join(format!("app/burst{}.txt", n % 20)),
            n.to_string(),
        )
        .unwrap();
    }
    w.wait_for("restarted", before + 1, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(3));
    let log = w.text();
    assert_eq!(
        log.matches("restarted").count(),
        before + 1,
        "one action for the burst:\n{log}"
    );
    assert!(log.contains("and 19 more → web: synced 20 files"), "{log}");

    let log = w.stop();
    assert!(
        log.contains("stopped watching; the stack keeps running"),
        "{log}"
    );
    assert_eq!(versions(port).len(), 2, "still serving after Ctrl-C");
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn a_crash_is_shown_and_recovered_drift_stops_verification_and_up_restores_it() {
    let (s, port) = watch_stack("watchdrift");
    let out = s.run(["up", "--fast-health", "--timeout", "180s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let w = Watching::start(&s);

    // A syntax error: the restart fails, its log lines are shown, the loop goes on.
    let srv = s.dir.path().join("app/srv.py");
    std::fs::write(&srv, format!("{SERVER}\ndef broken(:\n")).unwrap();
    let log = w.wait_for("warning: app/srv.py → web:", 1, Duration::from_secs(120));
    assert!(log.contains("SyntaxError"), "the crash's log lines: {log}");
    // The next good edit recovers.
    std::fs::write(&srv, SERVER).unwrap();
    std::fs::write(s.dir.path().join("app/version.txt"), "three\n").unwrap();
    until_versions(port, "three", Duration::from_secs(120));

    // Synced files: smoke runs but vouches for nothing; ps says so.
    let smoke = s.run(["smoke"]);
    assert_eq!(smoke.code, 0, "{}", smoke.stderr);
    assert!(
        smoke.stderr.contains("warning: not verified: ")
            && smoke.stderr.contains("-web-1 runs 2 synced files")
            && !smoke.stderr.contains("verified: image"),
        "{}",
        smoke.stderr
    );
    let ps = s.run(["ps"]);
    assert!(
        ps.stdout.contains("-web-2 runs 2 synced files"),
        "{}",
        ps.stdout
    );
    // …so there is nothing promote would ship.
    let promote = s.run(["promote", "--env", "demo"]);
    assert_ne!(promote.code, 0, "{}", promote.stderr);
    assert!(
        promote.stderr.contains("smoke` first"),
        "refused for want of a verified image: {}",
        promote.stderr
    );
    let log = w.stop();
    assert!(!log.contains("rebuil"), "{log}");

    // The rebuild rule's file: a new image; web replaced, `other` untouched.
    // (`up` would do the same for the drift alone: checked below.)
    let other = s
        .ids()
        .into_iter()
        .find(|(n, _)| n.ends_with("-other-1"))
        .unwrap();
    let w = Watching::start(&s);
    std::fs::write(s.dir.path().join("build.txt"), "2\n").unwrap();
    let log = w.wait_for("rebuilt the image", 1, Duration::from_secs(180));
    assert!(
        log.contains("build.txt: rebuilt the image; replaced web"),
        "{log}"
    );
    w.stop();
    let after = s.ids();
    assert_eq!(
        after.get(&other.0),
        Some(&other.1),
        "other runs another image"
    );
    let smoke = s.run(["smoke"]);
    assert!(smoke.stderr.contains("verified: image"), "{}", smoke.stderr);

    // Files synced by hand (as a killed watch would leave them): up replaces.
    let cp = in_web(&s, 1, &["sh", "-c", "echo x > /app/app/by-hand.txt"]);
    assert_eq!(cp.code, 0, "{}", cp.stderr);
    let smoke = s.run(["smoke"]);
    assert!(
        smoke.stderr.contains("-web-1 runs 1 synced file;"),
        "{}",
        smoke.stderr
    );
    let up = s.run(["up", "--fast-health", "--timeout", "180s"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert!(up.stderr.contains("it runs 1 synced file"), "{}", up.stderr);
    let smoke = s.run(["smoke"]);
    assert!(smoke.stderr.contains("verified: image"), "{}", smoke.stderr);
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn a_sync_target_outside_the_working_directory_is_refused_with_its_line() {
    let (s, _) = watch_stack("watchtarget");
    s.up();
    let text = std::fs::read_to_string(s.dir.path().join("stack.yaml"))
        .unwrap()
        .replace("target: /app/app", "target: /srv/app");
    std::fs::write(s.dir.path().join("stack.yaml"), text).unwrap();
    let out = s.run(["watch"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: services.web.develop.watch[0].target: `/srv/app` is outside the working directory of `web`'s containers (`/app`, the image's WORKDIR)"
        ) && out.stderr.contains("stack.yaml:"),
        "{}",
        out.stderr
    );
}
