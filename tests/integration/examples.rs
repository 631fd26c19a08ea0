//! The design documents' systems as geno runs them (`examples/`): each
//! renders the task definitions its document specifies — names,
//! containers, ports, health checks, log configuration, sizes, secrets —
//! and, with the engine and the AWS stand-ins, runs here, passes smoke
//! and promotes with those names.

use std::path::Path;

use serde_json::{Value, json};

use crate::docker::TestStack;
use crate::standin::StandIn;
use crate::{Geno, Output, free_port, root};

fn ok(out: &Output) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

fn render(example: &str, env: &str, format: &str) -> Value {
    let out = Geno::new()
        .dir(&root().join("examples").join(example))
        .args(["render", "--env", env, "--format", format])
        .run();
    ok(&out);
    serde_json::from_str(&out.stdout).unwrap()
}

/// The secrets of one Secrets Manager secret, by JSON key, as document 002
/// writes them (`…:secret:farsight/server-secrets:KEY::`).
fn farsight_secrets(keys: &[&str]) -> Value {
    keys.iter()
        .map(|k| {
            json!({
                "name": k,
                "valueFrom": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:farsight/server-secrets:{k}::"),
            })
        })
        .collect()
}

/// What document 002 gives each task definition (sorted as geno renders
/// secrets: by name).
fn farsight_expected() -> [(&'static str, Value); 2] {
    let logs = |group: &str| {
        json!({ "logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs" } })
    };
    [
        (
            "api-server",
            json!({
                "family": "farsight-api-server",
                "cpu": "512",
                "memory": "1024",
                "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                "taskRoleArn": "arn:aws:iam::123456789012:role/ecsTaskRole",
                "environmentIncludes": farsight_environment(),
                "container": {
                    "name": "api-server",
                    "portMappings": [{ "containerPort": 8000, "protocol": "tcp" }],
                    "healthCheck": {
                        "command": ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:8000/health')\" || exit 1"],
                        "interval": 30, "timeout": 10, "retries": 3, "startPeriod": 60,
                    },
                    "logConfiguration": logs("/ecs/farsight-api-server"),
                    "secrets": farsight_secrets(&["API_KEY", "OPENAI_API_KEY", "PINECONE_API_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"]),
                },
            }),
        ),
        (
            "temporal-worker",
            json!({
                "family": "farsight-worker",
                "cpu": "512",
                "memory": "1024",
                "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                "taskRoleArn": "arn:aws:iam::123456789012:role/ecsTaskRole",
                "environmentIncludes": farsight_environment(),
                "container": {
                    "name": "temporal-worker",
                    "command": ["python", "-m", "src.temporal.worker"],
                    "logConfiguration": logs("/ecs/farsight-worker"),
                    "secrets": farsight_secrets(&["OPENAI_API_KEY", "PINECONE_API_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"]),
                },
            }),
        ),
    ]
}

