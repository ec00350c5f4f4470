"""Tiles of a *scanned* figure whose 1-2 px gutters the scan blurred away (200 dpi render shown at 300 dpi, optical
blur, noise, JPEG, a degree of skew): found at blurred seams where the caption names the panels, or where
tiles of that size were found beside them; single pictures stay whole even when the caption names panels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mmretinal_builder.panels.seams import blurred_cut
from mmretinal_builder.panels.split import SplitParams, split_raster
from mmretinal_builder.stages.panels import _named_panels

DATA = Path(__file__).resolve().parents[1] / "data"
SCAN = SplitParams(max_skew_deg=3.0)  # what the stage uses for a page without a text layer


def _retina() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)


def _scan(img: np.ndarray, angle: float = 1.0, seed: int = 0) -> np.ndarray:
    """``img`` on white paper as a 200 dpi scan shown at 300 dpi: resampled, blurred, noisy, JPEG, turned."""
    rng = np.random.default_rng(seed)
    page = cv2.copyMakeBorder(img, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=(250, 250, 250))
    h, w = page.shape[:2]
    rot = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    page = cv2.warpAffine(page, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=(250, 250, 250))
    low = cv2.resize(page, (w * 2 // 3, h * 2 // 3), interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(low, (0, 0), 1.0)
    low = np.clip(low.astype(np.float32) + rng.normal(0, 6, low.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", low, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return cv2.resize(cv2.imdecode(buf, cv2.IMREAD_COLOR), (w, h), interpolation=cv2.INTER_LINEAR)


def _photos(n: int, size: tuple[int, int] = (290, 300)) -> list[np.ndarray]:
    """``n`` different views of one fundus (cropped so that each tile's circle is cut by its frame)."""
    ret = _retina()
    out = []
    for k in range(n):
        x, y = 120 + 160 * k, 60 + 90 * k
        crop = ret[y:y + 1200, x:x + 1160]
        out.append(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    return out


def _strip_1px_black(n: int) -> tuple[np.ndarray, list[int]]:
    """``n`` photographs in a row with 1 px black lines between them; the true boundaries (column x)."""
    tiles = _photos(n)
    parts, xs, x = [], [], 0
    for k, t in enumerate(tiles):
        if k:
            parts.append(np.zeros((t.shape[0], 1, 3), np.uint8))
            x += 1
        parts.append(t)
        x += t.shape[1]
        xs.append(x)
    return np.hstack(parts), xs[:-1]


def _oct_and_map() -> np.ndarray:
    """An OCT B-scan and its layer map (flat colours on black) with a 2 px white gutter between them."""
    oct_img = cv2.resize(cv2.imread(str(sorted((DATA / "oct").glob("*.jpeg"))[0])), (560, 300))
    g = cv2.GaussianBlur(cv2.cvtColor(oct_img, cv2.COLOR_BGR2GRAY), (0, 0), 6)
    levels = np.digitize(g, [60, 90, 120, 150])
    palette = np.array([[0, 0, 0], [200, 60, 40], [40, 180, 60], [40, 60, 200], [40, 200, 220]], np.uint8)
    layer_map = palette[levels]
    gutter = np.full((300, 2, 3), 255, np.uint8)
    return np.hstack([oct_img, gutter, layer_map])


def test_a_scanned_strip_with_1px_black_gutters_comes_out_as_its_tiles() -> None:
    strip, xs = _strip_1px_black(3)
    img = _scan(strip)
    res = split_raster(img, SCAN, expect=3)
    assert len(res.panels) == 3, res.panels
    # each boundary lies between two panels' centres, near where the black line was (24 px of paper around)
    centres = sorted((b[0] + b[2]) / 2 for b in res.panels)
    for x, (c0, c1) in zip(xs, zip(centres, centres[1:], strict=False), strict=True):
        assert c0 < x + 24 < c1
    for b in res.panels:
        assert abs((b[2] - b[0]) - 290) <= 25, res.panels


def test_a_scanned_pair_with_a_2px_white_gutter_needs_the_caption_prior() -> None:
    img = _scan(_oct_and_map(), angle=-1.0, seed=1)
    without = split_raster(img, SCAN)
    assert len(without.panels) == 1, without.panels  # the reported failure: the blurred gutter is no cut
    res = split_raster(img, SCAN, expect=2)
    assert len(res.panels) == 2, res.panels
    left, right = sorted(res.panels)
    assert abs(left[2] - (24 + 560)) <= 12 and abs(right[0] - (24 + 562)) <= 12, res.panels


def test_the_blurred_seam_is_where_the_gutter_is_and_not_inside_a_photograph() -> None:
    strip, xs = _strip_1px_black(2)
    img = _scan(strip, angle=0.0)
    h, w = img.shape[:2]
    box = (24, 24, w - 24, h - 24)
    cut = blurred_cut(img, box, 1, xs[0], 12)
    assert cut is not None and abs(cut.start - xs[0]) <= 5, cut
    # the middle of one photograph is no seam
    assert blurred_cut(img, box, 1, xs[0] // 2, 12) is None


def _singles() -> list[tuple[str, np.ndarray]]:
    ret = _retina()
    out = [("retina", cv2.resize(ret, (420, 420), interpolation=cv2.INTER_AREA)),
           ("retina-wide-crop", cv2.resize(ret[400:1000, 50:1360], (900, 420), interpolation=cv2.INTER_AREA))]
    for p in sorted((DATA / "oct").glob("*.jpeg"))[:2]:
        out.append((p.name + "-wide", cv2.resize(cv2.imread(str(p)), (1000, 380))))
    from skimage import data

    for name in ("astronaut", "chelsea"):
        out.append((name, cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)))
    return out


@pytest.mark.parametrize("name,img", _singles(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_scanned_single_picture_stays_whole_though_the_caption_names_panels(name: str, img: np.ndarray) -> None:
    scanned = _scan(img, angle=0.8)
    alone = len(split_raster(scanned, SCAN).panels)
    for n in (2, 3):
        assert len(split_raster(scanned, SCAN, expect=n).panels) == alone, (name, n)


@pytest.mark.parametrize("label,caption,want", [
    ("FIG. 29", "FIG. 29. Retinal analysis. A. OCT B-scan. B. Automated retinal layer segmentation.", 2),
    ("Fig. 2", "Fig. 2. Fundus images. (a) Right eye. (b) Left eye. (c) Fellow eye.", 3),
    ("Figure 3", "Figure 3. (a-d) Colour fundus photographs of four patients.", 4),
    ("Figure 4", "Figure 4. Colour fundus photograph of the right eye.", None),
    ("Figure 5", "Figure 5. (b) and (c) as in Fig. 4.", None),  # not a run from the first letter
])
def test_the_caption_names_how_many_panels(label: str, caption: str, want: int | None) -> None:
    assert _named_panels(caption, label) == want


@pytest.mark.parametrize("angle", [0.7, -1.2])
def test_a_scanned_2x2_grid_is_cut_into_columns_then_rows(angle: float) -> None:
    t = _photos(4, (260, 250))
    line = np.zeros((250, 1, 3), np.uint8)
    top, bottom = np.hstack([t[0], line, t[1]]), np.hstack([t[2], line, t[3]])
    img = _scan(np.vstack([top, np.zeros((1, top.shape[1], 3), np.uint8), bottom]), angle=angle, seed=3)
    assert len(split_raster(img, SCAN).panels) == 1
    res = split_raster(img, SCAN, expect=4)
    assert len(res.panels) == 4, res.panels
    for b in res.panels:  # each a tile of 260 x 250 (paper of 24 px around the grid)
        assert abs((b[2] - b[0]) - 260) <= 20 and abs((b[3] - b[1]) - 250) <= 20, res.panels
