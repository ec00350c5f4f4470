"""No build hangs (issue 18): a 3000-page file of one-line pages beside a good book finishes in bounded time; a
book over its time budget stops and keeps what it has; a worker stuck past the budget is killed and reported; the
book pool and OCR share one budget of processes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from mmretinal_builder import stage as stage_mod
from mmretinal_builder.executors import local
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner, book_key
from mmretinal_builder.samples import generate_samples, hostile
from mmretinal_builder.stages import pages as pages_mod

from .helpers import build_cmd, dataset_bytes, problems_by_book, read_jsonl, write_recipe

FAKE = {"fake_pages": "tests.foundation.fake_stages:PagesStage",
        "hang": "tests.reliability.fake_stages:HangStage",
        "processes": "tests.reliability.fake_stages:ProcessesStage",
        "fake_count_all": "tests.foundation.fake_stages:CountAllStage"}


@pytest.fixture()
def fake_stages(monkeypatch):
    for name, target in FAKE.items():
        monkeypatch.setitem(stage_mod.STAGES, name, target)


@pytest.fixture(scope="module")
def good_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one-good")
    generate_samples(out, seed=11, books=1, figures_per_book=6, scanned=False, broken_text=False)
    (out / "ground_truth.json").unlink()
    (pdf,) = out.glob("*.pdf")
    return pdf


def test_3000_one_line_pages_beside_a_good_book_finish_in_bounded_time(good_book: Path, tmp_path: Path) -> None:
    """The file that stalled a build (every page sent to Tesseract, then a pool waiting on a dead worker) is read in
    seconds, OCR skips its text-only pages, and the good book's output is what it is without it."""
    books = tmp_path / "books"
    books.mkdir()
    (books / good_book.name).write_bytes(good_book.read_bytes())
    (books / "one_line_pages.pdf").write_bytes(hostile.one_line_pages(3000))
    recipe_file = write_recipe(tmp_path / "recipe.yaml")
    t0 = time.monotonic()
    res = subprocess.run(build_cmd([books], tmp_path / "run", recipe_file, workers=2), capture_output=True, text=True,
                         timeout=290)
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr[-3000:]
    assert took < 240, f"the build took {took:.0f} s"
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["books"]["failed"] == 0
    big = json.loads((tmp_path / "run" / "shards" / book_key("one_line_pages.pdf") / "00-pages" / "stats.json")
                     .read_text())
    assert big["counters"]["pages"] == 3000 and big["kept"] == 3000
    assert big["counters"]["pages:ocr-skipped"] > 2500 and "pages:ocr" not in big["counters"]
    warnings = [p["warning"] for p in problems_by_book(tmp_path / "run")["one_line_pages.pdf"]]
    assert any("text-only or blank pages are not" in w for w in warnings), warnings
    ref = subprocess.run(build_cmd([good_book], tmp_path / "ref", recipe_file, workers=2), capture_output=True,
                         text=True, timeout=290)
    assert ref.returncode == 0, ref.stderr[-3000:]
    assert dataset_bytes(tmp_path / "run") == dataset_bytes(tmp_path / "ref")
    assert any(k.startswith("dataset/data/") for k in dataset_bytes(tmp_path / "ref"))