/// `td` (a task definition, rendered or live) has what `want` says.
fn assert_task_definition(td: &Value, want: &Value) {
    for field in ["family", "cpu", "memory", "executionRoleArn", "taskRoleArn"] {
        assert_eq!(td[field], want[field], "{field} of {td:#}");
    }
    let c = &td["containerDefinitions"][0];
    for (field, value) in want["container"].as_object().unwrap() {
        assert_eq!(&c[field], value, "container {field} of {}", want["family"]);
    }
    let env: Vec<(&str, &str)> = c["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| (kv["name"].as_str().unwrap(), kv["value"].as_str().unwrap()))
        .collect();
    // Variables the document fixes, where others vary by environment.
    for fixed in want["environmentIncludes"].as_array().into_iter().flatten() {
        let fixed = (fixed[0].as_str().unwrap(), fixed[1].as_str().unwrap());
        assert!(env.contains(&fixed), "{fixed:?} in {env:?}");
    }
}

/// The variables document 002 fixes for both services.
fn farsight_environment() -> Value {
    json!([
        ["POSTGRES_PORT", "5432"],
        ["POSTGRES_DB_NAME", "farsight"],
        ["POSTGRES_USER", "postgres"],
        ["REDIS_PORT", "6379"],
        ["TEMPORAL_NAMESPACE", "default"],
        ["TEMPORAL_TASK_QUEUE", "orchestrator-task-queue"],
        ["PINECONE_INDEX", "default-index"],
    ])
}

#[test]
fn farsight_renders_the_names_sizes_checks_and_secrets_of_its_document() {
    let r = render("farsight", "prod", "ecs");
    for (service, want) in farsight_expected() {
        let entry = &r["services"][service];
        assert_task_definition(&entry["taskDefinition"], &want);
        assert_eq!(entry["repository"], "farsight-server");
    }
    let api = &r["services"]["api-server"];
    assert_eq!(api["service"]["service"], "farsight-api-server");
    // It scales itself: its count is the scaler's, from 2 up to 10.
    assert!(api["service"].get("desiredCount").is_none());
    assert_eq!(
        (
            &api["scaling"]["MinCapacity"],
            &api["scaling"]["MaxCapacity"]
        ),
        (&json!(2), &json!(10))
    );
    assert_eq!(api["service"]["healthCheckGracePeriodSeconds"], 60);
    let tg = &api["targetGroups"][0];
    for (field, value) in [
        ("name", json!("farsight-api-tg")),
        ("port", json!(8000)),
        ("healthCheckPath", json!("/health")),
        ("healthCheckIntervalSeconds", json!(30)),
        ("healthCheckTimeoutSeconds", json!(10)),
        ("healthyThresholdCount", json!(2)),
        ("unhealthyThresholdCount", json!(3)),
        ("containerName", json!("api-server")),
    ] {
        assert_eq!(tg[field], value, "{field}");
    }
    let worker = &r["services"]["temporal-worker"];
    assert_eq!(worker["service"]["service"], "farsight-worker");
    assert_eq!(worker["scaling"]["MinCapacity"], 2);
    assert_eq!(worker["scaling"]["MaxCapacity"], 5);
    assert_eq!(r["listeners"][0]["loadBalancer"], "farsight-alb");
    assert_eq!(r["listeners"][0]["port"], 80);
    assert_eq!(
        r["listeners"][0]["defaultAction"],
        json!({ "forward": "farsight-api-tg" })
    );

    // Terraform creates the shared repository once and the worker's own
    // log group beside the environment's (the API's).
    let tf = render("farsight", "prod", "tfvars");
    assert_eq!(
        tf["repositories"],
        json!({ "api-server": "farsight-server" })
    );
    assert_eq!(tf["log_group"], "/ecs/farsight-api-server");
    assert_eq!(tf["service_log_groups"], json!(["/ecs/farsight-worker"]));
    assert_eq!(tf["load_balancer_name"], "farsight-alb");
    assert_eq!(tf["cluster_name"], "farsight-cluster");
}

/// An example copied to a directory of its own under a test stack name, so
/// its containers, volumes and records go with the test.
fn copy_example(example: &str, tag: &str) -> TestStack {
    let stack = TestStack::new(tag, "services: {}\n");
    copy_dir(&root().join("examples").join(example), stack.dir.path());
    let file = stack.dir.path().join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let named = text.replacen(
        &format!("name: ${{GENO_STACK_NAME:-{example}}}"),
        &format!("name: {}", stack.name),
        1,
    );
    assert_ne!(named, text, "examples/{example}/stack.yaml names itself");
    std::fs::write(&file, named).unwrap();
    stack
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn image(var: &str, standin: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| standin.into())
}

#[test]
#[ignore = "needs the Docker engine, the project venv and docker-registry (scripts/test runs it)"]
fn farsight_runs_here_passes_smoke_and_promotes_with_its_documents_names() {
    let aws = StandIn::start();
    let stack = copy_example("farsight", "farsight");
    let geno = |args: &[&str]| {
        aws.geno(&stack)
            .env(
                "POSTGRES_IMAGE",
                &image("POSTGRES_IMAGE", "geno-local/postgres:15"),
            )
            .env("REDIS_IMAGE", &image("REDIS_IMAGE", "geno-local/redis:7"))
            .env(
                "TEMPORAL_IMAGE",
                &image("TEMPORAL_IMAGE", "geno-local/temporal:standin"),
            )
            .env("API_PORT", &free_port().to_string())
            .env("TEMPORAL_PORT", &free_port().to_string())
            .env("FARSIGHT_LB_PORT", &free_port().to_string())
            // The document's rollback alarms, watched for a second after
            // the rollout instead of three minutes.
            .env("FARSIGHT_BAKE", "1s")
            .args(args)
            .run()
    };
    ok(&geno(&["up", "--no-limits", "--timeout", "180s"]));
    ok(&geno(&["smoke"]));

    // What infra/ (the document's CDK stack) creates, and the one secret,
    // and the subnets and groups the services choose by tag.
    aws.seed(&stack, "prod", &[]);
    let placed = aws.python([
        "-c",
        r#"
import boto3
ec2 = boto3.client("ec2", region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
def tagged(create, key, value, **kw):
    rid = create(**kw)
    rid = rid["Subnet"]["SubnetId"] if "Subnet" in rid else rid["GroupId"]
    ec2.create_tags(Resources=[rid], Tags=[{"Key": key, "Value": value}])
    return rid
ids = [
    tagged(ec2.create_subnet, "farsight-tier", "public", VpcId=vpc, CidrBlock="10.50.1.0/24"),
    tagged(ec2.create_subnet, "farsight-tier", "private", VpcId=vpc, CidrBlock="10.50.2.0/24"),
    tagged(ec2.create_security_group, "farsight-role", "api", VpcId=vpc, GroupName="fs-api", Description="api"),
    tagged(ec2.create_security_group, "farsight-role", "worker", VpcId=vpc, GroupName="fs-worker", Description="worker"),
]
print(" ".join(ids))
"#,
    ]);
    let ids: Vec<&str> = placed.split_whitespace().collect();
    let (public, private, api_sg, worker_sg) = (ids[0], ids[1], ids[2], ids[3]);
    aws.aws(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "farsight/server-secrets",
        "--secret-string",
        r#"{"OPENAI_API_KEY":"k","PINECONE_API_KEY":"k","POSTGRES_PASSWORD":"p","REDIS_PASSWORD":"r","API_KEY":"a"}"#,
    ]);
    ok(&geno(&["promote", "--env", "prod"]));

    let mut digests = Vec::new();
    for (_, want) in farsight_expected() {
        let family = want["family"].as_str().unwrap();
        let live = aws.aws(&[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            family,
        ]);
        let td = &live["taskDefinition"];
        assert_task_definition(td, &want);
        let image = td["containerDefinitions"][0]["image"].as_str().unwrap();
        assert!(
            image.starts_with(&format!("{}/farsight-server@sha256:", aws.registry)),
            "{image}"
        );
        digests.push(image.to_string());
    }
    // One image, verified once, runs both roles.
    assert_eq!(digests[0], digests[1]);
    let services = aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        "farsight-cluster",
        "--services",
        "farsight-api-server",
        "farsight-worker",
    ]);
    for s in services["services"].as_array().unwrap() {
        let family = s["taskDefinition"].as_str().unwrap();
        assert!(family.contains(":task-definition/farsight-"), "{family}");
        assert_eq!(s["desiredCount"], 2, "{}", s["serviceName"]);
    }
    // The document's placement, found by tag: the API public, the worker
    // private and mostly on Spot.
    let vpc = |i: usize| &services["services"][i]["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(
        vpc(0),
        &json!({ "subnets": [public], "securityGroups": [api_sg], "assignPublicIp": "ENABLED" })
    );
    assert_eq!(
        vpc(1),
        &json!({ "subnets": [private], "securityGroups": [worker_sg], "assignPublicIp": "DISABLED" })
    );
    assert_eq!(
        services["services"][1]["capacityProviderStrategy"],
        json!([
            { "capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0 },
            { "capacityProvider": "FARGATE", "weight": 1, "base": 1 },
        ])
    );
    // The document's scaling: the API 2-10 at 70 % CPU (out 60 s, in
    // 300 s) under its policy name, the worker 2-5; and its alarms, two of
    // which the API's deployments roll back on.
    for (service, range) in [
        ("farsight-api-server", (2, 10)),
        ("farsight-worker", (2, 5)),
    ] {
        let resource = format!("service/farsight-cluster/{service}");
        let targets = aws.aws(&[
            "application-autoscaling",
            "describe-scalable-targets",
            "--service-namespace",
            "ecs",
            "--resource-ids",
            &resource,
        ]);
        let t = &targets["ScalableTargets"][0];
        assert_eq!(
            (t["MinCapacity"].as_i64(), t["MaxCapacity"].as_i64()),
            (Some(range.0), Some(range.1)),
            "{service}"
        );
    }
    let policies = aws.aws(&[
        "application-autoscaling",
        "describe-scaling-policies",
        "--service-namespace",
        "ecs",
        "--resource-id",
        "service/farsight-cluster/farsight-api-server",
    ]);
    let p = &policies["ScalingPolicies"][0];
    assert_eq!(p["PolicyName"], "api-server-cpu-scaling");
    let c = &p["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(
        (
            &c["TargetValue"],
            &c["ScaleOutCooldown"],
            &c["ScaleInCooldown"]
        ),
        (&json!(70.0), &json!(60), &json!(300))
    );
    let alarms = aws.aws(&[
        "cloudwatch",
        "describe-alarms",
        "--alarm-name-prefix",
        "farsight-",
    ]);
    let mut names: Vec<&str> = alarms["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "farsight-api-server-cpu",
            "farsight-api-server-memory",
            "farsight-api-server-running",
            "farsight-api-server-unhealthy",
            "farsight-worker-cpu",
            "farsight-worker-memory",
            "farsight-worker-running",
        ]
    );
    assert_eq!(
        services["services"][0]["deploymentConfiguration"]["alarms"]["alarmNames"],
        json!([
            "farsight-api-server-running",
            "farsight-api-server-unhealthy"
        ])
    );
    // A second promotion of the same image and definition changes nothing.
    let again = geno(&["promote", "--env", "prod"]);
    ok(&again);
    let said = format!("{}{}", again.stdout, again.stderr);
    for line in [
        "farsight-api-server: already on farsight-api-server:2 with this image and definition; not redeployed",
        "farsight-worker: already on farsight-worker:2 with this image and definition; not redeployed",
        "(0 service(s) updated)",
    ] {
        assert!(said.contains(line), "{line}:\n{said}");
    }
}

