"""A worker process that dies (segfault, OOM killer) costs only its own book: the others finish, the dead
book is reported, and the outputs of the others equal a build without it."""

from __future__ import annotations

import time
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder import stage as stage_mod
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner

from .helpers import read_jsonl

STAGES = {"fake_pages": "tests.foundation.fake_stages:PagesStage",
          "kill_self": "tests.reliability.fake_stages:KillSelfStage",
          "fake_count_all": "tests.foundation.fake_stages:CountAllStage"}


@pytest.fixture(autouse=True)
def fake_stages(monkeypatch):
    for name, target in STAGES.items():
        monkeypatch.setitem(stage_mod.STAGES, name, target)


def crash_recipe():
    return recipe_from_dict({"stages": ["fake_pages", "kill_self", "fake_count_all"]})


def make_books(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        doc = pymupdf.open()
        for k in range(1 + i % 3):
            doc.new_page().insert_text((72, 72), f"{name} page {k}")
        doc.save(folder / name)
    return folder


def test_a_dead_worker_costs_only_its_book(tmp_path):
    good = ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    books = make_books(tmp_path / "books", [*good, "crash_me.pdf"])
    clean = make_books(tmp_path / "clean", good)
    t0 = time.monotonic()
    res = Runner(crash_recipe(), tmp_path / "run", workers=2, show_progress=False).build([books])
    # the watcher sees the dead worker through its process sentinel at once (never a wait on futures that
    # cannot finish); the bound is loose for loaded CI machines, the build itself takes seconds
    assert time.monotonic() - t0 < 120
    assert res.books == good
    assert [(e["book"], e["stage"]) for e in res.failed] == [("crash_me.pdf", "worker")]
    assert "worker process died" in res.failed[0]["error"]
    errors = read_jsonl(tmp_path / "run" / "errors.jsonl")
    assert [(e["book"], e["level"]) for e in errors] == [("crash_me.pdf", "error")]
    Runner(crash_recipe(), tmp_path / "ref", workers=2, show_progress=False).build([clean])
    assert (tmp_path / "run" / "figures.jsonl").read_bytes() == (tmp_path / "ref" / "figures.jsonl").read_bytes()
