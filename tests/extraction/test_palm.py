"""Acceptance on the real PALM paper (Scientific Data 2024, CC BY 4.0): all six figures, exact captions,
no table taken as a figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmretinal_builder.evaluation.extraction import evaluate, norm_text
from mmretinal_builder.geometry import iou, to_fractions

from .pdfs import extract

PALM = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"
PALM_GT = PALM.with_suffix(".gt.json")


@pytest.fixture(scope="module")
def palm(tmp_path_factory):
    return extract(PALM, tmp_path_factory.mktemp("palm-run"))


def test_all_six_figures_with_exact_captions(palm):
    figs, _ = palm
    gt = json.loads(PALM_GT.read_text(encoding="utf-8"))[0]["figures"]
    assert [f.label for f in figs] == [g["label"] for g in gt]
    for f, g in zip(figs, gt, strict=True):
        assert f.page == g["page"] and f.caption_page == g["caption_page"]
        assert iou(to_fractions(f.bbox, f.page_size), g["bbox"]) >= 0.8, f.label
        assert norm_text(f.caption) == norm_text(g["caption"]), f.label


def test_no_table_taken_as_figure(palm):
    figs, ctx = palm
    assert not any(f.label.startswith("Table") for f in figs)
    assert ctx.counters["captions:table"] == 6
    assert ctx.counters["tables"] == 0  # the six tables are ruled text: no graphic was even offered to them
    assert not [r for r in ctx.rejects if r["reason"] == "caption-without-figure"]


def test_palm_metrics(palm, tmp_path):
    figs, _ = palm
    preds = {"palm_scidata2024.pdf": [f.model_dump(mode="json") for f in figs]}
    result = evaluate(json.loads(PALM_GT.read_text(encoding="utf-8")), preds)
    o = result["overall"]
    assert o["figure"]["f1"] == 1.0 and o["pair"]["f1"] == 1.0 and o["caption_exact"] == 1.0
    assert o["caption_cer"] == 0.0 and o["tables_as_figures"] == 0
    assert o["retinal"]["pair"]["recall"] == 1.0


def test_multi_image_diagram_keeps_its_parts(palm):
    figs, _ = palm
    fig5 = next(f for f in figs if f.label == "Fig. 5")
    assert len(fig5.parts) == 3 and fig5.provenance.dpi >= 300
