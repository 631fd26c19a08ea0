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
    for fixed in [
        ("POSTGRES_PORT", "5432"),
        ("POSTGRES_DB_NAME", "farsight"),
        ("POSTGRES_USER", "postgres"),
        ("REDIS_PORT", "6379"),
        ("TEMPORAL_NAMESPACE", "default"),
        ("TEMPORAL_TASK_QUEUE", "orchestrator-task-queue"),
        ("PINECONE_INDEX", "default-index"),
    ] {
        assert!(env.contains(&fixed), "{fixed:?} in {env:?}");
    }
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
    assert_eq!(api["service"]["desiredCount"], 2);
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
    assert_eq!(worker["service"]["desiredCount"], 2);
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
