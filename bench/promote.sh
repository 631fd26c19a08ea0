#!/usr/bin/env bash
# Benchmark: promoting the Genonaut image to `demo` with geno and with the
# deploy script it replaces (per repository: docker tag + push :latest;
# aws ecs register-task-definition with the rendered JSON; aws ecs
# update-service --force-new-deployment; then aws ecs wait services-stable),
# both against moto and Debian's docker-registry on loopback (no AWS here).
#
# cold: a fresh registry and moto, so every layer travels once;
# warm: the same image again (geno finds nothing to change and says so; the
# script pushes and redeploys anyway).
# geno runs with --force: the benchmark measures the mechanics, not smoke.
# geno's cold run also runs the migrate job as a one-off task (moto reports
# it STOPPED on the fourth look); the script has no migration step.
#
# Usage: bench/promote.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

eval "$(scripts/images.sh)"
export PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE
cargo build --release --locked -q
bash scripts/python-tests.sh --version >/dev/null
bash scripts/aws-stand-ins.sh
geno="$PWD/target/release/geno"
py=$PWD/.venv/bin/python
aws_cli=$PWD/.venv/bin/aws
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The image `geno up` runs, built from the current source.
"$geno" up --fast-health >/dev/null 2>&1
image=$(docker inspect -f '{{.Image}}' genonaut-api-1)

standins() {
  kill "${pids[@]}" 2>/dev/null || true
  pids=()
  local m r dir
  m=$(free_port); r=$(free_port); dir=$(mktemp -d -p "$work")
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$dir/data" "$r" >"$dir/registry.yml"
  MOTO_ECS_SERVICE_RUNNING=3 "$PWD/.venv/bin/moto_server" -H 127.0.0.1 -p "$m" >"$dir/moto.log" 2>&1 &
  pids+=($!)
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$m/moto-api/" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$r/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export AWS_ENDPOINT_URL=http://127.0.0.1:$m AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  export GENO_REGISTRY=127.0.0.1:$r
  "$geno" render --env demo --format tfvars >"$dir/tfvars.json"
  "$py" tests/aws/seed.py "$dir/tfvars.json" 2>/dev/null
  # What the script deploys: the rendered task definitions, image :latest.
  "$geno" render --env demo >"$dir/render.json"
  "$py" - "$dir" "$GENO_REGISTRY" <<'PY'
import json, sys
d, reg = sys.argv[1], sys.argv[2]
r = json.load(open(f"{d}/render.json"))
lines = []
for name, s in r["services"].items():
    td = s["taskDefinition"]
    for c in td["containerDefinitions"]:
        c["image"] = f"{reg}/{s['repository']}:latest"
    json.dump(td, open(f"{d}/td-{name}.json", "w"))
    lines.append(f"{name} {s['repository']} {s['service']['service']} {td['family']} {s['service']['desiredCount']}")
open(f"{d}/services.txt", "w").write("\n".join(lines) + "\n")
PY
  current=$dir
}

geno_promote() {
  local out
  out=$("$geno" promote --env demo --image "$image" --force --poll 250ms 2>&1) || { echo "$out" >&2; return 1; }
  own=$(echo "$out" | sed -n 's/.*, \([0-9.]*\)s of it geno.s own work.*/\1/p')
  echo "${own:-0}"
}

script_promote() {
  local names=()
  while read -r name repo service family desired; do
    docker tag "$image" "$GENO_REGISTRY/$repo:latest"
    docker push -q "$GENO_REGISTRY/$repo:latest" >/dev/null
    "$aws_cli" ecs register-task-definition --cli-input-json "file://$current/td-$name.json" >/dev/null
    "$aws_cli" ecs update-service --cluster genonaut-demo --service "$service" --task-definition "$family" \
      --desired-count "$desired" --force-new-deployment >/dev/null
    names+=("$service")
  done <"$current/services.txt"
  "$aws_cli" ecs wait services-stable --cluster genonaut-demo --services "${names[@]}"
}

declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }
for i in $(seq "$runs"); do
  echo "run $i/$runs" >&2
  standins; t=$(now); o=$(geno_promote); add "geno cold" "$(elapsed "$t")"; add "geno cold own" "$o"
  t=$(now); o=$(geno_promote); add "geno warm" "$(elapsed "$t")"; add "geno warm own" "$o"
  standins; t=$(now); script_promote; add "script cold" "$(elapsed "$t")"
  t=$(now); script_promote; add "script warm" "$(elapsed "$t")"
done
"$geno" down >/dev/null 2>&1

stats() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {printf "%8.2f %8.2f %8.2f", a[int((NR+1)/2)], a[1], a[NR]}'; }
echo
echo "promote to demo, $runs runs (seconds)        median      min      max"
for k in "geno cold" "script cold" "geno warm" "script warm" "geno cold own" "geno warm own"; do
  printf '  %-38s %s\n' "$k" "$(echo "${samples[$k]}" | stats)"
done
echo "('own': geno's work without pushing bytes or waiting on rollouts, as geno reports it)"
