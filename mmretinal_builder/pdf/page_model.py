"""The page model: what a page holds (text lines, image placements, drawing clusters), free of PyMuPDF.

Everything downstream of the PDF reader (caption detection, figure candidates, pairing) reads these
dataclasses only, so a later OCR reader can fill :attr:`PageModel.lines` from Tesseract and reuse all of
it. Boxes are in the visible page frame: PDF points, origin top-left, page rotation already applied
(see :mod:`mmretinal_builder.geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..geometry import BBox
from ..schema import TextLayer

__all__ = ["DrawingCluster", "ImagePlacement", "PageModel", "Span", "TextLayer", "TextLine", "Transform"]
#: Affine matrix (a, b, c, d, e, f) mapping the image's unit square to the page (PyMuPDF convention:
#: image column u and row v in [0, 1], page point = (a*u + c*v + e, b*u + d*v + f), v = 0 is the top row).
Transform = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Span:
    """A run of text in one font: the unit at which bold labels and sub-labels are told apart."""

    text: str
    bbox: BBox
    font: str = ""
    size: float = 0.0
    bold: bool = False
    italic: bool = False


@dataclass
class TextLine:
    """One line of text: PDF text layer or OCR (``source``); ``block_id`` groups lines of a paragraph."""

    text: str
    bbox: BBox
    spans: list[Span]
    block_id: int
    source: Literal["pdf", "ocr"] = "pdf"
    baseline: float | None = None  # y of the first span's baseline when known
    horizontal: bool = True  # False for rotated/vertical lines (axis labels, rotated pages)
    direction: tuple[float, float] = (1.0, 0.0)  # writing direction (unit vector, visible frame, y down)

    @property
    def size(self) -> float:
        """Font size of the line: the size carrying most characters (OCR: estimated from the box)."""
        best: dict[float, int] = {}
        for s in self.spans:
            if s.text.strip():
                key = round(s.size, 1)
                best[key] = best.get(key, 0) + len(s.text.strip())
        if not best:
            return round(self.bbox[3] - self.bbox[1], 1) * 0.75
        return max(best.items(), key=lambda kv: (kv[1], kv[0]))[0]

    @property
    def base(self) -> float:
        """Baseline for line-pitch computations (the box bottom when the text layer gives none)."""
        return self.baseline if self.baseline is not None else self.bbox[3]


@dataclass
class ImagePlacement:
    """One drawn raster: where it lands on the page and how (clip, rotation), plus its pixel size.

    ``xref`` 0 means no addressable image object (inline image, or a region found by a scanned-page
    reader): it can only be rendered from the page, never passed through.
    """

    xref: int
    bbox: BBox  # visible box: placement clipped by the clip path and the page
    transform: Transform  # unit square -> page, visible frame
    width_px: int
    height_px: int
    clip: BBox | None = None  # the clip box when it cuts the placement, else None
    has_mask: bool = False
    decoration: bool = False  # repeated on many pages at the same place (logo, banner)

    @property
    def full_bbox(self) -> BBox:
        """The whole placement (before clipping)."""
        a, b, c, d, e, f = self.transform
        xs = (e, a + e, c + e, a + c + e)
        ys = (f, b + f, d + f, b + d + f)
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def rotation(self) -> int | None:
        """Rotation in degrees (0, 90, 180, 270) when axis-aligned, else None (skewed/free rotation)."""
        a, b, c, d, _, _ = self.transform
        eps = 1e-3 * max(abs(a), abs(b), abs(c), abs(d), 1e-9)
        if abs(b) <= eps and abs(c) <= eps:
            return 0 if a > 0 else 180  # a flip keeps 0/180; see `flips`
        if abs(a) <= eps and abs(d) <= eps:
            return 90 if c < 0 else 270
        return None

    @property
    def native_dpi(self) -> float:
        """Pixels per inch of the image as placed (the resolution a crop keeps)."""
        x0, y0, x1, y1 = self.full_bbox
        span_pt = max(x1 - x0, y1 - y0, 1e-6)
        return 72.0 * max(self.width_px, self.height_px) / span_pt


@dataclass
class DrawingCluster:
    """Vector paths close to each other, summarised: enough to tell a figure from rules and frames."""

    bbox: BBox
    n_paths: int
    n_curves: int = 0  # bezier segments: charts, arrows, shapes
    n_fills: int = 0  # paths filled with a non-white colour
    n_diagonals: int = 0  # straight segments that are neither horizontal nor vertical
    rule_only: bool = False  # only thin horizontal/vertical lines and unfilled frames (tables, separators)
    decoration: bool = False  # repeated on many pages at the same place

    @property
    def is_thin(self) -> bool:
        return min(self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1]) <= 2.0


@dataclass
class PageModel:
    """One page: its size (visible frame), text lines, images, drawings and the state of its text layer."""

    number: int  # 1-based physical page
    size: tuple[float, float]
    lines: list[TextLine] = field(default_factory=list)
    images: list[ImagePlacement] = field(default_factory=list)
    drawings: list[DrawingCluster] = field(default_factory=list)
    text_layer: TextLayer = "ok"
    rotation: int = 0  # the page's /Rotate, already applied to every box above
    scan_image: int | None = None  # index into images of a page-covering scan, if any
    skew: float = 0.0  # degrees the print of a scanned page is turned (OpenCV convention; boxes stay in the
    # page frame: pdf/scan/frame.py gives the straight frame where its layout is analysed)

    @property
    def area(self) -> float:
        return self.size[0] * self.size[1]
