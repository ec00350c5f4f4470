"""A disk that fills up during a build: a clean error, no shard marked done with missing data, no temp file
left behind, and a rerun (with space again) ends byte-identical to a build that never failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmretinal_builder import io as io_mod
from mmretinal_builder.errors import BuilderError
from mmretinal_builder.io import iter_jsonl
from mmretinal_builder.runner import Runner

from .helpers import FullDisk, recipe, snapshot


def build(books: Path, run: Path) -> None:
    Runner(recipe(base=run.parent), run, show_progress=False).build([books])


def check_no_false_done(run: Path) -> None:
    """A shard with stats.json has complete items and rejects; no temp file anywhere."""
    for stats in run.glob("shards/*/*/stats.json"):
        for name in ("items.jsonl", "rejects.jsonl"):
            assert (stats.parent / name).is_file(), f"{stats.parent} is marked done without {name}"
            list(iter_jsonl(stats.parent / name))  # parses: the file is whole
    leftovers = [p for p in run.rglob("*.tmp") if p.is_file()]
    assert not leftovers, f"temp files left behind: {leftovers}"


#: where in the build's sequence of writes the disk fills up (first, middle, near the end; more for a longer run)
POINTS = int(os.environ.get("MMRETINAL_DISKFULL_POINTS", "3"))
SHARES = [round(0.97 * i / max(POINTS - 1, 1), 3) for i in range(POINTS)]


@pytest.mark.parametrize("share", SHARES)
def test_disk_full_is_a_clean_error_and_the_rerun_is_identical(small_books, small_reference, tmp_path, monkeypatch,
                                                               share):
    ref, writes = small_reference
    assert writes > 20, "the build writes its shards, images and summary through mmretinal_builder.io"
    fail_at = 1 + int(share * (writes - 1))
    run = tmp_path / "run"
    full = FullDisk(fail_at)
    monkeypatch.setattr(io_mod, "os", full)
    with pytest.raises(BuilderError, match="cannot write to the run directory: No space left on device"):
        build(small_books, run)
    assert full.writes >= fail_at
    assert not (run / "stats.json").exists(), "the run's summary must not be written when the disk is full"
    check_no_false_done(run)
    monkeypatch.setattr(io_mod, "os", os)
    build(small_books, run)
    assert snapshot(run) == ref


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "stats.json"
    io_mod.write_json(target, {"done": 1})
    monkeypatch.setattr(io_mod, "os", FullDisk(1))
    with pytest.raises(OSError, match="No space left"):
        io_mod.write_json(target, {"done": 2})
    assert target.read_text() == '{\n "done": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json"]
