#!/usr/bin/env bash
# Prints `export` lines choosing the base images: the official ones when the
# engine has them or can pull them, otherwise stand-ins built by
# scripts/offline-images.sh. Use: eval "$(scripts/images.sh)"
# Variables already set are kept as they are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# GENO_TEST_IMAGE: a plain Debian for the tests' small fixture stacks.
# TEMPORAL_IMAGE: Temporal's server, for examples/farsight.
# NODE_IMAGE: Node 20, for examples/aiuteur.
declare -A official=([PYTHON_IMAGE]=python:3.11-slim [POSTGRES_IMAGE]=postgres:16 [REDIS_IMAGE]=redis:7
  [GENO_TEST_IMAGE]=debian:bookworm-slim [TEMPORAL_IMAGE]=temporalio/auto-setup:1.25
  [NODE_IMAGE]=node:20-alpine)
declare -A standin=([PYTHON_IMAGE]=geno-local/python:3.11 [POSTGRES_IMAGE]=geno-local/postgres:15
  [REDIS_IMAGE]=geno-local/redis:7 [GENO_TEST_IMAGE]=geno-local/bookworm:base
  [TEMPORAL_IMAGE]=geno-local/temporal:standin [NODE_IMAGE]=geno-local/node:20)

need_standins=0
for var in PYTHON_IMAGE POSTGRES_IMAGE REDIS_IMAGE GENO_TEST_IMAGE TEMPORAL_IMAGE NODE_IMAGE; do
  [ -n "${!var:-}" ] && continue
  image=${official[$var]}
  if docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null 2>&1; then
    echo "export $var=$image"
  else
    need_standins=1
    echo "export $var=${standin[$var]}"
  fi
done
if [ "$need_standins" = 1 ]; then
  echo "images: no registry answered; using local stand-ins" >&2
  "$here/offline-images.sh" >&2
fi
