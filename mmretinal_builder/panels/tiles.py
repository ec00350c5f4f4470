"""Which pieces of a raster cut at seams are tiles: photographs, and maps the size of a photograph beside them.

A seam (:mod:`.seams`) is only believed when it separates tiles. A *photograph-like* piece has continuous
tone nearly everywhere (noise, texture, shading) and little white paper; charts, tables and diagrams are
flat colour and paper with edges, so the straight edges of their bars and rules never make tiles. Measured
on the labelled modality set (3x3 variance above 0.3 grey levels squared): photographs, angiograms, OCT
scans and heat maps 0.74-1.0 of their pixels; binary and colour-coded maps, charts, diagrams 0.13-0.42
(a dense table's glyph edges reach 0.6, but it is mostly paper). A *map* (a binary vessel segmentation, a
colour-coded lesion map, a heat map) is mostly flat too, but papers show it at the size of the photograph it
was made from: a map counts as a tile when a photograph-like piece of the same cut has its extent. Letters
drawn in the same corner of every tile are evidence of a grid where the image gives little.

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .labels import corner_glyph, ocr_corner_tokens, tesseract_available
from .masks import Masks, PxBox

PHOTO_TEXTURE = 0.5  # share of pixels whose neighbourhood varies, for a photograph-like piece...
PHOTO_MAX_PAPER = 0.4  # ...of which at most this share is white paper (dense text and tables vary too)...
PHOTO_MAX_CANVAS = 0.7  # ...and at most this share black or white (a map's JPEG ringing varies too)
VAR_MIN = 0.3  # grey-level variance over 3x3 above which a pixel is textured
MAP_INK = 0.02  # a map has at least this share of pixels that are not its background (black or white)...
MAP_BACKGROUND = 0.6  # ...which covers at least this share (a flat-colour chart cell is no map)
HEAT_SATURATION = 0.5  # a smooth picture this colourful (mean HSV saturation) is a colour-mapped heat map
SAME_SIZE = 0.08  # a map's extent may differ this much (relative) from its photograph's
MAX_ASPECT = 5.0  # a tile is no thinner than this (a sliver along a seam is an edge, not a tile)


def texture_map(gray: np.ndarray, upsampled: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Per pixel: whether its 3x3 neighbourhood varies at all (variance above ``VAR_MIN``): continuous tone.

    ``upsampled`` (along x, y): how many times a render repeated each pixel of the picture; the test is
    made at the picture's own resolution (repeated pixels look flat)."""
    h, w = gray.shape
    g = gray.astype(np.float32)
    if max(upsampled) > 1.0:
        g = cv2.resize(g, (max(3, round(w / upsampled[0])), max(3, round(h / upsampled[1]))),
                       interpolation=cv2.INTER_AREA)
    mean = cv2.blur(g, (3, 3))
    var = cv2.blur(g * g, (3, 3)) - mean * mean
    tex = var > VAR_MIN
    if tex.shape != (h, w):
        tex = cv2.resize(tex.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return tex


def texture(tex: np.ndarray, box: PxBox) -> float:
    x0, y0, x1, y1 = box
    t = tex[y0:y1, x0:x1]
    return float(t.mean()) if t.size else 0.0


def map_background(m: Masks, box: PxBox) -> float:
    """Share of the piece taken by its dominant background, white or black."""
    x0, y0, x1, y1 = box
    white, black = m.white[y0:y1, x0:x1], m.black[y0:y1, x0:x1]
    if white.size == 0:
        return 1.0
    return float(max(white.mean(), black.mean()))


def _saturation(crop: np.ndarray) -> float:
    """Mean HSV saturation (0-1) of the pixels that are not near-black."""
    if crop.ndim != 3 or crop.size == 0:
        return 0.0
    hsv = cv2.cvtColor(np.ascontiguousarray(crop[:, :, :3]), cv2.COLOR_BGR2HSV)
    lit = hsv[:, :, 2] > 40
    return float(hsv[:, :, 1][lit].mean()) / 255.0 if lit.any() else 0.0


def tile_kind(m: Masks, tex: np.ndarray, box: PxBox, min_extent: tuple[float, float], min_std: float,
              img: np.ndarray | None = None) -> str:
    """'photo', 'map' or 'none' for a piece bounded by a seam (``min_extent``: rows, columns)."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    if h < min_extent[0] or w < min_extent[1] or max(h, w) > MAX_ASPECT * max(1, min(h, w)):
        return "none"
    g = m.gray[y0:y1, x0:x1]
    if g.size == 0 or float(g.std()) < min_std:
        return "none"
    if texture(tex, box) >= PHOTO_TEXTURE and float(m.white[y0:y1, x0:x1].mean()) <= PHOTO_MAX_PAPER \
            and map_background(m, box) <= PHOTO_MAX_CANVAS:
        return "photo"
    bg = map_background(m, box)
    if MAP_BACKGROUND <= bg <= 1.0 - MAP_INK:
        return "map"  # a binary or colour-coded map on black or white
    if img is not None and float(m.white[y0:y1, x0:x1].mean()) <= PHOTO_MAX_PAPER and \
            _saturation(img[y0:y1, x0:x1]) >= HEAT_SATURATION:
        return "map"  # a smooth colour-mapped picture: a heat map alone
    return "none"


def same_size(a: int, b: int) -> bool:
    return abs(a - b) <= SAME_SIZE * max(a, b)


def letter_corner(img: np.ndarray, boxes: Sequence[PxBox]) -> str | None:
    """The corner in which every box shows a panel letter (a grid's burned-in letters): a mark of the same
    size in each that OCR reads as a letter, a different one in each. None without Tesseract."""
    if not tesseract_available():
        return None
    for corner in ("tl", "tr", "bl", "br"):
        sizes = [corner_glyph(img, b, corner) for b in boxes]
        if not all(sizes) or max(sizes) > 1.3 * min(sizes):
            continue
        read = [ocr_corner_tokens(img, b, corner) for b in boxes]
        labels = [r[0].label.lower() for r in read if r]
        if len(labels) == len(boxes) and len(set(labels)) == len(labels):
            return corner
    return None
