"""Hostile inputs: a build over good sample books plus the hostile corpus finishes, exports the good books
exactly as a build without the hostile files does, and reports every hostile file (an error, or a warning for a
book that finished), in errors.jsonl and in the stats. Adding the hostile files to a finished run loses nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmretinal_builder.pdf.limits import PASSWORD_ENV
from mmretinal_builder.runner import Runner, book_key
from mmretinal_builder.samples import hostile

from .helpers import dataset_bytes, problems_by_book, read_jsonl, recipe, snapshot

#: The limits under test: small enough that the 10,000-page book and the slow page finish quickly.
LIMITS = {"max_pages": 50, "page_timeout_s": 3.0, "max_image_pixels": 100_000_000}
CORPUS = hostile.corpus(seed=0)


def build(inputs: list[Path], run: Path, workers: int = 1):
    rec = recipe(limits=LIMITS, books=hostile.recipe_books(), base=run.parent)
    return Runner(rec, run, workers=workers, show_progress=False).build(inputs)


@pytest.fixture(scope="module")
def reference(good_books, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("hostile-ref") / "run"
    res = build([good_books], run)
    assert not res.failed and len(res.books) == 5 and res.figures > 0
    return run


@pytest.fixture(scope="module")
def mixed(good_books, hostile_dir, tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("mixed-books")
    for p in [*good_books.glob("*.pdf"), *hostile_dir.glob("*.pdf")]:
        shutil.copy(p, folder / p.name)
    run = tmp_path_factory.mktemp("hostile-mixed") / "run"
    return run, build([folder], run, workers=2)


def test_good_books_export_exactly_as_without_the_hostile_files(reference, mixed):
    run, res = mixed
    good = [b["name"] for b in json.loads((reference / "run.json").read_text())["books"]]
    assert sorted(res.books) == sorted(good + [h.name for h in CORPUS if h.level == "warning"])
    ref = dataset_bytes(reference)
    assert any(k.startswith("dataset/data/") for k in ref)
    assert dataset_bytes(run) == ref


def test_every_hostile_file_is_reported_with_its_reason(mixed):
    run, res = mixed
    problems = problems_by_book(run)
    for h in CORPUS:
        got = problems.get(h.name, [])
        matching = [p for p in got if p["level"] == h.level and h.expect in (p.get("error") or p.get("warning"))]
        assert matching, f"{h.name} ({h.note}): expected a {h.level} containing {h.expect!r}, got {got}"
    failed = sorted(e["book"] for e in res.failed)
    assert failed == sorted(h.name for h in CORPUS if h.level == "error")
    assert len(failed) >= 10


def test_the_stats_count_failures_and_warnings(mixed):
    run, _ = mixed
    stats = json.loads((run / "stats.json").read_text())
    n_err = sum(h.level == "error" for h in CORPUS)
    n_warn = sum(h.level == "warning" for h in CORPUS)
    assert stats["books"] == {"total": 5 + len(CORPUS), "ok": 5 + n_warn, "failed": n_err, "warned": n_warn}
    assert stats["problems"] == read_jsonl(run / "errors.jsonl")
    counters = {r["book"]: r for r in stats["per_book"] if r["stage"] == "crop"}
    assert counters[book_key("many_pages.pdf")]["kept"] == 0
    pages_shard = run / "shards" / book_key("many_pages.pdf") / "00-pages" / "stats.json"
    assert json.loads(pages_shard.read_text())["counters"]["pages"] == LIMITS["max_pages"]


def test_adding_hostile_files_to_a_finished_run_loses_nothing(reference, hostile_dir, good_books, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = snapshot(run)
    build([good_books, hostile_dir], run)
    after = snapshot(run)
    # the good books' shards and every stored image stay as they were (run-scope shards are redone: the set of
    # books changed)
    kept = [k for k in before if k.startswith(("images/", "dataset/data/"))
            or (k.startswith("shards/") and not k.startswith("shards/_run/"))]
    changed = [k for k in kept if after.get(k) != before[k]]
    assert kept and not changed, f"files of the finished run changed or vanished: {changed[:5]}"
    assert dataset_bytes(run) == dataset_bytes(reference)


def test_the_password_comes_from_the_environment(hostile_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, hostile.PASSWORD)
    res = build([hostile_dir / "encrypted.pdf", hostile_dir / "encrypted_wrong_password.pdf"], tmp_path / "run")
    assert res.books == ["encrypted.pdf"], "the environment's password opens the book"
    # the recipe's (wrong) password wins over the environment for the book it names
    assert [(e["book"], "password" in e["error"]) for e in res.failed] == [("encrypted_wrong_password.pdf", True)]
    for p in (tmp_path / "run").rglob("*"):
        assert not p.is_file() or hostile.PASSWORD.encode() not in p.read_bytes()


def test_the_memory_limit_turns_a_bomb_past_the_pixel_budget_into_a_warning(hostile_dir, tmp_path):
    """With the pixel budget lifted, decoding the 2 GB bomb must fail inside the memory limit, not exhaust RAM."""
    rec = recipe(limits={"max_image_pixels": 2_000_000_000, "max_memory_mb": 64}, base=tmp_path)
    res = Runner(rec, tmp_path / "run", show_progress=False).build([hostile_dir / "decompression_bomb.pdf"])
    assert res.books == ["decompression_bomb.pdf"] and not res.failed
    warnings = [p["warning"] for p in problems_by_book(tmp_path / "run")["decompression_bomb.pdf"]]
    assert any("malloc" in w or "out of memory" in w for w in warnings), warnings
