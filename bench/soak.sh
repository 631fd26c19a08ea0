#!/usr/bin/env bash
# Soak: CYCLES rounds of up → edit → up → smoke → down on a small stack
# (one app on the stack image behind the load balancer, one smoke step),
# then what is left compared with before: containers, networks, volumes
# and images labelled with the stack, all images, the state directory's
# files, geno processes left running, the engine's open files, and, in
# the first and last cycle, the peak resident memory of `geno up` and the
# open files of the load balancer. Every line should show no growth but the records geno keeps on
# purpose (one verification per new image).
#
# Usage: bench/soak.sh [CYCLES]   (default 200; GENO_BIN=path soaks that binary)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-200}
eval "$(scripts/images.sh)"
export PYTHON_IMAGE GENO_TEST_IMAGE
# GENO_BIN: a geno binary to soak instead of this tree's release build
# (a copy, so that a build meanwhile does not swap it mid-run).
if [ -n "${GENO_BIN:-}" ]; then
  geno=$GENO_BIN
else
  cargo build --release --locked -q
  geno="$PWD/target/release/geno"
fi
dir=$(mktemp -d)
name=soak$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/app"
cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $PYTHON_IMAGE
WORKDIR /app
COPY app /app
DOCKERFILE
cat >"$dir/stack.yaml" <<YAML
name: $name
image: { context: . }
services:
  web:
    command: [python3, -m, http.server, "8000"]
    ports: [8000]
    healthcheck:
      test: [CMD, python3, -c, "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
      interval: 5s
      timeout: 3s
      retries: 3
load_balancer:
  listeners:
    - port: $port
      default_action: { forward: web }
  target_groups:
    web:
      service: web
      port: 8000
      health_check: { path: /, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2 }
      deregistration_delay: 0s
smoke:
  - name: web answers through the load balancer
    http: { path: /, expect: { status: 200 } }
    poll: { interval: 500ms, deadline: 30s }
YAML
cleanup() {
  (cd "$dir" && "$geno" down --volumes --rmi >/dev/null 2>&1) || true
  # down --rmi keeps verified images on purpose; this stack goes for good.
  docker images -q --filter "label=geno.stack=$name" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

count() { # what
  local f="label=geno.stack=$name"
  case $1 in
    containers) docker ps -aq --filter "$f" | wc -l ;;
    networks) docker network ls -q --filter "$f" | wc -l ;;
    volumes) docker volume ls -q --filter "$f" | wc -l ;;
    stack-images) docker images -q --filter "$f" | sort -u | wc -l ;;
    all-images) docker images -aq | sort -u | wc -l ;;
    all-containers) docker ps -aq | wc -l ;;
    state-files) { find "$dir/.geno" -type f 2>/dev/null || true; } | wc -l ;;
    geno-processes) { pgrep -f "^$geno " || true; } | wc -l ;;
    engine-fds) ls /proc/"$(pgrep -o -x dockerd)"/fd | wc -l ;;
    verified) { find "$dir/.geno/$name/verified" -type f 2>/dev/null || true; } | wc -l ;;
  esac
}
what="containers networks volumes stack-images all-images all-containers state-files verified geno-processes engine-fds"
declare -A before after
for w in $what; do before[$w]=$(count "$w"); done

rss() { /usr/bin/time -f '%M' -o "$dir/rss" "$@" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }; cat "$dir/rss"; }
first_rss= last_rss=
started=$(date +%s)
cd "$dir"
for i in $(seq 1 "$cycles"); do
  echo "cycle $i $(date +%s%N)" >app/stamp
  r=$(rss "$geno" up --fast-health --timeout 120s)
  echo "edit $i" >>app/stamp
  rss "$geno" up --fast-health --timeout 120s >/dev/null
  # Open files of the load balancer while the stack is up.
  lb_pid=$(python3 -c "import json; print(json.load(open('.geno/$name/lb.json'))['pid'])")
  fds=$(ls /proc/"$lb_pid"/fd | wc -l)
  [ -z "${first_fds:-}" ] && first_fds=$fds
  last_fds=$fds
  "$geno" smoke >/dev/null 2>&1 || { echo "smoke failed in cycle $i" >&2; "$geno" smoke >&2; exit 1; }
  "$geno" down >/dev/null 2>&1
  [ -z "$first_rss" ] && first_rss=$r
  last_rss=$r
  if [ $((i % 10)) -eq 0 ] || [ "$i" -eq "$cycles" ]; then
    echo "soak: $i/$cycles cycles in $(( $(date +%s) - started ))s; now $(count stack-images) stack images, $(count state-files) state files, $(count verified) verifications, $(count containers) containers" >&2
  fi
done
for w in $what; do after[$w]=$(count "$w"); done

printf '\n%-16s %8s %8s %8s   (%d cycles of up → edit → up → smoke → down, %ss)\n' "" before after growth "$cycles" "$(( $(date +%s) - started ))"
for w in $what; do
  printf '%-16s %8s %8s %8s\n' "$w" "${before[$w]}" "${after[$w]}" "$(( after[$w] - before[$w] ))"
done
printf '%-16s %8s %8s %8s\n' "geno up RSS KiB" "$first_rss" "$last_rss" "$(( last_rss - first_rss ))"
printf '%-16s %8s %8s %8s\n' "geno lb fds" "$first_fds" "$last_fds" "$(( last_fds - first_fds ))"
echo "(verified: one record per image that passed smoke, kept on purpose; stack-images: bounded by GENO_KEEP_BUILDS and the last 5 verified)"
