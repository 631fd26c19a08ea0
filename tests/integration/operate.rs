//! The verbs that operate a deployed environment — `ps`, `logs`, `run`,
//! `exec`, `smoke`, `secrets` and `scale` with `--env` — against moto
//! behind tests/aws/ecs_scripted.py (tasks that run and stop with exit
//! codes, ECS Exec sessions and services that settle, which moto does not
//! model), seeded as infra/ would be, and a rendering put in place as a
//! promotion would. No Docker engine: the promote tests do the real
//! promotion and check these verbs on it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::standin::StandIn;
use crate::{Output, free_port, root};

const DIGEST: &str = "sha256:abababababababababababababababababababababababababababababababab";

/// A stack whose environment `demo` is on the stand-in: web (behind a
/// target group) and worker on one image, a job, a secret in SSM and one
/// in Secrets Manager, and a smoke suite of `targets` and `exec` steps.
fn stack_body(name: &str) -> String {
    format!(
        r#"name: {name}
image: {{ context: . }}
x-app: &app
  secrets: [TOKEN, API_KEY]
services:
  setup:
    kind: job
    command: [python3, -c, "print('ok')"]
  web:
    <<: *app
    depends_on: {{ setup: completed_successfully }}
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    ecs: {{ service: "{name}-web-${{GENO_ENV}}", repository: "{name}-web", cpu: 256, memory: 512, desired_count: 2, target_group: web }}
  worker:
    <<: *app
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-worker-${{GENO_ENV}}", repository: "{name}-worker", cpu: 256, memory: 512, desired_count: 1 }}
secrets:
  TOKEN:
    local: {{ generate: {{ length: 16 }} }}
    aws: {{ ssm: "/{name}/${{GENO_ENV}}/token" }}
  API_KEY:
    local: {{ generate: {{ length: 16 }} }}
    aws: {{ secrets_manager: "{name}-${{GENO_ENV}}-api-key" }}
load_balancer:
  listeners:
    - port: {lb}
      rules:
        - priority: 10
          conditions: {{ path: ["/*"] }}
          action: {{ forward: web }}
      default_action:
        fixed_response: {{ status: 404, content_type: text/plain, body: "no route" }}
  target_groups:
    web:
      service: web
      port: 8000
      health_check: {{ path: /, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }}
environments:
  local: {{}}
  demo:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: "{name}-${{GENO_ENV}}"
      execution_role_arn: "arn:aws:iam::123456789012:role/{name}-exec"
      task_role_arn: "arn:aws:iam::123456789012:role/{name}-task"
      log_group: "/ecs/{name}-${{GENO_ENV}}"
      url: "http://127.0.0.1:9"
smoke:
  - name: the ALB has every web target healthy
    targets: {{ target_group: web, state: healthy }}
  - name: the worker answers
    exec:
      service: worker
      command: [echo, pong]
      expect: {{ stdout_contains: pong }}
"#,
        lb = free_port()
    )
}

/// The stand-in, seeded for `demo`, and a stack directory.
fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Deployed {
    aws: StandIn,
    dir: tempfile::TempDir,
    name: String,
    /// The "now" every `put_logs` counts back from (ms since the epoch),
    /// taken at the first call: events put by separate calls keep the
    /// order their ages give however slow the machine is.
    logs_now: std::sync::OnceLock<i64>,
}

impl Deployed {
    /// Seeded only: services on their bootstrap task definitions.
    fn seeded(tag: &str) -> Deployed {
        let aws = StandIn::start();
        let dir = tempfile::tempdir().unwrap();
        let name = format!("op{}-{tag}", std::process::id());
        std::fs::write(dir.path().join("stack.yaml"), stack_body(&name)).unwrap();
        aws.seed_in(dir.path(), "demo", &[]);
        Deployed {
            aws,
            dir,
            name,
            logs_now: std::sync::OnceLock::new(),
        }
    }

    /// Seeded, and every service moved to its rendering for `DIGEST`.
    fn promoted(tag: &str) -> Deployed {
        let d = Deployed::seeded(tag);
        let out = d.geno(&["render", "--env", "demo", "--image", DIGEST]);
        ok(&out);
        let file = d.dir.path().join("rendering.json");
        std::fs::write(&file, out.stdout).unwrap();
        d.python(&[
            root()
                .join("tests/aws/deploy_rendered.py")
                .to_str()
                .unwrap(),
            file.to_str().unwrap(),
        ]);
        d
    }

