"""SIGKILL at seeded random points of a multi-book build, over and over in one run directory; the build that
finally finishes is byte-identical (logs/ aside) to one that was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from .helpers import build_cmd, snapshot, write_recipe

KILLS = int(os.environ.get("MMRETINAL_KILLS", "10"))  # more for a longer campaign (docs/reliability.md)


def done_shards(run: Path) -> int:
    return len(list(run.glob("shards/*/*/stats.json")))


def start_and_kill(cmd: list[str], run: Path, new_shards: int, delay: float, log) -> bool:
    """Start a build; once ``new_shards`` more shards are done, wait ``delay`` s and SIGKILL its process group.
    Returns whether it was killed (False: it finished first)."""
    before = done_shards(run) if run.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (done_shards(run) if run.exists() else 0) >= before + new_shards:
            break
        time.sleep(0.02)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return killed


def test_random_sigkills_then_resume_is_identical(small_books, small_reference, tmp_path):
    ref, _ = small_reference
    rng = random.Random(20240611)
    run = tmp_path / "run"
    recipe_file = write_recipe(tmp_path / "recipe.yaml")
    log = tmp_path / "builds.log"
    kills: list[tuple[int, int, float, int]] = []  # (trial, shards asked for, delay, shards done at the kill)
    for trial in range(3 * KILLS):
        if len(kills) == KILLS:
            break
        workers = 2 if trial % 3 == 2 else 1
        new, delay = rng.randint(0, 1), round(rng.uniform(0.0, 1.5), 2)
        if start_and_kill(build_cmd([small_books], run, recipe_file, workers), run, new, delay, log):
            kills.append((trial, new, delay, done_shards(run)))
        else:  # it finished: start again from nothing, so the next kills land in a build that has work left
            assert snapshot(run) == ref, "an uninterrupted (but resumed) build differs from the reference"
            subprocess.run(["rm", "-rf", str(run)], check=True)
    assert len(kills) == KILLS, f"only {len(kills)} builds were killed mid-run: {kills}"
    res = subprocess.run(build_cmd([small_books], run, recipe_file), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert snapshot(run) == ref, f"kill points (trial, shards, delay, done): {kills}"