/// What document 004 gives the backend's task definition.
fn aiuteur_expected() -> Value {
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("COGNITO_USER_POOL_ID", "us-east-1_XXXXXXXXX"),
        ("GEMINI_MODEL", "gemini-2.5-flash-lite"),
        ("GOOGLE_CLOUD_LOCATION", "us-central1"),
        ("GOOGLE_CLOUD_PROJECT", "aiuteur"),
        ("LANGSMITH_PROJECT", "Aiutuer"),
        ("LANGSMITH_TRACING", "true"),
        ("NODE_ENV", "production"),
        ("PORT", "3001"),
        ("S3_ASSET_IMAGES_BUCKET", "aiuteur-asset-images"),
        ("S3_IMAGES_BUCKET", "aiuteur-images"),
        ("S3_VIDEOS_BUCKET", "aiuteur-videos"),
        ("VIDEO_PROVIDER", "veo3"),
    ];
    let secret = |name: &str, id: &str| json!({ "name": name, "valueFrom": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:aiuteur/{id}") });
    json!({
        "family": "aiuteur-backend",
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": "arn:aws:iam::123456789012:role/aiuteur-ecs-task-execution-role",
        "taskRoleArn": "arn:aws:iam::123456789012:role/aiuteur-ecs-task-role",
        "container": {
            "name": "aiuteur-backend",
            "essential": true,
            "portMappings": [{ "containerPort": 3001, "protocol": "tcp" }],
            "environment": env.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
            "secrets": [
                secret("DATABASE_URL", "database-url"),
                secret("GOOGLE_AI_API_KEY", "google-ai-api-key"),
                secret("LANGSMITH_API_KEY", "langsmith-api-key"),
            ],
            "logConfiguration": { "logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/aiuteur-backend", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "ecs" } },
            // The document's intervals; Node asks for the route, since the
            // image has no curl.
            "healthCheck": {
                "command": ["CMD-SHELL", "node -e \"fetch('http://localhost:3001/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))\""],
                "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60,
            },
        },
    })
}

