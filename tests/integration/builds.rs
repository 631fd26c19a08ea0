//! A stack with two builds (`builds:`): each built, run, verified by one
//! smoke run and promoted by its own digest; a job pushed to the repository
//! of the service it runs before; a change to one build refused until it
//! passes beside the other. Ignored by default (needs the engine, the
//! project venv and docker-registry); `scripts/test` runs it.

use serde_json::Value;

use crate::Output;
use crate::docker::TestStack;
use crate::standin::{StandIn, python_image};

/// The `demo` environment on the stand-ins and the smoke step both stacks
/// here share.
fn common(name: &str) -> String {
    format!(
        r#"environments:
  local: {{}}
  demo:
    aws:
      region: us-east-1
      account_id: "123456789012"
      cluster: "{name}-demo"
      execution_role_arn: "arn:aws:iam::123456789012:role/{name}-exec"
      task_role_arn: "arn:aws:iam::123456789012:role/{name}-task"
      log_group: "/ecs/{name}"
      registry: "${{GENO_REGISTRY:-}}"
smoke:
  - name: web answers on its own port
    http: {{ service: web, path: /, expect: {{ status: 200 }} }}
    poll: {{ interval: 1s, deadline: 30s }}
"#
    )
}

fn body(name: &str) -> String {
    let common = common(name);
    format!(
        r#"
builds:
  api:
    context: .
    dockerfile: api.Dockerfile
    args: {{ BASE: "${{PYTHON_IMAGE}}" }}
  web:
    context: .
    dockerfile: web.Dockerfile
    args: {{ BASE: "${{PYTHON_IMAGE}}" }}
services:
  setup:
    kind: job
    build: api
    command: [cat, /marker]
  api:
    build: api
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-api", repository: "{name}-api", cpu: 256, memory: 512 }}
  web:
    build: web
    depends_on: {{ setup: completed_successfully }}
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    ecs: {{ service: "{name}-web", repository: "{name}-web", cpu: 256, memory: 512 }}
{common}  - name: api runs its own build
    exec: {{ service: api, command: [cat, /marker], expect: {{ stdout_contains: api }} }}
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

fn write_dockerfiles(stack: &TestStack, web_marker: &str) {
    for (file, marker) in [("api.Dockerfile", "api"), ("web.Dockerfile", web_marker)] {
        std::fs::write(
            stack.dir.path().join(file),
            format!("ARG BASE\nFROM ${{BASE}}\nRUN echo {marker} > /marker\n"),
        )
        .unwrap();
    }
}

/// The image ID `geno up` said it built or found for `repo`.
fn tagged(stderr: &str, repo: &str) -> String {
    let at = format!("image {repo}:");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&at))
        .unwrap_or_else(|| panic!("no `{at}` line in:\n{stderr}"));
    line[at.len()..].split(' ').next().unwrap().to_string()
}

/// The newest record of `env`.
fn last_record(stack: &TestStack, env: &str) -> Value {
    let dir = stack
        .dir
        .path()
        .join(".geno")
        .join(&stack.name)
        .join("promotions")
        .join(env);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    serde_json::from_str(&std::fs::read_to_string(files.last().unwrap()).unwrap()).unwrap()
}

