#!/usr/bin/env bash
# Benchmark: geno's load balancer against a direct connection and HAProxy
# (same active health checks) in front of the same nginx container, with wrk
# on loopback. Prints requests/s and latency p50/p99 side by side, and the
# resident memory of `geno lb` while it serves.
#
# Usage: bench/lb.sh [SECONDS] [CONNECTIONS]   (defaults 10 and 32)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need haproxy haproxy

eval "$(scripts/images.sh)"
base=${GENO_TEST_IMAGE}
image=geno-bench/nginx:1
if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get -o Acquire::Retries=3 update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/* && echo ok > /var/www/html/health && head -c 512 /dev/zero | tr '\0' x > /var/www/html/index.html
CMD ["nginx", "-g", "daemon off; worker_processes 1;"]
DOCKERFILE
  docker build -q -t "$image" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
cargo build --release --locked -q
geno="$PWD/target/release/geno"

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
  rm -rf "$dir"
}
trap cleanup EXIT
(cd "$dir" && "$geno" up >/dev/null)
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

lb_pid=$(python3 -c "import json; print(json.load(open('$dir/.geno/benchlb/lb.json'))['pid'])")
run() { # name url
  local out rss_file=$dir/rss
  echo 0 >"$rss_file"
  if [ "$1" = geno ]; then
    ( peak=0; for _ in $(seq 1 $((secs * 5))); do r=$(ps -o rss= -p "$lb_pid" | tr -d ' '); [ "${r:-0}" -gt "$peak" ] && peak=$r; echo "$peak" >"$rss_file"; sleep 0.2; done ) &
  fi
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$2" >"$dir/$1.txt" 2>&1
  wait
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$dir/$1.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$dir/$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$dir/$1.txt")
  printf '%-24s %12s %10s %10s\n' "$1" "$rps" "$p50" "$p99"
}
idle_rss=$(ps -o rss= -p "$lb_pid" | tr -d ' ')
printf '\n%-24s %12s %10s %10s   (wrk -t2 -c%s -d%ss, 512-byte page)\n' "" "requests/s" "p50" "p99" "$conns" "$secs"
run direct "http://$ip:80/"
run geno "http://127.0.0.1:$lb_port/"
run haproxy "http://127.0.0.1:$ha_port/"
printf '\ngeno lb resident memory: %s KiB idle, %s KiB peak under load\n' "$idle_rss" "$(cat "$dir/rss")"
