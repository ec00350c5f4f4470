"""Regression guard on the bundled sample books (generated, CC0): pairs and captions of the born-digital
books. The full acceptance run (six books, 210 figures) is ``mmretinal samples`` + ``eval-extraction``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmretinal_builder.evaluation.extraction import evaluate

from .pdfs import extract

BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


@pytest.mark.parametrize("name", ["sample_en_2col.pdf", "sample_zh.pdf", "sample_latex_es.pdf"])
def test_bundled_born_digital_books(name, tmp_path):
    gt = [d for d in json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8")) if d["id"] == name]
    figs, ctx = extract(BUNDLE / name, tmp_path)
    result = evaluate(gt, {name: [f.model_dump(mode="json") for f in figs]})["overall"]
    assert result["pair"]["f1"] >= 0.97, result
    assert result["caption_exact"] >= 0.95, result
    assert result["tables_as_figures"] == 0
    assert ctx.counters["pages:text-none"] == 0 and ctx.counters["pages:text-broken"] == 0


def test_scanned_sample_is_flagged_for_ocr(tmp_path):
    _, ctx = extract(BUNDLE / "sample_en_scanned.pdf", tmp_path)
    assert ctx.counters["pages"] > 0 and ctx.counters["pages:text-none"] >= 1