#[test]
fn aiuteur_renders_the_task_definition_load_balancer_and_https_of_its_document() {
    let r = render("aiuteur", "prod", "ecs");
    let backend = &r["services"]["aiuteur-backend"];
    assert_task_definition(&backend["taskDefinition"], &aiuteur_expected());
    assert_eq!(
        backend["taskDefinition"]["runtimePlatform"]["cpuArchitecture"],
        "X86_64"
    );
    let service = &backend["service"];
    assert_eq!(service["cluster"], "aiuteur-cluster");
    assert_eq!(service["service"], "aiuteur-backend-service");
    assert_eq!(service["desiredCount"], 1);
    assert_eq!(service["healthCheckGracePeriodSeconds"], 60);
    assert_eq!(backend["placement"]["publicIp"], true);
    assert_eq!(backend["repository"], "aiuteur-backend");
    let tg = &backend["targetGroups"][0];
    for (field, value) in [
        ("name", json!("aiuteur-backend-tg")),
        ("port", json!(3001)),
        ("targetType", json!("ip")),
        ("healthCheckPath", json!("/api/health")),
        ("healthCheckIntervalSeconds", json!(30)),
        ("healthyThresholdCount", json!(2)),
        ("unhealthyThresholdCount", json!(3)),
        ("containerName", json!("aiuteur-backend")),
        ("containerPort", json!(3001)),
    ] {
        assert_eq!(tg[field], value, "{field}");
    }
    // HTTP on 80 and HTTPS on 443 with the certificate, both to the backend.
    let listeners = r["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 2);
    assert_eq!(listeners[0]["loadBalancer"], "aiuteur-alb");
    assert_eq!(listeners[0]["port"], 80);
    assert_eq!(listeners[1]["port"], 443);
    assert_eq!(listeners[1]["protocol"], "HTTPS");
    assert_eq!(
        listeners[1]["certificate"],
        "arn:aws:acm:us-east-1:123456789012:certificate/aiuteur-api"
    );
    for l in listeners {
        assert_eq!(
            l["defaultAction"],
            json!({ "forward": "aiuteur-backend-tg" })
        );
    }
    let tf = render("aiuteur", "prod", "tfvars");
    assert_eq!(
        tf["repositories"],
        json!({ "aiuteur-backend": "aiuteur-backend" })
    );
    assert_eq!(tf["execution_role_name"], "aiuteur-ecs-task-execution-role");
    assert_eq!(tf["task_role_name"], "aiuteur-ecs-task-role");
    assert_eq!(tf["listeners"]["443"]["protocol"], "HTTPS");
    let s3 = tf["task_role_statements"].to_string();
    assert!(
        s3.contains("arn:aws:s3:::aiuteur-videos/*") && s3.contains("s3:ListBucket"),
        "{s3}"
    );
}

#[test]
#[ignore = "needs the Docker engine, the project venv and docker-registry (scripts/test runs it)"]
fn aiuteur_runs_here_over_https_catches_a_curl_check_and_promotes_with_its_documents_names() {
    let aws = StandIn::start();
    let stack = copy_example("aiuteur", "aiuteur");
    let (plain, tls) = (free_port(), free_port());
    let geno = |file: &str, args: &[&str]| {
        aws.geno(&stack)
            .env(
                "POSTGRES_IMAGE",
                &image("POSTGRES_IMAGE", "geno-local/postgres:15"),
            )
            .env("NODE_IMAGE", &image("NODE_IMAGE", "geno-local/node:20"))
            .env("AIUTEUR_HTTP_PORT", &plain.to_string())
            .env("AIUTEUR_HTTPS_PORT", &tls.to_string())
            .args(["-f", file])
            .args(args)
            .run()
    };
    // The document's own health check, on the document's base image: no
    // curl there, so the task would never be healthy. geno says so here.
    let text = std::fs::read_to_string(stack.dir.path().join("stack.yaml")).unwrap();
    let node_check = "\"node -e \\\"fetch('http://localhost:3001/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))\\\"\"";
    assert!(text.contains(node_check), "the example's check");
    let with_curl = text
        .replace(
            node_check,
            "\"curl -f http://localhost:3001/api/health || exit 1\"",
        )
        .replace(
            "      interval: 30s\n      timeout: 5s\n      retries: 3\n      start_period: 60s",
            "      interval: 5s\n      timeout: 5s\n      retries: 2",
        );
    std::fs::write(stack.dir.path().join("curl.yaml"), with_curl).unwrap();
    let caught = geno(
        "curl.yaml",
        &["up", "--no-limits", "--fast-health", "--timeout", "90s"],
    );
    assert_eq!(caught.code, 1, "{}", caught.stderr);
    assert!(
        caught
            .stderr
            .contains("error: service `aiuteur-backend` failed: health check failing: /bin/sh: 1: curl: not found"),
        "{}",
        caught.stderr
    );

    let up = geno(
        "stack.yaml",
        &["up", "--no-limits", "--fast-health", "--timeout", "180s"],
    );
    ok(&up);
    assert!(
        up.stderr.contains(&format!("https://127.0.0.1:{tls}")),
        "{}",
        up.stderr
    );
    let smoke = geno("stack.yaml", &["smoke"]);
    ok(&smoke);
    assert!(
        smoke
            .stderr
            .contains(&format!("through https://127.0.0.1:{tls}")),
        "{}",
        smoke.stderr
    );

    // The ACM certificate the HTTPS listener names (made outside infra/,
    // as the document requests it): the stack's development certificate,
    // imported, its ID written where stack.yaml takes it.
    let tls = stack.dir.path().join(".geno").join(&stack.name).join("tls");
    let import = format!(
        r#"
import boto3
chain = open("{dir}/cert.pem").read()
leaf = chain[: chain.index("-----END CERTIFICATE-----") + 25]
acm = boto3.client("acm", region_name="us-east-1")
print(acm.import_certificate(Certificate=leaf, PrivateKey=open("{dir}/key.pem").read(),
                             CertificateChain=open("{dir}/ca.pem").read())["CertificateArn"])
"#,
        dir = tls.display()
    );
    let arn = aws.python(["-c", import.as_str()]);
    let certificate_id = arn.trim().rsplit('/').next().unwrap().to_string();
    let file = stack.dir.path().join("stack.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("${AIUTEUR_CERTIFICATE_ID:-aiuteur-api}", &certificate_id),
    )
    .unwrap();
    aws.seed(&stack, "prod", &[]);
    let placed = aws.python([
        "-c",
        r#"
import boto3
ec2 = boto3.client("ec2", region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
ec2.create_tags(Resources=[subnet], Tags=[{"Key": "aiuteur-subnet", "Value": "public"}])
sg = ec2.create_security_group(VpcId=vpc, GroupName="aiuteur-ecs-sg", Description="tasks")["GroupId"]
ec2.create_tags(Resources=[sg], Tags=[{"Key": "Name", "Value": "aiuteur-ecs-sg"}])
print(subnet, sg)
"#,
    ]);
    let ids: Vec<&str> = placed.split_whitespace().collect();
    for (name, value) in [
        (
            "aiuteur/database-url",
            "postgresql://aiuteur_admin:p@rds:5432/aiuteur",
        ),
        ("aiuteur/google-ai-api-key", "g"),
        ("aiuteur/langsmith-api-key", "l"),
    ] {
        aws.aws(&[
            "secretsmanager",
            "create-secret",
            "--name",
            name,
            "--secret-string",
            value,
        ]);
    }
    ok(&geno("stack.yaml", &["promote", "--env", "prod"]));
    let live = aws.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "aiuteur-backend",
    ]);
    let td = &live["taskDefinition"];
    assert_task_definition(td, &aiuteur_expected());
    let image = td["containerDefinitions"][0]["image"].as_str().unwrap();
    assert!(
        image.starts_with(&format!("{}/aiuteur-backend@sha256:", aws.registry)),
        "{image}"
    );
    let services = aws.aws(&[
        "ecs",
        "describe-services",
        "--cluster",
        "aiuteur-cluster",
        "--services",
        "aiuteur-backend-service",
    ]);
    let s = &services["services"][0];
    assert_eq!(s["desiredCount"], 1);
    assert_eq!(
        s["networkConfiguration"]["awsvpcConfiguration"],
        json!({ "subnets": [ids[0]], "securityGroups": [ids[1]], "assignPublicIp": "ENABLED" })
    );
    // Both listeners, as infra/ made them from the tfvars, pass preflight:
    // a second promotion finds nothing to change.
    let again = geno("stack.yaml", &["promote", "--env", "prod"]);
    ok(&again);
    assert!(
        again.stderr.contains("(0 service(s) updated)"),
        "{}",
        again.stderr
    );
}

