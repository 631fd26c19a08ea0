"""ECS as its documentation describes it, where moto does not model it: a
proxy on loopback in front of a moto server that forwards every call and
rewrites the answers to the few moto cannot give.

- A service's tasks run: DescribeServices answers runningCount =
  desiredCount with its PRIMARY deployment COMPLETED (moto reports a fixed
  running count, so a scaled service would never settle).
- A service's tasks (group `service:NAME`) keep RUNNING with ECS Exec
  enabled, a container runtime ID and a RUNNING ExecuteCommandAgent.
- A one-off task started through the proxy with a command override runs
  its command as a tiny shell would: `echo TEXT` lines become log events
  in its awslogs stream, `exit N` its container's exit code (0 otherwise).
  It is RUNNING at the first DescribeTasks and STOPPED from the second.
- ExecuteCommand opens a session (moto has no ECS Exec).
- A service keeps its deployment settings: moto drops the
  `deploymentConfiguration` and `healthCheckGracePeriodSeconds` that
  CreateService and UpdateService send; DescribeServices answers with what
  was last sent (an UpdateService without them leaves them as they were),
  or ECS's defaults (100 %, 200 %, circuit breaker off).
- A forced new deployment (UpdateService with `forceNewDeployment`)
  starts a new deployment, as ECS does (moto keeps its one): the service's
  PRIMARY deployment is answered with a new id (`…-forced-N`) and a new
  `createdAt` from then on.
- Service Connect (moto drops `serviceConnectConfiguration`): a
  CreateService or UpdateService that sends one is refused as ECS refuses
  it when its namespace is not in Cloud Map (NamespaceNotFoundException)
  or a `portName` names no port mapping of the task definition
  (InvalidParameterException); otherwise it is kept, and DescribeServices
  answers it in the PRIMARY deployment with the namespace by ARN. An
  update without one leaves it as it was.
- Placement (moto keeps a service's `networkConfiguration` from
  CreateService only, and no `capacityProviderStrategy`): the last one
  sent is kept and answered by DescribeServices, the strategy in place of
  the launch type (an empty strategy goes back to launch type FARGATE).
- Blue/green, canary and linear deployments (moto has no service
  deployments): an UpdateService that moves a service whose strategy is
  BLUE_GREEN, CANARY or LINEAR to another task definition starts one, as
  the ECS developer guide describes it. Its lifecycle stages follow on the
  clock: SCALE_UP, PRODUCTION_TRAFFIC_SHIFT (the canary's share for its
  bake, or each linear step for its step bake, then all), BAKE_TIME for
  `bakeTimeInMinutes`, CLEAN_UP. The stand-in moves the weights of the
  service's production listener rule in moto as ECS does (ModifyRule),
  from the group serving to the other one, which serves from then on.
  ListServiceDeployments and DescribeServiceDeployments answer it, and
  the PRIMARY deployment is IN_PROGRESS until it ends. A minute of ECS's
  lasts ECS_SCRIPTED_MINUTE seconds (default 4), so a test sees a bake
  without waiting for it; a stage of no time lasts STAGE (3 s): long
  enough for a watcher polling a busy machine to see every stage. An update during
  one puts all traffic back on the serving group and starts anew.
- Scaling activities (moto has no DescribeScalingActivities): each
  RegisterScalableTarget that goes through is an activity of its resource,
  in the stand-in's own words ("Setting min capacity to 2 and max capacity
  to 4", Successful), answered newest first.
- RunTask accepts a Fargate task definition whose containers set no memory
  of their own (ECS takes the task's; moto 5.2.5 fails with a TypeError).
- Faults on demand: `POST /_scripted/faults` with
  `{"operation": "DescribeServices", "code": "ThrottlingException",
  "status": 400, "after": 2, "times": 5, "cluster": "c"}` answers that ECS
  operation (on that cluster only, when one is named: tests share the
  stand-in) with that error `times` times, once `after` calls have gone
  through (the AWS
  error document ECS sends; status 500 with code "ServerException" for a
  server fault). The tests inject throttling and 500s mid-rollout.

    python tests/aws/ecs_scripted.py PORT

moto runs in this process (its server on a port of its own, which the
proxy forwards to); every answer that is not rewritten is moto's, byte for
byte.
"""

