#!/usr/bin/env bash
# Refresh requirements/ci.txt, the pinned environment the tests install (`pip install uv` first).
# Linux x86-64, CPython 3.11, CPU torch; every extra the tests use. Elsewhere, add
# --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match for the torch wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)  # the CPU torch wheel on this project's machines
uv pip compile pyproject.toml --extra torch --extra offline --extra ray --extra s3 --extra dev \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 "${find_links[@]}" \
  --override requirements/cpu-torch.txt --custom-compile-command "bash scripts/lock.sh" \
  -o requirements/ci.txt "$@"