/// The image each task definition family's latest revision names.
fn live_image(aws: &StandIn, family: &str) -> String {
    let v = aws.aws(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        family,
    ]);
    v["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn two_builds_are_verified_together_and_promoted_by_their_own_digests() {
    let aws = StandIn::start();
    let stack = TestStack::new("builds", "");
    let name = stack.name.clone();
    std::fs::write(
        stack.dir.path().join("stack.yaml"),
        format!("name: {name}\n{}", body(&name)),
    )
    .unwrap();
    write_dockerfiles(&stack, "web");
    aws.seed(&stack, "demo", &[]);
    let geno = |args: &[&str]| {
        aws.geno(&stack)
            .env("PYTHON_IMAGE", &python_image())
            .args(args)
            .run()
    };

    let up = geno(&["up", "--no-limits", "--timeout", "120s"]);
    ok(&up);
    let api_image = tagged(&up.stderr, &format!("{name}/api"));
    for repo in ["api", "web"] {
        assert!(
            up.stderr.contains(&format!("image {name}/{repo}:")),
            "each build is tagged under its own name:\n{}",
            up.stderr
        );
    }
    let smoke = geno(&["smoke"]);
    ok(&smoke);
    assert!(
        smoke.stderr.contains("verified: images api "),
        "{}",
        smoke.stderr
    );

    // A bare --image is ambiguous with two builds.
    let bare = geno(&["promote", "--env", "demo", "--image", "abc"]);
    assert_eq!(bare.code, 1);
    assert_eq!(
        bare.stderr,
        format!(
            "error: --image abc: `{name}` deploys images of several builds (api, web); name the build as --image BUILD=abc\n"
        )
    );

    let promoted = geno(&["promote", "--env", "demo"]);
    ok(&promoted);
    let record = last_record(&stack, "demo");
    let builds = record["builds"].as_object().expect("a digest per build");
    let digest = |b: &str| builds[b]["manifestDigest"].as_str().unwrap().to_string();
    assert_ne!(digest("api"), digest("web"));
    let registry = &aws.registry;
    assert_eq!(
        live_image(&aws, &format!("{name}-api-demo")),
        format!("{registry}/{name}-api@{}", digest("api"))
    );
    assert_eq!(
        live_image(&aws, &format!("{name}-web-demo")),
        format!("{registry}/{name}-web@{}", digest("web"))
    );
    // The job runs build api from the repository of web, which it runs
    // before: pushed there too, under api's digest.
    assert_eq!(
        live_image(&aws, &format!("{name}-setup-demo")),
        format!("{registry}/{name}-web@{}", digest("api"))
    );

    // web changes; api does not: the new web has not run beside api.
    write_dockerfiles(&stack, "web2");
    let up = geno(&["up", "--no-limits", "--timeout", "120s"]);
    ok(&up);
    // web.Dockerfile is in api's context too: api is built again, from
    // cache, as the same image.
    assert_eq!(tagged(&up.stderr, &format!("{name}/api")), api_image);
    let refused = geno(&["promote", "--env", "demo"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("of build `api` passed `geno smoke` on ")
            && refused.stderr.contains(", but beside image "),
        "{}",
        refused.stderr
    );
    ok(&geno(&["smoke"]));
    let again = geno(&["promote", "--env", "demo"]);
    ok(&again);
    let second = last_record(&stack, "demo");
    assert_eq!(
        second["builds"]["api"]["manifestDigest"].as_str().unwrap(),
        digest("api"),
        "api's digest is the same image"
    );
    assert_ne!(
        second["builds"]["web"]["manifestDigest"].as_str().unwrap(),
        digest("web")
    );
    let changed: Vec<&str> = second["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["before"] != s["after"])
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["web"], "{second:#}");
    let history = geno(&["history", "--env", "demo"]);
    ok(&history);
    // Both images of each promotion, under their own digests.
    let short = |d: &Value| d.as_str().unwrap().trim_start_matches("sha256:")[..12].to_string();
    for r in [&record, &second] {
        let pair = format!(
            "{},{}",
            short(&r["builds"]["api"]["manifestDigest"]),
            short(&r["builds"]["web"]["manifestDigest"])
        );
        assert!(
            history.stdout.contains(&pair),
            "{pair}:\n{}",
            history.stdout
        );
    }
    // What runs is what stack.yaml renders with these images: no change.
    let diff = geno(&["diff", "--env", "demo", "--exit-code"]);
    assert_eq!(diff.code, 0, "{}\n{}", diff.stdout, diff.stderr);
}

/// `image` pushed to `registry` as `repo:tag` and its local tag removed, as
/// if it had only ever been pulled from there: what the engine knows of an
/// external image (a digest it was pulled as) once `geno up` pulls it.
fn publish(image: &str, registry: &str, repo: &str, tag: &str) {
    use bollard::query_parameters::{PushImageOptions, RemoveImageOptions, TagImageOptions};
    use futures_util::StreamExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults()
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
        let full = format!("{registry}/{repo}");
        docker
            .tag_image(
                image,
                Some(TagImageOptions {
                    repo: Some(full.clone()),
                    tag: Some(tag.into()),
                }),
            )
            .await
            .unwrap();
        let mut push = docker.push_image(
            &full,
            Some(PushImageOptions {
                tag: Some(tag.into()),
                ..Default::default()
            }),
            None,
        );
        while let Some(item) = push.next().await {
            let info = item.unwrap();
            assert!(info.error_detail.is_none(), "{info:?}");
        }
        docker
            .remove_image(
                &format!("{full}:{tag}"),
                Some(RemoveImageOptions {
                    noprune: true,
                    ..Default::default()
                }),
                None,
            )
            .await
            .unwrap();
    });
}