import http.client
import os
import http.server
import json
import shlex
import sys
import threading
import time
import urllib.parse

import socket

import boto3
from moto.ecs import models as ecs_models
from moto.server import ThreadedMotoServer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fargate_memory(original):
    """RunTask's resource count with the task's memory standing in for a
    container's that sets none (moto's bug; ECS accepts such a task)."""
    def count(task_definition):
        saved = task_definition.container_definitions
        task_definition.container_definitions = [
            c if any(k in c for k in ("memory", "memoryReservation", "Memory", "MemoryReservation"))
            else {**c, "memoryReservation": 0}
            for c in saved]
        try:
            return original(task_definition)
        finally:
            task_definition.container_definitions = saved
    return staticmethod(count)


ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = fargate_memory(
    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements)

TARGET = "AmazonEC2ContainerServiceV20141113."
PORT = int(sys.argv[1])
MOTO_PORT = free_port()
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
MOTO = urllib.parse.urlparse(MOTO_URL)
LOCK = threading.Lock()
# task ARN -> {"command": [...], "container": name, "looks": n, "logged": bool, "td": arn}
RUNS = {}
# operation -> {"code", "status", "after", "times"}
FAULTS = {}
# (cluster name, service name) -> the deployment settings last sent
SETTINGS = {}
# (cluster name, service name) -> its blue/green, canary or linear deployment:
# {"arn", "started", "stages": [(stage, percent on the new group, seconds)],
#  "rule", "serving", "other", "applied": percent last set, "done": bool}
SHIFTS = {}
# (cluster name, service name) -> the target group serving its production traffic
SERVING = {}
# Seconds of the stand-in's clock per ECS minute.
MINUTE = float(os.environ.get("ECS_SCRIPTED_MINUTE", "4"))
# Seconds a stage lasts at the least.
STAGE = 3.0
SHIFTING = ("BLUE_GREEN", "CANARY", "LINEAR")
AUTOSCALING = "AnyScaleFrontendService."
# resource ID -> its scaling activities, oldest first
ACTIVITIES = {}


def logs_client():
    return boto3.client("logs", endpoint_url=MOTO_URL, region_name="us-east-1",
                        aws_access_key_id="scripted", aws_secret_access_key="scripted")


def ecs_client():
    return boto3.client("ecs", endpoint_url=MOTO_URL, region_name="us-east-1",
                        aws_access_key_id="scripted", aws_secret_access_key="scripted")


def discovery_client():
    return boto3.client("servicediscovery", endpoint_url=MOTO_URL, region_name="us-east-1",
                        aws_access_key_id="scripted", aws_secret_access_key="scripted")


def elb_client():
    return boto3.client("elbv2", endpoint_url=MOTO_URL, region_name="us-east-1",
                        aws_access_key_id="scripted", aws_secret_access_key="scripted")


def shift_stages(config):
    """A deployment's lifecycle stages as (stage, percent of production
    traffic on the new tasks, seconds), from its deployment configuration."""
    at_least = lambda minutes: max(minutes * MINUTE, STAGE)
    stages = [("SCALE_UP", 0, STAGE)]
    if config.get("strategy") == "CANARY":
        c = config.get("canaryConfiguration") or {}
        stages.append(("PRODUCTION_TRAFFIC_SHIFT", c.get("canaryPercent", 5.0),
                       at_least(c.get("canaryBakeTimeInMinutes", 0))))
    elif config.get("strategy") == "LINEAR":
        step = (config.get("linearConfiguration") or {}).get("stepPercent", 10.0)
        bake = at_least((config.get("linearConfiguration") or {}).get("stepBakeTimeInMinutes", 0))
        moved = step
        while moved < 100:
            stages.append(("PRODUCTION_TRAFFIC_SHIFT", moved, bake))
            moved += step
    stages.append(("PRODUCTION_TRAFFIC_SHIFT", 100, STAGE))
    stages.append(("BAKE_TIME", 100, at_least(config.get("bakeTimeInMinutes", 0))))
    stages.append(("CLEAN_UP", 100, STAGE))
    return stages


