"""Fixtures of the reliability tests: a small set of good sample books and the hostile corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmretinal_builder import io as io_mod
from mmretinal_builder.runner import Runner
from mmretinal_builder.samples import generate_samples
from mmretinal_builder.samples.hostile import write_corpus

from .helpers import FullDisk, recipe, snapshot


@pytest.fixture(scope="session")
def good_books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five born-digital sample books with four figures each (PDFs only)."""
    out = tmp_path_factory.mktemp("good")
    generate_samples(out, seed=5, books=5, figures_per_book=4, scanned=False, broken_text=False)
    (out / "ground_truth.json").unlink()
    return out


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile")
    write_corpus(out, seed=0)
    (out / "hostile.json").unlink()
    return out


@pytest.fixture(scope="session")
def small_books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three born-digital sample books with two figures each: the cheap input of the repeated builds."""
    out = tmp_path_factory.mktemp("small")
    generate_samples(out, seed=9, books=3, figures_per_book=2, scanned=False, broken_text=False)
    (out / "ground_truth.json").unlink()
    return out


@pytest.fixture(scope="session")
def small_reference(small_books: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], int]:
    """An uninterrupted build of ``small_books`` (snapshot without logs/) and how many files it wrote."""
    run = tmp_path_factory.mktemp("small-ref") / "run"
    counter = FullDisk(None)
    mp = pytest.MonkeyPatch()
    mp.setattr(io_mod, "os", counter)
    try:
        Runner(recipe(base=run.parent), run, show_progress=False).build([small_books])
    finally:
        mp.undo()
    snap = snapshot(run)
    assert any(k.startswith("dataset/data/") for k in snap), "the reference build exports a dataset"
    return snap, counter.writes
