"""The page model: what a page holds (text lines, image placements, drawing clusters), free of PyMuPDF.

Everything downstream of the PDF reader (caption detection, figure candidates, pairing) reads these
dataclasses only, so a later OCR reader can fill :attr:`PageModel.lines` from Tesseract and reuse all of
it. Boxes are in the visible page frame: PDF points, origin top-left, page rotation already applied
(see :mod:`mmretinal_builder.geometry`).
"""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from ..geometry import BBox
from ..schema import TextLayer

__all__ = ["DrawingCluster", "ImagePlacement", "PageModel", "Span", "TextLayer", "TextLine", "Transform", "Word",
           "page_from_dict", "page_to_dict"]
#: Affine matrix (a, b, c, d, e, f) mapping the image's unit square to the page (PyMuPDF convention:
#: image column u and row v in [0, 1], page point = (a*u + c*v + e, b*u + d*v + f), v = 0 is the top row).
Transform = tuple[float, float, float, float, float, float]
#: A word of the text layer as PyMuPDF's ``words`` output gives it, in the visible frame:
#: (x0, y0, x1, y1, text, block number, line number, word number).
Word = tuple[float, float, float, float, str, int, int, int]


class Span(NamedTuple):
    """A run of text in one font: the unit at which bold labels and sub-labels are told apart.

    A named tuple (immutable, compared and hashed by value, ``Span(text='..', bbox=(..), ...)`` as its repr): a long
    text page holds a span per word, and a tuple is the cheapest object to build and to read back."""

    text: str
    bbox: BBox
    font: str = ""
    size: float = 0.0
    bold: bool = False
    italic: bool = False

    @classmethod
    def of(cls, text: str, bbox: BBox, font: str, size: float, bold: bool, italic: bool) -> Span:
        """The same span as ``Span(...)``, built without the keyword handling of the generated ``__new__``."""
        return _tuple_new(cls, (text, bbox, font, size, bold, italic))


_tuple_new = tuple.__new__


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
        """Font size of the line: the size carrying most characters (OCR: estimated from the box).

        Computed once per spans list and box (layout and caption code ask for it tens of times per line)."""
        cached = self.__dict__.get("_size_cache")
        if cached is not None and cached[0] is self.spans and cached[1] == len(self.spans) \
                and cached[2] == self.bbox:
            return cached[3]
        value = self._font_size()
        self.__dict__["_size_cache"] = (self.spans, len(self.spans), self.bbox, value)
        return value

    def prime_size(self, value: float) -> None:
        """Set :attr:`size` to ``value`` computed by the reader from these spans (the same number ``size`` would
        give); it is computed again if the spans or the box change."""
        self.__dict__["_size_cache"] = (self.spans, len(self.spans), self.bbox, value)

    def _font_size(self) -> float:
        spans = self.spans
        if spans:
            first = spans[0].size
            if all(sp.size == first for sp in spans):  # one size on the line, the common case: no counting
                if any(sp.text.strip() for sp in spans):
                    return round(first, 1)
                return round(self.bbox[3] - self.bbox[1], 1) * 0.75
        best: dict[float, int] = {}
        for s in self.spans:
            n = len(s.text.strip())
            if n:
                key = round(s.size, 1)
                best[key] = best.get(key, 0) + n
        if not best:
            return round(self.bbox[3] - self.bbox[1], 1) * 0.75
        if len(best) == 1:  # one size on the line, the common case
            return next(iter(best))
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
    #: the text layer's words, kept only on pages that can hold a figure (images or figure-like drawings): the
    #: panels stage reads panel letters printed as PDF text from them without opening the PDF again
    words: list[Word] = field(default_factory=list)
    skew: float = 0.0  # degrees the print of a scanned page is turned (OpenCV convention; boxes stay in the
    # page frame: pdf/scan/frame.py gives the straight frame where its layout is analysed)

    @property
    def area(self) -> float:
        return self.size[0] * self.size[1]