def set_weights(shift, percent):
    """ECS's ModifyRule on the production rule: `percent` on the new group."""
    new = round(percent)
    elb_client().modify_rule(RuleArn=shift["rule"], Actions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": shift["serving"], "Weight": 100 - new},
                         {"TargetGroupArn": shift["other"], "Weight": new}]}}])
    shift["applied"] = new


def start_shift(key, answer):
    """A new blue/green, canary or linear deployment of the service an
    UpdateService answered, if its strategy shifts traffic."""
    service = answer.get("service") or {}
    with LOCK:
        kept = SETTINGS.get(key, {})
        config = kept.get("deploymentConfiguration") or {}
        previous = SHIFTS.get(key)
    if config.get("strategy") not in SHIFTING:
        return
    lbs = [lb for lb in service.get("loadBalancers", []) if lb.get("advancedConfiguration")]
    if not lbs:
        return
    advanced = lbs[0]["advancedConfiguration"]
    main, alternate = lbs[0]["targetGroupArn"], advanced["alternateTargetGroupArn"]
    if previous is not None and not previous["done"]:
        # Stopped midway: all traffic back where it was served.
        set_weights(previous, 0)
    serving = SERVING.get(key, main)
    shift = {"arn": f"{service.get('serviceArn', '')}/deployment-{int(time.time() * 1000)}".replace(
                 ":service/", ":service-deployment/"),
             "started": time.time(), "stages": shift_stages(config), "rule": advanced["productionListenerRule"],
             "serving": serving, "other": alternate if serving == main else main, "applied": 0, "done": False}
    with LOCK:
        SHIFTS[key] = shift


def shift_now(key):
    """The service's deployment moved along the clock: its stage now, or
    None when it has none in progress."""
    with LOCK:
        shift = SHIFTS.get(key)
    if shift is None or shift["done"]:
        return None
    elapsed = time.time() - shift["started"]
    for stage, percent, seconds in shift["stages"]:
        if elapsed < seconds:
            if shift["applied"] != round(percent):
                set_weights(shift, percent)
            return stage
        elapsed -= seconds
    if shift["applied"] != 100:
        set_weights(shift, 100)
    with LOCK:
        shift["done"] = True
        SERVING[key] = shift["other"]
    return None


def service_deployments(operation, request):
    """ListServiceDeployments and DescribeServiceDeployments, from SHIFTS."""
    if operation == "ListServiceDeployments":
        key = settings_key(request.get("cluster"), request.get("service"))
        stage = shift_now(key)
        wanted = (request.get("status") or ["IN_PROGRESS"])
        found = []
        with LOCK:
            shift = SHIFTS.get(key)
        if shift is not None:
            status = "IN_PROGRESS" if stage is not None else "SUCCESSFUL"
            if status in wanted:
                found.append({"serviceDeploymentArn": shift["arn"], "status": status})
        return {"serviceDeployments": found}
    out = []
    for arn in request.get("serviceDeploymentArns", []):
        with LOCK:
            key = next((k for k, s in SHIFTS.items() if s["arn"] == arn), None)
        if key is None:
            continue
        stage = shift_now(key)
        out.append({"serviceDeploymentArn": arn,
                    "status": "IN_PROGRESS" if stage is not None else "SUCCESSFUL",
                    "lifecycleStage": stage or "CLEAN_UP"})
    return {"serviceDeployments": out, "failures": []}


def namespace_arn(name_or_arn):
    """The ARN of a Cloud Map namespace named by name or ARN, or None."""
    for page in discovery_client().get_paginator("list_namespaces").paginate():
        for ns in page.get("Namespaces", []):
            if name_or_arn in (ns.get("Name"), ns.get("Arn")):
                return ns["Arn"]
    return None