    fn geno(&self, args: &[&str]) -> Output {
        self.aws.geno_in(self.dir.path()).args(args).run()
    }

    fn geno_cmd(&self) -> crate::Geno {
        self.aws.geno_in(self.dir.path())
    }

    fn python(&self, args: &[&str]) -> String {
        self.aws.python(args)
    }

    fn cluster(&self) -> String {
        format!("{}-demo", self.name)
    }

    /// Log events into `stream` of the environment's log group:
    /// (milliseconds before now, message).
    fn put_logs(&self, stream: &str, events: &[(i64, &str)]) {
        self.put_logs_from(self.logs_now(), stream, events);
    }

    /// As `put_logs`, counting back from this moment (for a follower that
    /// waits for new events).
    fn put_logs_now(&self, stream: &str, events: &[(i64, &str)]) {
        self.put_logs_from(epoch_ms(), stream, events);
    }

    fn put_logs_from(&self, now: i64, stream: &str, events: &[(i64, &str)]) {
        let events: Vec<Value> = events
            .iter()
            .map(|(ago, m)| serde_json::json!([ago, m]))
            .collect();
        let script = r#"
import json, sys, time, boto3
group, stream, events = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
logs = boto3.client("logs")
try:
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
except logs.exceptions.ResourceAlreadyExistsException:
    pass
now = int(sys.argv[4])
logs.put_log_events(logGroupName=group, logStreamName=stream,
    logEvents=[{"timestamp": now - ago, "message": m} for ago, m in events])
"#;
        self.python(&[
            "-c",
            script,
            &format!("/ecs/{}-demo", self.name),
            stream,
            &Value::Array(events).to_string(),
            &now.to_string(),
        ]);
    }

    fn logs_now(&self) -> i64 {
        *self.logs_now.get_or_init(epoch_ms)
    }

    /// ECS service `service` of `demo`, as DescribeServices answers.
    fn described(&self, service: &str) -> Value {
        self.aws.aws(&[
            "ecs",
            "describe-services",
            "--cluster",
            &self.cluster(),
            "--services",
            &format!("{}-{service}-demo", self.name),
        ])["services"][0]
            .clone()
    }

    /// Starts a task of `service` as its ECS service would (moto starts
    /// none); returns its ID.
    fn service_task(&self, service: &str) -> String {
        let ecs_service = format!("{}-{service}-demo", self.name);
        let s = &self.described(service);
        let out = self.aws.aws(&[
            "ecs",
            "run-task",
            "--cluster",
            &self.cluster(),
            "--task-definition",
            s["taskDefinition"].as_str().unwrap(),
            "--group",
            &format!("service:{ecs_service}"),
            "--launch-type",
            "FARGATE",
            "--network-configuration",
            &s["networkConfiguration"].to_string(),
        ]);
        let arn = out["tasks"][0]["taskArn"].as_str().unwrap();
        arn.rsplit('/').next().unwrap().to_string()
    }
}

