//! The local load balancer against real containers: routing, headers, ALB
//! health states, fail-open, 502/503/504 and draining during a replace.
//! Ignored by default like the other engine tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::docker::TestStack;
use crate::{free_port, http};

fn python_image() -> String {
    std::env::var("PYTHON_IMAGE").unwrap_or_else(|_| "geno-local/python:3.11".into())
}

/// A small HTTP server: `/health` answers the code in /tmp/status (200 by
/// default) and counts failures in /tmp/fails; `/slow?s=N` sleeps; `/reset`
/// drops the connection; anything else echoes hostname and headers, or
/// answers 500 when its VERSION is `bad`.
const SERVER: &str = r#"
import http.server, os, socket, struct, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/health":
            code = int(open("/tmp/status").read()) if os.path.exists("/tmp/status") else 200
            if code != 200:
                n = int(open("/tmp/fails").read()) if os.path.exists("/tmp/fails") else 0
                open("/tmp/fails", "w").write(str(n + 1))
            return self.reply(code, b"health")
        if self.path.startswith("/app/slow"):
            time.sleep(float(self.path.split("=")[1]))
        if self.path.startswith("/app/reset"):
            # The socket closes (with a reset) once the handler ends, which
            # close_connection makes it do whatever the request asked.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if os.environ.get("VERSION") == "bad":
            return self.reply(500, b"a bad release")
        h = self.headers
        body = " ".join([socket.gethostname(), h.get("X-Forwarded-For", "-"), h.get("X-Forwarded-Proto", "-"),
                         h.get("X-Forwarded-Port", "-"), h.get("X-Amzn-Trace-Id", "-"), os.environ.get("VERSION", "-")])
        self.reply(200, body.encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"#;

fn stack_body(port: u16, replicas: u32, extra_groups: &str) -> String {
    format!(
        r#"
image: {{}}
services:
  web:
    image: {py}
    command: [python3, /srv.py]
    volumes: ["./srv.py:/srv.py:ro"]
    environment: {{ VERSION: one }}
    ports: [8000]
    replicas: {replicas}
{extra_services}
load_balancer:
  idle_timeout: 2s
  listeners:
    - port: {port}
      rules:
        - priority: 10
          conditions: {{ path: ["/app/*"] }}
          action: {{ forward: web }}
        - priority: 20
          conditions: {{ path: ["/empty/*"] }}
          action: {{ forward: empty }}
      default_action:
        fixed_response: {{ status: 404, content_type: text/plain, body: "no route here" }}
  target_groups:
    web:
      service: web
      port: 8000
      health_check: {{ path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 3, matcher: "200-299" }}
      deregistration_delay: 10s
    empty:
      service: spare
      port: 8000
      health_check: {{ path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }}
      deregistration_delay: 0s
{extra_groups}"#,
        py = python_image(),
        // A job: it never runs as a target, so its group stays empty.
        extra_services = r#"  spare:
    image: IMAGE
    kind: job
    command: ["true"]
    ports: [8000]"#,
    )
}

fn lb_stack(tag: &str, replicas: u32) -> (TestStack, u16) {
    let port = free_port();
    let s = TestStack::new(tag, &stack_body(port, replicas, ""));
    std::fs::write(s.dir.path().join("srv.py"), SERVER).unwrap();
    (s, port)
}

fn get(port: u16, path: &str) -> (u16, String) {
    http(
        &format!("127.0.0.1:{port}"),
        "GET",
        path,
        Some("t.test"),
        None,
    )
}

/// The distinct replicas (hostnames) that answer `n` requests.
fn answering(port: u16, n: usize) -> std::collections::BTreeSet<String> {
    (0..n)
        .map(|_| {
            get(port, "/app/x")
                .1
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Runs a command in replica `index` of `web`; returns its output.
fn in_web(s: &TestStack, index: u32, command: &[&str]) -> crate::Output {
    let index = index.to_string();
    let mut args = vec!["exec", "-T", "--index", &index, "web", "--"];
    args.extend_from_slice(command);
    s.run(args)
}

fn targets(s: &TestStack) -> Vec<serde_json::Value> {
    let out = s.run(["--json", "ps"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["targets"].as_array().cloned().unwrap_or_default()
}

fn state_of(s: &TestStack, container: &str) -> (String, String) {
    targets(s)
        .iter()
        .find(|t| t["container"] == container)
        .map(|t| {
            (
                t["state"].as_str().unwrap_or("").to_string(),
                t["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .unwrap_or_default()
}

fn wait_state(s: &TestStack, container: &str, want: &str, within: Duration) -> (String, String) {
    let deadline = Instant::now() + within;
    loop {
        let got = state_of(s, container);
        if got.0 == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn up_fast(s: &TestStack) {
    // -v: the load balancer writes an access log line per request.
    let out = s.run(["-v", "up", "--fast-health", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("load balancer started on http://127.0.0.1:"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn routes_round_robin_with_alb_headers_and_fixed_responses() {
    let (s, port) = lb_stack("rr", 2);
    up_fast(&s);
    let mut hosts = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let (status, body) = get(port, "/app/x");
        assert_eq!(status, 200, "{body}");
        let f: Vec<&str> = body.split(' ').collect();
        hosts.insert(f[0].to_string());
        assert_eq!(f[1], "127.0.0.1", "X-Forwarded-For");
        assert_eq!(
            (f[2], f[3]),
            ("http", port.to_string().as_str()),
            "X-Forwarded-Proto/-Port"
        );
        assert!(
            f[4].starts_with("Root=1-") && f[4].len() == "Root=1-".len() + 8 + 1 + 24,
            "{}",
            f[4]
        );
    }
    assert_eq!(hosts.len(), 2, "round-robin over both replicas: {hosts:?}");
    assert_eq!(get(port, "/elsewhere"), (404, "no route here".to_string()));
    let log =
        std::fs::read_to_string(s.dir.path().join(format!(".geno/{}/lb.log", s.name))).unwrap();
    assert!(log.contains("\"GET /app/x\" 200"), "{log}");
    assert!(log.contains("\"GET /elsewhere\" 404 - "), "{log}");
    assert!(!log.contains('\x1b'), "no colour codes in the log file");
    // A target group with no registered targets: 503.
    let (status, body) = get(port, "/empty/x");
    assert_eq!(status, 503, "{body}");
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn unhealthy_after_exactly_the_threshold_then_recovery_and_fail_open() {
    let (s, port) = lb_stack("health", 2);
    // Real intervals (5 s): between the third failed check and the next one
    // there is time to read the target's own count of failures.
    let out = s.run(["up", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let one = format!("{}-web-1", s.name);
    let two = format!("{}-web-2", s.name);
    assert_eq!(state_of(&s, &one).0, "healthy");
    in_web(&s, 1, &["sh", "-c", "echo 503 > /tmp/status"]);
    let (state, reason) = wait_state(&s, &one, "unhealthy", Duration::from_secs(40));
    let fails = in_web(&s, 1, &["cat", "/tmp/fails"]).stdout;
    assert_eq!(
        (state.as_str(), reason.as_str()),
        ("unhealthy", "Target.ResponseCodeMismatch")
    );
    assert_eq!(
        fails.trim(),
        "3",
        "unhealthy after exactly unhealthy_threshold (3) failed checks"
    );
    // No more traffic to it.
    for _ in 0..6 {
        let (_, body) = get(port, "/app/x");
        assert!(
            !body.starts_with(&one[..one.len().min(12)]) || body.contains(&two),
            "{body}"
        );
    }
    let hosts = answering(port, 6);
    assert_eq!(
        hosts.len(),
        1,
        "only the healthy replica answers: {hosts:?}"
    );

    // Both unhealthy: the ALB fails open and routes to all of them.
    in_web(&s, 2, &["sh", "-c", "echo 500 > /tmp/status"]);
    wait_state(&s, &two, "unhealthy", Duration::from_secs(40));
    let hosts = answering(port, 6);
    assert_eq!(hosts.len(), 2, "fail open: {hosts:?}");

    // Recovery after healthy_threshold passes.
    in_web(&s, 1, &["rm", "/tmp/status"]);
    assert_eq!(
        wait_state(&s, &one, "healthy", Duration::from_secs(20)).0,
        "healthy"
    );
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn bad_gateway_and_gateway_timeout() {
    let (s, port) = lb_stack("gw", 1);
    up_fast(&s);
    let (status, body) = get(port, "/app/reset");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("502 Bad Gateway"));
    // A 504 is the proof the proxy gave up before the target's answer at
    // 6 s (a waited-for answer would be a 200); no clock needed.
    let (status, _) = get(port, "/app/slow?s=6");
    assert_eq!(status, 504, "idle_timeout is 2s");
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn replacing_a_target_drains_its_in_flight_requests() {
    let (s, port) = lb_stack("drain", 1);
    up_fast(&s);
    let slow = std::thread::spawn(move || get(port, "/app/slow?s=1.5"));
    std::thread::sleep(Duration::from_millis(300));
    s.write(&stack_body(port, 1, "").replace("VERSION: one", "VERSION: two"));
    let out = s.run(["up", "--fast-health", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (status, body) = slow.join().unwrap();
    assert_eq!(
        status, 200,
        "the in-flight request finished on the old target: {body}"
    );
    assert!(body.ends_with(" one"), "{body}");
    let (status, body) = get(port, "/app/x");
    assert_eq!(status, 200);
    assert!(
        body.ends_with(" two"),
        "new requests reach the new target: {body}"
    );
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn a_killed_load_balancer_is_reported_by_ps_and_restarted_by_up() {
    let (s, port) = lb_stack("lbdead", 1);
    up_fast(&s);
    let ps = |s: &TestStack| -> serde_json::Value {
        serde_json::from_str(&s.run(["--json", "ps"]).stdout).unwrap()
    };
    let lb = &ps(&s)["loadBalancer"];
    assert_eq!(
        (lb["running"].as_bool(), lb["current"].as_bool()),
        (Some(true), Some(true))
    );
    let pid = lb["pid"].as_i64().unwrap() as i32;
    // SAFETY: SIGKILL to the load balancer process this test's stack started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ps(&s)["loadBalancer"]["running"] != false {
        assert!(
            Instant::now() < deadline,
            "ps still reports the killed load balancer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = s.run(["ps"]).stdout;
    assert!(
        text.contains("load balancer: not running; `geno up` starts it"),
        "{text}"
    );
    // up puts it back, the containers untouched.
    let out = s.run(["up", "--fast-health", "--timeout", "120s"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("nothing changed"), "{}", out.stderr);
    assert!(
        out.stderr.contains("load balancer started on"),
        "{}",
        out.stderr
    );
    assert_eq!(get(port, "/app/x").0, 200);
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn restarting_replicas_one_at_a_time_keeps_the_load_balancer_answering() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (s, port) = lb_stack("restartlb", 2);
    up_fast(&s);
    let ids = s.ids();
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(120);
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                statuses.push(get(port, "/app/x").0);
                std::thread::sleep(Duration::from_millis(10));
            }
            statuses
        })
    };
    let out = s.run(["restart", "web", "--timeout", "120s"]);
    stop.store(true, Ordering::SeqCst);
    let statuses = stream.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bad: Vec<u16> = statuses
        .iter()
        .copied()
        .filter(|c| !(200..300).contains(c))
        .collect();
    assert!(
        statuses.len() > 50,
        "the stream ran: {} requests",
        statuses.len()
    );
    assert!(
        bad.is_empty(),
        "non-2xx during the restart: {bad:?}\n{}",
        out.stderr
    );
    assert_eq!(
        out.stderr
            .matches("healthy in the load balancer after")
            .count(),
        2,
        "{}",
        out.stderr
    );
    assert_eq!(s.ids(), ids, "restarted in place");
    assert_eq!(answering(port, 8).len(), 2, "both replicas serve again");
}

#[test]
#[ignore = "needs the Docker engine"]
fn without_a_load_balancer_smoke_goes_to_each_services_own_port() {
    let published = free_port();
    let body = format!(
        r#"
image: {{}}
services:
  api:
    image: {py}
    command: [python3, /srv.py]
    volumes: ["./srv.py:/srv.py:ro"]
    ports: ["{published}:8000"]
  # Not published: reached at its address on the stack's network.
  orchestrator:
    image: {py}
    command: [python3, /srv.py]
    volumes: ["./srv.py:/srv.py:ro"]
    ports: [8000]
smoke:
  - name: the api answers on its published port
    http: {{ service: api, path: /health, expect: {{ status: 200 }} }}
    poll: {{ interval: 1s, deadline: 30s }}
  - name: the orchestrator answers on its own address
    http: {{ service: orchestrator, port: 8000, path: /health, expect: {{ status: 200 }} }}
    poll: {{ interval: 1s, deadline: 30s }}
"#,
        py = python_image(),
    );
    let s = TestStack::new("nolb", &body);
    std::fs::write(s.dir.path().join("srv.py"), SERVER).unwrap();
    s.up();
    let out = s.run(["smoke"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for line in [
        "through each service's own port (no load balancer)",
        "PASS  the api answers on its published port",
        "PASS  the orchestrator answers on its own address",
        "2 passed, 0 failed, 0 skipped",
    ] {
        assert!(out.stderr.contains(line), "{line}:\n{}", out.stderr);
    }
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn https_with_the_stacks_development_certificate_and_a_redirect_from_http() {
    let (plain, tls) = (free_port(), free_port());
    let body = format!(
        r#"
image: {{}}
services:
  web:
    image: {py}
    command: [python3, /srv.py]
    volumes: ["./srv.py:/srv.py:ro"]
    ports: [8000]
load_balancer:
  listeners:
    - port: {plain}
      default_action: {{ redirect: {{ protocol: HTTPS, port: 443 }} }}
    - port: {tls}
      protocol: HTTPS
      rules:
        - priority: 10
          conditions: {{ path: ["/app/*"] }}
          action: {{ forward: web }}
      default_action:
        fixed_response: {{ status: 404, content_type: text/plain, body: "no route here" }}
  target_groups:
    web:
      service: web
      port: 8000
      health_check: {{ path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }}
smoke:
  - name: the app answers over HTTPS
    http: {{ path: /app/x, expect: {{ status: 200, body_contains: https }} }}
"#,
        py = python_image()
    );
    let s = TestStack::new("https", &body);
    std::fs::write(s.dir.path().join("srv.py"), SERVER).unwrap();
    let up = s.run(["up", "--fast-health", "--timeout", "120s"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let ca = s.dir.path().join(".geno").join(&s.name).join("tls/ca.pem");
    assert!(
        up.stderr.contains(&format!(
            "HTTPS listeners serve geno's development certificate for localhost, *.localhost, 127.0.0.1, ::1, signed by ./.geno/{}/tls/ca.pem",
            s.name
        )) && up.stderr.contains(&format!(
            "on http://127.0.0.1:{plain}, https://127.0.0.1:{tls} ("
        )),
        "{}",
        up.stderr
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pem = std::fs::read(&ca).unwrap();
        let trusting = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // HTTP redirects to the local HTTPS listener, path and query kept.
        let r = trusting
            .get(format!("http://127.0.0.1:{plain}/app/x?page=2"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 301);
        assert_eq!(
            r.headers()["location"],
            format!("https://127.0.0.1:{tls}/app/x?page=2").as_str()
        );
        // Over TLS with the stack's certificate, with the ALB's headers.
        let r = trusting
            .get(format!("https://127.0.0.1:{tls}/app/x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(text.contains(&format!(" https {tls} ")), "{text}");
        let r = trusting
            .get(format!("https://localhost:{tls}/nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        // A client that does not trust it is refused the handshake.
        let strict = reqwest::Client::new();
        let refused = strict
            .get(format!("https://127.0.0.1:{tls}/app/x"))
            .send()
            .await;
        assert!(refused.is_err(), "{refused:?}");
    });
    let smoke = s.run(["smoke"]);
    assert_eq!(smoke.code, 0, "{}", smoke.stderr);
    assert!(
        smoke
            .stderr
            .contains(&format!("through https://127.0.0.1:{tls}")),
        "{}",
        smoke.stderr
    );
    let ps = s.run(["ps"]);
    assert!(
        ps.stdout.contains(&format!(
            "load balancer on http://127.0.0.1:{plain}, https://127.0.0.1:{tls}"
        )),
        "{}",
        ps.stdout
    );
    // A second `up` keeps the certificate (nothing said about it).
    let again = s.run(["up", "--timeout", "60s"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        !again.stderr.contains("development certificate"),
        "{}",
        again.stderr
    );
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn top_shows_what_the_load_balancer_answered_and_the_containers_use() {
    let (s, port) = lb_stack("top", 2);
    up_fast(&s);
    // 40 answers and 2 the load balancer gives itself (502), sent once
    // `top` has taken its first reading and before its second (15 s later:
    // room for 42 requests on a machine busy with other tests).
    let mut child = s
        .geno()
        .args(["--json", "top", "--once", "--interval", "15s"])
        .spawn();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert_eq!(line, "measuring for 15s…\n");
    for _ in 0..40 {
        assert_eq!(get(port, "/app/x").0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(port, "/app/reset").0, 502);
    }
    let done = child.wait_with_output().unwrap();
    let out = crate::Output {
        code: done.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
    };
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let web = &rows[0];
    assert_eq!(web["service"], "web");
    assert_eq!(web["containers"], 2);
    // Rates over the window between the two readings: every request.
    let window = web["windowSeconds"].as_f64().unwrap();
    assert!(window >= 15.0, "{web}");
    let total = web["requestsPerSecond"].as_f64().unwrap() * window;
    assert!((total - 42.0).abs() < 0.01, "{web}");
    let errors = web["errorsPerSecond"].as_f64().unwrap() * window;
    assert!((errors - 2.0).abs() < 0.01, "{web}");
    assert!(web["p50Ms"].as_u64().is_some(), "{web}");
    assert!(web["memoryBytes"].as_u64().unwrap() > 0, "{web}");
    // The job's group has no containers: no row.
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
}

/// One routed service whose production deploys it canary, with a 5xx
/// rollback alarm; its VERSION from the environment of the geno that runs.
fn rehearsal_body(port: u16) -> String {
    format!(
        r#"
image: {{}}
services:
  web:
    image: {py}
    command: [python3, /srv.py]
    local: {{ volumes: ["./srv.py:/srv.py:ro"] }}
    environment: {{ VERSION: "${{VERSION:-one}}" }}
    ports: [8000]
    ecs: {{ service: web-svc, cpu: 256, memory: 512, target_group: web }}
load_balancer:
  listeners:
    - port: {port}
      rules:
        - priority: 10
          conditions: {{ path: ["/app/*"] }}
          action: {{ forward: web }}
      default_action:
        fixed_response: {{ status: 404, content_type: text/plain, body: "no route here" }}
  target_groups:
    web:
      service: web
      port: 8000
      health_check: {{ path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 3 }}
      deregistration_delay: 2s
environments:
  local: {{}}
  prod:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: prod
      execution_role_arn: arn:aws:iam::123456789012:role/exec
      task_role_arn: arn:aws:iam::123456789012:role/task
      log_group: /ecs/prod
    strategy:
      web: {{ canary: {{ percent: 20, bake: 1m }} }}
    alarms:
      web: {{ 5xx: {{ rollback: true, threshold: 2, period: 60s, periods: 1 }}, cpu: {{ rollback: true, periods: 1 }} }}
"#,
        py = python_image(),
    )
}

/// `geno up --rehearse prod` of release `version` (-v, as the stack was
/// brought up: the same load balancer), with requests through the load
/// balancer every 10 ms meanwhile: its output and their statuses, in order.
fn rehearse(s: &TestStack, port: u16, version: &str) -> (crate::Output, Vec<u16>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(180);
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                statuses.push(get(port, "/app/x").0);
                std::thread::sleep(Duration::from_millis(10));
            }
            statuses
        })
    };
    let out = s
        .geno()
        .env("VERSION", version)
        .args([
            "-v",
            "up",
            "--fast-health",
            "--rehearse",
            "prod",
            "--timeout",
            "120s",
        ])
        .run();
    stop.store(true, Ordering::SeqCst);
    (out, stream.join().unwrap())
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn a_rehearsed_canary_answering_500_rolls_back_and_a_good_one_takes_over() {
    let port = free_port();
    let s = TestStack::new("rehearse", &rehearsal_body(port));
    std::fs::write(s.dir.path().join("srv.py"), SERVER).unwrap();
    up_fast(&s);
    let ids = s.ids();

    // A release that answers 500: a fifth of the requests go to it until
    // the 5xx alarm fires (its minute is 6 s here), then none.
    let (out, statuses) = rehearse(&s, port, "bad");
    assert_eq!(out.code, 1, "{}", out.stderr);
    for said in [
        "web: rehearsing prod's canary deployment here, 10 times faster: canary 20% for 6s, then bake 100% for 6s\n",
        "web: rollback alarms judged on the load balancer: web-svc-5xx\n",
        "web: not rehearsed here: web-svc-cpu (AWS/ECS CPUUtilization is CloudWatch's alone)\n",
        "web: canary: 20% of requests on the new release for 6s\n",
        "web: the rehearsed canary rolled back: alarm web-svc-5xx fired during the canary: Threshold Crossed: 1 datapoint [",
        "] greater than the threshold (2), each over 6s; the old release still serves\n",
    ] {
        assert!(out.stderr.contains(said), "{said}\n{}", out.stderr);
    }
    let bad = statuses.iter().filter(|s| !(200..300).contains(*s)).count();
    eprintln!(
        "bad release: {bad} of {} requests failed\n{}",
        statuses.len(),
        out.stderr
    );
    assert!(bad > 2, "the canary had its share: {statuses:?}");
    // Only the canary's share, and only while it lasted: at most a fifth
    // of the requests during the rehearsal (and some slack).
    assert!(
        bad <= statuses.len() / 5 + 5,
        "{bad} of {}: {statuses:?}",
        statuses.len()
    );
    assert_eq!(s.ids(), ids, "the old release kept, the new one removed");
    for _ in 0..20 {
        let (status, body) = get(port, "/app/x");
        assert!(status == 200 && body.ends_with(" one"), "{status} {body}");
    }

    // A good release goes through every step and takes over, without a
    // failed request.
    let (out, statuses) = rehearse(&s, port, "two");
    assert_eq!(out.code, 0, "{}", out.stderr);
    eprintln!("good release: {} requests\n{}", statuses.len(), out.stderr);
    assert!(
        out.stderr
            .contains("web: bake: 100% of requests on the new release for 6s\n")
            && out
                .stderr
                .contains("web: rehearsal passed: the new release serves all of `web`\n"),
        "{}",
        out.stderr
    );
    assert!(
        statuses.iter().all(|s| (200..300).contains(s)),
        "{statuses:?}"
    );
    assert!((0..20).all(|_| get(port, "/app/x").1.ends_with(" two")));
    // Named as the old one was: the next `up` keeps it.
    let after = s.ids();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ids.keys().collect::<Vec<_>>()
    );
    assert_ne!(after, ids);
    let out = s
        .geno()
        .env("VERSION", "two")
        .args(["up", "--timeout", "60s"])
        .run();
    assert!(out.stderr.contains("nothing changed"), "{}", out.stderr);
}
