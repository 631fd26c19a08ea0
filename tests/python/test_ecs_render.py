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


def test_an_unknown_field_would_be_refused_before_sending(ecs):
    """The check above means something: boto3 rejects what ECS would."""
    td = render("demo")["services"]["api"]["taskDefinition"]
    td["containerDefinitions"][0]["healthcheck"] = td["containerDefinitions"][0].pop("healthCheck")
    with pytest.raises(Exception, match="Unknown parameter"):
        ecs.register_task_definition(**td)
