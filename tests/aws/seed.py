"""Create in an AWS stand-in (moto) what infra/ creates for an environment.

The names come from `geno render --env ENV --format tfvars`, the same file
Terraform takes, so the stand-in and the real infrastructure cannot drift:
IAM roles and what they must allow, a VPC with a subnet and security group, the Cloud Map namespace
of Service Connect, the ECS cluster, the ALB
target groups with their health checks, one ECR repository per service, the
SSM parameters (placeholder values, as infra/secrets.tf does), a bootstrap
task definition per family and the services on it with desired count 0.

    python tests/aws/seed.py TFVARS_JSON [--skip-ssm NAME]...

Uses AWS_ENDPOINT_URL and the usual AWS_* variables. Idempotent: what
exists is left alone.
"""

import argparse
import json
import sys

import boto3
import botocore.exceptions


def exists(call, *codes):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in codes:
            return
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tfvars")
    ap.add_argument("--skip-ssm", action="append", default=[])
    args = ap.parse_args()
    v = json.load(open(args.tfvars))
    region = v["region"]
    iam = boto3.client("iam", region_name=region)
    ec2 = boto3.client("ec2", region_name=region)
    ecs = boto3.client("ecs", region_name=region)
    ecr = boto3.client("ecr", region_name=region)
    ssm = boto3.client("ssm", region_name=region)
    elb = boto3.client("elbv2", region_name=region)
    logs = boto3.client("logs", region_name=region)
    discovery = boto3.client("servicediscovery", region_name=region)

    trust = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })
    for role in (v["execution_role_name"], v["task_role_name"]):
        exists(lambda: iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust), "EntityAlreadyExists")
    # What each role must allow, as infra/iam.tf grants it.
    for role, policy, statements in (
            (v["execution_role_name"], "read-secrets", v["execution_role_statements"]),
            (v["task_role_name"], "app", v["task_role_statements"])):
        if statements:
            iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": st["actions"], "Resource": st["resources"]}
                              for st in statements]}))
    exec_arn = iam.get_role(RoleName=v["execution_role_name"])["Role"]["Arn"]
    task_arn = iam.get_role(RoleName=v["task_role_name"])["Role"]["Arn"]

    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    # As infra/network.tf: tasks get DNS names (service discovery needs them).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24",
                               AvailabilityZone=f"{region}a")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"{v['cluster_name']}-tasks-{vpc}", Description="tasks",
                                   VpcId=vpc)["GroupId"]

    # Service Connect's namespace (infra/network.tf).
    namespaces = [n["Name"] for p in discovery.get_paginator("list_namespaces").paginate()
                  for n in p["Namespaces"]]
    if v["namespace"] not in namespaces:
        discovery.create_private_dns_namespace(Name=v["namespace"], Vpc=vpc)

    ecs.create_cluster(clusterName=v["cluster_name"])
    # The awslogs group every task writes to (infra/ecs.tf).
    for group in [v["log_group"], *v["service_log_groups"]]:
        exists(lambda: logs.create_log_group(logGroupName=group), "ResourceAlreadyExistsException")
    # Target groups with the health checks stack.yaml gives (infra/alb.tf).
    # Beside a group ECS shifts traffic from, its alternate with the same check.
    groups = [(tg, tg["name"]) for tg in v["target_groups"].values()] + [
        (tg, tg["alternate"]) for tg in v["target_groups"].values() if tg.get("alternate")]
    for tg, name in groups:
        hc = tg["health_check"]
        try:
            elb.describe_target_groups(Names=[name])
            continue
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "TargetGroupNotFound":
                raise
        arn = elb.create_target_group(
            Name=name, Protocol="HTTP", Port=tg["port"], VpcId=vpc, TargetType="ip",
            HealthCheckProtocol="HTTP", HealthCheckPath=hc["path"], HealthCheckPort=str(hc["port"]),
            HealthCheckIntervalSeconds=hc["interval"], HealthCheckTimeoutSeconds=hc["timeout"],
            HealthyThresholdCount=hc["healthy_threshold"], UnhealthyThresholdCount=hc["unhealthy_threshold"],
            Matcher={"HttpCode": hc["matcher"]},
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(tg["deregistration_delay"])}])
    # The ALB and its listeners with stack.yaml's rules (infra/alb.tf).
    lb_name = v["load_balancer_name"]
    try:
        elb.describe_load_balancers(Names=[lb_name])
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "LoadBalancerNotFound":
            raise
        subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24",
                                     AvailabilityZone=f"{region}b")["Subnet"]["SubnetId"]
        lb = elb.create_load_balancer(Name=lb_name, Subnets=[subnet, subnet_b], Type="application",
                                      Scheme="internet-facing")["LoadBalancers"][0]["LoadBalancerArn"]
        group_arn = {key: elb.describe_target_groups(Names=[tg["name"]])["TargetGroups"][0]["TargetGroupArn"]
                     for key, tg in v["target_groups"].items()}

        def action(a):
            if a["type"] == "forward" and a.get("shifted"):
                # Both groups, all weight on the first (infra/alb.tf's shifted rules).
                alternate = v["target_groups"][a["target_group"]]["alternate"]
                alt_arn = elb.describe_target_groups(Names=[alternate])["TargetGroups"][0]["TargetGroupArn"]
                return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                    {"TargetGroupArn": group_arn[a["target_group"]], "Weight": 100},
                    {"TargetGroupArn": alt_arn, "Weight": 0}]}}]
            if a["type"] == "forward":
                return [{"Type": "forward", "TargetGroupArn": group_arn[a["target_group"]]}]
            if a["type"] == "redirect":
                r = a["redirect"]
                return [{"Type": "redirect", "RedirectConfig": {
                    "Protocol": r["protocol"], "Port": r["port"], "Host": r["host"], "Path": r["path"],
                    "Query": r["query"], "StatusCode": r["status_code"]}}]
            f = a["fixed_response"]
            return [{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": f["status_code"], "ContentType": f["content_type"], "MessageBody": f["message_body"]}}]

        for key, spec in v["listeners"].items():
            extra = {}
            if spec["certificate_arn"]:
                extra = {"Certificates": [{"CertificateArn": spec["certificate_arn"]}],
                         "SslPolicy": spec["ssl_policy"]}
            listener = elb.create_listener(LoadBalancerArn=lb, Protocol=spec["protocol"], Port=spec["port"],
                                           DefaultActions=action(spec["default_action"]), **extra,
                                           )["Listeners"][0]["ListenerArn"]
            for r in [r for r in v["listener_rules"] if r["listener"] == key]:
                # The typed configs take up to five values (`Values` one).
                conditions = [{"Field": field, config: {"Values": r[key]}} for field, config, key in (
                    ("path-pattern", "PathPatternConfig", "path_patterns"),
                    ("host-header", "HostHeaderConfig", "host_headers"),
                    ("http-request-method", "HttpRequestMethodConfig", "methods")) if r[key]]
                elb.create_rule(ListenerArn=listener, Priority=r["priority"], Conditions=conditions,
                                Actions=action(r))
    for name in v["ssm_parameters"]:
        if name not in args.skip_ssm:
            exists(lambda: ssm.put_parameter(Name=name, Value="set-me", Type="SecureString"),
                   "ParameterAlreadyExists")
    # The role ECS takes to move a rule's weights (infra/iam.tf).
    lb_role = None
    if any(s.get("deployment") for s in v["services"].values()):
        lb_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        name = f"{v['stack']}-{v['environment']}-ecs-load-balancers"
        exists(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=lb_trust), "EntityAlreadyExists")
        lb_role = iam.get_role(RoleName=name)["Role"]["Arn"]

    def rule_arn(key):
        """The listener rule infra/alb.tf keys `key` (PRIORITY on 80, PORT-PRIORITY)."""
        port, _, priority = key.rpartition("-")
        lb_arn = elb.describe_load_balancers(Names=[lb_name])["LoadBalancers"][0]["LoadBalancerArn"]
        for listener in elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]:
            if listener["Port"] == int(port or 80):
                for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                    if rule["Priority"] == priority:
                        return rule["RuleArn"]
        raise SystemExit(f"seed: no listener rule {key}")

    def group(name):
        return elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]

    def load_balancer(s, g):
        tg = v["target_groups"][g]
        lb = {"targetGroupArn": group(tg["name"]), "containerName": s["container_name"], "containerPort": tg["port"]}
        if tg.get("alternate"):
            lb["advancedConfiguration"] = {"alternateTargetGroupArn": group(tg["alternate"]),
                                           "productionListenerRule": rule_arn(s["production_rule"]),
                                           "roleArn": lb_role}
        return lb

    def deployment(s):
        """infra/ecs.tf's deployment_configuration."""
        config = {"minimumHealthyPercent": s["min_healthy_percent"], "maximumPercent": s["max_percent"],
                  "deploymentCircuitBreaker": {"enable": s["circuit_breaker_enable"],
                                               "rollback": s["circuit_breaker_rollback"]}}
        d = s.get("deployment")
        if d:
            config["strategy"] = d["strategy"]
            config["bakeTimeInMinutes"] = d["bake_time_in_minutes"]
            if d.get("canary"):
                config["canaryConfiguration"] = {"canaryPercent": d["canary"]["percent"],
                                                 "canaryBakeTimeInMinutes": d["canary"]["bake_time_in_minutes"]}
            if d.get("linear"):
                config["linearConfiguration"] = {"stepPercent": d["linear"]["percent"],
                                                 "stepBakeTimeInMinutes": d["linear"]["bake_time_in_minutes"]}
        return config

    live = {
        s["serviceName"]
        for s in ecs.describe_services(cluster=v["cluster_name"],
                                       services=[s["ecs_service"] for s in v["services"].values()])["services"]
        if s["status"] == "ACTIVE"
    }
    for key, s in v["services"].items():
        if s["repository"] is not None:
            exists(lambda: ecr.create_repository(repositoryName=s["repository"]), "RepositoryAlreadyExistsException")
        if s["ecs_service"] in live:
            continue
        if s["repository"] is None:
            # An external image pulled from where it came from (infra/ecs.tf).
            bootstrap = s["image"]
        else:
            repo_url = ecr.describe_repositories(repositoryNames=[s["repository"]])["repositories"][0]["repositoryUri"]
            bootstrap = f"{repo_url}:bootstrap"
        ports = [] if s["container_port"] is None else [{"containerPort": s["container_port"], "protocol": "tcp"}]
        td = ecs.register_task_definition(
            family=s["task_family"], requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            cpu=str(s["cpu"]), memory=str(s["memory"]), executionRoleArn=exec_arn, taskRoleArn=task_arn,
            containerDefinitions=[{"name": s["container_name"], "image": bootstrap,
                                   "essential": True, "portMappings": ports}],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=v["cluster_name"], serviceName=s["ecs_service"], taskDefinition=td, desiredCount=0,
            launchType="FARGATE",
            deploymentConfiguration=deployment(s),
            networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}},
            # Attached to every target group that routes to it (infra/ecs.tf).
            loadBalancers=[load_balancer(s, g) for g in s["target_groups"]],
            # A client of the namespace from the start (infra/ecs.tf).
            serviceConnectConfiguration={"enabled": True, "namespace": v["namespace"]},
        )
    print(f"seeded {v['environment']}: cluster {v['cluster_name']}, {len(v['services'])} services", file=sys.stderr)


if __name__ == "__main__":
    main()
