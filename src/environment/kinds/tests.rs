//! Preflight and diff decided from what the kinds read, on AWS on paper:
//! no moto, no engine.

use crate::deploy::taskdef::NameValue;
use crate::environment::Environment;
use crate::environment::diff::{DiffImage, print};
use crate::environment::paper::{DIGEST, Paper, arn, demo, in_order};
use crate::environment::preflight::preflight;
use crate::render::ecs::ImageChoice;
use crate::shell::{Shell, Verbosity};

#[tokio::test]
async fn preflight_passes_when_every_kind_is_in_place() {
    let (_dir, _ctx, env, plans) = demo();
    let paper = in_order(&plans);
    let pre = preflight(&paper, &env, &plans).await.unwrap();
    let names: Vec<&str> = pre.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["shop-web-demo", "shop-worker-demo"]);
    // The services were described once, though two kinds read them.
    assert_eq!(paper.calls_to("DescribeServices"), 1);
}

#[tokio::test]
async fn preflight_lists_every_problem_of_every_kind_in_one_error() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.account = "999999999999".into();
    paper.services.retain(|s| s.name != "shop-worker-demo");
    paper.repositories.retain(|r| r != "shop-worker");
    paper.parameters.clear();
    paper.secrets.clear();
    paper.roles.retain(|r| !r.ends_with("shop-task"));
    paper.target_groups[0].health_check_interval_seconds = 30;
    // The one rule deleted by hand in the console.
    let listener = &mut paper.listeners.as_mut().unwrap()[0];
    listener.rules.clear();
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 8 problems; nothing was changed:\n\
         \x20 - the AWS credentials are for account 999999999999 (arn:aws:iam::999999999999:user/tester), but environment `demo` is in account 123456789012\n\
         \x20 - ECS service shop-worker-demo does not exist in cluster shop-demo\n\
         \x20 - ECR repository shop-worker does not exist in us-east-1\n\
         \x20 - SSM parameter /shop/demo/token does not exist: `geno secrets set --env demo TOKEN` writes it\n\
         \x20 - Secrets Manager secret shop-demo-api-key does not exist: `geno secrets set --env demo API_KEY` writes it\n\
         \x20 - ALB target group shop-web-demo differs from stack.yaml: healthCheckIntervalSeconds is 30 (stack.yaml: 5); apply infra/ with `geno render --env demo --format tfvars`\n\
         \x20 - ALB shop-demo, listener 80, differs from stack.yaml: rule 10 (path-pattern /*: forward to shop-web-demo) is missing; apply infra/ with `geno render --env demo --format tfvars`\n\
         \x20 - IAM role arn:aws:iam::123456789012:role/shop-task does not exist"
    );
}

#[tokio::test]
async fn a_missing_cluster_is_one_problem_and_no_service_is_described() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.cluster = None;
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - ECS cluster shop-demo does not exist in us-east-1"
    );
    assert_eq!(paper.calls_to("DescribeServices"), 0);
}

#[tokio::test]
async fn an_alb_or_listener_infra_has_not_made_is_named() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.listeners = None;
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - ALB shop-demo does not exist (infra/ creates it)"
    );
    paper.listeners = Some(Vec::new());
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert!(
        err.to_string()
            .ends_with("\n  - ALB shop-demo has no listener on port 80 (infra/ creates it)"),
        "{err}"
    );
}

/// As `in_order`, and the job has run once with its rendered definition.
fn with_the_job_run(plans: &crate::deploy::taskdef::Plans) -> Paper {
    let mut paper = in_order(plans);
    let job = &plans.jobs[0].task_definition;
    paper
        .task_definitions
        .insert(arn(&job.family, 1), job.clone());
    paper
}

/// What `diff` prints against `paper`, and the count it returns.
async fn diff(env: &Environment, paper: &Paper) -> (usize, String) {
    let shell = Shell::buffer(Verbosity::Normal, false);
    let n = print(
        env,
        paper,
        &DiffImage::Pinned(ImageChoice::Digest(DIGEST.into())),
        &shell,
    )
    .await
    .unwrap();
    (n, shell.take().0)
}

#[tokio::test]
async fn diff_groups_each_kinds_changes_under_its_service_or_job() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    // web runs an older definition: another greeting.
    let web_td = paper.services[0].task_definition.clone();
    let live = paper.task_definitions.get_mut(&web_td).unwrap();
    live.container_definitions[0].environment = vec![NameValue {
        name: "GREETING".into(),
        value: "hi".into(),
    }];
    // worker was scaled by hand.
    paper.services[1].desired = 3;
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(
        out,
        "web (shop-web-demo): 1 change from shop-web-demo:3\n\
         \x20 ~ containerDefinitions[web].environment[GREETING]: hi → hello\n\
         worker (shop-worker-demo): 1 change from shop-worker-demo:3\n\
         \x20 ~ desiredCount: 3 → 1\n\
         setup (one-off task before web, worker): not run yet; promote registers shop-setup-demo and runs it\n"
    );
    assert_eq!(n, 3);
}

#[tokio::test]
async fn deployment_settings_changed_by_hand_show_in_the_diff() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = with_the_job_run(&plans);
    // Someone turned web's circuit breaker off and lowered its floor in
    // the console; worker reports no settings at all.
    let web = paper.services[0].deployment.as_mut().unwrap();
    web.deployment_circuit_breaker.enable = false;
    web.minimum_healthy_percent = 50;
    paper.services[1].deployment = None;
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(
        out,
        "web (shop-web-demo): 2 changes from shop-web-demo:3\n\
         \x20 ~ deploymentConfiguration.minimumHealthyPercent: 50 → 100\n\
         \x20 ~ deploymentConfiguration.deploymentCircuitBreaker.enable: false → true\n\
         worker (shop-worker-demo): 4 changes from shop-worker-demo:3\n\
         \x20 + deploymentConfiguration.minimumHealthyPercent: 100\n\
         \x20 + deploymentConfiguration.maximumPercent: 200\n\
         \x20 + deploymentConfiguration.deploymentCircuitBreaker.enable: true\n\
         \x20 + deploymentConfiguration.deploymentCircuitBreaker.rollback: true\n\
         setup (one-off task before web, worker): no changes, last run on shop-setup-demo:1\n"
    );
    assert_eq!(n, 6);
}

#[tokio::test]
async fn a_strategy_is_diffed_and_its_alternate_group_checked_in_preflight() {
    let text = crate::environment::paper::STACK.replace(
        "desired_count: 2, target_group: web }",
        "desired_count: 2, target_group: web, strategy: { linear: { percent: 25, bake: 2m } }, bake: 10m }",
    );
    let (_dir, _ctx, env, plans) = crate::environment::paper::open(&text, "demo");
    let mut paper = with_the_job_run(&plans);
    preflight(&paper, &env, &plans).await.unwrap();
    // The service still rolls, as infra/ first made it.
    let web = paper.services[0].deployment.as_mut().unwrap();
    web.strategy = None;
    web.bake_time_in_minutes = None;
    web.linear_configuration = None;
    let (n, out) = diff(&env, &paper).await;
    assert!(
        out.starts_with(
            "web (shop-web-demo): 3 changes from shop-web-demo:3\n\
             \x20 ~ deploymentConfiguration.strategy: ROLLING → LINEAR\n\
             \x20 + deploymentConfiguration.bakeTimeInMinutes: 10\n\
             \x20 + deploymentConfiguration.linearConfiguration: 25% every 2m\n"
        ),
        "{out}"
    );
    assert_eq!(n, 3, "{out}");
    // Without its alternate group, ECS could not shift: infra/'s to make.
    paper.services[0].alternates.clear();
    paper
        .target_groups
        .retain(|g| g.name != "shop-web-demo-alt");
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - ECS service shop-web-demo has no alternate target group beside shop-web-demo for its linear deployments (apply infra/ with `geno render --env demo --format tfvars`)"
    );
}

#[tokio::test]
async fn diff_is_empty_when_everything_runs_as_rendered() {
    let (_dir, _ctx, env, plans) = demo();
    let paper = with_the_job_run(&plans);
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(
        out,
        "web (shop-web-demo): no changes, on shop-web-demo:3\n\
         worker (shop-worker-demo): no changes, on shop-worker-demo:3\n\
         setup (one-off task before web, worker): no changes, last run on shop-setup-demo:1\n"
    );
    assert_eq!(n, 0);
}

#[tokio::test]
async fn diff_refuses_an_environment_without_its_services() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.services.clear();
    let shell = Shell::buffer(Verbosity::Normal, false);
    let err = print(
        &env,
        &paper,
        &DiffImage::Pinned(ImageChoice::Digest(DIGEST.into())),
        &shell,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "not in cluster shop-demo: shop-web-demo, shop-worker-demo; create the environment (infra/) first"
    );
}

#[tokio::test]
async fn a_missing_service_connect_namespace_is_named_with_the_fix() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.namespaces.clear();
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - Cloud Map namespace shop-demo.internal does not exist in us-east-1 (infra/ creates it: apply infra/ with `geno render --env demo --format tfvars`)"
    );
    // Listed once, whichever kind asked.
    assert_eq!(paper.calls_to("ListNamespaces"), 1);
}

#[tokio::test]
async fn a_target_group_not_attached_to_its_service_is_a_route_with_no_targets() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    paper.services[0].target_groups.clear();
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - ECS service shop-web-demo is not attached to ALB target group shop-web-demo, so that route has no targets on ECS (infra/ attaches it: apply infra/ with `geno render --env demo --format tfvars`)"
    );
}

#[tokio::test]
async fn a_role_that_does_not_allow_what_the_definition_needs_is_named_per_action() {
    let (_dir, _ctx, env, plans) = demo();
    let mut paper = in_order(&plans);
    let exec = "arn:aws:iam::123456789012:role/shop-exec".to_string();
    let task = "arn:aws:iam::123456789012:role/shop-task".to_string();
    // infra/ as it was: SSM only, nothing for Secrets Manager.
    paper.policies.insert(
        exec,
        vec![
            serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "ssm:GetParameters",
            "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/shop/*"}]}),
        ],
    );
    // Reads are granted, writes are not.
    paper.policies.insert(
        task,
        vec![
            serde_json::json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shop-demo-uploads/*"}}),
        ],
    );
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 2 problems; nothing was changed:\n\
         \x20 - IAM role arn:aws:iam::123456789012:role/shop-exec does not allow secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-demo-api-key-?????? (ECS reads the task's secrets with it: the task cannot start); apply infra/ with `geno render --env demo --format tfvars`\n\
         \x20 - IAM role arn:aws:iam::123456789012:role/shop-task does not allow s3:PutObject on arn:aws:s3:::shop-demo-uploads/* (the services' `iam` statements ask for it); apply infra/ with `geno render --env demo --format tfvars`"
    );
}

#[tokio::test]
async fn a_log_group_a_service_names_for_itself_must_exist_before_its_tasks_start() {
    let text = crate::environment::paper::STACK.replace(
        "desired_count: 1 }",
        "desired_count: 1, family: worker, log_group: /ecs/worker, log_stream_prefix: ecs }",
    );
    let (_dir, _ctx, env, plans) = crate::environment::paper::open(&text, "demo");
    assert_eq!(plans.log_groups(), ["/ecs/shop-demo", "/ecs/worker"]);
    let mut paper = in_order(&plans);
    assert!(preflight(&paper, &env, &plans).await.is_ok());
    paper.log_groups.retain(|g| g != "/ecs/worker");
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 1 problem; nothing was changed:\n\
         \x20 - log group /ecs/worker does not exist in us-east-1"
    );
    // Both groups asked together, once per preflight; the task definition
    // carries the names.
    assert_eq!(
        paper.calls_to("DescribeLogGroups /ecs/shop-demo /ecs/worker"),
        2
    );
    let worker = &plans.services[1].task_definition;
    assert_eq!(worker.family, "worker");
    let logs = &worker.container_definitions[0]
        .log_configuration
        .as_ref()
        .unwrap()
        .options;
    assert_eq!(logs["awslogs-group"], "/ecs/worker");
    assert_eq!(logs["awslogs-stream-prefix"], "ecs");
}

/// The paper stack with web placed by tag in a public subnet and worker
/// mostly on Spot.
fn placed() -> (
    tempfile::TempDir,
    Environment,
    crate::deploy::taskdef::Plans,
    Paper,
) {
    let text = crate::environment::paper::STACK
        .replace(
            "desired_count: 2, target_group: web }",
            "desired_count: 2, target_group: web, network: { public_ip: true, subnets: { tags: { Tier: public } }, security_groups: [sg-0a1b] } }",
        )
        .replace(
            "desired_count: 1 }",
            "desired_count: 1, capacity: [{ provider: FARGATE_SPOT, weight: 3 }, { provider: FARGATE, weight: 1, base: 1 }] }",
        );
    let (dir, _ctx, env, plans) = crate::environment::paper::open(&text, "demo");
    let mut paper = in_order(&plans);
    let tagged =
        |id: &str, tier: &str| (id.to_string(), vec![("Tier".to_string(), tier.to_string())]);
    paper.subnets = vec![
        tagged("subnet-0a", "public"),
        tagged("subnet-0b", "private"),
    ];
    paper.security_groups = vec![("sg-0a1b".into(), Vec::new())];
    // As infra/ made them: web in the private subnet, worker on the launch type.
    paper.services[0].network = Some(crate::deploy::taskdef::AwsVpc {
        subnets: vec!["subnet-0b".into()],
        security_groups: vec!["sg-0a1b".into()],
        assign_public_ip: "DISABLED".into(),
    });
    paper.services[1].capacity = Vec::new();
    (dir, env, plans, paper)
}

#[tokio::test]
async fn placement_by_tag_and_capacity_providers_are_diffed_against_what_the_services_have() {
    let (_dir, env, plans, mut paper) = placed();
    assert!(preflight(&paper, &env, &plans).await.is_ok());
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(
        out,
        "web (shop-web-demo): 2 changes from shop-web-demo:3\n\
         \x20 ~ networkConfiguration.awsvpcConfiguration.subnets: subnet-0b → subnet-0a\n\
         \x20 ~ networkConfiguration.awsvpcConfiguration.assignPublicIp: DISABLED → ENABLED\n\
         worker (shop-worker-demo): 1 change from shop-worker-demo:3\n\
         \x20 ~ capacityProviderStrategy: launch type FARGATE → FARGATE_SPOT 3, FARGATE 1 base 1\n\
         setup (one-off task before web, worker): not run yet; promote registers shop-setup-demo and runs it\n"
    );
    assert_eq!(n, 4);
    // Found by tag in EC2 before comparing: the update names IDs.
    let mut resolved = plans.clone();
    crate::environment::network::resolve(&paper, &mut resolved)
        .await
        .unwrap();
    let vpc = &resolved.services[0]
        .update
        .network_configuration
        .as_ref()
        .unwrap()
        .awsvpc_configuration;
    assert_eq!(
        (vpc.subnets.as_slice(), vpc.assign_public_ip.as_str()),
        (&["subnet-0a".to_string()][..], "ENABLED")
    );

    // Once the services run as stack.yaml says, nothing differs.
    paper.services[0].network = Some(vpc.clone());
    paper.services[1].capacity = resolved.services[1]
        .update
        .capacity_provider_strategy
        .clone()
        .unwrap();
    assert_eq!(diff(&env, &paper).await.0, 1, "only the job, never run");
}

#[tokio::test]
async fn a_subnet_tag_that_finds_nothing_and_a_missing_group_are_preflight_problems() {
    let (_dir, env, plans, mut paper) = placed();
    paper.subnets.retain(|(id, _)| id != "subnet-0a");
    paper.security_groups.clear();
    let err = preflight(&paper, &env, &plans).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "preflight for `demo` found 2 problems; nothing was changed:\n\
         \x20 - no subnet in us-east-1 has tags Tier=public (shop-web-demo's `ecs.network`)\n\
         \x20 - security group sg-0a1b of shop-web-demo does not exist in us-east-1"
    );
}

/// The paper stack with web scaling itself on CPU and ALB requests, and
/// alarms (one rolling back); worker with the standard set.
fn scaled() -> (
    tempfile::TempDir,
    Environment,
    crate::deploy::taskdef::Plans,
) {
    let text = crate::environment::paper::STACK
        .replace(
            "desired_count: 2, target_group: web }",
            "target_group: web, scaling: { min: 2, max: 10, cpu: 70, requests: { target: 500, policy: web-requests }, scale_out_cooldown: 60s }, alarms: { cpu: {}, 5xx: { rollback: true } } }",
        )
        .replace("desired_count: 1 }", "desired_count: 1, alarms: standard }");
    let (dir, _ctx, env, plans) = crate::environment::paper::open(&text, "demo");
    (dir, env, plans)
}

#[tokio::test]
async fn scaling_and_alarms_are_diffed_with_the_alb_names_found_live() {
    let (_dir, env, plans) = scaled();
    let web = &plans.services[0];
    // Its count is the scaler's.
    assert_eq!(web.update.desired_count, None);
    assert_eq!(
        web.update
            .deployment_configuration
            .as_ref()
            .unwrap()
            .alarms
            .as_ref()
            .unwrap()
            .alarm_names,
        ["shop-web-demo-5xx"]
    );
    // Worker has no target group: the service's standard alarms only.
    let names: Vec<&str> = plans.services[1]
        .alarms
        .iter()
        .map(|a| a.alarm_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "shop-worker-demo-cpu",
            "shop-worker-demo-memory",
            "shop-worker-demo-running"
        ]
    );
    let mut paper = in_order(&plans);
    paper.groups.insert(
        "shop-web-demo".into(),
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-demo/73e2".into(),
            Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-demo/50dc".into()),
        ),
    );
    // What infra/ made: no scaling, no alarms, one task.
    paper.scaling.clear();
    paper.alarms.clear();
    paper.services[0].desired = 1;
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(
        out,
        "web (shop-web-demo): 4 changes from shop-web-demo:3\n\
         \x20 + alarms.shop-web-demo-cpu: CPUUtilization Average > 80 for 3×60s\n\
         \x20 + alarms.shop-web-demo-5xx: HTTPCode_Target_5XX_Count Sum > 5 for 2×60s\n\
         \x20 + scaling: 2–10 tasks; shop-web-demo-cpu tracks ECSServiceAverageCPUUtilization at 70 (cooldowns out 60s, in 300s); web-requests tracks ALBRequestCountPerTarget at 500 (cooldowns out 60s, in 300s)\n\
         \x20 ~ desiredCount: 1 → 2\n\
         worker (shop-worker-demo): 3 changes from shop-worker-demo:3\n\
         \x20 + alarms.shop-worker-demo-cpu: CPUUtilization Average > 80 for 3×60s\n\
         \x20 + alarms.shop-worker-demo-memory: MemoryUtilization Average > 80 for 3×60s\n\
         \x20 + alarms.shop-worker-demo-running: RunningTaskCount Minimum < 1 for 3×60s\n\
         setup (one-off task before web, worker): not run yet; promote registers shop-setup-demo and runs it\n"
    );
    assert_eq!(n, 8);
    // The ALB's names, found live, in the request tracking label and the
    // 5xx alarm's dimensions.
    let mut resolved = plans.clone();
    crate::environment::resolve(&paper, &mut resolved)
        .await
        .unwrap();
    let web = &resolved.services[0];
    let label = web.scaling.as_ref().unwrap().policies[1]
        .target_tracking_scaling_policy_configuration
        .predefined_metric_specification
        .resource_label
        .clone();
    assert_eq!(
        label.as_deref(),
        Some("app/shop-demo/50dc/targetgroup/shop-web-demo/73e2")
    );
    assert_eq!(
        web.alarms[1].dimensions,
        [
            crate::deploy::scaling::Dimension {
                name: "LoadBalancer".into(),
                value: "app/shop-demo/50dc".into()
            },
            crate::deploy::scaling::Dimension {
                name: "TargetGroup".into(),
                value: "targetgroup/shop-web-demo/73e2".into()
            }
        ]
    );
    // Applied as promote would: nothing left to change.
    paper.scaling.insert(
        web.scaling.as_ref().unwrap().resource_id.clone(),
        web.scaling.clone().unwrap(),
    );
    paper.alarms = resolved
        .services
        .iter()
        .flat_map(|p| p.alarms.clone())
        .collect();
    paper.services[0].desired = 4;
    let (n, out) = diff(&env, &paper).await;
    assert_eq!(n, 1, "{out}");
    // A count the scaler set, within the range, is its own.
    assert!(!out.contains("desiredCount"), "{out}");
}

#[tokio::test]
async fn the_dashboard_is_drawn_from_the_definition_and_one_drawn_by_hand_is_left_alone() {
    let text = crate::environment::paper::STACK
        .replace(
            "log_group: \"/ecs/shop-${GENO_ENV}\"",
            "log_group: \"/ecs/shop-${GENO_ENV}\"\n      dashboard: true",
        )
        .replace(
            "desired_count: 2, target_group: web }",
            "desired_count: 2, target_group: web, alarms: { 5xx: {} } }",
        );
    let (_dir, _ctx, env, plans) = crate::environment::paper::open(&text, "demo");
    let d = plans.dashboard.clone().unwrap();
    assert_eq!(d.name, "shop-demo");
    let titles: Vec<&str> = d.body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["properties"]["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "web: CPU and memory, % of the task's",
            "web: requests and target 5xx a minute",
            "web: response time p50, p99 (s)",
            "worker: CPU and memory, % of the task's",
            "alarms"
        ]
    );
    assert_eq!(
        d.body["widgets"][5]["properties"]["alarms"],
        serde_json::json!(["arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-web-demo-5xx"])
    );
    let mut paper = in_order(&plans);
    assert_eq!(diff(&env, &paper).await.0, 1, "only the job, never run");
    // Not there yet: drawn at promote.
    paper.dashboards.clear();
    let (_, out) = diff(&env, &paper).await;
    assert!(
        out.contains(
            "\nenvironment: 1 change in CloudWatch\n  + dashboard shop-demo: 6 widgets (body "
        ),
        "{out}"
    );
    // The ALB's names go into its graphs as into the alarms.
    paper.groups.insert(
        "shop-web-demo".into(),
        (
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-demo/73e2".into(),
            Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-demo/50dc".into()),
        ),
    );
    let mut resolved = plans.clone();
    crate::environment::resolve(&paper, &mut resolved)
        .await
        .unwrap();
    let body = resolved.dashboard.unwrap().body.to_string();
    assert!(
        body.contains("\"TargetGroup\",\"targetgroup/shop-web-demo/73e2\""),
        "{body}"
    );
    assert!(!body.contains("{target-group:"), "{body}");

    // Without `dashboard`, one of that name drawn by hand is not geno's.
    let (_dir2, _ctx2, env2, plans2) = demo();
    let mut paper2 = in_order(&plans2);
    paper2.dashboards.push(crate::deploy::scaling::Dashboard {
        name: "shop-demo".into(),
        body: serde_json::json!({ "widgets": [] }),
    });
    assert_eq!(diff(&env2, &paper2).await.0, 1, "only the job, never run");
    // One geno drew is removed.
    paper2.dashboards[0].body = d.body.clone();
    let (_, out) = diff(&env2, &paper2).await;
    assert!(
        out.contains("\nenvironment: 1 change in CloudWatch\n  - dashboard shop-demo: 6 widgets"),
        "{out}"
    );
}
