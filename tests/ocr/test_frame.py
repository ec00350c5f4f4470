"""The straight frame of a skewed scan, region decisions made in it, and scan furniture (no Tesseract)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mmretinal_builder.geometry import gap, iou
from mmretinal_builder.pdf.candidates import build_candidates
from mmretinal_builder.pdf.layout import document_stats, page_layout
from mmretinal_builder.pdf.page_model import ImagePlacement, PageModel, Span, TextLine
from mmretinal_builder.pdf.scan.deskew import Rotation
from mmretinal_builder.pdf.scan.frame import (
    box_to_page,
    box_to_straight,
    region_placement,
    straighten_model,
    to_page,
)
from mmretinal_builder.pdf.scan.regions import find_regions, region_signature, repeated_regions

SIZE = (595.0, 842.0)


def _scan_model(regions: list[tuple[float, float, float, float]], skew: float,
                lines: list[TextLine] | None = None) -> PageModel:
    scan = ImagePlacement(xref=3, bbox=(0, 0, *SIZE), transform=(SIZE[0], 0, 0, SIZE[1], 0, 0), width_px=1654,
                          height_px=2339, decoration=True)
    images = [scan] + [region_placement(b, skew, SIZE, 200.0) for b in regions]
    return PageModel(number=1, size=SIZE, lines=lines or [], images=images, text_layer="none", scan_image=0,
                     skew=skew)


def test_boxes_go_to_the_page_and_back() -> None:
    box = (100.0, 120.0, 300.0, 260.0)
    page = box_to_page(box, 1.5, SIZE)
    assert page == pytest.approx(Rotation(1.5, *SIZE).hull_to_skewed(box))  # type: ignore[arg-type]
    assert page[2] - page[0] > 200 and page[3] - page[1] > 140  # the hull of a turned box is larger
    back = box_to_straight(page, 1.5, SIZE)
    assert back[0] <= box[0] and back[2] >= box[2]  # a hull of a hull: it covers the box
    assert box_to_page(box, 0.0, SIZE) == box and to_page(box, 0, _scan_model([], 0.0)) == box


def test_neighbouring_pictures_of_a_skewed_scan_stay_apart() -> None:
    """Three pictures 10 points apart on a page turned by 2 degrees: on the page their hulls overlap (one
    figure on the page frame, the failure of the bundled scan's p8); in the straight frame they are three."""
    pics = [(60.0, 100.0, 220.0, 400.0), (230.0, 100.0, 390.0, 400.0), (400.0, 100.0, 560.0, 400.0)]
    model = _scan_model(pics, 2.0)
    hulls = [im.bbox for im in model.images[1:]]
    assert gap(hulls[0], hulls[1]) <= 0  # on the page frame they touch
    straight = straighten_model(model)
    assert [im.bbox for im in straight.images[1:]] == [pytest.approx(b) for b in pics]
    stats = document_stats([straight])
    cands = build_candidates(straight, page_layout(straight, stats, set()), stats.body_size, set(), [])
    assert len(cands) == 3
    # back on the page, each figure is the hull of its turned picture
    assert iou(to_page(cands[1].bbox, 0, model), hulls[1]) > 0.99


def test_ocr_text_inside_a_scanned_figure_is_not_prose() -> None:
    """OCR reads a diagram's labels too; a long label line inside a scan region is the figure's, not running
    text (which would bar the figure from its caption)."""
    label = TextLine("Expert annotation of optic disc and fovea", (110, 200, 330, 209),
                     [Span("Expert annotation of optic disc and fovea", (110, 200, 330, 209), size=9)], 0,
                     source="ocr")
    body = [TextLine("The retina is examined with indirect ophthalmoscopy and recorded", (60, 500 + 12 * k, 540,
                     509 + 12 * k), [Span("x", (60, 500, 540, 509), size=9)], 1, source="ocr") for k in range(6)]
    model = straighten_model(_scan_model([(100.0, 150.0, 400.0, 300.0)], 1.0, [label, *body]))
    stats = document_stats([model])
    prose = page_layout(model, stats, set()).prose
    assert prose[1:] == [True] * 6 and prose[0] is False


def test_a_frame_around_graphics_is_a_figure_but_not_a_frame_around_text() -> None:
    """The dashed boxes of a flow diagram hold small icons: together a figure. A framed sidebar of running
    text (masked) is empty inside: no figure."""
    dpi = 100.0
    page = np.full((1100, 850), 245, np.uint8)

    def dashed_rect(x0: int, y0: int, x1: int, y1: int) -> None:
        for x in range(x0, x1, 8):
            cv2.line(page, (x, y0), (min(x + 4, x1), y0), 60, 1)
            cv2.line(page, (x, y1), (min(x + 4, x1), y1), 60, 1)
        for y in range(y0, y1, 8):
            cv2.line(page, (x0, y), (x0, min(y + 4, y1)), 60, 1)
            cv2.line(page, (x1, y), (x1, min(y + 4, y1)), 60, 1)

    dashed_rect(100, 100, 400, 450)
    for k in range(5):  # icons inside: small squares, too small to be figures on their own
        cv2.rectangle(page, (150 + 40 * k, 150 + 50 * k), (175 + 40 * k, 175 + 50 * k), 80, -1)
    dashed_rect(100, 600, 700, 900)  # a sidebar
    for k in range(10):
        cv2.rectangle(page, (130, 630 + 25 * k), (660, 642 + 25 * k), 50, -1)
    s = 72 / dpi
    text = [(125 * s, (627 + 25 * k) * s, 665 * s, (645 + 25 * k) * s) for k in range(10)]
    regions = find_regions(page, dpi, text)
    assert len(regions) == 1, regions
    assert iou(regions[0], (100 * s, 100 * s, 401 * s, 451 * s)) > 0.95


def test_furniture_of_scanned_pages() -> None:
    """A banner in the top margin band, the same on every page, is furniture; photographs set at one place
    on every page of an atlas are not (they look different, and they are not in the margin band)."""
    rng = np.random.default_rng(0)
    size = (595.0, 842.0)
    banner = (0.0, 0.0, 590.0, 30.0)
    pages = []
    for n in range(1, 6):
        img = np.full((842, 595), 240, np.uint8)
        img[0:30, 0:590] = 90
        img[100:400, 100:500] = rng.integers(0, 255, (300, 400))  # a different photograph on every page
        shift = float(n % 2)  # scans shift by a point or two between pages
        boxes = [(banner[0], banner[1] + shift, banner[2], banner[3] + shift), (100.0, 100.0, 500.0, 400.0)]
        pages.append((n, size, boxes, [region_signature(img, b, 1.0) for b in boxes]))
    out = repeated_regions(pages, 5)
    assert out == {n: {0} for n in range(1, 6)}
    assert repeated_regions(pages[:2], 10) == {}  # two pages of ten are not "many pages"


def test_the_l_of_a_page_edge_does_not_join_a_picture() -> None:
    """What a border leaves along two sides of a page is sparse ink whose box covers the page: it must not
    make the photograph below it a page-sized figure."""
    dpi = 100.0
    page = np.full((1100, 850), 245, np.uint8)
    page[20:1000, 30:32] = 90  # the edge of the sheet, left ...
    page[20:22, 30:700] = 90  # ... and top
    page[300:600, 200:650] = 60  # a photograph
    s = 72 / dpi
    regions = find_regions(page, dpi, [])
    assert len(regions) == 1 and iou(regions[0], (200 * s, 300 * s, 650 * s, 600 * s)) > 0.95, regions


def test_skew_of_an_oct_scan_page_without_text() -> None:
    """A page with no text but an OCT B-scan (dark bands with bright layers, so not a filled rectangle at
    Otsu's threshold): the skew comes from the picture's rectangular outline."""
    from mmretinal_builder.pdf.scan.deskew import estimate_skew

    page = np.full((1400, 1000), 240, np.uint8)
    page[400:800, 150:850] = 20
    for k, y in enumerate(range(520, 700, 30)):  # bright retinal layers, inside a dark margin
        page[y:y + 14, 170:830] = 200 - 10 * k
    m = cv2.getRotationMatrix2D((499.5, 699.5), 1.3, 1.0)
    skewed = cv2.warpAffine(page, m, (1000, 1400), borderValue=240)
    assert abs(estimate_skew(skewed, 150.0) - 1.3) <= 0.1