/// What document 003 gives the task definition: one task, two containers.
fn canvas_expected() -> Value {
    let logs = json!({ "logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/short-drama-backend", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs" } });
    let secret = |name: &str, id: &str| json!({ "name": name, "valueFrom": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:backend/{id}") });
    json!({
        "family": "short-drama-backend",
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "taskRoleArn": "arn:aws:iam::123456789012:role/ecsTaskRole",
        "containers": [
            {
                "name": "canvas-service",
                "essential": true,
                "portMappings": [{ "containerPort": 9000, "protocol": "tcp" }],
                "logConfiguration": logs,
                "secrets": [
                    secret("AWS_ACCESS_KEY_ID", "aws-access-key"),
                    secret("AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
                    secret("SUPABASE_KEY", "supabase-key"),
                    secret("SUPABASE_URL", "supabase-url"),
                ],
                "healthCheck": {
                    "command": ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:9000/health')\""],
                    "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 30,
                },
            },
            {
                "name": "orchestrator",
                "essential": true,
                "cpu": 256,
                "memory": 512,
                "portMappings": [{ "containerPort": 8080, "protocol": "tcp" }],
                "logConfiguration": logs,
                "secrets": [
                    secret("AWS_ACCESS_KEY_ID", "aws-access-key"),
                    secret("AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
                ],
                "healthCheck": {
                    "command": ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:8080/health')\""],
                    "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 30,
                },
            },
        ],
    })
}

/// `td` (rendered or live) has the task and both containers `want` says.
fn assert_task(td: &Value, want: &Value) {
    for field in ["family", "cpu", "memory", "executionRoleArn", "taskRoleArn"] {
        assert_eq!(td[field], want[field], "{field} of {td:#}");
    }
    let got = td["containerDefinitions"].as_array().unwrap();
    let wanted = want["containers"].as_array().unwrap();
    assert_eq!(got.len(), wanted.len(), "{td:#}");
    for (c, w) in got.iter().zip(wanted) {
        for (field, value) in w.as_object().unwrap() {
            assert_eq!(&c[field], value, "container {field} of {}", w["name"]);
        }
    }
}

#[test]
fn canvas_orchestrator_renders_one_task_with_both_containers_of_its_document() {
    let r = render("canvas-orchestrator", "prod", "ecs");
    let entry = &r["services"]["canvas-service"];
    assert_task(&entry["taskDefinition"], &canvas_expected());
    assert_eq!(r["cluster"], "short-drama-cluster");
    assert_eq!(entry["service"]["service"], "short-drama-backend");
    // It scales itself 1-10 at 75 % CPU, as the document registers it:
    // its count is the scaler's.
    assert!(entry["service"].get("desiredCount").is_none());
    assert_eq!(
        entry["scaling"],
        json!({
            "ResourceId": "service/short-drama-cluster/short-drama-backend",
            "MinCapacity": 1,
            "MaxCapacity": 10,
            "Policies": [{
                "PolicyName": "cpu-scaling-policy",
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": 75.0,
                    "PredefinedMetricSpecification": { "PredefinedMetricType": "ECSServiceAverageCPUUtilization" },
                    "ScaleInCooldown": 300,
                    "ScaleOutCooldown": 300
                }
            }],
            "ScheduledActions": []
        })
    );
    // No ALB: the standard alarms are the service's own.
    let alarms: Vec<&str> = entry["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    assert_eq!(
        alarms,
        [
            "short-drama-backend-cpu",
            "short-drama-backend-memory",
            "short-drama-backend-running"
        ]
    );
    assert!(entry.get("targetGroups").is_none(), "no load balancer");
    assert!(r.get("listeners").is_none());
    let tf = render("canvas-orchestrator", "prod", "tfvars");
    assert_eq!(
        tf["repositories"],
        json!({ "canvas-service": "canvas-service", "canvas-service/orchestrator": "orchestrator" })
    );
    assert_eq!(tf["cluster_name"], "short-drama-cluster");
    assert_eq!(tf["log_group"], "/ecs/short-drama-backend");
}

#[test]
#[ignore = "needs the Docker engine, the project venv and docker-registry (scripts/test runs it)"]
fn canvas_orchestrator_runs_both_containers_in_one_task_and_promotes_each_image_by_digest() {
    let aws = StandIn::start();
    let stack = copy_example("canvas-orchestrator", "canvas");
    let geno = |args: &[&str]| {
        aws.geno(&stack)
            .env(
                "PYTHON_IMAGE",
                &image("PYTHON_IMAGE", "geno-local/python:3.11"),
            )
            .env("CANVAS_PORT", &free_port().to_string())
            .env("ORCHESTRATOR_PORT", &free_port().to_string())
            .args(args)
            .run()
    };
    ok(&geno(&["up", "--no-limits", "--timeout", "180s"]));
    let smoke = geno(&["smoke"]);
    ok(&smoke);
    assert!(
        smoke.stderr.contains("3 passed, 0 failed"),
        "{}",
        smoke.stderr
    );

    aws.seed(&stack, "prod", &[]);
    aws.python([
        "-c",
        r#"
import boto3
ec2 = boto3.client("ec2", region_name="us-east-1")
vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.70.1.0/24")["Subnet"]["SubnetId"]
ec2.create_tags(Resources=[subnet], Tags=[{"Key": "short-drama-subnet", "Value": "public"}])
sg = ec2.create_security_group(VpcId=vpc, GroupName="short-drama-backend-sg", Description="tasks")["GroupId"]
ec2.create_tags(Resources=[sg], Tags=[{"Key": "Name", "Value": "short-drama-backend-sg"}])
"#,
    ]);
    for id in [
        "supabase-url",
        "supabase-key",
        "aws-access-key",
        "aws-secret-key",
    ] {
        let name = format!("backend/{id}");
        aws.aws(&[
            "secretsmanager",
            "create-secret",
            "--name",
            &name,
            "--secret-string",
            "v",
        ]);
    }
    ok(&geno(&["promote", "--env", "prod"]));
    let live = aws.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        "short-drama-backend",
    ]);
    let td = &live["taskDefinition"];
    assert_task(td, &canvas_expected());
    // Each container runs its own image, pushed to its own repository and
    // pinned by digest; the two digests differ.
    let images: Vec<&str> = td["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap())
        .collect();
    assert!(
        images[0].starts_with(&format!("{}/canvas-service@sha256:", aws.registry)),
        "{images:?}"
    );
    assert!(
        images[1].starts_with(&format!("{}/orchestrator@sha256:", aws.registry)),
        "{images:?}"
    );
    let digest = |i: &str| i.rsplit('@').next().unwrap().to_string();
    assert_ne!(digest(images[0]), digest(images[1]));
    let history = geno(&["history", "--env", "prod"]);
    ok(&history);
    // The record keeps both digests.
    for image in &images {
        let short = &digest(image)["sha256:".len().."sha256:".len() + 12];
        assert!(
            history.stdout.contains(short),
            "{short}: {}",
            history.stdout
        );
    }
    let again = geno(&["promote", "--env", "prod"]);
    ok(&again);
    assert!(
        again.stderr.contains("(0 service(s) updated)"),
        "{}",
        again.stderr
    );
}
