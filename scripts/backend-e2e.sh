#!/usr/bin/env bash
# End-to-end check of the Genonaut image with plain docker, no geno: builds
# the image, runs Postgres, Redis, migrate, api, worker and mock ComfyUI on
# one network, posts a job and waits for it to complete. Everything it
# creates carries the label geno.test=backend-e2e and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

run_id=e2e$$
net=genonaut-$run_id
label=geno.test=backend-e2e
image=${GENONAUT_IMAGE:-genonaut:e2e}
python_image=${PYTHON_IMAGE:-python:3.11-slim}
postgres_image=${POSTGRES_IMAGE:-postgres:16}
redis_image=${REDIS_IMAGE:-redis:7}

log() { printf 'backend-e2e: %s\n' "$*" >&2; }

cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=$label" --filter "label=geno.run=$run_id")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start=$(date +%s.%N)
docker build -q --build-arg "PYTHON_IMAGE=$python_image" -t "$image" . >/dev/null
log "image built in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s: $(docker image inspect -f '{{.Id}} {{.Size}}' "$image")"

docker network create --label "$label" --label "geno.run=$run_id" "$net" >/dev/null
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
common=(--label "$label" --label "geno.run=$run_id" --network "$net")
app_env=(-e ENV_TARGET=local -e APP_CONFIG_PATH=/app/config/local.json
  -e "DATABASE_URL=postgresql://genonaut:$password@postgres:5432/genonaut"
  -e REDIS_URL=redis://redis:6379/0 -e COMFYUI_URL=http://image-gen:8189)

docker run -d "${common[@]}" --name "$run_id-postgres" --network-alias postgres \
  -e POSTGRES_USER=genonaut -e POSTGRES_DB=genonaut -e "POSTGRES_PASSWORD=$password" "$postgres_image" >/dev/null
docker run -d "${common[@]}" --name "$run_id-redis" --network-alias redis "$redis_image" >/dev/null

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "$name did not become ready in 60 s"; docker logs --tail 30 "$run_id-$name" >&2 || true; return 1
}
wait_for postgres docker exec "$run_id-postgres" pg_isready -h 127.0.0.1 -U genonaut -d genonaut
wait_for redis docker exec "$run_id-redis" redis-cli ping

docker run --rm "${common[@]}" "${app_env[@]}" "$image" python -m genonaut.migrate
docker run -d "${common[@]}" "${app_env[@]}" --name "$run_id-image-gen" --network-alias image-gen "$image" \
  python -m genonaut.mock_comfyui --host 0.0.0.0 --port 8189 >/dev/null
docker run -d "${common[@]}" "${app_env[@]}" --name "$run_id-celery" "$image" \
  celery -A genonaut.worker.queue_app:celery_app worker --loglevel=INFO -Q default,generation --concurrency=2 >/dev/null
docker run -d "${common[@]}" "${app_env[@]}" --name "$run_id-api" -p 127.0.0.1::8001 "$image" \
  uvicorn genonaut.api.main:app --host 0.0.0.0 --port 8001 >/dev/null
port=$(docker port "$run_id-api" 8001/tcp | head -1 | sed 's/.*://')
api=http://127.0.0.1:$port

wait_for api curl -fsS "$api/api/v1/health"
wait_for image-gen docker exec "$run_id-image-gen" python -m genonaut.healthcheck http://127.0.0.1:8189/health
job=$(curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"prompt": "a lighthouse at dusk", "size": "512x512"}' "$api/api/v1/generation-jobs")
id=$(printf '%s' "$job" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
log "job $id posted"
status=
for _ in $(seq 1 90); do
  body=$(curl -fsS "$api/api/v1/generation-jobs/$id")
  status=$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$status" = completed ] || [ "$status" = failed ] && break
  sleep 1
done
if [ "$status" != completed ]; then
  log "job ended as '$status': $body"
  docker logs --tail 30 "$run_id-celery" >&2
  exit 1
fi
row=$(docker exec "$run_id-postgres" psql -h 127.0.0.1 -U genonaut -d genonaut -tAc \
  "SELECT status, image_bytes FROM generation_jobs WHERE id = '$id'" 2>/dev/null \
  || docker exec -e "PGPASSWORD=$password" "$run_id-postgres" psql -h 127.0.0.1 -U genonaut -d genonaut -tAc \
  "SELECT status, image_bytes FROM generation_jobs WHERE id = '$id'")
log "job $id completed; postgres row: $row"
log "ok in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"