fn ok(out: &Output) {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

/// A stand-in for AWS's session-manager-plugin in a directory of its own:
/// writes its arguments to `args` beside it, prints `pong` and exits with
/// `code`.
fn fake_plugin(dir: &Path, code: i32) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("session-manager-plugin");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}\necho pong\nexit {code}\n",
            dir.join("args").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A PATH with no session-manager-plugin on it (the tools geno runs are
/// not needed by the verbs under test).
const BARE_PATH: &str = "/usr/bin:/bin";

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn secrets_are_listed_set_and_removed_without_their_values_showing() {
    let d = Deployed::seeded("secrets");
    let out = d.geno(&["secrets", "--env", "demo", "ls"]);
    ok(&out);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(rows[0].starts_with("NAME"), "{}", out.stdout);
    assert!(
        rows[1].starts_with("TOKEN")
            && rows[1].contains("SSM")
            && rows[1].contains(" yes ")
            && rows[1].contains("SecureString")
            && rows[1].ends_with("web, worker"),
        "{}",
        out.stdout
    );
    assert!(
        rows[2].starts_with("API_KEY")
            && rows[2].contains("Secrets Manager")
            && rows[2].contains("MISSING"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(
            "API_KEY is missing: `geno promote --env demo` stops at preflight until `geno secrets set --env demo API_KEY` writes it"
        ),
        "{}",
        out.stderr
    );

    // Set from stdin: the value reaches AWS and nowhere else.
    let token = "tok-4f1e9a7c2b";
    let out = d
        .geno_cmd()
        .args(["secrets", "set", "--env", "demo", "TOKEN"])
        .stdin(&format!("{token}\n"))
        .run();
    ok(&out);
    assert!(!out.stdout.contains(token) && !out.stderr.contains(token));
    assert!(
        out.stderr.contains(&format!(
            "set TOKEN: SSM parameter /{}/demo/token (SecureString, version 2)",
            d.name
        )),
        "{}",
        out.stderr
    );
    let p = d.aws.aws(&[
        "ssm",
        "get-parameter",
        "--with-decryption",
        "--name",
        &format!("/{}/demo/token", d.name),
    ]);
    assert_eq!(p["Parameter"]["Value"], token);
    assert_eq!(p["Parameter"]["Type"], "SecureString");

    let key = "key-77aa01";
    let out = d
        .geno_cmd()
        .args(["secrets", "--env", "demo", "set", "API_KEY"])
        .stdin(key)
        .run();
    ok(&out);
    assert!(!out.stdout.contains(key) && !out.stderr.contains(key));
    let s = d.aws.aws(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        &format!("{}-demo-api-key", d.name),
    ]);
    assert_eq!(s["SecretString"], key);
    let out = d.geno(&["--json", "secrets", "--env", "demo", "ls"]);
    ok(&out);
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["exists"] == true)
    );
    assert!(!out.stdout.contains(token) && !out.stdout.contains(key));

    // Names stack.yaml does not declare are refused.
    let out = d
        .geno_cmd()
        .args(["secrets", "--env", "demo", "set", "TOKN"])
        .stdin("x")
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: stack.yaml declares no secret `TOKN` (did you mean `TOKEN`?); geno writes only declared secrets, which for `demo` are: TOKEN, API_KEY\n"
    );
    let out = d
        .geno_cmd()
        .args(["secrets", "--env", "demo", "set", "TOKEN"])
        .stdin("")
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: the value for TOKEN is empty; nothing was written\n"
    );

    // rm asks first; without a terminal it needs --yes.
    let out = d.geno(&["secrets", "--env", "demo", "rm", "TOKEN"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "error: not removing SSM parameter /{}/demo/token without a confirmation: run it in a terminal, or pass --yes\n",
            d.name
        )
    );
    ok(&d.geno(&["secrets", "--env", "demo", "rm", "TOKEN", "--yes"]));
    let out = d.geno(&["secrets", "--env", "demo", "rm", "TOKEN", "--yes"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .ends_with("does not exist; nothing was removed\n"),
        "{}",
        out.stderr
    );
    let out = d.geno(&["secrets", "--env", "demo", "ls"]);
    assert!(
        out.stdout.lines().nth(1).unwrap().contains("MISSING"),
        "{}",
        out.stdout
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn ps_shows_tasks_deployments_image_and_target_health() {
    let d = Deployed::promoted("ps");
    let groups = d.aws.aws(&[
        "elbv2",
        "describe-target-groups",
        "--names",
        &format!("{}-web-demo", d.name),
    ]);
    let tg = groups["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap();
    d.aws.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        tg,
        "--targets",
        "Id=10.40.1.7,Port=8000",
        "Id=10.40.1.8,Port=8000",
    ]);
    let out = d.geno(&["ps", "--env", "demo"]);
    ok(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let web = lines.iter().find(|l| l.starts_with("web ")).unwrap();
    assert!(
        web.contains("2/2")
            && web.contains(&format!("PRIMARY {}-web-demo:2 COMPLETED", d.name))
            && web.contains("abababababab")
            && web.contains("no promotion on record"),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("worker ") && l.contains("1/1")),
        "{}",
        out.stdout
    );
    for ip in ["10.40.1.7:8000", "10.40.1.8:8000"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(ip) && l.contains("healthy")),
            "{}",
            out.stdout
        );
    }
    let out = d.geno(&["--json", "ps", "--env", "demo", "web"]);
    ok(&out);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["services"].as_array().unwrap().len(), 1);
    assert_eq!(v["services"][0]["desired"], 2);
    assert_eq!(v["services"][0]["imageStanding"]["status"], "unknown");
    assert!(
        v["services"][0]["image"]
            .as_str()
            .unwrap()
            .ends_with(DIGEST)
    );
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);

    let out = d.geno(&["ps", "--env", "demo", "webb"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: unknown service `webb` (did you mean `web`?); the services of `demo` are: web, worker\n"
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn logs_interleave_by_time_filter_and_follow_a_replaced_task() {
    let d = Deployed::promoted("logs");
    let web1 = "web/web/aaaa1111bbbb";
    d.put_logs(web1, &[(60_000, "web starting"), (58_000, "GET / 200")]);
    d.put_logs(
        "worker/worker/cccc2222dddd",
        &[(59_000, "worker ready"), (57_000, "task done")],
    );
    d.put_logs("web/web/aaaa1111bbbb", &[(3 * 3_600_000, "long ago")]);
    d.put_logs("elsewhere/x/eeee", &[(59_500, "not ours")]);

    let out = d.geno(&["logs", "--env", "demo"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "web/aaaa1111    | web starting\n\
         worker/cccc2222 | worker ready\n\
         web/aaaa1111    | GET / 200\n\
         worker/cccc2222 | task done\n"
    );
    let out = d.geno(&["logs", "--env", "demo", "web", "--since", "4h"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "web/aaaa1111 | long ago\nweb/aaaa1111 | web starting\nweb/aaaa1111 | GET / 200\n"
    );
    let out = d.geno(&["logs", "--env", "demo", "--grep", "done"]);
    ok(&out);
    assert_eq!(out.stdout, "worker/cccc2222 | task done\n");
    let out = d.geno(&["logs", "--env", "demo", "--tail", "1"]);
    ok(&out);
    assert_eq!(out.stdout, "worker/cccc2222 | task done\n");
    let out = d.geno(&["logs", "--env", "demo", "setup"]);
    ok(&out);
    assert_eq!(out.stdout, "");
    let out = d.geno(&["logs", "--env", "demo", "--since", "yesterday"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: --since takes a duration (`10m`), a UNIX time or an RFC 3339 time, not `yesterday`\n"
    );

    // -f: a replacement task's stream is followed; Ctrl-C ends it cleanly.
    let mut child = d
        .geno_cmd()
        .args(["logs", "--env", "demo", "-f", "web"])
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |text: &str, seen: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(text);
                seen.push(line);
                if hit {
                    return;
                }
            }
        }
        panic!("no `{text}` within 20 s; saw {seen:?}");
    };
    wait_for("GET / 200", &mut seen);
    d.put_logs_now("web/web/ffff3333gggg", &[(0, "replacement up")]);
    wait_for("replacement up", &mut seen);
    assert_eq!(seen.last().unwrap(), "web/ffff3333 | replacement up");
    assert_eq!(
        seen.iter().filter(|l| l.contains("GET / 200")).count(),
        1,
        "{seen:?}"
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "geno logs -f did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn run_streams_a_one_off_task_and_exits_with_its_code() {
    let d = Deployed::promoted("run");
    let out = d.geno(&["run", "--env", "demo", "web", "--", "sh", "-c", "exit 0"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "error: {}-web-demo:2 (the live task definition of web) runs an image that no promotion on record put there; `geno promote --env demo` a verified image, or --force to run it anyway\n",
            d.name
        )
    );
    let out = d.geno(&[
        "run",
        "--env",
        "demo",
        "--force",
        "web",
        "--",
        "sh",
        "-c",
        "echo migrating; echo 3 rows; exit 3",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "migrating\n3 rows\n");
    assert!(
        out.stderr.contains(&format!(
            "({}-web-demo:2) in {}-demo: sh -c 'echo migrating; echo 3 rows; exit 3'",
            d.name, d.name
        )),
        "{}",
        out.stderr
    );
    // The task's output stays in the service's logs.
    let out = d.geno(&["logs", "--env", "demo", "web"]);
    assert!(out.stdout.contains("| migrating"), "{}", out.stdout);
    let out = d.geno(&["run", "--env", "demo", "--force", "setup", "--", "true"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("error: `setup` is a job"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn exec_hands_the_session_to_the_plugin_or_says_how_to_install_it() {
    let d = Deployed::promoted("exec");
    let out = d
        .geno_cmd()
        .env("PATH", BARE_PATH)
        .args(["exec", "--env", "demo", "worker", "--", "ls"])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: ECS Exec needs AWS's session-manager-plugin on PATH; install it as https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html says (Debian/Ubuntu: download session-manager-plugin.deb from there, then `sudo dpkg -i session-manager-plugin.deb`)\n"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = fake_plugin(tmp.path(), 7);
    let out = d
        .geno_cmd()
        .env("PATH", &path)
        .args(["exec", "--env", "demo", "worker", "--", "ls"])
        .run();
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "error: {}-worker-demo has no running task in cluster {} (`geno ps --env demo` shows why)\n",
            d.name,
            d.cluster()
        )
    );
    let task = d.service_task("worker");
    let out = d
        .geno_cmd()
        .env("PATH", &path)
        .args([
            "exec",
            "--env",
            "demo",
            "worker",
            "--task",
            &task[..6],
            "--",
            "celery",
            "inspect",
            "ping",
        ])
        .run();
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert_eq!(out.stdout, "pong\n");
    let args = std::fs::read_to_string(tmp.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args.len(), 6, "{args:?}");
    let session: Value = serde_json::from_str(args[0]).unwrap();
    assert_eq!(session["tokenValue"], "scripted-token");
    assert_eq!(args[1], "us-east-1");
    assert_eq!(args[2], "StartSession");
    assert_eq!(
        args[4],
        format!(
            "{{\"Target\":\"ecs:{}_{task}_{task}-worker\"}}",
            d.cluster()
        )
    );
    assert_eq!(args[5], d.aws.endpoint);
    let out = d
        .geno_cmd()
        .env("PATH", &path)
        .args([
            "exec", "--env", "demo", "worker", "--task", "zzz", "--", "ls",
        ])
        .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("starts with `zzz`; its tasks are: "),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn smoke_runs_targets_and_exec_steps_against_the_environment_and_keeps_a_record() {
    let d = Deployed::promoted("smoke");
    let groups = d.aws.aws(&[
        "elbv2",
        "describe-target-groups",
        "--names",
        &format!("{}-web-demo", d.name),
    ]);
    let tg = groups["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap();
    d.aws.aws(&[
        "elbv2",
        "register-targets",
        "--target-group-arn",
        tg,
        "--targets",
        "Id=10.40.1.9,Port=8000",
    ]);
    d.service_task("worker");
    // Without the plugin the exec step is skipped, with the reason.
    let out = d
        .geno_cmd()
        .env("PATH", BARE_PATH)
        .args(["smoke", "--env", "demo"])
        .run();
    ok(&out);
    assert!(
        out.stderr.contains("SKIP")
            && out
                .stderr
                .contains("session-manager-plugin, which is not installed here"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 passed, 0 failed, 1 skipped"),
        "{}",
        out.stderr
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = fake_plugin(tmp.path(), 0);
    let out = d
        .geno_cmd()
        .env("PATH", &path)
        .args(["smoke", "--env", "demo"])
        .run();
    ok(&out);
    assert!(
        out.stderr.contains("2 passed, 0 failed, 0 skipped"),
        "{}",
        out.stderr
    );
    let out = d.geno(&["history", "--env", "demo"]);
    ok(&out);
    assert!(
        out.stderr
            .contains("last smoke run against `demo`: passed at ")
            && out.stderr.contains("(2 passed, 0 failed, 0 skipped)"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn scale_is_watched_recorded_and_says_what_stack_yaml_keeps() {
    let d = Deployed::promoted("scale");
    let out = d.geno(&[
        "scale", "--env", "demo", "web=3", "worker=0", "--poll", "200ms",
    ]);
    ok(&out);
    assert!(
        out.stderr
            .contains("  web: desired 2 → 3\n  worker: desired 1 → 0\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "stack.yaml keeps desired_count web 2, worker 1 for `demo`: the next `geno promote --env demo` applies that again"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(d.described("web")["desiredCount"], 3);
    let out = d.geno(&["history", "--env", "demo"]);
    ok(&out);
    assert!(
        out.stdout.contains("scale web 2→3, worker 1→0  succeeded"),
        "{}",
        out.stdout
    );
    let out = d.geno(&["scale", "--env", "demo", "web"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: expected SERVICE=COUNT like `api=3`, found `web`\n"
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn restart_env_starts_new_tasks_of_what_runs_watched_and_recorded() {
    let d = Deployed::promoted("restart");
    let describe = || d.described("web");
    let before = describe();
    let out = d.geno(&["restart", "--env", "demo", "web", "--poll", "200ms"]);
    ok(&out);
    let td = before["taskDefinition"].as_str().unwrap();
    let short = td.rsplit('/').next().unwrap();
    assert!(
        out.stderr.contains(&format!(
            "restarting in demo:\n  web: new tasks of {short}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("restarted: web on the task definitions they ran ("),
        "{}",
        out.stderr
    );
    // A new deployment of the same task definition.
    let after = describe();
    assert_eq!(after["taskDefinition"], before["taskDefinition"]);
    assert_ne!(
        after["deployments"][0]["id"],
        before["deployments"][0]["id"]
    );
    let out = d.geno(&["history", "--env", "demo"]);
    ok(&out);
    assert!(
        out.stdout.contains("restart web  succeeded"),
        "{}",
        out.stdout
    );
    // A job is not a service to restart; nothing is recorded for it.
    let out = d.geno(&["restart", "--env", "demo", "setup"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: `setup` is a job"),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn an_unreachable_endpoint_is_one_line_naming_it() {
    let d = Deployed::seeded("unreachable");
    let dead = format!("http://127.0.0.1:{}", free_port());
    for args in [
        vec!["ps", "--env", "demo"],
        vec!["logs", "--env", "demo"],
        vec!["secrets", "--env", "demo", "ls"],
    ] {
        let out = d
            .geno_cmd()
            .env("AWS_ENDPOINT_URL", &dead)
            .env("AWS_MAX_ATTEMPTS", "1")
            .args(&args)
            .run();
        assert_eq!(out.code, 1, "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: cannot reach AWS ")
                && out.stderr.contains(&format!(" at {dead} "))
                && out
                    .stderr
                    .contains("check the network, or AWS_ENDPOINT_URL"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// `geno init --from-ecs` for the hand-written environment.
const FROM_ECS: [&str; 6] = [
    "init",
    "--from-ecs",
    "--env",
    "demo",
    "--cluster",
    "shop-demo",
];

#[test]
#[ignore = "needs the project venv (moto, awscli): scripts/test runs it"]
fn init_from_ecs_reads_hand_written_services_back_to_an_empty_diff() {
    let aws = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let script = root().join("tests/aws/seed_handwritten.py");
    let digest = aws
        .python([script.as_os_str(), "shop".as_ref(), "demo".as_ref()])
        .trim()
        .to_string();
    let geno = |args: &[&str]| {
        aws.geno_in(dir.path())
            .env("AWS_REGION", "us-east-1")
            .args(args)
            .run()
    };
    let out = geno(&FROM_ECS);
    ok(&out);
    assert!(
        out.stderr
            .contains("wrote stack.yaml: stack `shop`, 2 services of shop-demo"),
        "{}",
        out.stderr
    );
    // Nothing that stack.yaml cannot say as it is.
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let text = std::fs::read_to_string(dir.path().join("stack.yaml")).unwrap();
    for expected in [
        "aws: { ssm: \"/shop/${GENO_ENV}/db-url\" }",
        "command: [gunicorn, \"app:app\", \"--bind\", \"0.0.0.0:8000\"]",
        "start_period: 20s",
        "service: \"shop-web-${GENO_ENV}\"",
        "desired_count: 2",
        "path: /healthz",
        "deregistration_delay: 20s",
        "log_group: \"/ecs/shop-${GENO_ENV}\"",
        // These services use no Service Connect: said, and kept so.
        "service_connect: false",
    ] {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
    ok(&geno(&["validate"]));
    // Rendered again for the image that runs, it is what runs.
    let out = geno(&["diff", "--env", "demo", "--image", &digest, "--exit-code"]);
    ok(&out);
    assert_eq!(
        out.stdout,
        "web (shop-web-demo): no changes, on shop-web-demo:1\nworker (shop-worker-demo): no changes, on shop-worker-demo:1\n"
    );
    // A change in stack.yaml shows against the live side.
    std::fs::write(
        dir.path().join("stack.yaml"),
        text.replace("WORKERS: \"4\"", "WORKERS: \"8\""),
    )
    .unwrap();
    let out = geno(&["diff", "--env", "demo", "--image", &digest, "--exit-code"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("WORKERS"), "{}", out.stdout);

    // Bad input writes nothing.
    let out = geno(&FROM_ECS);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: stack.yaml exists; nothing was written (pass --force to replace it, or --out PATH and merge by hand)\n"
    );
    let out = geno(
        &[
            &FROM_ECS[..],
            &["--service", "shop-api-demo", "--out", "other.yaml"],
        ]
        .concat(),
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: not in cluster shop-demo: shop-api-demo; nothing was written\n"
    );
    assert!(!dir.path().join("other.yaml").exists());
    let out = geno(&["init", "--from-ecs", "--env", "demo"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}