#[test]
#[ignore = "needs a Docker engine, the project venv (moto, awscli) and docker-registry: scripts/test runs it"]
fn external_images_deploy_pinned_to_what_ran_here_mirrored_or_from_where_they_came() {
    let aws = StandIn::start();
    let stack = TestStack::new("external", "");
    let name = stack.name.clone();
    // The stand-in registry plays a public one: `side` is pulled from it.
    let public = format!("{}/{name}/side:1", aws.registry);
    publish(&python_image(), &aws.registry, &format!("{name}/side"), "1");
    let common = common(&name);
    let body = format!(
        r#"
image:
  context: .
  args: {{ BASE: "${{PYTHON_IMAGE}}" }}
services:
  web:
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    ecs: {{ service: "{name}-web", repository: "{name}-web", cpu: 256, memory: 512 }}
  mirrored:
    image: "${{PYTHON_IMAGE}}"
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-mirrored", repository: "{name}-mirrored", cpu: 256, memory: 512 }}
  side:
    image: "{public}"
    command: [python3, -c, "import time; time.sleep(100000)"]
    ecs: {{ service: "{name}-side", cpu: 256, memory: 512 }}
{common}"#
    );
    std::fs::write(
        stack.dir.path().join("stack.yaml"),
        format!("name: {name}\n{body}"),
    )
    .unwrap();
    std::fs::write(
        stack.dir.path().join("Dockerfile"),
        "ARG BASE\nFROM ${BASE}\n",
    )
    .unwrap();
    aws.seed(&stack, "demo", &[]);
    let geno = |args: &[&str]| aws.geno(&stack).args(args).run();
    ok(&geno(&["up", "--no-limits", "--timeout", "120s"]));
    let smoke = geno(&["smoke"]);
    ok(&smoke);
    assert!(
        smoke.stderr.contains("verified: images ")
            && smoke.stderr.contains(", image ")
            && smoke.stderr.contains(&format!("{public} ")),
        "the external images deployed are part of what smoke vouches for:\n{}",
        smoke.stderr
    );
    let promoted = geno(&["promote", "--env", "demo"]);
    ok(&promoted);
    let record = last_record(&stack, "demo");
    let carried = record["builds"].as_object().expect("a digest per image");
    let digest = |key: &str| carried[key]["manifestDigest"].as_str().unwrap().to_string();
    let registry = &aws.registry;
    // Mirrored: pushed to its repository, its config the image that ran here.
    let python_key = if python_image().rsplit('/').next().unwrap().contains(':') {
        python_image()
    } else {
        format!("{}:latest", python_image())
    };
    assert_eq!(
        live_image(&aws, &format!("{name}-mirrored-demo")),
        format!("{registry}/{name}-mirrored@{}", digest(&python_key))
    );
    // From where it came: the digest it was pulled as.
    assert_eq!(
        live_image(&aws, &format!("{name}-side-demo")),
        format!("{registry}/{name}/side@{}", digest(&public))
    );
    assert!(
        promoted.stderr.contains(&format!(
            "{public}: pinned as {registry}/{name}/side@sha256:"
        )),
        "{}",
        promoted.stderr
    );
    assert_eq!(
        live_image(&aws, &format!("{name}-web-demo")),
        format!("{registry}/{name}-web@{}", digest("image"))
    );
    // A second promotion of the same images changes nothing.
    let again = geno(&["promote", "--env", "demo"]);
    ok(&again);
    assert!(
        again.stderr.contains("(0 service(s) updated)"),
        "{}",
        again.stderr
    );
}
