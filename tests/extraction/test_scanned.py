"""Scanned pages: the real scanned PALM copy, and scanned copies (``mmretinal degrade``: lid border, gutter
shadow, yellowed paper, skew, noise) of a few pages of every bundled sample book.

Goal (issue 16.4): at least 0.9 of the figures found at IoU >= 0.8, on the right page.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from mmretinal_builder.evaluation.extraction import evaluate
from mmretinal_builder.samples.degrade import DegradeOptions, degrade_document

from .pdfs import extract

DATA = Path(__file__).resolve().parents[1] / "data" / "palm"
BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"
# every bundled book (the scanned one scanned again: a photocopy)
BOOKS = [d["id"] for d in json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8"))]
PAGES_PER_BOOK = 3


def _recall(gt: dict, figures: list) -> dict:
    return evaluate([gt], {gt["id"]: [f.model_dump(mode="json") for f in figures]})["overall"]


@pytest.mark.slow
def test_scanned_palm_copy(tmp_path: Path) -> None:
    """200 dpi JPEG, noise, up to 1.5 degrees of skew, no text layer: the six figures where they are."""
    pdf = DATA / "palm_scidata2024_scanned.pdf"
    (gt,) = json.loads(pdf.with_suffix(".gt.json").read_text(encoding="utf-8"))
    figures, ctx = extract(pdf, tmp_path, ocr_workers=1)
    assert ctx.counters["pages:ocr"] == 8
    result = _recall(gt, figures)
    assert result["figure"]["recall"] >= 0.9, result
    assert result["figure"]["precision"] >= 0.9, result
    for f in figures:  # none runs to the page edge (a banner or the page border taken in)
        assert f.bbox[0] > 20 and f.bbox[1] > 20 and f.bbox[2] < f.page_size[0] - 20, f.bbox


def _degraded_pages(name: str, out: Path) -> tuple[Path, dict]:
    """The first pages of a bundled book that hold a figure with its caption, as a degraded scan, and
    their ground truth (renumbered by the degrader)."""
    (gt,) = [d for d in json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8")) if d["id"] == name]
    pages = sorted({f["page"] for f in gt["figures"] if f["caption_page"] == f["page"]})[:PAGES_PER_BOOK]
    opts = DegradeOptions(dpi=200, skew=1.5, noise=6, border=True, shadow=True, yellow=True)
    with pymupdf.open(BUNDLE / name) as src:
        doc, new_gt = degrade_document(src, opts, random.Random(name), np.random.default_rng(7), gt, pages)
    path = out / f"degraded_{name}"
    doc.save(path)
    doc.close()
    assert new_gt is not None
    return path, {**new_gt, "id": path.name}


@pytest.mark.slow
def test_degraded_copies_of_the_bundled_books(tmp_path: Path) -> None:
    found = total = 0
    per_book = {}
    for name in BOOKS:
        path, gt = _degraded_pages(name, tmp_path)
        figures, _ = extract(path, tmp_path / name, ocr_workers=1)
        result = _recall(gt, figures)
        n = len(gt["figures"])
        per_book[name] = (result["figure"]["recall"], n)
        found += round(result["figure"]["recall"] * n)
        total += n
    assert total >= len(BOOKS) * PAGES_PER_BOOK, per_book
    assert found / total >= 0.9, per_book
    assert all(r * n >= n - 1 for r, n in per_book.values()), per_book  # no book loses more than one figure
