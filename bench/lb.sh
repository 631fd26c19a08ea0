#!/usr/bin/env bash
# Benchmark: geno's load balancer against a direct connection and HAProxy
# (same active health checks) in front of the same nginx container, with wrk
# on loopback. Prints requests/s and latency p50/p99 side by side, and the
# resident memory of `geno lb` while it serves; then 1,000 concurrent
# connections, and a 1 GiB response (time, and geno's memory while it
# passes). "direct" goes to the container's own address: no proxy at all,
# the floor.
#
# Usage: bench/lb.sh [SECONDS] [CONNECTIONS]   (defaults 10 and 32; ROUNDS=N interleaved rounds, default 3)
# GENO_BIN=/path/to/geno measures that binary instead of building this checkout.
# GENO_BEFORE=/path/to/an/older/geno adds a row "before": that binary's load
# balancer in front of the same container, in the same interleaved rounds,
# so a change to the proxy is measured against its predecessor and HAProxy
# in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need haproxy haproxy
need bc bc
need curl curl

eval "$(scripts/images.sh)"
base=${GENO_TEST_IMAGE}
image=geno-bench/nginx:1
if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get -o Acquire::Retries=3 update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* && echo ok > /var/www/html/health && head -c 512 /dev/zero | tr '\0' x > /var/www/html/index.html
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
  docker build -q -t "$image" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
# GENO_BIN: a geno binary already built (default: this checkout's release build).
if [ -n "${GENO_BIN:-}" ]; then
  geno=$GENO_BIN
else
  cargo build --release --locked -q
  geno="$PWD/target/release/geno"
fi

dir=$(mktemp -d)
lb_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ha_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/stack.yaml" <<YAML
name: benchlb
image: {}
services:
  web:
    image: $image
    ports: [80]
load_balancer:
  listeners:
    - port: $lb_port
      rules: []
      default_action: { forward: web }
  target_groups:
    web:
      service: web
      port: 80
      health_check: { path: /health, interval: 5s, timeout: 2s, healthy_threshold: 2, unhealthy_threshold: 2, matcher: "200" }
      deregistration_delay: 0s
YAML
cleanup() {
  (cd "$dir" && "$geno" down >/dev/null 2>&1) || true
  [ -n "${ha_pid:-}" ] && kill "$ha_pid" 2>/dev/null || true
  [ -n "${before_pid:-}" ] && kill "$before_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
(cd "$dir" && "$geno" up >/dev/null 2>&1)
# Room for 1,000 connections at the target (nginx's default is 768 a worker).
docker exec benchlb-web-1 sh -c "sed -i 's/worker_connections [0-9]*/worker_connections 4096/' /etc/nginx/nginx.conf && nginx -s reload" >/dev/null 2>&1
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' benchlb-web-1)

cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$ha_port
  default_backend be
backend be
  option httpchk GET /health
  http-check expect status 200
  server web $ip:80 check inter 5s rise 2 fall 2
CFG
haproxy -f "$dir/haproxy.cfg" -db >/dev/null 2>&1 &
ha_pid=$!
sleep 1

names="direct geno haproxy"
if [ -n "${GENO_BEFORE:-}" ]; then
  # The older binary's `geno lb` for the same stack (it finds the same
  # container by its labels), on a port of its own.
  before_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir/before"
  sed "s/port: $lb_port/port: $before_port/" "$dir/stack.yaml" >"$dir/before/stack.yaml"
  (cd "$dir/before" && exec "$GENO_BEFORE" -f stack.yaml lb >lb.log 2>&1) &
  before_pid=$!
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$before_port/")" = 200 ] && break
    sleep 0.2
  done
  names="direct geno before haproxy"
