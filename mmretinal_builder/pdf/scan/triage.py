"""Which pages OCR reads: only those that can hold a figure or its caption and whose text cannot be read.

OCR costs a second or more a page; reading every page whose text layer is missing sent a 3000-page PDF with
one short line per page through Tesseract page by page for an hour (issue 18). A page is read by OCR when

* its text layer is ``none`` or ``broken`` and it **holds an image** (a scan, a plate, a photograph whose
  caption was printed into the picture): ``scan`` when images cover most of the page, else ``image``;
* its text layer is ``broken`` (the characters are garbage) and it or a **neighbouring page** holds figure
  material (an image or a figure-like drawing): the caption of a figure is on the figure's page or, at most,
  the page before or after it (the pairing's cross-page rule), so only there is the caption worth reading.

A text-only page (no image, no figure on it or beside it) is never read by OCR, whatever its text layer: there
is no figure there to caption. A page without any text and without an image is blank or all vector: nothing
for OCR either.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...geometry import area, clip
from ..page_model import PageModel

#: Images must cover this share of the page for it to count as a scanned page (the rest: a page with a picture).
MOST_OF_PAGE = 0.5
#: Images smaller than this (points, both sides) are bullets, icons and logos: no figure, no caption in them.
MIN_IMAGE_PT = 28.0


def _image_cover(m: PageModel) -> float:
    """The share of the page the images cover (overlaps counted once per image: an upper bound, capped at 1)."""
    if m.area <= 0:
        return 0.0
    total = sum(area(clip(im.bbox, m.size)) for im in m.images)
    return min(1.0, total / m.area)


def _has_picture(m: PageModel) -> bool:
    return any(im.bbox[2] - im.bbox[0] >= MIN_IMAGE_PT and im.bbox[3] - im.bbox[1] >= MIN_IMAGE_PT
               for im in m.images)


def _figure_material(m: PageModel) -> bool:
    return _has_picture(m) or any(not d.rule_only and not d.is_thin for d in m.drawings)


def ocr_reasons(models: Sequence[PageModel]) -> dict[int, str]:
    """Page number -> why OCR reads it (``scan``, ``image``, ``broken-text-layer``); pages not named are not read."""
    material = [_figure_material(m) for m in models]
    out: dict[int, str] = {}
    for k, m in enumerate(models):
        if m.text_layer == "ok":
            continue
        if _has_picture(m):
            out[m.number] = "scan" if _image_cover(m) >= MOST_OF_PAGE else "image"
        elif m.text_layer == "broken" and any(material[j] for j in range(max(0, k - 1), min(len(models), k + 2))):
            out[m.number] = "broken-text-layer"
    return out
