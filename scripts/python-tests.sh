#!/usr/bin/env bash
# The Genonaut backend's pytest suite in a project venv (.venv), created or
# refreshed only when the pinned requirements change.
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
exec "$venv/bin/python" -m pytest "$@"
