"""An environment set up by hand, as a team had it before geno: a cluster,
roles, a log group, an SSM parameter, an ALB target group, task definitions
written by hand (one per service, digest-pinned images in ECR), and the
services on them. `geno init --from-ecs` reads it back.

    python tests/aws/seed_handwritten.py STACK ENV

Uses AWS_ENDPOINT_URL and the usual AWS_* variables. Prints the image
digest the task definitions pin.
"""

import json
import sys

import boto3

stack, env = sys.argv[1], sys.argv[2]
region = "us-east-1"
digest = "sha256:" + "cd" * 32
iam = boto3.client("iam", region_name=region)
ec2 = boto3.client("ec2", region_name=region)
ecs = boto3.client("ecs", region_name=region)
ssm = boto3.client("ssm", region_name=region)
logs = boto3.client("logs", region_name=region)
elb = boto3.client("elbv2", region_name=region)
account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]

trust = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
roles = {}
for kind in ("exec", "task"):
    name = f"{stack}-{env}-{kind}"
    roles[kind] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
sg = ec2.create_security_group(GroupName=f"{stack}-{env}", Description="tasks", VpcId=vpc)["GroupId"]
cluster = f"{stack}-{env}"
ecs.create_cluster(clusterName=cluster)
group = f"/ecs/{stack}-{env}"
logs.create_log_group(logGroupName=group)
ssm.put_parameter(Name=f"/{stack}/{env}/db-url", Value="postgres://x", Type="SecureString")
tg = elb.create_target_group(
    Name=f"{stack}-web-{env}", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip",
    HealthCheckProtocol="HTTP", HealthCheckPath="/healthz", HealthCheckPort="traffic-port",
    HealthCheckIntervalSeconds=10, HealthCheckTimeoutSeconds=4, HealthyThresholdCount=2,
    UnhealthyThresholdCount=3, Matcher={"HttpCode": "200-299"},
)["TargetGroups"][0]["TargetGroupArn"]
elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
    {"Key": "deregistration_delay.timeout_seconds", "Value": "20"}])
registry = f"{account}.dkr.ecr.{region}.amazonaws.com"


def task_definition(service, command, cpu, memory, health=None, ports=()):
    container = {
        "name": service,
        "image": f"{registry}/{stack}-{service}@{digest}",
        "essential": True,
        "command": command,
        "portMappings": [{"containerPort": p, "protocol": "tcp"} for p in ports],
        "environment": [{"name": "APP_ENV", "value": env}, {"name": "WORKERS", "value": "4"}],
        "secrets": [{"name": "DATABASE_URL",
                     "valueFrom": f"arn:aws:ssm:{region}:{account}:parameter/{stack}/{env}/db-url"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": group, "awslogs-region": region, "awslogs-stream-prefix": service}},
    }
    if health:
        container["healthCheck"] = health
    return ecs.register_task_definition(
        family=f"{stack}-{service}-{env}", taskRoleArn=roles["task"], executionRoleArn=roles["exec"],
        networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu=str(cpu), memory=str(memory),
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]


web = task_definition(
    "web", ["gunicorn", "app:app", "--bind", "0.0.0.0:8000"], 512, 1024,
    health={"command": ["CMD-SHELL", "curl -f http://127.0.0.1:8000/healthz || exit 1"],
            "interval": 15, "timeout": 5, "retries": 3, "startPeriod": 20},
    ports=[8000])
worker = task_definition("worker", ["celery", "-A", "app.tasks", "worker"], 256, 512)
network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}
ecs.create_service(cluster=cluster, serviceName=f"{stack}-web-{env}", taskDefinition=web, desiredCount=2,
                   launchType="FARGATE", networkConfiguration=network, healthCheckGracePeriodSeconds=30,
                   loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8000}])
ecs.create_service(cluster=cluster, serviceName=f"{stack}-worker-{env}", taskDefinition=worker,
                   desiredCount=1, launchType="FARGATE", networkConfiguration=network)
print(digest)
