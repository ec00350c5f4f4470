"""Runner: shards, resume, funnel accounting, bad books, parallel workers (with fake stages)."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf as fitz
import pytest

from mmretinal_builder import stage as stage_mod
from mmretinal_builder.errors import BuilderError
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner, discover_pdfs


@pytest.fixture(autouse=True)
def fake_stages(monkeypatch):
    monkeypatch.setitem(stage_mod.STAGES, "fake_pages", "tests.foundation.fake_stages:PagesStage")
    monkeypatch.setitem(stage_mod.STAGES, "fake_drop_odd", "tests.foundation.fake_stages:DropOddStage")
    monkeypatch.setitem(stage_mod.STAGES, "fake_count_all", "tests.foundation.fake_stages:CountAllStage")


def make_pdf(path: Path, pages: int) -> Path:
    doc = fitz.open()
    for i in range(pages):
        doc.new_page().insert_text((72, 72), f"page {i}")
    doc.save(path)
    return path


def recipe(**params):
    return recipe_from_dict({"stages": [{"fake_pages": params}, "fake_drop_odd", "fake_count_all"]})


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and "logs" not in p.parts}


def test_build_funnel_and_resume(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    make_pdf(books / "a.pdf", 3)
    make_pdf(books / "b.pdf", 2)
    run = tmp_path / "run"
    res = Runner(recipe(), run, show_progress=False).build([books])
    assert res.books == ["a.pdf", "b.pdf"] and not res.failed
    stats = json.loads((run / "stats.json").read_text())
    by_stage = {s["stage"]: s for s in stats["stages"]}
    assert by_stage["fake_pages"]["kept"] == 10
    assert by_stage["fake_drop_odd"] == {"stage": "fake_drop_odd", "in": 10, "kept": 4,
                                         "dropped": {"odd-page": 6}, "counters": {}}
    assert by_stage["fake_count_all"]["counters"] == {"books": 2}
    assert len((run / "figures.jsonl").read_text().splitlines()) == 4
    assert len((run / "rejects.jsonl").read_text().splitlines()) == 6
    first = snapshot(run)
    # A second run resumes every shard and writes the same bytes.
    Runner(recipe(), run, show_progress=False).build([books])
    assert snapshot(run) == first


def test_changed_params_recompute(tmp_path):
    make_pdf(tmp_path / "a.pdf", 2)
    run = tmp_path / "run"
    Runner(recipe(per_page=1), run, show_progress=False).build([tmp_path / "a.pdf"])
    res = Runner(recipe(per_page=3), run, show_progress=False).build([tmp_path / "a.pdf"])
    assert res.stats["stages"][0]["kept"] == 6


def test_bad_book_is_reported_and_others_finish(tmp_path):
    make_pdf(tmp_path / "good.pdf", 2)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.7\n garbage that is not a pdf")
    run = tmp_path / "run"
    res = Runner(recipe(), run, show_progress=False).build([tmp_path])
    assert res.books == ["good.pdf"]
    errors = [json.loads(line) for line in (run / "errors.jsonl").read_text().splitlines()]
    assert [e["book"] for e in errors] == ["bad.pdf"]
    assert "cannot open PDF" in errors[0]["error"]


def test_parallel_equals_serial(tmp_path):
    for i in range(3):
        make_pdf(tmp_path / f"book{i}.pdf", 2 + i)
    Runner(recipe(), tmp_path / "serial", show_progress=False).build([tmp_path])
    Runner(recipe(), tmp_path / "parallel", workers=2, show_progress=False).build([tmp_path])
    assert snapshot(tmp_path / "serial") == snapshot(tmp_path / "parallel")


def test_duplicate_book_names_rejected(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    make_pdf(tmp_path / "x" / "same.pdf", 1)
    make_pdf(tmp_path / "y" / "same.pdf", 1)
    with pytest.raises(BuilderError, match="share the file name"):
        discover_pdfs([tmp_path])


def test_missing_input(tmp_path):
    with pytest.raises(BuilderError, match="input not found"):
        discover_pdfs([tmp_path / "nope.pdf"])


def test_ray_executor_equals_local(tmp_path):
    for i in range(3):
        make_pdf(tmp_path / f"book{i}.pdf", 2 + i)
    Runner(recipe(), tmp_path / "local", show_progress=False).build([tmp_path])
    Runner(recipe(), tmp_path / "ray", workers=2, executor="ray", show_progress=False).build([tmp_path])
    assert snapshot(tmp_path / "local") == snapshot(tmp_path / "ray")


def test_a_stage_is_made_once_per_parameters_and_keeps_their_order():
    """Stages are reused across books; a mapping parameter keeps the order the recipe gave (the export's split
    names decide ties in the split assignment)."""
    from mmretinal_builder.shards import stage_instance

    target = "mmretinal_builder.stages.export:ExportStage"
    a = stage_instance(target, {"splits": {"train": 0.6, "test": 0.4}})
    assert list(a.params.splits) == ["train", "test"]
    assert stage_instance(target, {"splits": {"train": 0.6, "test": 0.4}}) is a
    assert stage_instance(target, {"splits": {"train": 0.5, "test": 0.5}}) is not a


def test_panels_read_the_pages_shard_of_their_book(tmp_path):
    """In a build the panels stage gets the pages the ``pages`` stage wrote (read back from its shard, only the
    figure pages): PALM's Fig. 1 letters are PDF text, found without opening the PDF again."""
    palm = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"
    recipe = recipe_from_dict({"stages": [{"pages": {"ocr": False}}, "pair", "crop", {"panels": {"ocr": False}}]})
    res = Runner(recipe, tmp_path / "run", show_progress=False).build([palm])
    assert not res.failed
    figures = [json.loads(line) for line in (tmp_path / "run" / "figures.jsonl").read_text().splitlines()]
    fig1 = next(f for f in figures if f["label"] == "Fig. 1")
    assert [p["label"] for p in fig1["panels"]] == list("abcdef")
    assert {p["label_source"] for p in fig1["panels"]} == {"pdf-text"}
    # the figure's own lineage ends where it becomes pairs; the panels stage's step is on each pair
    assert [s["stage"] for s in fig1["lineage"]] == ["pages", "pair", "crop"]
    pairs = {p["id"]: p for p in map(json.loads, (tmp_path / "run" / "pairs.jsonl").read_text().splitlines())}
    assert {tuple(s["stage"] for s in pairs[i]["lineage"]) for i in fig1["pairs"]} == {("panels",)}
