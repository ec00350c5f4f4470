"""constraints/install_torch.sh picks torch's build and falls back without leaving a broken venv.

The venv's python is a shim that records every call and answers pip as a machine with or without the CPU wheel
would; nvidia-smi is a shim too. What is checked: which lock ends up in VENV/torch-lock.txt, which pip commands
ran, what was uninstalled, and what a user is told.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "constraints" / "install_torch.sh"

SHIM = r"""#!/usr/bin/env bash
echo "$*" >> "$CALLS"
if [ "$1" = -m ] && [ "$2" = pip ]; then
  case "$3" in
    install)
      if [[ "$*" == *torch-cpu.txt* ]]; then
        if [[ "$*" == *--extra-index-url* ]]; then ok=$CPU_FROM_INDEX; else ok=$CPU_FROM_CONFIG; fi
        if [ "$ok" != 1 ]; then
          echo "ERROR: Could not find a version that satisfies the requirement torch==2.13.0+cpu" >&2; exit 1
        fi
        echo 2.13.0+cpu > "$STATE"
      else
        echo 2.14.1 > "$STATE"
      fi ;;
    list) printf '%s\n' $PREVIOUSLY_INSTALLED ;;
  esac
  exit 0
fi
cat "$STATE"   # python -c 'import torch; print(torch.__version__)'
"""


def run(tmp_path: Path, want: str, *, gpu: bool, cpu_from_config: bool = True, cpu_from_index: bool = True,
        previously: str = "") -> tuple[subprocess.CompletedProcess, list[str], str]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text(SHIM)
    py.chmod(0o755)
    tools = tmp_path / "tools"
    tools.mkdir()
    smi = tools / "nvidia-smi"  # present in both cases: without a GPU it fails, as it does with no driver loaded
    smi.write_text("#!/bin/sh\n" + ("echo 'GPU 0: NVIDIA H100'\n" if gpu else "echo 'NVIDIA-SMI has failed' >&2; exit 9\n"))
    smi.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "CALLS": str(calls),
        "STATE": str(tmp_path / "torch-version"),
        "CPU_FROM_CONFIG": "1" if cpu_from_config else "0",
        "CPU_FROM_INDEX": "1" if cpu_from_index else "0",
        "PREVIOUSLY_INSTALLED": previously,
        "TORCH_CPU_INDEX": "https://cpu-index.invalid/whl",
    }
    proc = subprocess.run(["bash", str(SCRIPT), str(venv), want], env=env, capture_output=True, text=True,
                          timeout=60)
    lock = (venv / "torch-lock.txt").read_text() if (venv / "torch-lock.txt").exists() else ""
    return proc, calls.read_text().splitlines() if calls.exists() else [], lock


def installs(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("-m pip install")]


def test_no_gpu_takes_the_cpu_build_and_clears_the_cuda_leftovers(tmp_path):
    proc, calls, lock = run(tmp_path, "auto", gpu=False, previously="torchvision==0.29.1 nvidia-cublas==13.1.1.3 "
                            "triton==3.8.0 numpy==2.2.6")
    assert proc.returncode == 0, proc.stderr
    assert lock == (REPO / "constraints" / "torch-cpu.txt").read_text()
    assert len(installs(calls)) == 1 and "-c constraints/dev.txt" in installs(calls)[0]
    uninstall = [c for c in calls if c.startswith("-m pip uninstall")]
    assert uninstall and set(uninstall[0].split()[-3:]) == {"torchvision", "nvidia-cublas", "triton"}
    assert "numpy" not in uninstall[0]
    assert "torch 2.13.0+cpu (cpu build)" in proc.stdout


def test_cpu_wheel_from_pytorchs_index_when_not_configured(tmp_path):
    proc, calls, lock = run(tmp_path, "auto", gpu=False, cpu_from_config=False)
    assert proc.returncode == 0, proc.stderr
    assert "+cpu" in lock
    assert "--extra-index-url https://cpu-index.invalid/whl" in installs(calls)[1]
    assert "Could not find" not in proc.stderr  # the first try's failure is not a user's problem


def test_cpu_wheel_unreachable_falls_back_to_the_cuda_build_with_a_note(tmp_path):
    proc, calls, lock = run(tmp_path, "auto", gpu=False, cpu_from_config=False, cpu_from_index=False)
    assert proc.returncode == 0, proc.stderr
    assert lock == (REPO / "constraints" / "torch-cuda.txt").read_text()
    assert "-c constraints/torch-cuda.txt" in installs(calls)[-1]
    assert "torch==2.13.0+cpu" in proc.stderr and "https://cpu-index.invalid/whl" in proc.stderr
    assert "installing the CUDA build instead" in proc.stderr


def test_gpu_takes_the_cuda_build_directly(tmp_path):
    proc, calls, lock = run(tmp_path, "auto", gpu=True)
    assert proc.returncode == 0, proc.stderr
    assert "torch==2.14.1" in lock and len(installs(calls)) == 1
    assert not any("torch-cpu" in c for c in calls)


def test_forced_cpu_on_a_gpu_machine(tmp_path):
    proc, _, lock = run(tmp_path, "cpu", gpu=True)
    assert proc.returncode == 0 and "+cpu" in lock


@pytest.mark.parametrize("want", ["gpu", "CPU"])
def test_unknown_build_is_an_error(tmp_path, want):
    proc, calls, lock = run(tmp_path, want, gpu=False)
    assert proc.returncode == 2 and f"got '{want}'" in proc.stderr
    assert not calls and not lock
