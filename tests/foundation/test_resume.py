"""A multi-book build killed with SIGKILL mid-run and started again ends byte-identical to an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmretinal_builder.samples import generate_samples


def build_cmd(books: Path, out: Path, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "mmretinal_builder.cli", "build", str(books), "--out", str(out),
            "--workers", str(workers), "--no-progress"]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and "logs" not in p.parts}


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("books")
    generate_samples(out, seed=11, books=3, figures_per_book=5, scanned=False, broken_text=False)
    return out


@pytest.fixture(scope="module")
def reference(books, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("ref") / "run"
    subprocess.run(build_cmd(books, out), check=True, capture_output=True, timeout=600)
    snap = snapshot(out)
    assert any(k.startswith("dataset/") for k in snap), "the build exports a dataset"
    return snap


def kill_after_shards(cmd: list[str], run: Path, shards: int, delay: float) -> None:
    """Start a build, wait until `shards` shards are done, wait `delay` s more, then SIGKILL it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if len(list(run.glob("shards/*/*/stats.json"))) >= shards:
            time.sleep(delay)
            break
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.mark.parametrize(("shards", "delay", "workers"), [(1, 0.0, 1), (4, 0.3, 2), (9, 0.1, 1)])
def test_sigkill_then_resume_is_identical(books, reference, tmp_path, shards, delay, workers):
    run = tmp_path / "run"
    kill_after_shards(build_cmd(books, run, workers), run, shards, delay)
    subprocess.run(build_cmd(books, run, workers), check=True, capture_output=True, timeout=600)
    assert snapshot(run) == reference
