#!/usr/bin/env bash
# Builds stand-ins for the official python, postgres and redis images on a
# machine that can reach Debian's package mirror but no container registry.
#
# Only images missing from the local engine are built, so a second run costs a
# few `docker image inspect` calls. The Debian root is made from this machine's
# own apt configuration (no mirror is named here), so it works wherever apt does.
#
# Usage: scripts/offline-images.sh [--force]
#   PYTHON_IMAGE / POSTGRES_IMAGE / REDIS_IMAGE name the tags to build; they
#   default to the geno-local/* names that scripts/offline-env prints.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
force=0
[ "${1:-}" = "--force" ] && force=1

base_image=${GENO_BASE_IMAGE:-geno-local/bookworm:base}
python_image=${PYTHON_IMAGE:-geno-local/python:3.11}
postgres_image=${POSTGRES_IMAGE:-geno-local/postgres:15}
redis_image=${REDIS_IMAGE:-geno-local/redis:7}
temporal_image=${TEMPORAL_IMAGE:-geno-local/temporal:standin}
node_image=${NODE_IMAGE:-geno-local/node:20}

log() { printf 'offline-images: %s\n' "$*" >&2; }
have() { [ "$force" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }
# A stand-in is current when its label matches the hash of its definition,
# so changing a Dockerfile here rebuilds it on the next run.
definition_hash() { (cd "$here/offline-images/$1" && cat $(ls | sort) | sha256sum | cut -c1-16); }
current() {
  [ "$force" = 0 ] || return 1
  [ "$(docker image inspect -f '{{index .Config.Labels "geno.standin-hash"}}' "$1" 2>/dev/null)" = "$(definition_hash "$2")" ]
}

if ! docker info >/dev/null 2>&1; then
  log "cannot reach the Docker engine (is dockerd running and is \$DOCKER_HOST right?)"
  exit 1
fi

if current "$python_image" python && current "$postgres_image" postgres && current "$redis_image" redis \
    && current "$temporal_image" temporal && current "$node_image" node; then
  log "all stand-in images present ($python_image, $postgres_image, $redis_image, $temporal_image, $node_image)"
  exit 0
fi

# apt's own view of its sources, as deb822 or one-line files: handed to
# mmdebstrap as they are, so the mirror comes from this machine's configuration.
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [ -s "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && echo "$f"
  done
  return 0
}

ensure_tools() {
  command -v mmdebstrap >/dev/null 2>&1 && return 0
  log "installing mmdebstrap from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq mmdebstrap >/dev/null
}

build_base() {
  have "$base_image" && return 0
  ensure_tools
  mapfile -t sources < <(apt_sources)
  [ "${#sources[@]}" -gt 0 ] || { log "no apt sources found under /etc/apt"; exit 1; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "making a Debian bookworm root from ${sources[*]}"
  # ca-certificates: pip and apt over TLS; the package lists stay in the image
  # so the Dockerfiles on top can apt-get install without an update.
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --include=ca-certificates \
    --aptopt='Acquire::Retries "3"' \
    bookworm "$tmp/root.tar" "${sources[@]}"
  log "importing it as $base_image"
  docker import --change 'CMD ["bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    "$tmp/root.tar" "$base_image" >/dev/null
}

build_one() {
  local tag=$1 dir=$2 base=${3:-$base_image}
  current "$tag" "$dir" && { log "$tag present"; return 0; }
  log "building $tag"
  local ctx
  ctx=$(mktemp -d)
  cp -r "$here/offline-images/$dir/." "$ctx/"
  # The host's CA bundle: where TLS is intercepted, pip in the container only
  # works when it trusts what the host trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-bundle.crt"
  if ! docker build --quiet --build-arg "BASE_IMAGE=$base" \
      --label "geno.standin-hash=$(definition_hash "$dir")" -t "$tag" "$ctx" >"$ctx/.build.log" 2>&1; then
    cat "$ctx/.build.log" >&2
    rm -rf "$ctx"
    log "building $tag failed"
    exit 1
  fi
  rm -rf "$ctx"
}

build_base
build_one "$python_image" python
build_one "$postgres_image" postgres
build_one "$redis_image" redis
# Temporal's server (examples/farsight) on the Python stand-in.
build_one "$temporal_image" temporal "$python_image"
# Node 20 (examples/aiuteur).
build_one "$node_image" node
log "done: $python_image $postgres_image $redis_image $temporal_image $node_image"
