"""Zoomed crops beside a panel are part of it.

Figures often show a photograph with one or two magnified crops of it next to it (the crop's area marked
by a box on the photograph). The splitter finds the crop as a piece of its own; a reader sees one panel.
A small piece is a zoom of a neighbouring panel when, shrunk by some factor, it matches a patch of that
panel (normalised cross-correlation): it shows the same pixels, magnified. A crop that carries its own
letter in the same corner as the panel's is a panel of its own ("(b) magnified view of the box in (a)").

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

import cv2
import numpy as np

from .labels import corner_glyph
from .masks import PxBox

SCALES = tuple(round(1.4 * 1.08 ** k, 3) for k in range(20))  # magnifications tried: 1.4 to 6, 8% apart
MATCH = 0.75  # normalised cross-correlation of the shrunk crop with a patch of the panel (the panel's
# copy carries the box drawn round the area; its grey levels and contrast must match too)
MAX_AREA = 0.6  # a zoom is at most this share of its panel's area
WORK_SIDE = 360  # the panel is matched at this size (pixels on its longer side)
MIN_TEMPLATE = 12  # a shrunk crop smaller than this (pixels) tells nothing
MIN_STD = 4.0  # ...nor one this flat (grey-level standard deviation)


def _gray(img: np.ndarray, box: PxBox) -> np.ndarray:
    x0, y0, x1, y1 = box
    c = img[y0:y1, x0:x1]
    g = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) if c.ndim == 3 else c
    return g.astype(np.float32)


def _content(g: np.ndarray) -> np.ndarray:
    """``g`` without white or black margin lines (a gutter left in the crop's box)."""
    keep_r = np.flatnonzero(((g < 245) & (g > 10)).mean(axis=1) > 0.5)
    keep_c = np.flatnonzero(((g < 245) & (g > 10)).mean(axis=0) > 0.5)
    if keep_r.size < 2 or keep_c.size < 2:
        return g
    return g[keep_r[0]:keep_r[-1] + 1, keep_c[0]:keep_c[-1] + 1]


def _content_box(img: np.ndarray, box: PxBox) -> PxBox:
    """``box`` without white or black margin lines."""
    g = _gray(img, box)
    rows = np.flatnonzero(((g < 245) & (g > 10)).mean(axis=1) > 0.5)
    cols = np.flatnonzero(((g < 245) & (g > 10)).mean(axis=0) > 0.5)
    if rows.size < 2 or cols.size < 2:
        return box
    return (box[0] + int(cols[0]), box[1] + int(rows[0]), box[0] + int(cols[-1]) + 1, box[1] + int(rows[-1]) + 1)


def zoom_of(img: np.ndarray, crop: PxBox, panel: PxBox) -> float:
    """How well ``crop`` matches a patch of ``panel`` shrunk by some magnification (best correlation)."""
    big = _gray(img, panel)
    small = _content(_gray(img, crop))
    if big.size == 0 or small.size == 0 or float(small.std()) < 4.0:
        return 0.0
    f = min(1.0, WORK_SIDE / max(big.shape))
    if f < 1.0:
        big = cv2.resize(big, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    best = 0.0
    for s in SCALES:
        w, h = int(small.shape[1] * f / s), int(small.shape[0] * f / s)
        if min(w, h) < MIN_TEMPLATE or w >= big.shape[1] or h >= big.shape[0]:
            continue
        t = cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)
        if float(t.std()) < MIN_STD:
            continue  # a flat patch matches anything
        r = cv2.matchTemplate(big, t, cv2.TM_CCOEFF_NORMED)
        _, score, _, (px, py) = cv2.minMaxLoc(r)
        patch = big[py:py + h, px:px + w]
        # the same pixels magnified keep their grey levels and contrast (correlation alone does not ask)
        if abs(float(patch.mean()) - float(t.mean())) > 20 or not 0.5 <= float(patch.std()) / float(t.std()) <= 2:
            continue
        best = max(best, float(score))
    return best


def _beside(a: PxBox, b: PxBox, gap: float) -> bool:
    """``a`` lies next to ``b`` (left, right, above or below, within ``gap``) and overlaps it across."""
    dx = max(b[0] - a[2], a[0] - b[2])
    dy = max(b[1] - a[3], a[1] - b[3])
    if dx > 0 and dy <= 0:  # side by side
        return dx <= gap and min(a[3], b[3]) - max(a[1], b[1]) >= 0.5 * (a[3] - a[1])
    if dy > 0 and dx <= 0:  # stacked
        return dy <= gap and min(a[2], b[2]) - max(a[0], b[0]) >= 0.5 * (a[2] - a[0])
    return False


def _gap(a: PxBox, b: PxBox) -> int:
    return max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3], 0)


def _area(b: PxBox) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def _overlaps(a: PxBox, b: PxBox) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _contains(a: PxBox, b: PxBox) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3]


def _own_letter(img: np.ndarray, crop: PxBox, panel: PxBox) -> bool:
    """Both carry a mark of about the same size in the same corner: letters, as a figure prints them all."""
    for c in ("tl", "tr", "bl", "br"):
        a = corner_glyph(img, panel, c)
        b = corner_glyph(img, crop, c) if a else 0
        if a and b and 0.5 <= a / b <= 2.0:
            return True
    return False


def merge_zooms(img: np.ndarray, panels: list[PxBox]) -> tuple[list[PxBox], int]:
    """``panels`` (reading order kept) with each zoomed crop merged into the panel it magnifies; also how
    many crops were merged. A merge that would overlap another panel is not made."""
    boxes = list(panels)
    merged = 0
    changed = True
    while changed and len(boxes) >= 2:
        changed = False
        order = sorted(range(len(boxes)), key=lambda i: _area(boxes[i]))
        for i in order:
            crop = boxes[i]
            gap = 0.12 * min(crop[2] - crop[0], crop[3] - crop[1]) + 12
            hosts = [j for j in range(len(boxes)) if j != i and _area(crop) <= MAX_AREA * _area(boxes[j])
                     and _beside(crop, boxes[j], gap)]
            # the nearest panel it magnifies (two panels of one eye may both hold its pixels)
            inner = _content_box(img, crop)
            found = [(_gap(inner, boxes[j]), j) for j in hosts if zoom_of(img, crop, boxes[j]) >= MATCH]
            if not found:
                continue
            j = min(found)[1]
            if _own_letter(img, crop, boxes[j]):
                continue
            b = boxes[j]
            u = (min(b[0], crop[0]), min(b[1], crop[1]), max(b[2], crop[2]), max(b[3], crop[3]))
            # the crops stacked with it go too (one may show too flat an area to be matched); a panel the
            # union would cut into stays, and so does the crop
            inside = [k for k in range(len(boxes)) if k not in (i, j) and _overlaps(u, boxes[k])]
            if any(not _contains(u, boxes[k]) or _area(boxes[k]) > MAX_AREA * _area(b) for k in inside):
                continue
            boxes[j] = u
            for k in sorted([i, *inside], reverse=True):
                del boxes[k]
            merged += 1 + len(inside)
            changed = True
            break
    return boxes, merged