fi
lb_pid=$(python3 -c "import json; print(json.load(open('$dir/.geno/benchlb/lb.json'))['pid'])")
declare -A rps p50 p99
# Peak resident memory from the kernel's high-water mark (VmHWM, reset by
# writing 5 to clear_refs): exact, and no sampler stealing CPU from geno's
# runs alone.
rss_now() { awk '/^VmRSS/ {print $2}' /proc/"$lb_pid"/status; }
rss_peak() { awk '/^VmHWM/ {print $2}' /proc/"$lb_pid"/status; }
rss_reset() { echo 5 >/proc/"$lb_pid"/clear_refs 2>/dev/null || true; }
run() { # name url
  local out=$dir/$1.txt
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$2" >"$out" 2>&1
  rps[$1]="${rps[$1]:-} $(awk '/Requests\/sec/ {print $2}' "$out")"
  p50[$1]="${p50[$1]:-} $(awk '$1 == "50%" {print $2}' "$out" | to_ms)"
  p99[$1]="${p99[$1]:-} $(awk '$1 == "99%" {print $2}' "$out" | to_ms)"
}
# wrk prints 812.00us, 9.70ms or 1.02s; all in milliseconds.
to_ms() { sed -E 's/([0-9.]+)us/\1 0.001/; s/([0-9.]+)ms/\1 1/; s/([0-9.]+)s$/\1 1000/' | awk '{printf "%.2f", $1 * $2}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {printf "%.2f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
idle_rss=$(rss_now)
rss_reset
rounds=${ROUNDS:-3}
# Interleaved rounds, the order rotating, so drift on a shared machine hits all three alike.
# Each round starts one further along the list.
for round in $(seq 1 $rounds); do
  read -r -a all <<<"$names"
  shift_by=$(( (round - 1) % ${#all[@]} ))
  order="${all[*]:$shift_by} ${all[*]:0:$shift_by}"
  for name in $order; do
    case $name in
      direct) run direct "http://$ip:80/" ;;
      geno) run geno "http://127.0.0.1:$lb_port/" ;;
      before) run before "http://127.0.0.1:$before_port/" ;;
      haproxy) run haproxy "http://127.0.0.1:$ha_port/" ;;
    esac
  done
done
printf '\n%-10s %12s %10s %10s   (medians of %d interleaved runs of wrk -t2 -c%s -d%ss, 512-byte page)\n' "" "requests/s" "p50 ms" "p99 ms" "$rounds" "$conns" "$secs"
for name in $names; do
  printf '%-10s %12s %10s %10s   runs: %s req/s, p99 %s ms\n' "$name" "$(echo "${rps[$name]}" | median)" "$(echo "${p50[$name]}" | median)" "$(echo "${p99[$name]}" | median)" "$(echo ${rps[$name]} | tr ' ' /)" "$(echo ${p99[$name]} | tr ' ' /)"
done
g_rps=$(echo "${rps[geno]}" | median) h_rps=$(echo "${rps[haproxy]}" | median)
g_p99=$(echo "${p99[geno]}" | median) h_p99=$(echo "${p99[haproxy]}" | median)
printf 'goal: throughput >= 0.95x HAProxy, p99 within 1 ms of it; here %.2fx and %+.2f ms\n' \
  "$(echo "$g_rps / $h_rps" | bc -l)" "$(echo "$g_p99 - $h_p99" | bc -l)"
printf '\ngeno lb resident memory: %s KiB idle, %s KiB peak under load\n' "$idle_rss" "$(rss_peak)"

# A 1 GiB response through each: time, and geno's resident memory while it
# passes (streamed, it should stay near the idle figure).
docker exec benchlb-web-1 truncate -s 1G /var/www/html/big
before_big=$(rss_now)
printf '\n%-10s %10s %8s   (one GET of a 1 GiB file)\n' "" "seconds" "MiB/s"
for name in direct geno haproxy; do
  case $name in
    direct) url="http://$ip:80/big" ;; geno) url="http://127.0.0.1:$lb_port/big" ;; haproxy) url="http://127.0.0.1:$ha_port/big" ;;
  esac
  [ "$name" = geno ] && rss_reset
  read -r size secs_taken < <(curl -s -o /dev/null -w '%{size_download} %{time_total}\n' "$url")
  [ "$name" = geno ] && big_peak=$(rss_peak)
  [ "$size" = 1073741824 ] || { echo "$name: got $size bytes of 1073741824" >&2; exit 1; }
  printf '%-10s %10.2f %8.0f\n' "$name" "$secs_taken" "$(echo "1024 / $secs_taken" | bc -l)"
done
printf 'geno lb resident memory while 1 GiB passed: %s KiB peak, %s KiB just before\n' "$big_peak" "$before_big"

# 1,000 concurrent connections, one run each.
ulimit -n 65536 2>/dev/null || true
many=1000
printf '\n%-10s %12s %10s %10s %8s   (wrk -t2 -c%d -d%ss, one run each)\n' "" "requests/s" "p50 ms" "p99 ms" "errors" "$many" "$secs"
for name in direct geno haproxy; do
  case $name in
    direct) url="http://$ip:80/" ;; geno) url="http://127.0.0.1:$lb_port/" ;; haproxy) url="http://127.0.0.1:$ha_port/" ;;
  esac
  out=$dir/many-$name.txt
  wrk -t2 -c"$many" -d"${secs}s" --latency "$url" >"$out" 2>&1
  errors=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10} /Non-2xx/ {n += $NF} END {print n + 0}' "$out" | paste -sd+ | bc)
  printf '%-10s %12s %10s %10s %8s\n' "$name" "$(awk '/Requests\/sec/ {print $2}' "$out")" \
    "$(awk '$1 == "50%" {print $2}' "$out" | to_ms)" "$(awk '$1 == "99%" {print $2}' "$out" | to_ms)" "$errors"
done
