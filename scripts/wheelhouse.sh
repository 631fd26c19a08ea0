#!/usr/bin/env bash
# For machines whose containers reach no package index: download the image's
# pinned wheels on the host into wheelhouse/ (ignored by git), which the
# Dockerfile then installs from with --no-index. Delete wheelhouse/ to go back.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download --quiet --disable-pip-version-check \
  --only-binary=:all: --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --python-version 3.11 --implementation cp \
  -r requirements.txt -d wheelhouse
# Markers are evaluated for this host's Python; fetch the ones a 3.11.0–3.11.2
# interpreter (Debian bookworm's is 3.11.2) needs as well.
grep -E 'python_full_version *<' requirements.txt | sed 's/ *;.*//' | while read -r req; do
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp -d wheelhouse "$req"
done
echo "wheelhouse/: $(ls wheelhouse | wc -l) wheels for requirements.txt"
