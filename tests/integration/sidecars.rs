//! Tasks with sidecars on the engine: the containers of a task share one
//! network (a sidecar answers on 127.0.0.1), start in their `depends_on`
//! order, and an essential container's exit stops the task, which geno's
//! task supervisor starts again as ECS would start a new one.

use std::time::{Duration, Instant};

use crate::docker::TestStack;

fn python() -> String {
    std::env::var("PYTHON_IMAGE").unwrap_or_else(|_| "geno-local/python:3.11".into())
}

fn docker(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Asks, from inside container `from`, for `url`; what it read.
fn fetch(from: &str, url: &str) -> (i32, String) {
    let code = format!(
        "import urllib.request; print(urllib.request.urlopen('{url}', timeout=2).read().decode())"
    );
    docker(&["exec", from, "python", "-c", &code])
}

fn started_at(container: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", container]).1
}

#[test]
#[ignore = "needs a Docker engine and base images: scripts/test runs it"]
fn a_task_shares_its_network_keeps_its_order_and_an_essential_exit_replaces_it() {
    let check = |port: u16| {
        format!(
            "{{ test: [CMD, python, -c, \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')\"], interval: 30s, timeout: 3s, retries: 3 }}"
        )
    };
    let body = format!(
        r#"
services:
  app:
    image: {py}
    command: [python, -m, http.server, "8000"]
    healthcheck: {app_check}
    sidecars:
      # Runs once before the helper, and stopping changes nothing.
      setup:
        image: {py}
        command: [sh, -c, "echo set up > /tmp/ran"]
        essential: false
      # Serves on 9000 in the task's network; exits 3 (once) on request.
      helper:
        image: {py}
        command: [sh, -c, "mkdir -p /srv && cd /srv && echo helper > index.html && (python -m http.server 9000 &) && while [ ! -f /tmp/stop ]; do sleep 0.2; done; rm /tmp/stop; exit 3"]
        healthcheck: {helper_check}
        depends_on: {{ app: healthy, setup: completed_successfully }}
"#,
        py = python(),
        app_check = check(8000),
        helper_check = check(9000),
    );
    let s = TestStack::new("sidecar", &body);
    let up = s.up();
    assert!(
        up.stderr.contains("started the task supervisor"),
        "{}",
        up.stderr
    );
    let app = format!("{}-app-1", s.name);
    let helper = format!("{app}.helper");
    // One network: the app reaches its sidecar on 127.0.0.1.
    assert_eq!(fetch(&app, "http://127.0.0.1:9000/"), (0, "helper".into()));
    // In order: the helper started after the app was healthy and setup done.
    let setup_done = docker(&[
        "inspect",
        "-f",
        "{{.State.FinishedAt}}",
        &format!("{app}.setup"),
    ])
    .1;
    assert!(
        started_at(&helper) > setup_done,
        "{setup_done} {}",
        started_at(&helper)
    );
    let ps = s.run(["ps"]);
    for row in ["app/helper", "app/setup"] {
        assert!(ps.stdout.contains(row), "{}", ps.stdout);
    }
    // A sidecar by `SERVICE/SIDECAR`: exec into it, or its logs alone.
    let exec = s.run(["exec", "-T", "app/helper", "--", "cat", "/srv/index.html"]);
    assert_eq!(
        (exec.code, exec.stdout.trim()),
        (0, "helper"),
        "{}",
        exec.stderr
    );
    let logs = s.run(["logs", "app/helper"]);
    let out = format!("{}{}", logs.stdout, logs.stderr);
    assert!(out.contains(&format!("{helper} | ")), "{out}");
    assert!(!out.contains(&format!("{app} | ")), "{out}");
    let wrong = s.run(["exec", "-T", "app/helpr", "--", "true"]);
    assert_eq!(
        (wrong.code, wrong.stderr.trim()),
        (
            1,
            "error: service `app` has no sidecar `helpr`; its sidecars: setup, helper"
        )
    );
    // Up again: the setup that did its work is not run again.
    let again = s.up();
    assert!(
        again.stderr.contains("(nothing changed)"),
        "{}",
        again.stderr
    );
    let finished = docker(&[
        "inspect",
        "-f",
        "{{.State.FinishedAt}}",
        &format!("{app}.setup"),
    ])
    .1;
    assert_eq!(finished, setup_done);

    // The essential helper exits: the task stops and starts again.
    let before = started_at(&app);
    assert_eq!(docker(&["exec", &helper, "touch", "/tmp/stop"]).0, 0);
    // Generous: 1 s of back-off, then the task's start and checks on a
    // loaded CI machine.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let again = started_at(&app) != before
            && fetch(&app, "http://127.0.0.1:9000/") == (0, "helper".into());
        if again {
            break;
        }
        assert!(Instant::now() < deadline, "the task did not come back");
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = std::fs::read_to_string(s.dir.path().join(".geno").join(&s.name).join("tasks.log"))
        .unwrap();
    assert!(
        log.contains(&format!(
            "{helper} exited with 3: stopping task {app}, starting it again in 1s"
        )),
        "{log}"
    );
    // A replaced task's container takes new sidecars with it.
    s.write(&body.replace("\"8000\"]", "\"8000\", --bind, 0.0.0.0]"));
    let helper_id = docker(&["inspect", "-f", "{{.Id}}", &helper]).1;
    s.up();
    assert_ne!(docker(&["inspect", "-f", "{{.Id}}", &helper]).1, helper_id);
    assert_eq!(fetch(&app, "http://127.0.0.1:9000/"), (0, "helper".into()));
    // `down` ends the supervisor with the stack.
    let down = s.run(["down"]);
    assert!(
        down.stderr.contains("stopped the task supervisor"),
        "{}",
        down.stderr
    );
}