# ----------------------------------------------------------------------------- persistence
# The ``pages`` stage writes page models into its shard and later stages read them back. Written out by hand:
# ``dataclasses.asdict`` and a generic validator cost more than reading the page did. Boxes stay tuples in the dict
# (JSON writes them as arrays): in the build's own process the dict is read back without copying them.
#
# The text layer's numbers are packed (a long book has a line per 10 words and a span per word): little-endian
# float64, base64, one string per page, in the order of the lines and spans:
#
# * a line of the PDF's text layer is ``[text, block_id, horizontal, spans]``, its box, baseline and direction in
#   ``line_numbers`` (x0, y0, x1, y1, baseline, dx, dy); each of its spans is ``[text, style]``, ``style`` an index
#   into the page's ``span_styles`` list of ``[font, bold, italic]``, its box and size in ``span_numbers``
#   (x0, y0, x1, y1, size);
# * words are ``[text, block, line, word]``, their boxes in ``word_numbers``.
#
# Writing a float as JSON text costs its shortest ``repr``, which was most of the time spent writing a text-heavy
# book's pages shard; the packed bits are the same floats, read back exactly (-0.0, and every digit, included).
# Other lines (OCR's, or a line without a baseline) stay objects with every number inline, spans as
# ``[text, bbox, font, size, bold, italic]``: the number types OCR gave are kept as JSON keeps them. Shards written
# before the packing (every line an object) are read the same way.

_BIG_ENDIAN = sys.byteorder == "big"


def _pack(values: list[float]) -> str:
    numbers = array("d", values)
    if _BIG_ENDIAN:
        numbers.byteswap()
    return base64.b64encode(numbers.tobytes()).decode("ascii")


def _unpack(text: str) -> array:
    numbers = array("d")
    numbers.frombytes(base64.b64decode(text))
    if _BIG_ENDIAN:
        numbers.byteswap()
    return numbers


def _packable(ln: TextLine) -> bool:
    """A text-layer line as the PDF reader makes them: every number a float."""
    return ln.source == "pdf" and type(ln.baseline) is float


def page_to_dict(m: PageModel) -> dict[str, Any]:
    """A JSON-able form of ``m`` (read back by :func:`page_from_dict`)."""
    line_numbers: list[float] = []
    span_numbers: list[float] = []
    put_line, put_line_one = line_numbers.extend, line_numbers.append
    put, put_one = span_numbers.extend, span_numbers.append
    styles: dict[tuple[str, bool, bool], int] = {}  # (font, bold, italic) -> its index in the page's list
    lines: list[Any] = []
    for ln in m.lines:
        if _packable(ln):
            spans = []
            for text, bbox, font, size, bold, italic in ln.spans:  # a Span is a tuple: unpacked, not looked up
                put(bbox)
                put_one(size)
                style = (font, bold, italic)
                k = styles.get(style)
                if k is None:
                    k = styles[style] = len(styles)
                spans.append((text, k))
            put_line(ln.bbox)
            put_line_one(ln.baseline)
            put_line(ln.direction)
            lines.append([ln.text, ln.block_id, ln.horizontal, spans])
        else:
            lines.append({"text": ln.text, "bbox": ln.bbox, "block_id": ln.block_id, "source": ln.source,
                          "baseline": ln.baseline, "horizontal": ln.horizontal, "direction": ln.direction,
                          "spans": [(s.text, s.bbox, s.font, s.size, s.bold, s.italic) for s in ln.spans]})
    word_numbers: list[float] = []
    put = word_numbers.extend
    for w in m.words:
        put(w[:4])
    return {
        "number": m.number, "size": m.size, "text_layer": m.text_layer, "rotation": m.rotation,
        "scan_image": m.scan_image, "skew": m.skew, "lines": lines, "line_numbers": _pack(line_numbers),
        "span_numbers": _pack(span_numbers), "span_styles": list(styles),
        "images": [{"xref": im.xref, "bbox": im.bbox, "transform": im.transform, "width_px": im.width_px,
                    "height_px": im.height_px, "clip": im.clip, "has_mask": im.has_mask,
                    "decoration": im.decoration} for im in m.images],
        "drawings": [(d.bbox, d.n_paths, d.n_curves, d.n_fills, d.n_diagonals, d.rule_only, d.decoration)
                     for d in m.drawings],
        "words": [w[4:] for w in m.words], "word_numbers": _pack(word_numbers),
    }


