//! `geno promote`, `diff`, `history` and `rollback` against stand-ins for
//! AWS: moto in server mode (ECS, ECR, SSM, IAM, STS) and Debian's
//! docker-registry, both started here on loopback ports of their own, with
//! the environment seeded from `geno render --format tfvars` as infra/
//! would create it. Ignored by default (they need the engine, the project
//! venv and docker-registry); `scripts/test` runs them.
//!
//! Rollout waiting, circuit-breaker failures and timeouts are tested on
//! scripted ECS answers in `environment::rollout` and `environment::jobs`
//! (moto does not model deployments).

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::docker::TestStack;
use crate::standin::{StandIn, python_image};
use crate::{Output, free_port};

/// Three app services on one image, a job two of them wait for, two SSM
/// secrets, an ALB target group, and environments on AWS (one set per test).
fn stack_body(name: &str, lb_port: u16) -> String {
    format!(
        r#"
image:
  context: .
  args: {{ BASE: "${{PYTHON_IMAGE}}" }}
x-app: &app
  environment: {{ GREETING: "${{GREETING:-hello}}", WEB_URL: "http://web:8000/" }}
  secrets: [TOKEN, API_KEY]
services:
  setup:
    kind: job
    command: [python3, -c, "print('schema ready')"]
    environment: {{ SCHEMA: "${{SCHEMA:-v1}}" }}
  web:
    <<: *app
    depends_on: {{ setup: completed_successfully }}
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    healthcheck:
      test: [CMD, python3, -c, "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
      interval: 5s
      timeout: 10s
      retries: 3
      start_period: 30s
    ecs: {{ service: "{name}-web-${{GENO_ENV}}", repository: "{name}-web-${{GENO_ENV}}", cpu: 256, memory: 512, desired_count: 2, target_group: web }}
  worker:
    <<: *app
    depends_on: {{ setup: completed_successfully }}
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-worker-${{GENO_ENV}}", repository: "{name}-worker-${{GENO_ENV}}", cpu: 256, memory: 512, desired_count: 1 }}
  beat:
    <<: *app
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-beat-${{GENO_ENV}}", repository: "{name}-beat-${{GENO_ENV}}", cpu: 256, memory: 512, desired_count: 1 }}
secrets:
  TOKEN:
    local: {{ generate: {{ length: 16 }} }}
    aws: {{ ssm: "/{name}/${{GENO_ENV}}/token" }}
  API_KEY:
    local: {{ generate: {{ length: 16 }} }}
    aws: {{ ssm: "/{name}/${{GENO_ENV}}/api-key" }}
load_balancer:
  listeners:
    - port: {lb_port}
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
x-aws: &aws
  region: us-east-1
  account_id: "123456789012"
  cluster: "{name}-${{GENO_ENV}}"
  execution_role_arn: "arn:aws:iam::123456789012:role/{name}-${{GENO_ENV}}-exec"
  task_role_arn: "arn:aws:iam::123456789012:role/{name}-${{GENO_ENV}}-task"
  log_group: "/ecs/{name}-${{GENO_ENV}}"
  registry: "${{GENO_REGISTRY:-}}"
environments:
  local: {{}}
  demo: {{ aws: *aws }}
  dev: {{ aws: *aws }}
  test: {{ aws: *aws }}
  qa: {{ aws: *aws }}
  stage: {{ aws: *aws }}
  uat: {{ aws: *aws }}
  perf: {{ aws: *aws }}
  ops: {{ aws: *aws }}
  faults: {{ aws: *aws }}
  throttle: {{ aws: *aws }}
  kills: {{ aws: *aws }}
  drift: {{ aws: *aws }}
  parity: {{ aws: *aws }}
  scale:
    aws: {{ <<: *aws, dashboard: true }}
    scaling:
      web:
        min: 2
        max: 4
        cpu: 70
        requests: {{ target: 1000, policy: web-requests }}
        scale_out_cooldown: 60s
        schedule:
          - {{ name: nights, at: "cron(0 20 ? * MON-FRI *)", timezone: Europe/Berlin, min: 1, max: 2 }}
    alarms:
      web: {{ cpu: {{}}, 5xx: {{ rollback: true, period: 30s, periods: 1 }} }}
  shift:
    aws: *aws
    strategy:
      web: {{ canary: {{ percent: 50, bake: 1m }} }}
smoke:
  - name: web answers through the load balancer
    http: {{ path: /, expect: {{ status: 200 }} }}
    poll: {{ interval: 1s, deadline: 30s }}
"#
    )
}

fn ok(out: &Output) {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

/// Service name → task definition ARN, read with the AWS CLI.
fn live_task_definitions(s: &StandIn, cluster: &str, services: &[String]) -> Vec<String> {
    let mut args = vec![
        "ecs",
        "describe-services",
        "--cluster",
        cluster,
        "--services",
    ];
    args.extend(services.iter().map(String::as_str));
    let v = s.aws(&args);
    services
        .iter()
        .map(|name| {
            v["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["serviceName"] == name.as_str())
                .unwrap()["taskDefinition"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every field geno renders has the same value in `live`.
fn assert_subset(rendered: &Value, live: &Value, path: &str) {
    match rendered {
        Value::Object(m) => {
            for (k, v) in m {
                assert_subset(v, &live[k], &format!("{path}.{k}"));
            }
        }
        Value::Array(a) => {
            let l = live.as_array().unwrap_or_else(|| panic!("{path}: {live}"));
            assert_eq!(a.len(), l.len(), "{path}");
            for (i, (r, lv)) in a.iter().zip(l).enumerate() {
                assert_subset(r, lv, &format!("{path}[{i}]"));
            }
        }
        other => assert_eq!(other, live, "{path}"),
    }
}

fn image_id(stack: &TestStack) -> String {
    let out = stack.run(["--json", "ps"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "web")
        .unwrap()["image"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One set of stand-ins and one stack, up and smoke-tested once, shared by
/// every test here; each test acts on environments of its own, so none
/// depends on another having run. Torn down when the test process exits.
struct Fixture {
    aws: StandIn,
    stack: TestStack,
    name: String,
    image: String,
}

static FIXTURE: Mutex<Option<Arc<Fixture>>> = Mutex::new(None);

extern "C" fn tear_down() {
    // The last reference: `geno down` for the stack, moto and the registry stopped.
    let fixture = FIXTURE.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(fixture);
}

/// Environments, one set per test: none is touched by two tests.
const ENVIRONMENTS: [&str; 15] = [
    "demo", "dev", "test", "qa", "stage", "uat", "perf", "ops", "faults", "throttle", "kills",
    "drift", "parity", "scale", "shift",
];

fn fixture() -> Arc<Fixture> {
    let mut slot = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = slot.as_ref() {
        return f.clone();
    }
    let aws = StandIn::start();
    let stack = TestStack::new("promote", "");
    let name = stack.name.clone();
    std::fs::write(
        stack.dir.path().join("stack.yaml"),
        format!("name: {name}\n{}", stack_body(&name, free_port())),
    )
    .unwrap();
    std::fs::write(
        stack.dir.path().join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\nRUN echo promoted > /marker\n",
    )
    .unwrap();
    for env in ENVIRONMENTS {
        let skip: Vec<String> = if env == "test" {
            vec![
                format!("/{name}/test/token"),
                format!("/{name}/test/api-key"),
            ]
        } else {
            vec![]
        };
        aws.seed(&stack, env, &skip);
    }
    // Without the ECS cpu limits: these tests are about promotion, and a
    // quarter of a core shared with two other test threads starved web's
    // Python probe past its timeout (the limits have tests of their own).
    ok(&aws
        .geno(&stack)
        .args(["up", "--no-limits", "--timeout", "180s"])
        .run());
    ok(&aws.geno(&stack).args(["smoke"]).run());
    let image = image_id(&stack);
    // SAFETY: registers a plain function to run at process exit.
    unsafe {
        libc::atexit(tear_down);
    }
    let f = Arc::new(Fixture {
        aws,
        stack,
        name,
        image,
    });
    *slot = Some(f.clone());
    f
}

impl Fixture {
    fn geno(&self, args: &[&str]) -> Output {
        self.aws.geno(&self.stack).args(args).run()
    }

    fn geno_with(&self, var: &str, value: &str, args: &[&str]) -> Output {
        self.aws.geno(&self.stack).env(var, value).args(args).run()
    }

    fn services(&self, env: &str) -> Vec<String> {
        ["web", "worker", "beat"]
            .iter()
            .map(|s| format!("{}-{s}-{env}", self.name))
            .collect()
    }

    /// The task definition each service of `env` runs now.
    fn live(&self, env: &str) -> Vec<String> {
        live_task_definitions(
            &self.aws,
            &format!("{}-{env}", self.name),
            &self.services(env),
        )
    }

    fn records(&self, env: &str) -> Vec<Value> {
        let dir = self
            .stack
            .dir
            .path()
            .join(".geno")
            .join(&self.name)
            .join("promotions")
            .join(env);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn an_image_without_a_passing_smoke_run_is_refused() {
    let f = fixture();
    // The base image was never smoke-tested as this stack.
    let out = f.geno(&["promote", "--env", "demo", "--image", &python_image()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: image ")
            && last.ends_with(
                " has not passed `geno smoke`: run `geno up && geno smoke` first (or --force to promote it untested)"
            ),
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn aws_out_of_reach_is_one_line_before_anything_is_pushed() {
    let f = fixture();
    let out = f.geno_with(
        "AWS_ENDPOINT_URL",
        "http://127.0.0.1:9",
        &["promote", "--env", "demo"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: cannot reach AWS sts at http://127.0.0.1:9 (")
            && last.ends_with(
                "); check the network, or AWS_ENDPOINT_URL when a stand-in serves the API"
            ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("pushed "), "{}", out.stderr);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn preflight_lists_every_problem_at_once_and_changes_nothing() {
    let f = fixture();
    let name = &f.name;
    let before = f.live("test");
    // Missing parameters (not seeded for `test`), and an ALB health check
    // someone changed by hand.
    let (tg_arn, listener_arn) = alb_arns(&f, "test");
    f.aws.aws(&[
        "elbv2",
        "modify-target-group",
        "--target-group-arn",
        &tg_arn,
        "--health-check-interval-seconds",
        "30",
    ]);
    f.aws.aws(&[
        "elbv2",
        "modify-target-group-attributes",
        "--target-group-arn",
        &tg_arn,
        "--attributes",
        "Key=deregistration_delay.timeout_seconds,Value=60",
    ]);
    // And the listener rule to `web` deleted in the console.
    delete_rule(&f, &listener_arn, 10);
    // And the execution role's grant to read the secrets removed.
    f.aws.aws(&[
        "iam",
        "delete-role-policy",
        "--role-name",
        &format!("{name}-test-exec"),
        "--policy-name",
        "read-secrets",
    ]);
    let out = f.geno(&["promote", "--env", "test"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.ends_with(&format!(
            "error: preflight for `test` found 5 problems; nothing was changed:\n  \
             - SSM parameter /{name}/test/token does not exist: `geno secrets set --env test TOKEN` writes it\n  \
             - SSM parameter /{name}/test/api-key does not exist: `geno secrets set --env test API_KEY` writes it\n  \
             - ALB target group {name}-web-test differs from stack.yaml: \
             healthCheckIntervalSeconds is 30 (stack.yaml: 5), deregistrationDelaySeconds is 60 (stack.yaml: 300); \
             apply infra/ with `geno render --env test --format tfvars`\n  \
             - ALB {name}-test, listener 80, differs from stack.yaml: \
             rule 10 (path-pattern /*: forward to {name}-web-test) is missing; \
             apply infra/ with `geno render --env test --format tfvars`\n  \
             - IAM role arn:aws:iam::123456789012:role/{name}-test-exec does not allow ssm:GetParameters on \
             arn:aws:ssm:us-east-1:123456789012:parameter/{name}/test/token, \
             arn:aws:ssm:us-east-1:123456789012:parameter/{name}/test/api-key \
             (ECS reads the task's secrets with it: the task cannot start); \
             apply infra/ with `geno render --env test --format tfvars`\n"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(f.live("test"), before);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_push_to_an_unreachable_ecr_deploys_nothing_and_a_dry_run_changes_nothing() {
    let f = fixture();
    let name = &f.name;
    let bootstrap = f.live("qa");
    // Without a registry override the push goes to the account's ECR, with
    // credentials from its authorization token; ECR is out of reach here.
    let out = f.geno_with("GENO_REGISTRY", "", &["promote", "--env", "qa"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "error: cannot push to 123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}-web-qa ("
        )) && last.ends_with("); nothing was deployed. Check that the Docker engine reaches the registry and may push to it"),
        "{}",
        out.stderr
    );
    assert_eq!(f.live("qa"), bootstrap);

    // A dry run checks and shows the changes, and changes nothing.
    let out = f.geno(&["promote", "--env", "qa", "--dry-run"]);
    ok(&out);
    assert_eq!(
        out.stdout
            .matches("(not yet pushed to `qa`; promote pins its digest)")
            .count(),
        3,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("setup (one-off task before web, worker): not run yet"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .ends_with("change(s) would be made; nothing was pushed or changed\n"),
        "{}",
        out.stderr
    );
    assert_eq!(f.live("qa"), bootstrap);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn promote_pins_the_verified_digest_and_a_second_run_changes_nothing() {
    let f = fixture();
    let name = &f.name;
    let bootstrap = f.live("demo");
    let out = f.geno(&["--json", "promote", "--env", "demo", "--poll", "200ms"]);
    ok(&out);
    assert!(
        out.stderr.contains("3 service(s) updated"),
        "{}",
        out.stderr
    );
    // The job the services wait for ran first, once, as a one-off task.
    let job_at = out.stderr.find("running job setup (").expect(&out.stderr);
    let ok_at = out
        .stderr
        .find("  setup succeeded (exit 0) in ")
        .expect(&out.stderr);
    let update_at = out
        .stderr
        .find(&format!("registered {name}-web-demo:"))
        .expect(&out.stderr);
    assert!(job_at < ok_at && ok_at < update_at, "{}", out.stderr);
    let after = f.live("demo");
    assert!(after.iter().zip(&bootstrap).all(|(a, b)| a != b));

    // --json: the record, as saved.
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    let record = &f.records("demo")[0];
    assert_eq!(&printed, record);
    assert_eq!(record["imageId"], f.image.as_str());
    assert_eq!(record["outcome"]["status"], "succeeded");
    assert_eq!(record["forced"], false);
    assert_eq!(record["jobs"][0]["name"], "setup");
    assert_eq!(record["jobs"][0]["succeeded"], true);
    let digest = record["manifestDigest"].as_str().unwrap().to_string();

    // The registry's manifest names the verified image as its config.
    let manifest = registry_manifest(&f.aws.registry, &format!("{name}-web-demo"), &digest);
    assert_eq!(manifest["config"]["digest"], f.image.as_str());

    // Read back with the AWS CLI: equal to what `geno render` prints.
    let out = f.geno(&["render", "--env", "demo", "--image", &digest]);
    ok(&out);
    let rendering: Value = serde_json::from_str(&out.stdout).unwrap();
    for (svc, arn) in ["web", "worker", "beat"].iter().zip(&after) {
        let live = f
            .aws
            .aws(&["ecs", "describe-task-definition", "--task-definition", arn]);
        let rendered = &rendering["services"][*svc]["taskDefinition"];
        assert_subset(rendered, &live["taskDefinition"], svc);
        let image_ref = live["taskDefinition"]["containerDefinitions"][0]["image"]
            .as_str()
            .unwrap();
        assert_eq!(
            image_ref,
            format!("{}/{name}-{svc}-demo@{digest}", f.aws.registry)
        );
    }

    // Service Connect, read back: web answers at its stack.yaml name and
    // port (what WEB_URL says, locally too); worker and beat are clients.
    let described = f.aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        &format!("{name}-demo"),
        "--services",
        &format!("{name}-web-demo"),
        &format!("{name}-worker-demo"),
    ]);
    let connect = |i: usize| {
        described["services"][i]["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == "PRIMARY")
            .unwrap()["serviceConnectConfiguration"]
            .clone()
    };
    let web = connect(0);
    assert_eq!(web["enabled"], true);
    assert!(
        web["namespace"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:servicediscovery:"),
        "{web}"
    );
    assert_eq!(
        web["services"],
        serde_json::json!([{ "portName": "web-8000", "clientAliases": [{ "port": 8000, "dnsName": "web" }] }])
    );
    assert_eq!(connect(1)["services"], serde_json::json!([]));

    // Nothing left to change.
    let out = f.geno(&["diff", "--env", "demo", "--exit-code"]);
    ok(&out);
    assert_eq!(
        out.stdout.matches(": no changes, on ").count(),
        3,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("setup (one-off task before web, worker): no changes, last run on "),
        "{}",
        out.stdout
    );

    // Again: no new revisions, no layer pushed twice, no job run.
    let out = f.geno(&["promote", "--env", "demo", "--poll", "200ms"]);
    ok(&out);
    assert_eq!(
        out.stderr.matches("not redeployed").count(),
        3,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("running job"), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches(": 0 layer(s) uploaded").count(),
        3,
        "{}",
        out.stderr
    );
    assert_eq!(f.live("demo"), after);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_second_environment_gets_no_layer_uploaded_again() {
    let f = fixture();
    // Whichever environment got the layers first, the registry mounts them
    // into the others' repositories: push `dev` after `uat` has them.
    ok(&f.geno(&["promote", "--env", "uat", "--poll", "200ms"]));
    let out = f.geno(&["promote", "--env", "dev", "--poll", "200ms"]);
    ok(&out);
    assert_eq!(
        out.stderr.matches(": 0 layer(s) uploaded").count(),
        3,
        "{}",
        out.stderr
    );
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_change_whose_smoke_run_fails_puts_every_service_back_and_rollback_returns() {
    let f = fixture();
    ok(&f.geno(&["promote", "--env", "stage", "--poll", "200ms"]));
    let first = f.live("stage");
    let changed = |args: &[&str]| f.geno_with("GREETING", "bye", args);
    let out = changed(&["diff", "--env", "stage", "--exit-code"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_eq!(
        out.stdout.matches("~ containerDefinitions[").count(),
        3,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("].environment[GREETING]: hello → bye"),
        "{}",
        out.stdout
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = changed(&[
        "promote", "--env", "stage", "--poll", "200ms", "--smoke", "--url", &dead,
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("rolling back 3 service(s):"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("failed and every service was rolled back: smoke tests failed"),
        "{}",
        out.stderr
    );
    assert_eq!(f.live("stage"), first);

    // The change promoted for real, then rolled back to the first promotion.
    ok(&changed(&["promote", "--env", "stage", "--poll", "200ms"]));
    let changed_tds = f.live("stage");
    assert!(changed_tds.iter().zip(&first).all(|(c, a)| c != a));
    let out = f.geno(&["history", "--env", "stage"]);
    ok(&out);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{}", out.stdout);
    assert!(
        rows[1].starts_with('*') && rows[1].contains("succeeded"),
        "{}",
        out.stdout
    );
    assert!(rows[2].contains("rolled back"), "{}", out.stdout);
    let out = f.geno(&["--json", "rollback", "--env", "stage", "--poll", "200ms"]);
    ok(&out);
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed["kind"], "rollback");
    assert_eq!(printed["outcome"]["status"], "succeeded");
    assert_eq!(f.live("stage"), first);
    ok(&f.geno(&["diff", "--env", "stage", "--exit-code"]));
    let out = f.geno(&["history", "--env", "stage"]);
    assert!(
        out.stdout.lines().nth(1).unwrap().contains("rollback to "),
        "{}",
        out.stdout
    );
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_change_to_the_job_alone_runs_it_and_updates_no_service() {
    let f = fixture();
    ok(&f.geno(&["promote", "--env", "perf", "--poll", "200ms"]));
    let before = f.live("perf");
    let v2 = |args: &[&str]| f.geno_with("SCHEMA", "v2", args);
    let out = v2(&["diff", "--env", "perf", "--exit-code"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("setup (one-off task before web, worker): 1 change from "),
        "{}",
        out.stdout
    );
    let out = v2(&["promote", "--env", "perf", "--poll", "200ms"]);
    ok(&out);
    assert!(out.stderr.contains("running job setup ("), "{}", out.stderr);
    assert!(
        out.stderr.contains("(0 service(s) updated)"),
        "{}",
        out.stderr
    );
    ok(&v2(&["diff", "--env", "perf", "--exit-code"]));
    assert_eq!(f.live("perf"), before);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn deployment_settings_changed_by_hand_show_in_diff_and_promote_puts_them_back() {
    let f = fixture();
    ok(&f.geno(&["promote", "--env", "drift", "--poll", "200ms"]));
    let before = f.live("drift");
    // Someone turns web's circuit breaker off in the console.
    let web = format!("{}-web-drift", f.name);
    f.aws.aws(&[
        "ecs",
        "update-service",
        "--cluster",
        &format!("{}-drift", f.name),
        "--service",
        &web,
        "--deployment-configuration",
        "minimumHealthyPercent=100,maximumPercent=200,deploymentCircuitBreaker={enable=false,rollback=false}",
    ]);
    let out = f.geno(&["diff", "--env", "drift", "--exit-code"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "web ({web}): 2 changes from {}\n  ~ deploymentConfiguration.deploymentCircuitBreaker.enable: false → true\n  ~ deploymentConfiguration.deploymentCircuitBreaker.rollback: false → true\n",
            before[0].rsplit('/').next().unwrap()
        )),
        "{}",
        out.stdout
    );
    let out = f.geno(&["promote", "--env", "drift", "--poll", "200ms"]);
    ok(&out);
    assert!(
        out.stderr.contains(&format!(
            "{web}: same task definition {}, deployment settings back to what stack.yaml says",
            before[0].rsplit('/').next().unwrap()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("(1 service(s) updated)"),
        "{}",
        out.stderr
    );
    // The same task definitions, the settings back, nothing left to do.
    assert_eq!(f.live("drift"), before);
    ok(&f.geno(&["diff", "--env", "drift", "--exit-code"]));
}

/// The weights of the listener rule forwarding to `group` (and its
/// alternate), by group name.
fn rule_weights(f: &Fixture, env: &str, group: &str) -> Vec<(String, i64)> {
    let lbs = f.aws.aws(&["elbv2", "describe-load-balancers"]);
    let lb = lbs["LoadBalancers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["LoadBalancerName"] == format!("{}-{env}", f.name).as_str())
        .unwrap()["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_string();
    let listeners = f
        .aws
        .aws(&["elbv2", "describe-listeners", "--load-balancer-arn", &lb]);
    let listener = listeners["Listeners"][0]["ListenerArn"]
        .as_str()
        .unwrap()
        .to_string();
    let rules = f
        .aws
        .aws(&["elbv2", "describe-rules", "--listener-arn", &listener]);
    let name = |arn: &str| arn.split('/').nth(1).unwrap().to_string();
    let mut weighted: Vec<(String, i64)> = rules["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Actions"].as_array().unwrap().clone())
        .flat_map(|a| {
            a["ForwardConfig"]["TargetGroups"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|t| {
            (
                name(t["TargetGroupArn"].as_str().unwrap()),
                t["Weight"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(weighted.iter().any(|(g, _)| g == group), "{weighted:?}");
    weighted.sort();
    weighted
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_canary_promotion_is_reported_stage_by_stage_and_the_next_one_shifts_back() {
    let f = fixture();
    let web = format!("{}-web-shift", f.name);
    let alt = format!("{web}-alt");
    // infra/ (seeded from tfvars) made the alternate group and the rule
    // forwarding to both, all weight on the first.
    assert_eq!(
        rule_weights(&f, "shift", &web),
        [(web.clone(), 100), (alt.clone(), 0)]
    );
    let out = f.geno(&["promote", "--env", "shift", "--poll", "200ms"]);
    ok(&out);
    // Each stage as ECS reports it, with the weights as they moved.
    for line in [
        format!("  {web}: starting the new tasks: {web} 100%, {alt} 0%\n"),
        format!("  {web}: production traffic moving: {web} 50%, {alt} 50%\n"),
        format!("  {web}: production traffic moving: {web} 0%, {alt} 100%\n"),
        format!(
            "  {web}: baking: the old tasks kept for an instant rollback: {web} 0%, {alt} 100%\n"
        ),
    ] {
        assert!(out.stderr.contains(&line), "{line}\n{}", out.stderr);
    }
    assert_eq!(
        rule_weights(&f, "shift", &web),
        [(web.clone(), 0), (alt.clone(), 100)]
    );
    // The strategy was applied as rendered, and a forward to the group and
    // its alternate is the route stack.yaml has: nothing left to change.
    let service = f.aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        &format!("{}-shift", f.name),
        "--services",
        &web,
    ]);
    let config = &service["services"][0]["deploymentConfiguration"];
    assert_eq!(config["strategy"], "CANARY", "{config}");
    assert_eq!(
        config["canaryConfiguration"]["canaryPercent"], 50.0,
        "{config}"
    );
    let out = f.geno(&["diff", "--env", "shift", "--exit-code"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The next release starts on the group that does not serve: back to the first.
    let out = f.geno_with(
        "GREETING",
        "shifted",
        &["promote", "--env", "shift", "--poll", "200ms"],
    );
    ok(&out);
    assert!(
        out.stderr.contains(&format!(
            "  {web}: production traffic moving: {web} 50%, {alt} 50%\n"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        rule_weights(&f, "shift", &web),
        [(web.clone(), 100), (alt.clone(), 0)]
    );
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn scaling_and_alarms_are_applied_kept_and_a_firing_alarm_rolls_a_promotion_back() {
    let f = fixture();
    let web = format!("{}-web-scale", f.name);
    let cluster = format!("{}-scale", f.name);
    let resource = format!("service/{cluster}/{web}");
    let out = f.geno(&["diff", "--env", "scale"]);
    for line in [
        format!(
            "  + scaling: 2–4 tasks; {web}-cpu tracks ECSServiceAverageCPUUtilization at 70 (cooldowns out 60s, in 300s); web-requests tracks ALBRequestCountPerTarget at 1000 (cooldowns out 60s, in 300s); nights cron(0 20 ? * MON-FRI *) Europe/Berlin → min 1, max 2\n"
        ),
        format!("  + alarms.{web}-5xx: HTTPCode_Target_5XX_Count Sum > 5 for 1×30s\n"),
        format!("  + alarms.{web}-cpu: CPUUtilization Average > 80 for 3×60s\n"),
    ] {
        assert!(out.stdout.contains(&line), "{line}\n{}", out.stdout);
    }

    let out = f.geno(&["promote", "--env", "scale", "--poll", "200ms"]);
    ok(&out);
    for line in [
        format!("  web: alarm {web}-5xx: HTTPCode_Target_5XX_Count Sum > 5 for 1×30s\n"),
        "  web: scales between 2 and 4 tasks\n".to_string(),
        "  web: scheduled nights: cron(0 20 ? * MON-FRI *) Europe/Berlin → min 1, max 2\n"
            .to_string(),
        format!("  baking 30s: watching {web}-5xx\n"),
        "  bake passed: no alarm fired in 30s\n".to_string(),
    ] {
        assert!(out.stderr.contains(&line), "{line}\n{}", out.stderr);
    }
    // What Application Auto Scaling and CloudWatch now have.
    let targets = f.aws.aws(&[
        "application-autoscaling",
        "describe-scalable-targets",
        "--service-namespace",
        "ecs",
        "--resource-ids",
        &resource,
    ]);
    let target = &targets["ScalableTargets"][0];
    assert_eq!(
        (&target["MinCapacity"], &target["MaxCapacity"]),
        (&2.into(), &4.into())
    );
    let policies = f.aws.aws(&[
        "application-autoscaling",
        "describe-scaling-policies",
        "--service-namespace",
        "ecs",
        "--resource-id",
        &resource,
    ]);
    let label = policies["ScalingPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["PolicyName"] == "web-requests")
        .map(|p| p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"].clone())
        .unwrap();
    // The ALB's and the group's ARN suffixes, found at promote.
    let label = label.as_str().unwrap();
    assert!(
        label.starts_with("app/") && label.contains(&format!("/targetgroup/{}-web-scale/", f.name)),
        "{label}"
    );
    let alarms = f.aws.aws(&[
        "cloudwatch",
        "describe-alarms",
        "--alarm-name-prefix",
        &format!("{web}-"),
    ]);
    let names: Vec<&str> = alarms["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let service = f.aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        &cluster,
        "--services",
        &web,
    ]);
    let service = &service["services"][0];
    assert_eq!(
        service["deploymentConfiguration"]["alarms"],
        serde_json::json!({ "alarmNames": [format!("{web}-5xx")], "enable": true, "rollback": true })
    );
    // Raised to the range's floor.
    assert_eq!(service["desiredCount"], 2);
    let record = f.records("scale").pop().unwrap();
    assert!(
        record["settings"]
            .as_array()
            .unwrap()
            .contains(&"web: scales between 2 and 4 tasks".into()),
        "{record}"
    );
    // The environment's dashboard, drawn from the definition with the
    // ALB's names found live.
    let dashboard = f.aws.aws(&[
        "cloudwatch",
        "get-dashboard",
        "--dashboard-name",
        &format!("{}-scale", f.name),
    ]);
    let body: Value = serde_json::from_str(dashboard["DashboardBody"].as_str().unwrap()).unwrap();
    let body = body.to_string();
    assert!(
        body.contains(&format!(
            "\"TargetGroup\",\"targetgroup/{}-web-scale/",
            f.name
        )),
        "{body}"
    );
    assert!(body.contains(&format!(":alarm:{web}-5xx\"")), "{body}");
    // Applied as rendered: nothing left to change.
    let out = f.geno(&["diff", "--env", "scale", "--exit-code"]);
    assert_eq!(out.code, 0, "{}", out.stdout);

    // The scaler's count is its own: promote keeps it.
    f.aws.aws(&[
        "ecs",
        "update-service",
        "--cluster",
        &cluster,
        "--service",
        &web,
        "--desired-count",
        "3",
    ]);
    let out = f.geno(&["diff", "--env", "scale", "--exit-code"]);
    assert_eq!(out.code, 0, "{}", out.stdout);

    // The 5xx alarm fires while the next release bakes: it goes back,
    // every service of it.
    let reason = "Threshold Crossed: 1 datapoint [42.0 (07/12/26 01:00:00)] was greater than the threshold (5.0).";
    let set_alarm = |state: &str| {
        f.aws.aws(&[
            "cloudwatch",
            "set-alarm-state",
            "--alarm-name",
            &format!("{web}-5xx"),
            "--state-value",
            state,
            "--state-reason",
            reason,
        ])
    };
    let before = f.live("scale");
    let mut child = f
        .aws
        .geno(&f.stack)
        .env("GREETING", "alarmed")
        .args(["promote", "--env", "scale", "--poll", "200ms"])
        .spawn();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "promote ended before its bake:\n{said}");
        said.push_str(&line);
        if line.starts_with("  baking 30s: watching") {
            break;
        }
    }
    set_alarm("ALARM");
    std::io::Read::read_to_string(&mut err, &mut said).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{said}");
    let fired = format!("alarm {web}-5xx fired during the bake: {reason}");
    assert!(
        said.contains(&format!(
            "failed and every service was rolled back: {fired}"
        )),
        "{said}"
    );
    assert_eq!(f.live("scale"), before);
    let record = f.records("scale").pop().unwrap();
    assert_eq!(record["outcome"]["status"], "rolledBack", "{record}");
    assert_eq!(record["outcome"]["reason"], fired.as_str(), "{record}");
    // Still firing at the next promotion (say, the fix): it cannot judge
    // that one, and is said instead of watched.
    let out = f.geno_with(
        "GREETING",
        "fixed",
        &["promote", "--env", "scale", "--poll", "200ms"],
    );
    ok(&out);
    assert!(
        out.stderr.contains(&format!(
            "warning: alarm {web}-5xx is already firing ({reason}); it is not watched during this change\n"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("baking"), "{}", out.stderr);
    let service = f.aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        &cluster,
        "--services",
        &web,
    ]);
    assert_eq!(service["services"][0]["desiredCount"], 3);
    // `ps --env` shows the range, the count and the firing alarm.
    let out = f.geno(&["ps", "--env", "scale", "web"]);
    ok(&out);
    assert!(out.stdout.contains("2–4 tasks, 3 now"), "{}", out.stdout);
    // Application Auto Scaling's last activities (the stand-in's words).
    assert!(
        out.stdout.contains("SCALING ACTIVITY")
            && out
                .stdout
                .contains("Successful  Setting min capacity to 2 and max capacity to 4\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("{web}-5xx  ALARM (rolls back)")),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("alarm {web}-5xx is firing: {reason}")),
        "{}",
        out.stderr
    );

    // `geno top --env` shows the last minute CloudWatch has.
    let cpu = serde_json::json!([{
        "MetricName": "CPUUtilization",
        "Dimensions": [
            { "Name": "ClusterName", "Value": cluster },
            { "Name": "ServiceName", "Value": web },
        ],
        "Value": 42.5,
        "Unit": "Percent",
    }]);
    f.aws.aws(&[
        "cloudwatch",
        "put-metric-data",
        "--namespace",
        "AWS/ECS",
        "--metric-data",
        &cpu.to_string(),
    ]);
    let out = f.geno(&["--json", "top", "--env", "scale", "--once", "web"]);
    ok(&out);
    let rows: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["service"], "web", "{rows}");
    assert_eq!(rows[0]["cpuPercent"], 42.5, "{rows}");
    assert_eq!(
        (&rows[0]["running"], &rows[0]["desired"]),
        (&3.into(), &3.into()),
        "{rows}"
    );
    assert_eq!(rows[0]["requestsPerSecond"], Value::Null, "{rows}");

    // `geno scale` gives a scaled service a range, never a count.
    let out = f.geno(&["scale", "--env", "scale", "web=5"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: `web` scales itself between 2 and 4 tasks here, so a count set by hand would be the scaler's to undo; give it a range instead, e.g. `web=2..5` (`web=5..5` holds it at 5)\n"
    );
    let out = f.geno(&["scale", "--env", "scale", "web=4..8", "--poll", "200ms"]);
    ok(&out);
    assert!(
        out.stderr
            .contains("  web: scales between 4 and 8 tasks\n  web: desired 3 → 4\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("stack.yaml keeps the scaling range web 2..4 for `scale`"),
        "{}",
        out.stderr
    );
    let targets = f.aws.aws(&[
        "application-autoscaling",
        "describe-scalable-targets",
        "--service-namespace",
        "ecs",
        "--resource-ids",
        &resource,
    ]);
    assert_eq!(targets["ScalableTargets"][0]["MaxCapacity"], 8);
    let out = f.geno(&["history", "--env", "scale"]);
    ok(&out);
    assert!(
        out.stdout.contains("scale web 3→4, web 2–4→4–8"),
        "{}",
        out.stdout
    );
}

/// The manifest stored under `digest`, fetched as the engine would.
fn registry_manifest(registry: &str, repo: &str, digest: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let body = reqwest::Client::new()
            .get(format!("http://{registry}/v2/{repo}/manifests/{digest}"))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&body).unwrap()
    })
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn after_a_promotion_ps_says_verified_and_run_needs_no_force() {
    let f = fixture();
    let name = &f.name;
    ok(&f.geno(&["promote", "--env", "ops", "--poll", "200ms"]));
    let record = f.records("ops").pop().unwrap();
    let out = f.geno(&["--json", "ps", "--env", "ops"]);
    ok(&out);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    for s in v["services"].as_array().unwrap() {
        assert_eq!(s["imageStanding"]["status"], "verified", "{s}");
        assert_eq!(s["imageStanding"]["imageId"], f.image.as_str());
        assert_eq!(s["imageStanding"]["promotion"], record["id"]);
    }
    let out = f.geno(&["ps", "--env", "ops", "web"]);
    ok(&out);
    let short = &f.image["sha256:".len().."sha256:".len() + 12];
    assert!(
        out.stdout
            .contains(&format!("yes: image {short} promoted ")),
        "{}",
        out.stdout
    );
    // The live definition is the verified image: no --force needed.
    let out = f.geno(&[
        "run",
        "--env",
        "ops",
        "web",
        "--",
        "sh",
        "-c",
        "echo checked; exit 0",
    ]);
    ok(&out);
    assert_eq!(out.stdout, "checked\n");
    // A scale is recorded, changes no task definition, and the next diff
    // shows the count stack.yaml would set back.
    let before = f.live("ops");
    ok(&f.geno(&["scale", "--env", "ops", "web=3", "--poll", "200ms"]));
    assert_eq!(f.live("ops"), before);
    let out = f.geno(&["diff", "--env", "ops", "--exit-code"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("3"), "{}", out.stdout);
    let out = f.geno(&["history", "--env", "ops"]);
    ok(&out);
    assert!(out.stdout.contains("scale web 2→3"), "{}", out.stdout);
    // The promotion stays current: rollback has nowhere to go.
    let out = f.geno(&["rollback", "--env", "ops"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let _ = name;
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn a_promotion_killed_mid_way_is_on_record_as_interrupted_and_the_next_converges() {
    let f = fixture();
    // The first promotion to an environment, killed once it has registered.
    let said = killed_at(
        &f,
        "hello",
        &["promote", "--env", "faults", "--poll", "200ms"],
        "registered ",
    );
    assert!(!said.is_empty());
    let out = f.geno(&["history", "--env", "faults"]);
    ok(&out);
    assert!(
        out.stdout.contains("INTERRUPTED at register")
            || out.stdout.contains("INTERRUPTED at rollout"),
        "{}",
        out.stdout
    );
    let record = f.records("faults").pop().unwrap();
    assert_eq!(record["outcome"]["status"], "inProgress");
    // The next promotion converges, and the environment is what it says.
    ok(&f.geno(&["promote", "--env", "faults", "--poll", "200ms"]));
    ok(&f.geno(&["diff", "--env", "faults", "--exit-code"]));
    let out = f.geno(&["history", "--env", "faults"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[1].starts_with('*') && lines[1].contains("succeeded"),
        "{}",
        out.stdout
    );
    assert!(lines[2].contains("INTERRUPTED at "), "{}", out.stdout);
}

/// `killed_at` for geno with `GREETING=greeting` and `-v`.
fn killed_at(f: &Fixture, greeting: &str, args: &[&str], at: &str) -> Vec<String> {
    let geno = f
        .aws
        .geno(&f.stack)
        .env("GREETING", greeting)
        .args(["-v"])
        .args(args);
    crate::killed_at(geno, at)
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn promote_and_rollback_killed_at_each_phase_are_on_record_and_the_next_run_converges() {
    let f = fixture();
    let env = "kills";
    let with = |greeting: &str, args: &[&str]| f.geno_with("GREETING", greeting, args);
    ok(&with("k0", &["promote", "--env", env, "--poll", "200ms"]));
    let web = format!("  {}-web-{env} → ", f.name);
    // Before the push, after it (the jobs are next), after registering,
    // and mid-rollout (one service sent its new definition, the others not
    // yet). `faults` is killed at the first registration.
    for (before, greeting, at, phase) in [
        ("k0", "k1", "phase `push`", "push"),
        ("k1", "k2", "phase `jobs`", "jobs"),
        ("k2", "k3", "phase `rollout`", "rollout"),
        ("k3", "k4", web.as_str(), "rollout"),
    ] {
        let promote = ["promote", "--env", env, "--poll", "200ms"];
        killed_at(&f, greeting, &promote, at);
        let record = f.records(env).pop().unwrap();
        assert_eq!(record["outcome"]["status"], "inProgress", "{record}");
        assert_eq!(record["outcome"]["phase"], phase, "{record}");
        let out = f.geno(&["history", "--env", env]);
        ok(&out);
        let top = out.stdout.lines().nth(1).unwrap();
        assert!(
            top.contains(&format!("INTERRUPTED at {phase}")),
            "{}",
            out.stdout
        );
        // What the change would still do is in the diff: it did not land.
        let out = with(greeting, &["diff", "--env", env, "--exit-code"]);
        assert_eq!(out.code, 1, "{greeting}: {}", out.stdout);
        assert!(
            out.stdout
                .contains(&format!("environment[GREETING]: {before} → {greeting}")),
            "{}",
            out.stdout
        );
        // The same promotion again converges, on record as the current one.
        ok(&with(greeting, &promote));
        ok(&with(greeting, &["diff", "--env", env, "--exit-code"]));
        let out = f.geno(&["history", "--env", env]);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(
            lines[1].starts_with('*') && lines[1].contains("succeeded"),
            "{}",
            out.stdout
        );
        assert!(
            lines[2].contains(&format!("INTERRUPTED at {phase}")),
            "{}",
            out.stdout
        );
    }
    // A rollback killed mid-way (to k3's promotion, from k4's): the next
    // rollback goes to the same place, as nothing newer succeeded.
    let before = f.live(env);
    killed_at(
        &f,
        "k4",
        &["rollback", "--env", env, "--poll", "200ms"],
        &web,
    );
    let record = f.records(env).pop().unwrap();
    assert_eq!(record["kind"], "rollback", "{record}");
    assert_eq!(record["outcome"]["phase"], "rollout", "{record}");
    let out = f.geno(&["history", "--env", env]);
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("INTERRUPTED at rollout"),
        "{}",
        out.stdout
    );
    ok(&f.geno(&["rollback", "--env", env, "--poll", "200ms"]));
    let after = f.live(env);
    assert!(after.iter().zip(&before).all(|(a, b)| a != b), "{after:?}");
    ok(&with("k3", &["diff", "--env", env, "--exit-code"]));
    let out = f.geno(&["history", "--env", env]);
    let top = out.stdout.lines().nth(1).unwrap();
    assert!(
        top.starts_with('*') && top.contains("rollback to "),
        "{}",
        out.stdout
    );
}

/// Makes the stand-in answer `operation` on `env`'s cluster with an AWS
/// error `times` times after `after` calls go through.
fn fault(f: &Fixture, env: &str, operation: &str, code: &str, status: u16, after: u32, times: u32) {
    let body = serde_json::json!({
        "operation": operation, "code": code, "status": status, "after": after, "times": times,
        "cluster": format!("{}-{env}", f.name),
    })
    .to_string();
    let addr = f.aws.endpoint.trim_start_matches("http://").to_string();
    let (code, _) = crate::http(&addr, "POST", "/_scripted/faults", None, Some(&body));
    assert_eq!(code, 200);
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn throttling_is_retried_and_a_failing_ecs_mid_rollout_rolls_every_service_back() {
    let f = fixture();
    // Throttled twice on the first call: the SDK's retries absorb it.
    fault(
        &f,
        "throttle",
        "DescribeServices",
        "ThrottlingException",
        400,
        0,
        2,
    );
    ok(&f.geno(&["promote", "--env", "throttle", "--poll", "200ms"]));
    let first = f.live("throttle");
    // A change; ECS then fails (HTTP 500) once the job has started (the
    // calls of preflight and of the job's network lookup go through): with
    // two attempts a call, the look before the rollout and the first look
    // after it fail, and the rollback finds ECS answering again.
    fault(
        &f,
        "throttle",
        "DescribeServices",
        "ServerException",
        500,
        2,
        4,
    );
    let out = f
        .aws
        .geno(&f.stack)
        .env("GREETING", "throttled")
        .env("AWS_MAX_ATTEMPTS", "2")
        .args(["promote", "--env", "throttle", "--poll", "200ms"])
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("ServerException")
            && out.stderr.contains("every service was rolled back"),
        "{}",
        out.stderr
    );
    assert_eq!(f.live("throttle"), first);
    let record = f.records("throttle").pop().unwrap();
    assert_eq!(record["outcome"]["status"], "rolledBack", "{record}");
    ok(&f.geno(&["diff", "--env", "throttle", "--exit-code"]));
}

/// Deletes the listener's rule of `priority`, as by hand in the console.
fn delete_rule(f: &Fixture, listener_arn: &str, priority: u32) {
    let rules = f
        .aws
        .aws(&["elbv2", "describe-rules", "--listener-arn", listener_arn]);
    // ELBv2 writes priorities as strings.
    let priority = priority.to_string();
    let rule = rules["Rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Priority"] == priority.as_str())
        .unwrap();
    f.aws.aws(&[
        "elbv2",
        "delete-rule",
        "--rule-arn",
        rule["RuleArn"].as_str().unwrap(),
    ]);
}

/// The elbv2 ARNs of env's target group for web and its listener.
fn alb_arns(f: &Fixture, env: &str) -> (String, String) {
    let name = &f.name;
    let tg = f.aws.aws(&[
        "elbv2",
        "describe-target-groups",
        "--names",
        &format!("{name}-web-{env}"),
    ]);
    let lb = f.aws.aws(&[
        "elbv2",
        "describe-load-balancers",
        "--names",
        &format!("{name}-{env}"),
    ]);
    let lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"].as_str().unwrap();
    let listeners = f
        .aws
        .aws(&["elbv2", "describe-listeners", "--load-balancer-arn", lb_arn]);
    (
        tg["TargetGroups"][0]["TargetGroupArn"]
            .as_str()
            .unwrap()
            .to_string(),
        listeners["Listeners"][0]["ListenerArn"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn the_three_way_diff_finds_a_variable_changed_here_and_infra_drifted_live() {
    let f = fixture();
    let name = &f.name;
    ok(&f.geno(&["promote", "--env", "parity", "--poll", "200ms"]));
    // All three agree: nothing to say, exit 0.
    let out = f.geno(&["diff", "--env", "parity", "--local", "--exit-code"]);
    ok(&out);
    assert!(
        out.stdout
            .contains(&format!("  web ({name}-web-1): as stack.yaml says\n")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("infra/ (what preflight checks): as stack.yaml says\n"),
        "{}",
        out.stdout
    );

    // Live: a health check changed and the listener rule removed by hand.
    let (tg_arn, listener_arn) = alb_arns(&f, "parity");
    f.aws.aws(&[
        "elbv2",
        "modify-target-group",
        "--target-group-arn",
        &tg_arn,
        "--health-check-interval-seconds",
        "30",
    ]);
    delete_rule(&f, &listener_arn, 10);
    // Here: stack.yaml now says another greeting than the containers got.
    let out = f.geno_with(
        "GREETING",
        "changed",
        &["diff", "--env", "parity", "--local", "--exit-code"],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    for line in [
        format!(
            "  web ({name}-web-1): 1 difference since `geno up` (container → stack.yaml; `geno up` replaces it)\n    ~ environment[GREETING]: hello → changed\n"
        ),
        "infra/ (what preflight checks): 2 problems\n".to_string(),
        format!(
            "  - ALB target group {name}-web-parity differs from stack.yaml: healthCheckIntervalSeconds is 30 (stack.yaml: 5); apply infra/ with `geno render --env parity --format tfvars`\n"
        ),
        format!(
            "  - ALB {name}-parity, listener 80, differs from stack.yaml: rule 10 (path-pattern /*: forward to {name}-web-parity) is missing; apply infra/ with `geno render --env parity --format tfvars`\n"
        ),
    ] {
        assert!(
            out.stdout.contains(&line),
            "no {line:?} in:\n{}",
            out.stdout
        );
    }
    // Live, the task definitions say the greeting they were promoted with.
    assert!(
        out.stdout
            .contains("~ containerDefinitions[web].environment[GREETING]: hello → changed"),
        "{}",
        out.stdout
    );
}
