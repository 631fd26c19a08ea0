"""infra/ agrees with stack.yaml: every value the local stack defines reaches
Terraform through the variables `geno render --format tfvars` writes, never as
a literal typed a second time. (The committed tfvars files are compared with
geno's rendering by the Rust test `infra::tfvars_files_are_current`.)

Terraform itself cannot be downloaded here, so the .tf files are parsed with
python-hcl2: a syntax check, and the structure these checks read.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import hcl2

import hclfmt
import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ENVIRONMENTS = ["demo", "dev", "test", "prod"]


def unquote(key: str) -> str:
    return key.strip('"')


@pytest.fixture(scope="module")
def tf():
    """Resources by type and name, variables by name, across infra/*.tf."""
    resources: dict[str, dict[str, dict]] = {}
    variables: dict[str, dict] = {}
    for path in sorted(INFRA.glob("*.tf")):
        with path.open() as fh:
            doc = hcl2.load(fh)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    resources.setdefault(unquote(rtype), {})[unquote(name)] = body
        for block in doc.get("variable", []):
            for name, body in block.items():
                variables[unquote(name)] = body
    return resources, variables


def tfvars(env):
    return json.loads((INFRA / "environments" / f"{env}.tfvars.json").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_tfvars_key_is_a_declared_variable_and_back(tf, env):
    _, variables = tf
    values = tfvars(env)
    assert set(values) <= set(variables), set(values) - set(variables)
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= set(values), required - set(values)


def test_target_groups_take_names_ports_and_health_checks_from_variables(tf):
    resources, _ = tf
    tg = resources["aws_lb_target_group"]["main"]
    assert tg["for_each"].startswith("${merge(var.target_groups, ")
    assert tg["name"] == "${each.value.name}"
    assert tg["port"] == "${each.value.port}"
    assert tg["deregistration_delay"] == "${each.value.deregistration_delay}"
    hc = tg["health_check"][0]
    for field in ["path", "port", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "matcher"]:
        assert hc[field] == f"${{each.value.health_check.{field}}}", field


def test_services_repositories_and_families_come_from_variables(tf):
    resources, _ = tf
    service = resources["aws_ecs_service"]["main"]
    assert service["for_each"] == "${var.services}"
    assert service["name"] == "${each.value.ecs_service}"
    assert service["deployment_minimum_healthy_percent"] == "${each.value.min_healthy_percent}"
    assert service["deployment_maximum_percent"] == "${each.value.max_percent}"
    breaker = service["deployment_circuit_breaker"][0]
    assert breaker["rollback"] == "${each.value.circuit_breaker_rollback}"
    dynamic = {k: v for block in service["dynamic"] for k, v in block.items()}
    lb = dynamic['"load_balancer"']
    # Every group that routes to the service, each on its own port.
    assert lb["for_each"] == "${each.value.target_groups}"
    assert lb["content"][0]["container_name"] == "${each.value.container_name}"
    assert lb["content"][0]["container_port"] == "${var.target_groups[load_balancer.value].port}"
    # One repository per name, though services may share it.
    assert resources["aws_ecr_repository"]["main"]["for_each"] == "${var.repositories}"
    assert resources["aws_ecr_repository"]["main"]["name"] == "${each.value}"
    assert resources["aws_ecs_task_definition"]["bootstrap"]["family"] == "${each.value.task_family}"
    # Each log group a service names for itself, besides the environment's.
    assert resources["aws_cloudwatch_log_group"]["service"]["for_each"] == "${toset(var.service_log_groups)}"
    assert resources["aws_lb"]["main"]["name"] == "${var.load_balancer_name}"
    # Capacity providers and placement from stack.yaml when it gives them.
    strategy = dynamic['"capacity_provider_strategy"']
    assert strategy["for_each"] == "${each.value.capacity}"
    assert "each.value.network.public_ip" in service["network_configuration"][0]["assign_public_ip"]
    assert "FARGATE_SPOT" in str(resources["aws_ecs_cluster_capacity_providers"]["main"]["capacity_providers"])


def test_geno_owns_task_definitions(tf):
    resources, _ = tf
    ignored = resources["aws_ecs_service"]["main"]["lifecycle"][0]["ignore_changes"]
    assert ignored == ["task_definition", "desired_count", "service_connect_configuration",
                       "network_configuration", "capacity_provider_strategy", "launch_type"]


def test_service_connect_uses_the_namespace_geno_renders(tf):
    resources, _ = tf
    namespace = resources["aws_service_discovery_private_dns_namespace"]["main"]
    assert namespace["name"] == "${var.namespace}"
    service = resources["aws_ecs_service"]["main"]
    sc = service["service_connect_configuration"][0]
    assert sc["enabled"] == "${var.service_connect}"
    assert sc["namespace"] == "${aws_service_discovery_private_dns_namespace.main.arn}"
    # The old per-container Cloud Map names are gone: one name per service,
    # the stack.yaml one, through Service Connect.
    assert "aws_service_discovery_service" not in resources
    assert "service_registries" not in service


def test_ecs_shifts_traffic_between_a_group_and_its_alternate_by_one_rule(tf):
    resources, _ = tf
    # The alternate beside each group ECS shifts, checking health alike.
    groups = resources["aws_lb_target_group"]["main"]["for_each"]
    assert groups.startswith("${merge(var.target_groups, ")
    assert '"${k}/alternate" => merge(g, {name = g.alternate}) if g.alternate != null' in groups, groups
    # Its rule forwards to both, apart from the others, and leaves the
    # weights to ECS once made; the others are Terraform's as before.
    shifted = resources["aws_lb_listener_rule"]["shifted"]
    main = resources["aws_lb_listener_rule"]["main"]
    assert shifted["for_each"].endswith("=> r if r.shifted}}") and main["for_each"].endswith("=> r if !r.shifted}}")
    forward = shifted["action"][0]["forward"][0]["target_group"]
    assert [g["weight"] for g in forward] == [100, 0]
    assert forward[1]["arn"] == '${aws_lb_target_group.main["${each.value.target_group}/alternate"].arn}'
    assert shifted["lifecycle"][0]["ignore_changes"] == ["action"]
    assert "lifecycle" not in main
    # The service's load balancer names the pair, the rule and the role;
    # its deployment configuration comes from stack.yaml's strategy.
    service = resources["aws_ecs_service"]["main"]
    dynamic = {k: v for block in service["dynamic"] for k, v in block.items()}
    lb = dynamic['"load_balancer"']["content"][0]
    advanced = {k: v for block in lb["dynamic"] for k, v in block.items()}['"advanced_configuration"']
    assert advanced["content"][0]["production_listener_rule"] == (
        "${aws_lb_listener_rule.shifted[each.value.production_rule].arn}")
    assert advanced["content"][0]["role_arn"] == "${aws_iam_role.load_balancers[0].arn}"
    deployment = dynamic['"deployment_configuration"']
    assert deployment["for_each"] == "${each.value.deployment == null ? [] : [each.value.deployment]}"
    attachment = resources["aws_iam_role_policy_attachment"]["load_balancers"]
    assert attachment["policy_arn"].strip('"').endswith("/AmazonECSInfrastructureRolePolicyForLoadBalancers")
    # Production's api is deployed blue/green, by the one rule to it.
    prod = tfvars("prod")
    assert prod["services"]["api"]["deployment"]["strategy"] == "BLUE_GREEN"
    rule = prod["services"]["api"]["production_rule"]
    assert [r for r in prod["listener_rules"] if r.get("shifted")] == [
        r for r in prod["listener_rules"] if str(r["priority"]) == rule]
    assert prod["target_groups"]["api"]["alternate"] == "genonaut-api-prod-alt"


def test_listener_rules_and_parameters_come_from_variables(tf):
    resources, _ = tf
    rule = resources["aws_lb_listener_rule"]["main"]
    assert rule["priority"] == "${each.value.priority}"
    assert "var.listener_rules" in rule["for_each"]
    assert rule["listener_arn"] == "${aws_lb_listener.main[each.value.listener].arn}"
    listener = resources["aws_lb_listener"]["main"]
    assert listener["for_each"] == "${var.listeners}"
    assert listener["certificate_arn"] == "${each.value.certificate_arn}"
    # An environment made when there was one HTTP listener keeps it and its
    # rules: the listener moves, the port-80 rules keep their addresses.
    assert 'r.listener == "80" ? tostring(r.priority)' in rule["for_each"]
    with (INFRA / "alb.tf").open() as fh:
        moved = hcl2.load(fh).get("moved", [])
    assert any(
        m["from"] == "${aws_lb_listener.http}" and m["to"] == '${aws_lb_listener.main["80"]}'
        for m in moved
    ), moved
    assert resources["aws_ssm_parameter"]["main"]["for_each"] == "${toset(var.ssm_parameters)}"
    assert resources["aws_ecs_cluster"]["main"]["name"] == "${var.cluster_name}"
    assert resources["aws_cloudwatch_log_group"]["main"]["name"] == "${var.log_group}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tfvars_name_the_repositories_the_brief_asks_for(env):
    services = tfvars(env)["services"]
    assert services["api"]["repository"] == f"genonaut-api-{env}"
    assert services["celery"]["repository"] == f"genonaut-worker-{env}"
    assert services["image-gen"]["repository"] == f"genonaut-imagegen-{env}"
    for group in tfvars(env)["target_groups"].values():
        assert len(group["name"]) <= 32, "ALB target group names are at most 32 characters"


@pytest.mark.parametrize("path", sorted(INFRA.glob("*.tf")), ids=lambda p: p.name)
def test_layout_is_what_terraform_fmt_writes(path):
    # `terraform fmt -check` cannot run here (no Terraform binary); hclfmt
    # applies the same layout rules (see its docstring).
    assert hclfmt.check(path.read_text()) == []


FORMATTED = '''resource "aws_ecs_service" "main" {
  name          = var.name # the service
  desired_count = 0        # geno sets it
  tags          = { a = "b", c = "${var.x}-d" }
  empty         = {}

  network_configuration {
    subnets = [for s in aws_subnet.private : s.id]
  }
  container_definitions = jsonencode([{
    name  = "api"
    ports = []
  }])
  policy = <<EOT
 anything   goes  here
EOT
}
'''


def test_the_checker_accepts_formatted_text():
    assert hclfmt.check(FORMATTED) == []


def terraform_fmt(text):
    """`terraform fmt -` on text, or None where no terraform binary exists."""
    exe = shutil.which("terraform")
    if exe is None:
        return None
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull)
    out = subprocess.run([exe, "fmt", "-"], input=text, capture_output=True, text=True, env=env, check=True)
    return out.stdout


def test_terraform_fmt_check_passes_where_terraform_exists():
    # Providers cannot be downloaded, but `terraform fmt` needs none.
    if shutil.which("terraform") is None:
        pytest.skip("no terraform binary on this machine; hclfmt checks the layout instead")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull)
    out = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", str(INFRA)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "change, problem",
    [
        (("name          = var", "name         = var"), "line 2: `=` at column 16, terraform fmt aligns it at 17"),
        (("  empty", "   empty"), "line 5: indented 3 spaces, terraform fmt uses 2"),
        (('"b", c', '"b",  c'), "line 4: 2 spaces between `,` and `c`"),
        (("{ a =", "{a ="), "line 4: 0 spaces between `{` and `a`"),
        (("[for s", "[ for s"), "line 8: 1 spaces between `[` and `for`"),
        (("# geno sets it", "   # geno sets it"), "line 3: comment at column 31, terraform fmt aligns it at 28"),
        (("  }])", "  }])  "), "line 13: trailing whitespace"),
        (("\n}\n", "\n}"), "end: the file must end with a newline"),
    ],
)
def test_the_checker_names_each_departure(change, problem):
    old, new = change
    assert old in FORMATTED
    text = FORMATTED.replace(old, new, 1)
    assert problem in hclfmt.check(text)
    # Where terraform exists, it agrees: the formatted sample is left as it
    # is and each departure is rewritten back to it.
    formatted = terraform_fmt(text)
    if formatted is not None:
        assert formatted == FORMATTED
