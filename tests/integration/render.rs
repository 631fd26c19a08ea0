//! Snapshots of what ECS gets: review changes with `cargo insta review`.

use crate::Geno;

const DIGEST: &str = "sha256:4f6c3a0e9b1d2c7e8a5f0b3d6e9c2a1f4b7d0e3c6a9f2b5e8d1c4a7f0b3e6d9c";

fn render(file: &str, env: &str, image: Option<&str>) -> serde_json::Value {
    let mut args = vec!["-f", file, "render", "--env", env];
    if let Some(image) = image {
        args.extend(["--image", image]);
    }
    let out = Geno::new().args(args).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn genonaut_demo_unpinned() {
    insta::assert_json_snapshot!(render("stack.yaml", "demo", None));
}

#[test]
fn genonaut_prod_pinned_by_digest() {
    insta::assert_json_snapshot!(render("stack.yaml", "prod", Some(DIGEST)));
}

#[test]
fn minimal_stack_with_a_registry_override() {
    insta::assert_json_snapshot!(render(
        "tests/fixtures/valid/minimal.yaml",
        "staging",
        Some(DIGEST)
    ));
}

/// Grace period, volumes, two target groups on one service and an
/// address of another: each reaches ECS.
#[test]
fn what_surrounds_the_container_reaches_ecs() {
    insta::assert_json_snapshot!(render(
        "tests/fixtures/valid/ecs-fidelity.yaml",
        "prod",
        Some(DIGEST)
    ));
}

#[test]
fn compose_style_stack() {
    insta::assert_json_snapshot!(render(
        "tests/fixtures/valid/compose-style.yaml",
        "prod",
        None
    ));
}

/// The properties the foundation issue asks of `render --env demo`, checked
/// directly so they hold whatever the snapshot says.
#[test]
fn demo_task_definitions_run_the_stack_commands_with_ssm_secrets() {
    let v = render("stack.yaml", "demo", Some(DIGEST));
    let services = v["services"].as_object().unwrap();
    assert_eq!(
        services.keys().collect::<Vec<_>>(),
        ["api", "celery", "image-gen"]
    );
    let container = |s: &str| v["services"][s]["taskDefinition"]["containerDefinitions"][0].clone();
    let command = |s: &str| -> Vec<String> {
        serde_json::from_value(container(s)["command"].clone()).unwrap()
    };
    assert_eq!(
        command("api"),
        [
            "uvicorn",
            "genonaut.api.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8001"
        ]
    );
    assert_eq!(
        command("celery"),
        [
            "celery",
            "-A",
            "genonaut.worker.queue_app:celery_app",
            "worker",
            "--loglevel=INFO",
            "-Q",
            "default,generation",
            "--concurrency=2"
        ]
    );
    assert_eq!(
        command("image-gen")[..3],
        ["python", "-m", "genonaut.mock_comfyui"]
    );
    for s in ["api", "celery", "image-gen"] {
        let c = container(s);
        assert!(
            c["image"]
                .as_str()
                .unwrap()
                .ends_with(&format!("@{DIGEST}")),
            "{s}"
        );
        for secret in c["secrets"].as_array().unwrap() {
            assert!(
                secret["valueFrom"]
                    .as_str()
                    .unwrap()
                    .starts_with("arn:aws:ssm:us-east-1:123456789012:parameter/genonaut/demo/")
            );
        }
        assert!(
            c["healthCheck"]["command"][0]
                .as_str()
                .unwrap()
                .starts_with("CMD"),
            "{s}"
        );
        let td = &v["services"][s]["taskDefinition"];
        assert_eq!(td["requiresCompatibilities"][0], "FARGATE");
        assert_eq!(td["networkMode"], "awsvpc");
        assert!(td["cpu"].is_string() && td["memory"].is_string());
    }
    assert_eq!(
        v["services"]["api"]["taskDefinition"]["containerDefinitions"][0]["image"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/genonaut-api-demo@{DIGEST}")
    );
}

/// The worker reaches the image server at one address in every
/// environment, and on ECS that address is image-gen's Service Connect
/// alias: it resolves by construction.
#[test]
fn the_worker_reaches_the_image_server_by_its_own_name_in_every_environment() {
    for env in ["demo", "dev", "test", "prod"] {
        let v = render("stack.yaml", env, Some(DIGEST));
        let container = &v["services"]["celery"]["taskDefinition"]["containerDefinitions"][0];
        let url = container["environment"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "COMFYUI_URL")
            .unwrap()["value"]
            .clone();
        assert_eq!(url, "http://image-gen:8189", "{env}");
        let image_gen = &v["services"]["image-gen"];
        assert_eq!(
            image_gen["service"]["serviceConnectConfiguration"],
            serde_json::json!({
                "enabled": true,
                "namespace": format!("genonaut-{env}.internal"),
                "services": [{ "portName": "image-gen-8189", "clientAliases": [{ "port": 8189, "dnsName": "image-gen" }] }],
            }),
            "{env}"
        );
        assert_eq!(
            image_gen["taskDefinition"]["containerDefinitions"][0]["portMappings"][0]["name"],
            "image-gen-8189"
        );
        // The worker calls; it answers nothing, and is a client of the namespace.
        assert_eq!(
            v["services"]["celery"]["service"]["serviceConnectConfiguration"]["services"],
            serde_json::json!([])
        );
    }
}
