"""What a real scanner adds - dark borders, gutter shadows, stained paper - and its removal (no Tesseract)."""

from __future__ import annotations

import random

import numpy as np
import pymupdf

from mmretinal_builder.geometry import iou
from mmretinal_builder.pdf.scan.cleanup import (
    clean_page,
    flatten_shading,
    lift_stains,
    paper_white,
    remove_borders,
)
from mmretinal_builder.pdf.scan.ocr import render_gray
from mmretinal_builder.pdf.scan.regions import find_regions
from mmretinal_builder.samples.degrade import DegradeOptions, degrade_document, map_box

DPI = 150
PAPER = 240
ROWS = [y for y in range(150, 1100, 30) if not 420 <= y <= 770]  # lines of "text", none across the photo


def _page(h: int = 1200, w: int = 900) -> np.ndarray:
    """A clean grey page: lines of "text" (short dark strokes) and a dark photograph in the middle."""
    page = np.full((h, w), PAPER, np.uint8)
    rng = np.random.default_rng(0)
    for y in ROWS:
        x = 120
        while x < 780:
            n = int(rng.integers(20, 60))
            page[y:y + 12, x:x + n] = 40
            x += n + 12
    page[450:750, 250:650] = 70  # photograph
    page[500:700, 300:600] = 150
    return page


# where the "text" lies, as OCR reports it (points): masked when looking for figures
TEXT = [(120 * 72 / DPI, y * 72 / DPI, 790 * 72 / DPI, (y + 12) * 72 / DPI) for y in ROWS]


def _shadow(page: np.ndarray, depth: float = 0.5, reach: float = 60.0) -> np.ndarray:
    x = np.arange(page.shape[1], dtype=np.float32)
    gain = 1.0 - depth * np.exp(-x / reach)
    return np.clip(page.astype(np.float32) * gain[None, :], 0, 255).astype(np.uint8)


def test_a_clean_page_is_left_as_it_is() -> None:
    page = _page()
    assert clean_page(page, DPI) is page


def test_lid_border_is_painted_over_but_print_near_the_edge_stays() -> None:
    page = _page()
    page[150:170, 40:300] = 30  # a heading printed close to the left edge
    scan = page.copy()
    # the scanner lid: a wedge along the left side (the sheet lies askew) and a band along the top
    for y in range(scan.shape[0]):
        scan[y, : 20 + y // 40] = 35
    scan[:25] = 35
    out = remove_borders(scan, DPI)
    assert (out[:, :15] >= PAPER - 5).all() and (out[:20] >= PAPER - 5).all()
    assert (out[1100:, :40] >= PAPER - 5).all()  # the wedge is widest at the bottom
    assert (out[150:170, 60:300] == 30).all()  # print is not a border
    assert (out[450:750, 250:650] == page[450:750, 250:650]).all()


def test_gutter_shadow_is_divided_out_and_pictures_are_untouched() -> None:
    page = _page()
    shaded = _shadow(page)
    out = flatten_shading(shaded, DPI)
    margin = out[100:1100, 10:110]
    assert abs(float(np.median(margin)) - PAPER) <= 8, np.median(margin)
    assert float(np.median(shaded[100:1100, 10:110])) < PAPER - 40  # it was a real shadow
    # the photograph in the middle is no shade: it keeps its grey levels
    assert np.abs(out[460:740, 260:640].astype(int) - page[460:740, 260:640]).max() <= 2
    # and the regions of the page: the photograph only, as on the unshaded page
    regions = find_regions(clean_page(shaded, DPI), DPI, TEXT)
    want = (250 * 72 / DPI, 450 * 72 / DPI, 650 * 72 / DPI, 750 * 72 / DPI)
    assert [iou(r, want) > 0.95 for r in regions] == [True], regions


def test_stains_are_lifted() -> None:
    page = _page()
    stained = page.astype(np.float32)
    yy, xx = np.mgrid[0:page.shape[0], 0:page.shape[1]]
    stained *= 1.0 - 0.09 * np.exp(-((yy - 250) ** 2 + (xx - 700) ** 2) / (2 * 120.0 ** 2))
    stained = stained.astype(np.uint8)
    out = lift_stains(stained, DPI)
    assert int(stained[265, 700]) < PAPER - 15  # paper between two lines of text
    assert abs(int(out[265, 700]) - PAPER) <= 6, out[265, 700]
    assert np.abs(out[460:740, 260:640].astype(int) - page[460:740, 260:640]).max() <= 3


def test_paper_white_is_the_paper() -> None:
    assert abs(paper_white(_page()) - PAPER) <= 1


def test_a_degraded_page_gives_the_regions_of_the_clean_one() -> None:
    """A page with a photograph, degraded with every option (lid, shadow, yellowed paper, skew, noise): after
    clean-up and straightening, one region, where the photograph is."""
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=560)
    photo = pymupdf.Rect(110, 150, 330, 320)
    page.draw_rect(photo, color=None, fill=(0.45, 0.2, 0.1))
    page.draw_circle(photo.tl + (110, 85), 70, color=None, fill=(0.85, 0.5, 0.25))
    for k in range(12):
        page.insert_text((60, 360 + 14 * k), "Optical coherence tomography of the macula shows fluid.", fontsize=9)
    opts = DegradeOptions(dpi=150, skew=1.5, min_skew=1.0, noise=6, border=True, shadow=True, yellow=True)
    gt = {"figures": [{"page": 1, "bbox": [photo.x0 / 420, photo.y0 / 560, photo.x1 / 420, photo.y1 / 560],
                       "caption_page": 1, "caption_bbox": [0, 0, 0.1, 0.1]}]}
    scanned, new_gt = degrade_document(doc, opts, random.Random(4), np.random.default_rng(4), gt)
    gray = render_gray(scanned[0], 150)
    assert paper_white(gray) < 245  # yellowed
    assert float(np.median(gray[:, :5])) < 120 or float(np.median(gray[:5])) < 120  # a dark lid shows
    from mmretinal_builder.pdf.scan.deskew import deskew, estimate_skew
    from mmretinal_builder.pdf.scan.frame import box_to_page

    angle = estimate_skew(clean_page(gray, 150), 150)
    assert abs(angle - new_gt["degrade"]["rotation_deg"][0]) <= 0.15
    straight, _ = deskew(gray, angle, background=None)
    regions = find_regions(clean_page(straight, 150), 150, [(55.0, 345.0, 380.0, 530.0)])
    assert len(regions) == 1, regions
    want = [v * s for v, s in zip(new_gt["figures"][0]["bbox"], (420, 560, 420, 560), strict=True)]
    assert iou(box_to_page(regions[0], angle, (420, 560)), want) >= 0.9
    # the ground truth of the copy is where the pixels went: the hull of the turned, scaled, shifted box
    assert map_box([0, 0, 1, 1], np.array([[1.0, 0, 0], [0, 1.0, 0]]), (420, 560), (1.0, 1.0)) == [0, 0, 1, 1]
    scanned.close()
    doc.close()
