"""`geno render` output is valid input for the ECS API.

boto3 validates every request against the service model before sending it
(unknown fields, wrong types, enums), and moto, standing in for ECS on a
loopback port, stores what it accepts; reading the task definitions back
shows that commands, variables, secrets and health checks arrive as rendered.
"""

import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
GENO = Path(os.environ.get("GENO_BIN", ROOT / "target" / "debug" / "geno"))
DIGEST = "sha256:" + "ab" * 32


def render(env: str) -> dict:
    assert GENO.exists(), f"{GENO} is missing: scripts/test builds it before pytest"
    out = subprocess.run(
        [str(GENO), "-f", str(ROOT / "stack.yaml"), "render", "--env", env, "--image", DIGEST],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        check=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(name, url):
    return boto3.client(
        name,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def ecs(moto_url):
    return client("ecs", moto_url)


@pytest.fixture(scope="module")
def network(moto_url):
    ec2 = client("ec2", moto_url)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.10.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    return subnet, group


@pytest.mark.parametrize("env", ["demo", "prod"])
def test_task_definitions_register_and_read_back_as_rendered(ecs, env):
    rendered = render(env)
    # Services and the jobs they wait for (one-off tasks): the same shape.
    entries = list(rendered["services"].items()) + list(rendered["jobs"].items())
    assert [name for name, _ in entries] == ["api", "celery", "image-gen", "migrate"]
    for name, svc in entries:
        td = svc["taskDefinition"]
        arn = ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
        assert f":task-definition/{td['family']}:" in arn
        back = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        sent = td["containerDefinitions"][0]
        got = back["containerDefinitions"][0]
        assert got["image"].endswith("@" + DIGEST), name
        for field in ["command", "environment", "secrets", "healthCheck", "portMappings", "logConfiguration"]:
            if field in sent:
                assert got[field] == sent[field], (name, field)
        assert back["requiresCompatibilities"] == ["FARGATE"]
        assert (back["cpu"], back["memory"]) == (td["cpu"], td["memory"])


def test_service_updates_are_valid_update_service_input(ecs, network):
    subnet, group = network
    rendered = render("demo")
    ecs.create_cluster(clusterName=rendered["cluster"])
    for name, svc in rendered["services"].items():
        td = svc["taskDefinition"]
        ecs.register_task_definition(**td)
        ecs.create_service(
            cluster=rendered["cluster"],
            serviceName=svc["service"]["service"],
            taskDefinition=td["family"],
            desiredCount=0,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
        )
        updated = ecs.update_service(**svc["service"])["service"]
        assert updated["desiredCount"] == svc["service"]["desiredCount"], name
        # moto echoes the family it was given; ECS would answer the revision's ARN.
        assert td["family"] in updated["taskDefinition"]


def test_scaling_and_alarms_are_valid_input_and_read_back_as_rendered(ecs, network, moto_url):
    """Production scales api and celery and watches them: every scalable
    target, policy and alarm is what Application Auto Scaling and
    CloudWatch take (the ALB's names are placeholders until promote reads
    them, strings either way)."""
    subnet, group = network
    rendered = render("prod")
    scaling = client("application-autoscaling", moto_url)
    cloudwatch = client("cloudwatch", moto_url)
    ecs.create_cluster(clusterName=rendered["cluster"])
    scaled = {name: svc for name, svc in rendered["services"].items() if "scaling" in svc}
    assert sorted(scaled) == ["api", "celery"]
    for name, svc in scaled.items():
        assert "desiredCount" not in svc["service"], name
        td = svc["taskDefinition"]
        ecs.register_task_definition(**td)
        ecs.create_service(
            cluster=rendered["cluster"],
            serviceName=svc["service"]["service"],
            taskDefinition=td["family"],
            desiredCount=0,
            launchType="FARGATE",
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
        )
        s = svc["scaling"]
        target = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount", "ResourceId": s["ResourceId"]}
        scaling.register_scalable_target(**target, MinCapacity=s["MinCapacity"], MaxCapacity=s["MaxCapacity"])
        for policy in s["Policies"]:
            scaling.put_scaling_policy(**target, **policy, PolicyType="TargetTrackingScaling")
        back = scaling.describe_scaling_policies(**target)["ScalingPolicies"]
        assert sorted(p["PolicyName"] for p in back) == sorted(p["PolicyName"] for p in s["Policies"]), name
        for alarm in svc["alarms"]:
            cloudwatch.put_metric_alarm(**alarm)
        names = [a["AlarmName"] for a in svc["alarms"]]
        got = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
        assert sorted(a["AlarmName"] for a in got) == sorted(names), name
        # The rollback alarms go into the deployment configuration.
        ecs.update_service(**svc["service"])
    dashboard = rendered["dashboard"]
    assert dashboard["name"] == "genonaut-prod"
    cloudwatch.put_dashboard(DashboardName=dashboard["name"], DashboardBody=json.dumps(dashboard["body"]))
    back = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard["name"])["DashboardBody"])
    assert back == dashboard["body"]
    api = rendered["services"]["api"]
    assert api["service"]["deploymentConfiguration"]["alarms"] == {
        "alarmNames": ["genonaut-api-prod-5xx", "genonaut-api-prod-unhealthy"],
        "enable": True,
        "rollback": True,
    }
    assert [p["PolicyName"] for p in api["scaling"]["Policies"]] == ["genonaut-api-prod-cpu", "genonaut-api-prod-memory"]


def test_an_unknown_field_would_be_refused_before_sending(ecs):
    """The check above means something: boto3 rejects what ECS would."""
    td = render("demo")["services"]["api"]["taskDefinition"]
    td["containerDefinitions"][0]["healthcheck"] = td["containerDefinitions"][0].pop("healthCheck")
    with pytest.raises(Exception, match="Unknown parameter"):
        ecs.register_task_definition(**td)
