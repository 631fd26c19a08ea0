"""Put a rendering in place in an AWS stand-in as a promotion would, without
an image or a registry: each service's rendered task definition registered
and the service moved to it (desired count as rendered).

    geno render --env ENV --image sha256:... > r.json
    python tests/aws/deploy_rendered.py r.json [SERVICE...]

Prints {service: task definition ARN} as JSON. For the tests of the verbs
that operate a deployed environment; the promote tests do the real thing.
"""

import json
import sys

import boto3


def main():
    rendering = json.load(open(sys.argv[1]))
    only = set(sys.argv[2:])
    ecs = boto3.client("ecs", region_name=rendering["region"])
    out = {}
    for name, s in rendering["services"].items():
        if only and name not in only:
            continue
        td = ecs.register_task_definition(**s["taskDefinition"])["taskDefinition"]["taskDefinitionArn"]
        update = dict(s["service"], taskDefinition=td)
        ecs.update_service(**{k: v for k, v in update.items() if k in (
            "cluster", "service", "taskDefinition", "desiredCount")})
        out[name] = td
    print(json.dumps(out))


if __name__ == "__main__":
    main()
