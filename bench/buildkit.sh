#!/usr/bin/env bash
# Benchmark: the Genonaut image rebuilt after a one-file code change with
# the engine's classic builder (what geno uses) and with BuildKit, both
# through the Engine API (bench/buildkit/, its own crate). Usage:
# bench/buildkit.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/images.sh)"
export PYTHON_IMAGE
cargo run --release -q --manifest-path bench/buildkit/Cargo.toml -- "$PWD" "${1:-5}"
docker image rm geno-buildkit-bench:classic geno-buildkit-bench:kit >/dev/null 2>&1 || true
