"""Gutter splitting: synthetic grids on white and black gutters, and never a split of a single photograph."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from mmretinal_builder.panels.deskew import estimate_skew
from mmretinal_builder.panels.split import SplitParams, split_raster

from .synth import box_iou, compose, ffa, fundus, oct_scan

DATA = Path(__file__).resolve().parents[1] / "data"

# rows, background, tile, letters, gutter, square tiles
GRIDS = [
    ([2], 255, "fundus", "none", 8, False),
    ([3], 255, "ffa", "corner", 6, False),
    ([2, 2], 255, "mixed", "tag", 14, False),
    ([3, 3], 255, "fundus", "strip", 10, False),
    ([1, 2], 255, "oct", "none", 6, False),
    ([2, 3], 255, "mixed", "corner", 12, False),
    ([4], 255, "fundus", "tag", 4, False),
    ([2], 0, "ffa", "none", 10, True),
    ([3], 0, "oct", "corner", 8, False),
    ([2, 2], 0, "fundus", "tag", 12, True),
    ([2, 3], 0, "mixed", "none", 14, True),
    ([4], 0, "ffa", "corner", 6, True),
]


@pytest.mark.parametrize("seed,case", list(enumerate(GRIDS)))
def test_grid_panels_found_exactly(seed: int, case: tuple) -> None:
    rows, bg, tile, letters, gutter, square = case
    c = compose(rows, seed, gutter=gutter, background=bg, tile=tile, letters=letters, jpeg=seed % 2 == 0,
                square=square)
    res = split_raster(c.image)
    assert len(res.panels) == len(c.boxes)
    ious = [box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=True)]
    assert min(ious) >= 0.9, ious


def test_reading_order_rows_then_columns() -> None:
    c = compose([3, 2], 3, gutter=10)
    res = split_raster(c.image)
    centers = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in res.panels]
    assert [round(y) for _, y in centers][:3] == [round(centers[0][1])] * 3
    assert centers[0][0] < centers[1][0] < centers[2][0]
    assert centers[3][1] > centers[0][1] and centers[3][0] < centers[4][0]


def test_white_canvas_keeps_the_photo_black_surround() -> None:
    # wide FFA frames: full-height black columns on both sides of the disc are part of each photo
    c = compose([3], 5, gutter=10, tile="ffa")
    res = split_raster(c.image)
    assert [box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=True)] == pytest.approx([1, 1, 1], abs=0.02)


def test_label_strip_is_kept_apart_not_a_panel() -> None:
    c = compose([3], 7, gutter=12, letters="strip", tile="oct")
    res = split_raster(c.image)
    assert len(res.panels) == 3
    assert res.strips, "the strip of letters under the panels is reported for OCR"
    for s in res.strips:
        assert s[1] >= max(b[3] for b in c.boxes) - 1


def test_min_panel_fraction_merges_small_pieces() -> None:
    c = compose([4], 9, gutter=10)
    assert len(split_raster(c.image, SplitParams(min_panel_frac=0.3)).panels) == 1


def _palm_raster(xref: int) -> np.ndarray:
    with pymupdf.open(DATA / "palm" / "palm_scidata2024.pdf") as doc:
        data = doc.extract_image(xref)["image"]
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _singles() -> list[tuple[str, np.ndarray]]:
    from skimage import data as skdata

    rng = np.random.default_rng(0)
    out = [("skimage-retina", cv2.cvtColor(skdata.retina(), cv2.COLOR_RGB2BGR))]
    out += [(p.name, cv2.imread(str(p))) for p in sorted((DATA / "oct").glob("*.jpeg"))]
    out += [
        ("fundus-small-disc", fundus(300, 420, rng, surround=0.7)),
        ("fundus-wide", fundus(300, 480, rng)),
        ("ffa", ffa(320, 320, rng)),
        ("oct-synthetic", oct_scan(200, 500, rng)),
    ]
    page = np.full((400, 560, 3), 255, np.uint8)  # a photo on a white page margin
    page[40:340, 60:480] = fundus(300, 420, rng)
    out.append(("fundus-on-white", page))
    fig1 = _palm_raster(49)
    out += [("palm-fig1-a", fig1[0:456, 0:471]), ("palm-fig1-f", fig1[546:1002, 1031:1502])]
    return out


@pytest.mark.parametrize("name,img", _singles(), ids=lambda v: v if isinstance(v, str) else "")
def test_never_splits_a_single_photograph(name: str, img: np.ndarray) -> None:
    assert img is not None, name
    res = split_raster(img)
    assert len(res.panels) == 1, (name, res.panels)


def test_palm_rasters_split_into_their_panels() -> None:
    counts = {49: 6, 72: 3, 89: 4, 87: 4}  # Fig. 1, 2, 3, 4 of the PALM paper
    assert {x: len(split_raster(_palm_raster(x)).panels) for x in counts} == counts


def test_region_outside_the_image_is_an_error() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="not inside"):
        split_raster(img, region=(0, 0, 20, 10))


def test_blank_image_has_no_panel() -> None:
    assert split_raster(np.full((50, 80, 3), 255, np.uint8)).panels == []


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    h, w = img.shape[:2]
    rot = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return cv2.warpAffine(img, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=(236, 240, 242))


SCAN = SplitParams(max_skew_deg=3.0)  # the stage turns deskewing on for scanned pages


@pytest.mark.parametrize("angle,background", [(1.2, 255), (-0.8, 255), (1.5, 0)])
def test_a_skewed_scan_is_split_deskewed(angle: float, background: int) -> None:
    c = compose([2, 2], 21, gutter=10, background=background, margin=30, square=True)
    img = _rotate(c.image, angle)
    rng = np.random.default_rng(1)
    img = np.clip(img.astype(np.int16) + rng.normal(0, 5, img.shape).astype(np.int16), 0, 255).astype(np.uint8)
    est = estimate_skew(img, SCAN)  # the rotation that undoes it
    assert abs(est + angle) <= 0.15
    res = split_raster(img, SCAN)
    assert len(res.panels) == 4
    assert min(box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=True)) >= 0.85


def test_deskewing_is_off_by_default_and_keeps_straight_figures() -> None:
    for seed, rows in enumerate(([3], [2, 2], [2, 3])):
        c = compose(rows, 30 + seed, gutter=8)
        assert estimate_skew(c.image, SplitParams()) == 0.0
        straight, scan = split_raster(c.image), split_raster(c.image, SCAN)
        assert len(scan.panels) == len(straight.panels) == len(c.boxes)
        assert min(box_iou(a, b) for a, b in zip(scan.panels, c.boxes, strict=True)) >= 0.9
