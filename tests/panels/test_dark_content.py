"""Black gutters against dark picture content: a gutter is flat canvas black, an OCT's vitreous or a
photo's dark surround is textured or lighter, and stays in its panel's box."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mmretinal_builder.panels.masks import BLACK, CONTENT, SplitParams, line_classes, masks, measure_canvas
from mmretinal_builder.panels.split import split_raster

from .synth import box_iou, compose, dark_oct


def _ious(rows: list[int], seed: int, **kw: object) -> tuple[int, int, list[float]]:
    c = compose(rows, seed, background=0, tile="dark-oct", **kw)  # type: ignore[arg-type]
    res = split_raster(c.image)
    return len(res.panels), len(c.boxes), [box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=False)]


@pytest.mark.parametrize("gutter,letters,jpeg", [(10, "corner", False), (6, "none", True), (12, "corner", True)])
def test_stacked_oct_scans_on_black_keep_their_dark_vitreous(gutter: int, letters: str, jpeg: bool) -> None:
    got, want, ious = _ious([1, 1, 1], gutter, gutter=gutter, letters=letters, jpeg=jpeg)
    assert got == want == 3
    assert min(ious) >= 0.97, ious


@pytest.mark.parametrize("rows,jpeg", [([2], False), ([2], True), ([3], True), ([2, 2], False)])
def test_side_by_side_dark_top_panels_keep_their_full_height(rows: list[int], jpeg: bool) -> None:
    got, want, ious = _ious(rows, 4, gutter=8, letters="corner", jpeg=jpeg)
    assert got == want
    assert min(ious) >= 0.97, ious


def test_a_flat_gutter_is_black_and_dark_textured_lines_are_content() -> None:
    rng = np.random.default_rng(3)
    img = np.zeros((200, 300, 3), np.uint8)
    img[:95] = dark_oct(95, 300, rng)
    img[105:] = dark_oct(95, 300, rng)
    p = SplitParams()
    m = masks(img, p)
    box = (0, 0, 300, 200)
    raw = line_classes(m, box, 0, p.gutter_fill)
    assert (raw[:10] == BLACK).all(), "the vitreous is dark enough to pass for black pixel by pixel"
    m.set_canvas(measure_canvas(m, box, p))
    cls = line_classes(m, box, 0, p.gutter_fill)
    assert (cls[95:105] == BLACK).all()
    assert (cls[:10] == CONTENT).all() and (cls[105:115] == CONTENT).all()


def test_a_grainy_scan_keeps_its_black_gutters() -> None:
    # grain on everything, gutters included: the canvas's own noise widens what counts as flat
    c = compose([2, 2], 11, gutter=10, background=0, tile="fundus", square=True)
    rng = np.random.default_rng(0)
    img = np.clip(c.image.astype(np.int16) + 10 + rng.normal(0, 5, c.image.shape), 0, 255).astype(np.uint8)
    res = split_raster(img)
    assert len(res.panels) == 4
    assert min(box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=True)) >= 0.9


def test_photos_with_a_noisy_dark_surround_on_a_flat_black_canvas() -> None:
    c = compose([2, 2], 2, gutter=10, background=0, tile="fundus", letters="corner")
    rng = np.random.default_rng(2)
    img = c.image.copy()
    for x0, y0, x1, y1 in c.boxes:
        tile = img[y0:y1, x0:x1]
        dark = tile.max(axis=2) < 5
        tile[dark] = np.clip(rng.normal(8, 3, dark.shape), 0, 255).astype(np.uint8)[dark][:, None]
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    res = split_raster(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    assert len(res.panels) == 4
    assert min(box_iou(a, b) for a, b in zip(res.panels, c.boxes, strict=True)) >= 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_a_single_dark_oct_is_never_split(seed: int) -> None:
    img = dark_oct(260, 520, np.random.default_rng(seed))
    assert len(split_raster(img).panels) == 1
