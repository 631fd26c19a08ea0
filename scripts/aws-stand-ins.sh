#!/usr/bin/env bash
# What the promote tests stand AWS on: moto (ECS, ECR, SSM, IAM, STS) comes
# with the project venv (requirements-test.txt); image pushes go to Debian's
# docker-registry, installed here once. The tests start both themselves on
# free loopback ports and stop them afterwards.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
echo "aws-stand-ins: installing docker-registry from Debian's packages" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq >/dev/null
# The package's service is not wanted: tests run their own registry.
RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq docker-registry >/dev/null
command -v docker-registry >/dev/null