def refuse_service_connect(request):
    """ECS's error document for a Service Connect configuration it would
    refuse, or None."""
    sc = request.get("serviceConnectConfiguration")
    if not sc or not sc.get("enabled"):
        return None
    namespace = sc.get("namespace")
    if namespace and namespace_arn(namespace) is None:
        return {"__type": "NamespaceNotFoundException",
                "message": f"Namespace {namespace} was not found."}
    td = request.get("taskDefinition")
    if td is None:
        described = ecs_client().describe_services(
            cluster=request.get("cluster") or "default", services=[request.get("service")])
        td = (described.get("services") or [{}])[0].get("taskDefinition")
    names = set()
    if td:
        definition = ecs_client().describe_task_definition(taskDefinition=td)["taskDefinition"]
        names = {p.get("name") for c in definition.get("containerDefinitions", [])
                 for p in c.get("portMappings", [])}
    for service in sc.get("services") or []:
        if service.get("portName") not in names:
            return {"__type": "InvalidParameterException",
                    "message": f"The Service Connect portName {service.get('portName')} does not "
                               f"match a port mapping name in task definition {td}."}
    return None


def script(command):
    """(lines printed, exit code) of a command run by a tiny shell."""
    if len(command) >= 3 and command[0] in ("sh", "/bin/sh", "bash") and command[1] == "-c":
        text = command[2]
    else:
        text = " ".join(shlex.quote(c) for c in command)
    lines, code = [], 0
    for part in text.replace("&&", ";").split(";"):
        words = shlex.split(part)
        if not words:
            continue
        if words[0] == "echo":
            lines.append(" ".join(words[1:]))
        elif words[0] == "exit":
            code = int(words[1]) if len(words) > 1 else 0
            break
        else:
            lines.append(f"ran: {' '.join(words)}")
    return lines, code


def emit_logs(task_arn, run):
    """The run's output into its awslogs stream, as the driver writes it."""
    td = ecs_client().describe_task_definition(taskDefinition=run["td"])["taskDefinition"]
    container = next(c for c in td["containerDefinitions"] if c["name"] == run["container"])
    opts = container.get("logConfiguration", {}).get("options", {})
    group, prefix = opts.get("awslogs-group"), opts.get("awslogs-stream-prefix")
    if not group or not prefix:
        return
    stream = f"{prefix}/{run['container']}/{task_arn.rsplit('/', 1)[-1]}"
    logs = logs_client()
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    lines, _ = script(run["command"])
    if lines:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now + i, "message": line} for i, line in enumerate(lines)])


# ECS's deployment settings for a service created without any.
DEFAULT_DEPLOYMENT = {"deploymentCircuitBreaker": {"enable": False, "rollback": False},
                      "maximumPercent": 200, "minimumHealthyPercent": 100}


def settings_key(cluster, service):
    """A service by cluster and service name, whether either came as a name or an ARN."""
    return ((cluster or "default").rsplit("/", 1)[-1], (service or "").rsplit("/", 1)[-1])


def keep_settings(request):
    """What a CreateService or UpdateService that went through set."""
    key = settings_key(request.get("cluster"), request.get("serviceName") or request.get("service"))
    with LOCK:
        kept = SETTINGS.setdefault(key, {})
        if "deploymentConfiguration" in request:
            merged = dict(DEFAULT_DEPLOYMENT, **kept.get("deploymentConfiguration", {}))
            merged.update(request["deploymentConfiguration"])
            kept["deploymentConfiguration"] = merged
        if "healthCheckGracePeriodSeconds" in request:
            kept["healthCheckGracePeriodSeconds"] = request["healthCheckGracePeriodSeconds"]
        if "serviceConnectConfiguration" in request:
            kept["serviceConnectConfiguration"] = request["serviceConnectConfiguration"]
        if "networkConfiguration" in request:
            kept["networkConfiguration"] = request["networkConfiguration"]
        if "capacityProviderStrategy" in request:
            # ECS answers each item whole: weight and base 0 when not sent.
            kept["capacityProviderStrategy"] = [
                {"capacityProvider": i["capacityProvider"], "weight": i.get("weight", 0), "base": i.get("base", 0)}
                for i in request["capacityProviderStrategy"]]
        if request.get("forceNewDeployment"):
            kept["forced"] = kept.get("forced", 0) + 1
            kept["forcedAt"] = time.time()


