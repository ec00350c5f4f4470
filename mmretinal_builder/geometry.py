"""The one bounding-box convention of the project, and the few operations on it.

Every box in records, files and tests is ``[x0, y0, x1, y1]`` in **PDF points** (1/72 inch),
origin at the **top-left** of the page (PyMuPDF's and pdfplumber's convention), x to the right,
y downwards, ``x0 <= x1`` and ``y0 <= y1``. Each record that holds a box also holds the page size
``[width, height]`` in points, so fractions (the ground-truth files' unit) can be derived with
:func:`to_fractions`. Boxes inside an extracted image (panels) are in **pixels** of that image, same
orientation, and are named ``*_px`` wherever they appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

BBox = tuple[float, float, float, float]


def as_bbox(values: Sequence[float]) -> BBox:
    """Validate and normalise a 4-sequence into an ordered box."""
    if len(values) != 4:
        raise ValueError(f"a bbox has 4 numbers [x0, y0, x1, y1], got {list(values)!r}")
    x0, y0, x1, y1 = (float(v) for v in values)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def width(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0])


def height(b: Sequence[float]) -> float:
    return max(0.0, b[3] - b[1])


def area(b: Sequence[float]) -> float:
    return width(b) * height(b)


def intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """Area of the overlap of two boxes (0 when disjoint)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def union(boxes: Iterable[Sequence[float]]) -> BBox:
    boxes = list(boxes)
    if not boxes:
        raise ValueError("union of no boxes")
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def clip(b: Sequence[float], page_size: Sequence[float]) -> BBox:
    """Clip a box to the page ``[0, 0, w, h]``."""
    w, h = page_size
    return (max(0.0, b[0]), max(0.0, b[1]), min(float(w), b[2]), min(float(h), b[3]))


def to_fractions(b: Sequence[float], page_size: Sequence[float]) -> BBox:
    """Points -> fractions of the page width/height (the ground-truth unit)."""
    w, h = page_size
    return (b[0] / w, b[1] / h, b[2] / w, b[3] / h)


def from_fractions(b: Sequence[float], page_size: Sequence[float]) -> BBox:
    """Fractions of the page -> points."""
    w, h = page_size
    return (b[0] * w, b[1] * h, b[2] * w, b[3] * h)


def horizontal_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Overlap of the x-extents as a fraction of the narrower box (column alignment)."""
    ov = min(a[2], b[2]) - max(a[0], b[0])
    narrow = min(width(a), width(b))
    return max(0.0, ov) / narrow if narrow > 0 else 0.0


def vertical_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Overlap of the y-extents as a fraction of the shorter box (side-by-side alignment)."""
    ov = min(a[3], b[3]) - max(a[1], b[1])
    short = min(height(a), height(b))
    return max(0.0, ov) / short if short > 0 else 0.0


def gap(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between the closest edges of two boxes (0 when they overlap)."""
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return (dx * dx + dy * dy) ** 0.5


def rounded(b: Sequence[float], ndigits: int = 2) -> list[float]:
    """A JSON-friendly box; rounding keeps outputs byte-stable across platforms."""
    return [round(float(v), ndigits) for v in b]
