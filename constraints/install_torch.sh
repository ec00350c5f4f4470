#!/usr/bin/env bash
# Install the locked torch build into a venv (called by `make setup`):
#
#   bash constraints/install_torch.sh VENV_DIR auto|cpu|cuda
#
# auto: cuda where an NVIDIA driver answers (`nvidia-smi -L`), cpu otherwise.
# Why two builds: the CUDA build drags in 4 GB of NVIDIA libraries and triton that a machine without a GPU never
# loads; a CI runner or a laptop gets the CPU build (about 0.9 GB against 5.5 GB), which is what keeps a fresh
# install inside a small disk.
# PyPI serves only the CUDA build for Linux. The CPU wheel is looked for where pip is configured to look
# (index, find-links), then on PyTorch's CPU index ($TORCH_CPU_INDEX). If neither has it, the CUDA build is
# installed instead, with a note: a machine that reaches only PyPI still gets a working venv.
# The lock used is copied to VENV_DIR/torch-lock.txt so later installs into the venv keep that torch.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:?usage: install_torch.sh VENV_DIR auto|cpu|cuda}
WANT=${2:-auto}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
PY="$VENV/bin/python"
PIP=("$PY" -m pip install -q -c constraints/dev.txt --build-constraint constraints/dev.txt)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

if [ "$WANT" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then WANT=cuda; else WANT=cpu; fi
fi
case $WANT in cpu|cuda) ;; *) echo "install_torch.sh: TORCH must be auto, cpu or cuda (got '$WANT')" >&2; exit 2 ;; esac

installed_from() {  # the lock in use, and the other build's leftovers gone (a venv switched from cuda to cpu)
  cp "constraints/torch-$1.txt" "$VENV/torch-lock.txt"
  if [ "$1" = cpu ]; then
    # torchvision (from older setups) is compiled against one torch build and fails to import beside another
    stale=$("$PY" -m pip list --format=freeze 2>/dev/null | grep -Eio '^(torchvision|nvidia-[^=]*|cuda-[^=]*|triton)' || true)
    if [ -n "$stale" ]; then
      echo "install_torch.sh: removing what the CUDA build left behind: $(echo $stale)"
      # shellcheck disable=SC2086
      "$PY" -m pip uninstall -q -y $stale
    fi
  fi
  echo "install_torch.sh: torch $("$PY" -W ignore -c 'import torch; print(torch.__version__)') ($1 build) in $VENV"
}

if [ "$WANT" = cpu ]; then
  if "${PIP[@]}" -c constraints/torch-cpu.txt torch >"$LOG" 2>&1 \
     || "${PIP[@]}" -c constraints/torch-cpu.txt --extra-index-url "$TORCH_CPU_INDEX" torch >>"$LOG" 2>&1; then
    installed_from cpu
    exit 0
  fi
  echo "install_torch.sh: note: torch's CPU build ($(grep -v '^#' constraints/torch-cpu.txt)) is not reachable" \
       "from the configured indexes nor from $TORCH_CPU_INDEX; installing the CUDA build instead" \
       "(about 5.5 GB; it runs on the CPU too). pip said:" >&2
  grep -E '^(ERROR|WARNING: Retrying)' "$LOG" | tail -n 3 >&2 || true
fi
"${PIP[@]}" -c constraints/torch-cuda.txt torch
installed_from cuda