def rewrite(operation, request, answer):
    if operation == "DescribeServices":
        for s in answer.get("services", []):
            with LOCK:
                kept = dict(SETTINGS.get(settings_key(s.get("clusterArn"), s.get("serviceName")), {}))
            s["deploymentConfiguration"] = kept.get("deploymentConfiguration", DEFAULT_DEPLOYMENT)
            if "healthCheckGracePeriodSeconds" in kept:
                s["healthCheckGracePeriodSeconds"] = kept["healthCheckGracePeriodSeconds"]
            if "networkConfiguration" in kept:
                s["networkConfiguration"] = kept["networkConfiguration"]
            if kept.get("capacityProviderStrategy"):
                s["capacityProviderStrategy"] = kept["capacityProviderStrategy"]
                s.pop("launchType", None)
            elif "capacityProviderStrategy" in kept:
                s.pop("capacityProviderStrategy", None)
                s["launchType"] = "FARGATE"
            s["runningCount"], s["pendingCount"] = s.get("desiredCount", 0), 0
            shifting = shift_now(settings_key(s.get("clusterArn"), s.get("serviceName"))) is not None
            for d in s.get("deployments", []):
                if d.get("status") == "PRIMARY":
                    if kept.get("forced"):
                        d["id"] = f"{d['id']}-forced-{kept['forced']}"
                        d["createdAt"] = kept["forcedAt"]
                    d["desiredCount"] = d["runningCount"] = s["runningCount"]
                    d["pendingCount"] = 0
                    d["rolloutState"] = "IN_PROGRESS" if shifting else "COMPLETED"
                    d["taskDefinition"] = s["taskDefinition"]
                    sc = kept.get("serviceConnectConfiguration")
                    if sc:
                        sc = dict(sc)
                        if sc.get("namespace"):
                            sc["namespace"] = namespace_arn(sc["namespace"]) or sc["namespace"]
                        d["serviceConnectConfiguration"] = sc
    elif operation == "RunTask":
        override = (request.get("overrides") or {}).get("containerOverrides") or []
        for t in answer.get("tasks", []):
            if override and override[0].get("command"):
                with LOCK:
                    RUNS[t["taskArn"]] = {
                        "command": override[0]["command"], "container": override[0]["name"],
                        "looks": 0, "logged": False, "td": t["taskDefinitionArn"]}
    elif operation == "DescribeTasks":
        for t in answer.get("tasks", []):
            arn = t["taskArn"]
            if t.get("group", "").startswith("service:"):
                t["lastStatus"] = t["desiredStatus"] = "RUNNING"
                t["enableExecuteCommand"] = True
                for c in t.get("containers", []):
                    c["lastStatus"] = "RUNNING"
                    c.pop("exitCode", None)
                    c["runtimeId"] = f"{arn.rsplit('/', 1)[-1]}-{c['name']}"
                    c["managedAgents"] = [{"name": "ExecuteCommandAgent", "lastStatus": "RUNNING"}]
                continue
            with LOCK:
                run = RUNS.get(arn)
                if run is None:
                    continue
                run["looks"] += 1
                looks, logged = run["looks"], run["logged"]
                if looks >= 2:
                    run["logged"] = True
            if looks < 2:
                t["lastStatus"] = "RUNNING"
                for c in t.get("containers", []):
                    c["lastStatus"] = "RUNNING"
                    c.pop("exitCode", None)
                continue
            if not logged:
                emit_logs(arn, run)
            _, code = script(run["command"])
            t["lastStatus"] = t["desiredStatus"] = "STOPPED"
            t["stoppedReason"] = "Essential container in task exited"
            for c in t.get("containers", []):
                c["lastStatus"] = "STOPPED"
                c["exitCode"] = code
    return answer


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.forward()

    def do_GET(self):
        self.forward()

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_scripted/faults":
            fault = json.loads(body or b"{}")
            with LOCK:
                FAULTS[fault["operation"]] = fault
            self.answer(200, b"{}", "application/json")
            return
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET):] if target.startswith(TARGET) else None
        with LOCK:
            fault = FAULTS.get(operation)
            hit = False
            if fault is not None and fault.get("cluster") not in (None, json.loads(body or b"{}").get("cluster")):
                fault = None
            if fault is not None:
                if fault.get("after", 0) > 0:
                    fault["after"] -= 1
                elif fault.get("times", 0) > 0:
                    fault["times"] -= 1
                    hit = True
        if hit:
            self.answer(fault.get("status", 400), json.dumps({
                "__type": fault["code"], "message": f"scripted {fault['code']}"}).encode(),
                "application/x-amz-json-1.1")
            return
        if operation in ("CreateService", "UpdateService"):
            refused = refuse_service_connect(json.loads(body or b"{}"))
            if refused is not None:
                self.answer(400, json.dumps(refused).encode(), "application/x-amz-json-1.1")
                return
        if target == AUTOSCALING + "DescribeScalingActivities":
            request = json.loads(body or b"{}")
            with LOCK:
                found = list(reversed(ACTIVITIES.get(request.get("ResourceId"), [])))
            found = found[:request.get("MaxResults") or 50]
            self.answer(200, json.dumps({"ScalingActivities": found}).encode(), "application/x-amz-json-1.1")
            return
        if operation in ("ListServiceDeployments", "DescribeServiceDeployments"):
            answer = service_deployments(operation, json.loads(body or b"{}"))
            self.answer(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")
            return
        if operation == "ExecuteCommand":
            request = json.loads(body or b"{}")
            session = {"sessionId": f"ecs-execute-command-{int(time.time() * 1000)}",
                       "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/scripted",
                       "tokenValue": "scripted-token"}
            self.answer(200, json.dumps({
                "clusterArn": request.get("cluster"), "containerName": request.get("container"),
                "interactive": True, "session": session, "taskArn": request.get("task")}).encode(),
                "application/x-amz-json-1.1")
            return
        conn = http.client.HTTPConnection(MOTO.hostname, MOTO.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "application/x-amz-json-1.1")
        if target == AUTOSCALING + "RegisterScalableTarget" and resp.status == 200:
            request = json.loads(body or b"{}")
            parts = [f"{word} capacity to {request[key]}"
                     for word, key in (("min", "MinCapacity"), ("max", "MaxCapacity")) if key in request]
            with LOCK:
                ACTIVITIES.setdefault(request.get("ResourceId"), []).append({
                    "ActivityId": f"scripted-{time.time_ns()}", "ServiceNamespace": "ecs",
                    "ResourceId": request.get("ResourceId"), "ScalableDimension": request.get("ScalableDimension"),
                    "Description": "Setting " + " and ".join(parts), "Cause": "scalable target registered",
                    "StartTime": time.time(), "EndTime": time.time(), "StatusCode": "Successful"})
        if operation in ("CreateService", "UpdateService") and resp.status == 200:
            request = json.loads(body or b"{}")
            keep_settings(request)
            answer = json.loads(data)
            key = settings_key(request.get("cluster"), request.get("serviceName") or request.get("service"))
            td = (answer.get("service") or {}).get("taskDefinition")
            with LOCK:
                before = SETTINGS.setdefault(key, {}).get("td")
                SETTINGS[key]["td"] = td
            if operation == "UpdateService" and (td != before or request.get("forceNewDeployment")):
                start_shift(key, answer)
        if operation in ("DescribeServices", "RunTask", "DescribeTasks") and resp.status == 200:
            data = json.dumps(rewrite(operation, json.loads(body or b"{}"), json.loads(data))).encode()
        self.answer(resp.status, data, ctype, resp.getheaders())
        conn.close()

    def answer(self, status, data, ctype, headers=()):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "content-type", "connection", "transfer-encoding",
                                 "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    moto.start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Proxy)
    server.daemon_threads = True
    server.serve_forever()