def page_from_dict(d: dict[str, Any]) -> PageModel:
    """The :class:`PageModel` written by :func:`page_to_dict` (in memory, or read back from JSON); also the form
    written before the numbers were packed (every line an object, every word inline)."""
    number = d.get("number")
    ln_nums = _unpack(d.get("line_numbers", ""))
    nums = _unpack(d.get("span_numbers", ""))
    packed = [ln for ln in d["lines"] if type(ln) is list]
    n_spans = sum(len(ln[3]) for ln in packed)
    # a damaged line of a shard is an error, never boxes shifted onto other lines or spans
    if len(ln_nums) != 7 * len(packed) or len(nums) != 5 * n_spans:
        raise ValueError(f"page {number}: {len(ln_nums)} line numbers and {len(nums)} span numbers for "
                         f"{len(packed)} lines and {n_spans} spans")
    styles = [tuple(x) for x in d.get("span_styles", ())]
    k = q = 0
    lines = []
    for ln in d["lines"]:
        if type(ln) is list:
            text, block_id, horizontal, packed_spans = ln
            spans = []
            for span_text, style in packed_spans:
                font, bold, italic = styles[style]
                spans.append(Span.of(span_text, (nums[k], nums[k + 1], nums[k + 2], nums[k + 3]), font, nums[k + 4],
                                     bold, italic))
                k += 5
            lines.append(TextLine(text=text, bbox=(ln_nums[q], ln_nums[q + 1], ln_nums[q + 2], ln_nums[q + 3]),
                                  block_id=block_id, source="pdf", baseline=ln_nums[q + 4], horizontal=horizontal,
                                  direction=(ln_nums[q + 5], ln_nums[q + 6]), spans=spans))
            q += 7
        else:
            lines.append(TextLine(text=ln["text"], bbox=tuple(ln["bbox"]), block_id=ln["block_id"],
                                  source=ln["source"], baseline=ln["baseline"], horizontal=ln["horizontal"],
                                  direction=tuple(ln["direction"]),
                                  spans=[Span.of(s[0], tuple(s[1]), s[2], s[3], s[4], s[5]) for s in ln["spans"]]))
    images = [ImagePlacement(xref=im["xref"], bbox=tuple(im["bbox"]), transform=tuple(im["transform"]),
                             width_px=im["width_px"], height_px=im["height_px"],
                             clip=tuple(im["clip"]) if im["clip"] is not None else None, has_mask=im["has_mask"],
                             decoration=im["decoration"]) for im in d["images"]]
    drawings = [DrawingCluster(tuple(x[0]), x[1], x[2], x[3], x[4], x[5], x[6]) for x in d["drawings"]]
    if "word_numbers" in d:
        wn = _unpack(d["word_numbers"])
        if len(wn) != 4 * len(d["words"]):
            raise ValueError(f"page {number}: word_numbers holds {len(wn)} numbers for {len(d['words'])} words")
        words = [(wn[4 * i], wn[4 * i + 1], wn[4 * i + 2], wn[4 * i + 3], *w) for i, w in enumerate(d["words"])]
    else:
        words = [tuple(w) for w in d.get("words", [])]
    return PageModel(number=d["number"], size=tuple(d["size"]), lines=lines, images=images, drawings=drawings,
                     text_layer=d["text_layer"], rotation=d["rotation"], scan_image=d["scan_image"],
                     skew=d.get("skew", 0.0), words=words)
