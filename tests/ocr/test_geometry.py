"""Deskew and figure regions on synthetic renders (no Tesseract)."""

from __future__ import annotations

import cv2
import numpy as np
import pymupdf
import pytest

from mmretinal_builder.geometry import iou
from mmretinal_builder.pdf.scan.deskew import Rotation, deskew, estimate_skew
from mmretinal_builder.pdf.scan.ocr import render_gray
from mmretinal_builder.pdf.scan.regions import find_regions, merge_boxes, paper_level, solid_pictures

from .synth import PARAGRAPH, PHOTO, rotated_hull, scan_pdf, text_page_pdf

DPI = 200


def _gray(pdf: bytes, dpi: int = DPI) -> np.ndarray:
    with pymupdf.open("pdf", pdf) as doc:
        return render_gray(doc[0], dpi).copy()


@pytest.mark.parametrize("angle", [-1.8, -0.6, 0.0, 0.9, 2.0])
def test_estimate_skew(angle: float) -> None:
    text = PARAGRAPH * 4
    scanned, _ = scan_pdf(text_page_pdf(text, size=(300, 600), photo=None), dpi=DPI, angle=angle)
    est = estimate_skew(_gray(scanned), DPI)
    assert abs(est - angle) <= 0.1, (est, angle)


def test_skew_from_a_picture_when_text_is_scarce() -> None:
    scanned, _ = scan_pdf(text_page_pdf(["A"], photo=PHOTO, caption=None), dpi=DPI, angle=1.4)
    assert abs(estimate_skew(_gray(scanned), DPI) - 1.4) <= 0.15


def test_deskew_round_trip() -> None:
    """A box on the straightened image maps back onto the same ink of the skewed render."""
    gray = np.full((400, 600), 255, np.uint8)
    gray[100:140, 200:400] = 0
    m = cv2.getRotationMatrix2D((299.5, 199.5), 2.0, 1.0)
    skewed = cv2.warpAffine(gray, m, (600, 400), borderValue=255)
    straight, rot = deskew(skewed, 2.0)
    ys, xs = np.nonzero(straight < 128)
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    assert iou(box, (200, 100, 400, 140)) > 0.9
    ys, xs = np.nonzero(skewed < 128)
    hull = rot.hull_to_skewed(box)
    assert iou(hull, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)) > 0.9
    dx, dy = rot.shift_to_skewed(box)
    cx, cy = rot.to_skewed((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    assert (dx, dy) == pytest.approx((cx - (box[0] + box[2]) / 2, cy - (box[1] + box[3]) / 2))
    assert Rotation(0.0, 10, 10).to_skewed(3.0, 4.0) == pytest.approx((3.0, 4.0))


def test_regions_find_the_photo_not_the_text() -> None:
    angle = 1.2
    scanned, mats = scan_pdf(text_page_pdf(), dpi=DPI, angle=angle)
    gray = _gray(scanned, 300)
    # the text mask: every text line of the page, roughly where it is printed (as OCR would report it)
    words = [(28.0, 30.0 + 12 * k, 270.0, 42.0 + 12 * k) for k in range(len(PARAGRAPH))]
    words.append((PHOTO[0], PHOTO[3] + 6, PHOTO[0] + 180, PHOTO[3] + 17))
    regions = find_regions(gray, 300, words)
    expected = rotated_hull(PHOTO, mats[0], DPI)
    assert len(regions) == 1, regions
    assert iou(regions[0], expected) >= 0.9, (regions, expected)
    assert paper_level(gray) > 200


def test_regions_join_the_parts_of_a_chart() -> None:
    """Axes, bars and short labels close to each other are one region; separate pictures stay apart."""
    gray = np.full((1000, 1000), 240, np.uint8)
    cv2.line(gray, (100, 100), (100, 400), 30, 3)  # y axis
    cv2.line(gray, (100, 400), (450, 400), 30, 3)  # x axis
    for k in range(5):
        cv2.rectangle(gray, (130 + 60 * k, 400 - 50 * (k + 1)), (160 + 60 * k, 398), 90, -1)
    cv2.rectangle(gray, (600, 600), (900, 900), 40, -1)  # a photo far away
    regions = find_regions(gray, 300, [])
    assert len(regions) == 2
    s = 72 / 300
    assert iou(regions[0], (100 * s, 100 * s, 451 * s, 402 * s)) > 0.9
    assert iou(regions[1], (600 * s, 600 * s, 901 * s, 901 * s)) > 0.95
    solid = solid_pictures(gray, 300)  # only the photo is dense enough to be blanked before OCR
    assert len(solid) == 1 and iou(solid[0], (600, 600, 901, 901)) > 0.95, solid


def test_merge_boxes() -> None:
    assert merge_boxes([(0, 0, 10, 10), (11, 0, 20, 10), (50, 50, 60, 60)], 2.0) == [(0, 0, 20, 10),
                                                                                    (50, 50, 60, 60)]
