#!/usr/bin/env bash
# Remake the locks from fresh venvs resolved without them (the only way a dependency moves):
#
#   bash constraints/refresh.sh label-studio   # constraints/label-studio.txt (the review server's venv)
#   bash constraints/refresh.sh dev            # constraints/dev.txt + torch-cuda.txt (.venv of `make setup`)
#
# torch-cpu.txt is one line, edited by hand (the CPU wheel is not on PyPI, so no resolver run finds it).
#
# Then, before committing: `make test` on a fresh clone with no caches (rm -rf ~/.cache/mmretinal ~/.cache/pip),
# which creates both venvs from the new locks; the review integration test starts the server from its lock.
# Known-bad releases are capped here so a refresh cannot bring them back.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3.11}
LS_CAPS=("sentry-sdk<3")   # sentry-sdk 3.0.0: label-studio 1.23.2 dies at start ("Unknown option 'send_default_pii'")
WHAT=${1:?usage: refresh.sh label-studio|dev}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

header() {  # the lock's comment block, kept from the current file
  sed -n '/^#/p;/^[^#]/q' "$1"
}

case $WHAT in
  label-studio)
    "$PY" -m venv "$TMP/v"
    "$TMP/v/bin/python" -m pip install -q --upgrade pip
    "$TMP/v/bin/python" -m pip install -q label-studio "${LS_CAPS[@]}"
    { header constraints/label-studio.txt; "$TMP/v/bin/python" -m pip freeze --all; } > "$TMP/lock"
    mv "$TMP/lock" constraints/label-studio.txt
    ;;
  dev)
    "$PY" -m venv "$TMP/v"
    "$TMP/v/bin/python" -m pip install -q --upgrade pip
    "$TMP/v/bin/python" -m pip install -q torch  # PyPI's build for Linux: CUDA
    "$TMP/v/bin/python" -m pip install -q -e ".[train,review,ray,dev]" wheel  # wheel: the build backend's
    "$TMP/v/bin/python" -m pip freeze --all --exclude-editable > "$TMP/freeze"
    CUDA_ONLY='^(torch|triton|nvidia-[^=]*|cuda-[^=]*)=='  # what only the CUDA build of torch brings
    { header constraints/dev.txt; grep -Ev "$CUDA_ONLY" "$TMP/freeze"; } > "$TMP/lock"
    { header constraints/torch-cuda.txt; grep -E "$CUDA_ONLY" "$TMP/freeze"; } > "$TMP/cuda"
    mv "$TMP/lock" constraints/dev.txt
    mv "$TMP/cuda" constraints/torch-cuda.txt
    ;;
  *) echo "usage: refresh.sh label-studio|dev" >&2; exit 2 ;;
esac
git --no-pager diff --stat -- constraints/