def test_a_book_over_its_time_budget_keeps_what_it_read(good_book: Path, tmp_path: Path, monkeypatch) -> None:
    """Pages of ``slow_*.pdf`` take 0.4 s each; with a budget of 1.5 s per book that book stops after a few pages
    with a warning and keeps the figures of the pages it read; the other book, on its own clock, finishes."""
    slow = tmp_path / "books" / f"slow_{good_book.name}"
    slow.parent.mkdir()
    slow.write_bytes(good_book.read_bytes())
    (tmp_path / "books" / good_book.name).write_bytes(good_book.read_bytes())
    real = pages_mod.build_page_model

    def slowly(page, digests=None):
        if Path(page.parent.name).name.startswith("slow_"):
            time.sleep(0.4)
        return real(page, digests)

    monkeypatch.setattr(pages_mod, "build_page_model", slowly)
    # the extraction stages only: dedup would merge the two copies' figures
    rec = recipe_from_dict({"limits": {"book_timeout_s": 1.5}, "stages": ["pages", "pair", "crop"]})
    res = Runner(rec, tmp_path / "run", workers=1, show_progress=False).build([tmp_path / "books"])
    assert not res.failed and sorted(res.books) == sorted([good_book.name, slow.name])
    shard = tmp_path / "run" / "shards"
    full = json.loads((shard / book_key(good_book.name) / "00-pages" / "stats.json").read_text())["counters"]
    cut = json.loads((shard / book_key(slow.name) / "00-pages" / "stats.json").read_text())["counters"]
    assert 1 <= cut["pages"] < full["pages"] and cut["pages:over-time-budget"] == full["pages"] - cut["pages"]
    warnings = [p["warning"] for p in problems_by_book(tmp_path / "run")[slow.name]]
    assert any("time budget of 1.5 s (limits.book_timeout_s) ran out" in w for w in warnings), warnings
    figures = read_jsonl(tmp_path / "run" / "figures.jsonl")
    ref = {(f["page"], f["label"]) for f in figures if f["book"] == good_book.name
           and max(f["page"], f["caption_page"]) <= cut["pages"]}
    got = {(f["page"], f["label"]) for f in figures if f["book"] == slow.name}
    assert got and got == ref, "the figures of the pages read before the budget ran out"


def test_a_worker_stuck_past_its_budget_is_killed_and_reported(fake_stages, tmp_path: Path, monkeypatch) -> None:
    from tests.reliability.test_worker_crash import make_books

    monkeypatch.setattr(local, "GRACE_MIN", 2.0)
    books = make_books(tmp_path / "books", ["a.pdf", "hang_me.pdf", "b.pdf"])
    rec = recipe_from_dict({"limits": {"book_timeout_s": 1}, "stages": ["fake_pages", "hang", "fake_count_all"]})
    t0 = time.monotonic()
    res = Runner(rec, tmp_path / "run", workers=2, show_progress=False).build([books])
    assert time.monotonic() - t0 < 60
    assert res.books == ["a.pdf", "b.pdf"]
    assert [(e["book"], e["stage"]) for e in res.failed] == [("hang_me.pdf", "time-budget")]
    assert "overran its time budget" in res.failed[0]["error"]


@pytest.mark.parametrize(("workers", "n_books", "expect"), [(2, 2, 1), (2, 1, 2), (1, 2, 1)])
def test_books_and_ocr_share_one_budget_of_processes(fake_stages, tmp_path: Path, workers: int, n_books: int,
                                                     expect: int) -> None:
    """Several books in a pool: one process each (OCR in the worker's own process, never a pool in a pool); one
    book alone may use every process of the budget for its OCR."""
    from tests.reliability.test_worker_crash import make_books

    books = make_books(tmp_path / "books", ["a.pdf", "b.pdf"][:n_books])
    rec = recipe_from_dict({"stages": ["fake_pages", "processes"]})
    res = Runner(rec, tmp_path / "run", workers=workers, show_progress=False).build([books])
    (row,) = [s for s in res.stats["stages"] if s["stage"] == "processes"]
    assert row["counters"] == {f"processes:{expect}": n_books}


def test_ocr_processes_never_exceed_the_budget(tmp_path: Path, monkeypatch) -> None:
    """The pages stage asks OCR for min(ocr_workers, processes the runner allows)."""
    from mmretinal_builder.jobs import run_stages
    from mmretinal_builder.samples.bundle import BUNDLE_DIR  # the bundled sample books

    seen: list[int] = []

    def fake_ocr(book, models, pages, cfg, workers=1, progress=None, stop=None):
        seen.append(workers)
        return []

    monkeypatch.setattr(pages_mod, "ocr_models", fake_ocr)
    scanned = BUNDLE_DIR / "sample_en_scanned.pdf"
    for processes, want in ((1, 1), (3, 3), (None, 4)):
        run_stages([pages_mod.PagesStage(pages_mod.PagesParams(ocr_workers=4))], run_dir=tmp_path / str(processes),
                   book_path=scanned, processes=processes)
        assert seen[-1] == want
