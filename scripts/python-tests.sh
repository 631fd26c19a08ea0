#!/usr/bin/env bash
# The Genonaut backend's pytest suite in the project venv (scripts/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
exec .venv/bin/python -m pytest "$@"
