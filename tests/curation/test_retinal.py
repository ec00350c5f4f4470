"""Retinal vs non-retinal on the sample books and PALM (figures cut out of the pages by their GT boxes).

Ground truth ``retinal: yes`` is positive; ``no`` and ``borderline`` (diagrams with small fundus
thumbnails, PALM Fig. 5) are negative: see the decision in ``mmretinal_builder.curation.retinal``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from mmretinal_builder.curation.imagefeatures import image_features, read_image
from mmretinal_builder.curation.modality import classify_image
from mmretinal_builder.curation.retinal import non_retinal_kind
from mmretinal_builder.samples import generate_samples

from .conftest import MODALITY_DIR, PALM_DIR

BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def _figures(pdf_dir: Path, gt_path: Path) -> list[tuple[str, dict, np.ndarray]]:
    out = []
    for doc_gt in json.loads(gt_path.read_text(encoding="utf-8")):
        doc = pymupdf.open(pdf_dir / doc_gt["id"])
        for f in doc_gt["figures"]:
            page = doc[f["page"] - 1]
            w, h = page.rect.width, page.rect.height
            b = f["bbox"]
            pix = page.get_pixmap(dpi=150, clip=pymupdf.Rect(b[0] * w, b[1] * h, b[2] * w, b[3] * h))
            img = cv2.imdecode(np.frombuffer(pix.tobytes("png"), np.uint8), cv2.IMREAD_COLOR)
            out.append((doc_gt["id"], f, img))
    return out


@pytest.fixture(scope="module")
def sample_figures(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict, np.ndarray]]:
    gen = tmp_path_factory.mktemp("samples")
    generate_samples(gen, seed=0, books=6, figures_per_book=8)
    figs = _figures(BUNDLE, BUNDLE / "ground_truth.json") + _figures(gen, gen / "ground_truth.json")
    return figs + _figures(PALM_DIR, PALM_DIR / "palm_scidata2024.gt.json")


def _f1(rows: list[tuple[bool, bool]]) -> float:
    tp = sum(t and p for t, p in rows)
    fp = sum(p and not t for t, p in rows)
    fn = sum(t and not p for t, p in rows)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


@pytest.mark.slow
def test_retinal_f1_on_sample_books_and_palm(sample_figures: list[tuple[str, dict, np.ndarray]]) -> None:
    rows, errors, mod_ok, mod_n = [], [], 0, 0
    for book, f, img in sample_figures:
        res = classify_image(img, f["caption"])
        truth = f["retinal"] == "yes"
        rows.append((truth, res.retinal))
        if truth != res.retinal:
            errors.append((book, f["label"], f["retinal"], res.modality))
        gt_mod = f["modality"].split()[0]
        if truth and gt_mod in ("CFP", "FFA", "OCT"):
            mod_n += 1
            mod_ok += res.modality == gt_mod
    negatives = sum(not t for t, _ in rows)
    assert negatives >= 12 and len(rows) - negatives >= 40
    assert _f1(rows) >= 0.95, errors
    assert mod_ok / mod_n >= 0.95


def test_palm_decisions() -> None:
    """Fig. 1-4 are retinal (CFP); Fig. 5 (workflow diagram with thumbnails) and Fig. 6 are negatives."""
    for n, retinal in ((1, True), (2, True), (3, True), (4, True), (5, False), (6, False)):
        img = read_image(MODALITY_DIR / f"real_palm_fig{n}_whole.jpg")
        res = classify_image(img)
        assert res.retinal is retinal, n
        if retinal:
            assert res.modality == "CFP"
        else:
            assert non_retinal_kind(res.features, img) == "diagram"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("chart_line.png", "chart"), ("chart_roc.png", "chart"), ("table_0.png", "table"),
     ("real_palm_table_p5.png", "table"), ("diagram_flowchart.png", "diagram"), ("real_palm_text_p1.png", "text"),
     ("photo_device_0.jpg", "photo"), ("real_other_skimage_rocket.jpg", "photo")],
)
def test_non_retinal_reason(name: str, kind: str) -> None:
    img = read_image(MODALITY_DIR / name)
    f = image_features(img)
    assert not classify_image(img, features=f).retinal
    assert non_retinal_kind(f, img) == kind


def test_maps_beside_a_photograph_are_not_retinal() -> None:
    """Vessel, lesion and heat maps of many eyes are non-retinal (reason map / heatmap), the photographs CFP; the
    black gaps of one map on its canvas are no gutters between pictures (its arcades are not tiles)."""
    from . import mixed

    for v in range(0, 60, 5):
        photo = mixed.retina(300, v)
        assert classify_image(photo).modality == "CFP", v
        for kind in ("vessels", "lesions", "heatmap"):
            img = mixed.MAKERS[kind](photo, v)
            res = classify_image(img)
            assert not res.retinal, (v, kind, res.modality, res.cells)
            assert non_retinal_kind(res.features, img) == ("heatmap" if kind == "heatmap" else "map"), (v, kind)
