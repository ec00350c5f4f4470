"""The extraction stages on pages without a usable text layer: scanned pages (open and encrypted) and a broken
ToUnicode map."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.evaluation.extraction import cer, evaluate
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner
from mmretinal_builder.samples import hostile
from mmretinal_builder.samples.corrupt import break_text
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.crop import CropStage
from mmretinal_builder.stages.pages import PagesParams, PagesStage
from mmretinal_builder.stages.pair import PairStage

SAMPLES = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def _subset(name: str, n_pages: int, out: Path, broken: bool = False) -> tuple[Path, dict]:
    """The first ``n_pages`` pages of a bundled sample book that hold a figure with its caption, with the
    ground truth renumbered (the bundle is regenerated now and then: no page numbers are hard-coded)."""
    gt = next(d for d in json.loads((SAMPLES / "ground_truth.json").read_text(encoding="utf-8")) if d["id"] == name)
    pages = sorted({f["page"] for f in gt["figures"] if f["caption_page"] == f["page"]})[:n_pages]
    with pymupdf.open(SAMPLES / name) as doc:
        doc.select([p - 1 for p in pages])
        if broken:
            break_text(doc, random.Random(11))
        path = out / f"sub_{name}"
        doc.save(path)
    new = {p: k + 1 for k, p in enumerate(pages)}
    figs = [{**f, "page": new[f["page"]], "caption_page": new[f["caption_page"]]} for f in gt["figures"]
            if f["page"] in new and f["caption_page"] in new]
    tables = [{**t, "page": new[t["page"]]} for t in gt.get("tables", []) if t["page"] in new]
    return path, {**gt, "id": path.name, "figures": figs, "tables": tables}


def _run(path: Path, tmp: Path, ocr_workers: int = 1) -> tuple[list, Context]:
    stages = [PagesStage(PagesParams(ocr_workers=ocr_workers)), PairStage(), CropStage()]
    return run_stages(stages, run_dir=tmp / "run", book_path=path)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list, Context]:
    """Two scanned pages of the bundled sample, extracted with one OCR process."""
    tmp = tmp_path_factory.mktemp("scanned")
    path, gt = _subset("sample_en_scanned.pdf", 2, tmp)
    figures, ctx = _run(path, tmp)
    return path, gt, figures, ctx


def test_scanned_pages_give_figures_and_captions(scanned: tuple[Path, dict, list, Context]) -> None:
    path, gt, figures, ctx = scanned
    assert len(gt["figures"]) >= 2
    result = evaluate([gt], {path.name: [f.model_dump(mode="json") for f in figures]})
    assert result["overall"]["pair"]["f1"] >= 0.8, result["documents"][0]
    assert result["overall"]["figure"]["f1"] >= 0.9, result["documents"][0]
    assert result["overall"]["caption_cer"] <= 0.03
    assert ctx.counters["pages:ocr"] == 2
    for f in figures:
        assert f.provenance.text_layer == "none"
        assert f.provenance.rule.startswith("ocr:"), f.provenance
        assert (ctx.run_dir / f.image).is_file()


def test_ocr_workers_in_parallel(scanned: tuple[Path, dict, list, Context], tmp_path: Path) -> None:
    """A process pool over the pages gives the same records as one process."""
    path, _, serial, _ = scanned
    pooled, _ = _run(path, tmp_path, ocr_workers=2)
    assert [f.to_json() for f in pooled] == [f.to_json() for f in serial]


def test_an_encrypted_scanned_book_builds_like_the_open_one(scanned: tuple[Path, dict, list, Context],
                                                              tmp_path: Path) -> None:
    """The same scanned pages, once open and once encrypted with the password in the recipe, built with two
    processes (one book: OCR uses both, each reopening the book through its door) give the same figures."""
    path, _, serial, _ = scanned
    locked = tmp_path / "locked" / path.name  # same file name: same figure ids
    locked.parent.mkdir()
    locked.write_bytes(hostile.encrypt(path.read_bytes()))
    recipe = recipe_from_dict({"stages": [{"pages": {"ocr_workers": 2}}, "pair", "crop"],
                               "books": {path.name: {"password": hostile.PASSWORD}}})
    runs = {}
    for name, pdf in (("open", path), ("locked", locked)):
        res = Runner(recipe, tmp_path / name, workers=2, show_progress=False).build([pdf])
        assert not res.failed and res.figures == len(serial) >= 2, (name, res.failed, res.figures)
        runs[name] = [json.loads(line) for line in (tmp_path / name / "figures.jsonl").read_text().splitlines()]
        assert "OCR failed" not in (tmp_path / name / "errors.jsonl").read_text()
    for rec in (*runs["open"], *runs["locked"]):
        assert rec["provenance"].pop("book_sha256")  # the only difference: the files differ
    assert runs["locked"] == runs["open"]


def test_broken_text_layer_is_read_by_ocr(tmp_path: Path) -> None:
    path, gt = _subset("sample_zh.pdf", 2, tmp_path, broken=True)
    figures, ctx = _run(path, tmp_path)
    assert ctx.counters["pages:text-broken"] == 2 and ctx.counters["pages:ocr"] == 2
    by_label = {f.label: f for f in figures}
    found = [g for g in gt["figures"] if g["label"] in by_label]
    assert len(found) >= 0.75 * len(gt["figures"]), (sorted(by_label), [g["label"] for g in gt["figures"]])
    for f in figures:
        assert f.provenance.text_layer == "broken" and f.provenance.rule.startswith("ocr:")
        assert f.provenance.caption_rule.startswith("ocr:")
    errors = [cer(by_label[g["label"]].caption or "", g["caption"]) for g in found]
    assert sum(errors) / len(errors) <= 0.08, [(by_label[g["label"]].caption, g["caption"]) for g in found]
