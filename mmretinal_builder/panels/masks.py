"""Pixel classes the panel splitter works on: white and black background, line classes and runs.

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PxBox = tuple[int, int, int, int]

CONTENT, WHITE, BLACK = 0, 1, 2


@dataclass(frozen=True)
class SplitParams:
    """Thresholds of the gutter splitter (the stage's Params carry the same names)."""

    white_level: int = 225  # a pixel is white when all its channels are >= this
    black_level: int = 35  # a pixel is black when all its channels are <= this
    gutter_fill: float = 0.985  # share of a line's pixels that must be background for it to be a gutter line
    min_gutter_px: int = 3
    min_gutter_frac: float = 0.004  # of the region's extent across the cut
    min_panel_frac: float = 0.08  # a panel's side relative to the whole image's side (same axis)
    min_panel_px: int = 40
    strip_frac: float = 0.3  # a label strip is thinner than this share of its neighbouring panel...
    strip_max_ink: float = 0.35  # ...and has at most this share of non-background pixels
    min_content_std: float = 8.0  # grey-level standard deviation below which a piece is blank
    min_ink: float = 0.02  # below this share of non-background pixels a piece is blank
    min_panel_ink: float = 0.15  # a photo is mostly neither white nor black; a row of text or a legend is not
    max_skew_deg: float = 0.0  # scanned figures: also split deskewed within this angle (0: never)
    max_depth: int = 6


@dataclass
class Masks:
    """Per pixel: white background, black background (bool, H x W), and the grey level."""

    white: np.ndarray
    black: np.ndarray
    gray: np.ndarray


def masks(img: np.ndarray, p: SplitParams) -> Masks:
    """White means all channels bright (relative to the paper), black all channels dark."""
    if img.ndim == 2:
        lo = hi = img
    elif img.ndim == 3:
        chans = img[:, :, :3] if img.shape[2] >= 3 else img[:, :, :1]
        lo, hi = chans.min(axis=2), chans.max(axis=2)
    else:
        raise ValueError(f"expected a 2-D or 3-D image array, got shape {img.shape}")
    gray = img if img.ndim == 2 else img[:, :, : min(3, img.shape[2])].mean(axis=2)
    # scanned paper is not 255 white: take white relative to the brightest pixels (never below 170)
    paper = float(np.percentile(lo, 99.5)) if lo.size else 255.0
    white = min(p.white_level, max(170.0, paper - 30.0))
    return Masks(white=lo >= white, black=hi <= p.black_level, gray=np.asarray(gray, dtype=np.float32))


def line_classes(m: Masks, box: PxBox, axis: int, fill: float) -> np.ndarray:
    """Class of each row (axis=0) or column (axis=1) of ``box``: CONTENT, WHITE or BLACK.

    A line of background pixels only whose majority colour is one unbroken stretch, the other colour
    only at its ends (a black gutter running into a white band of letters, the paper showing at the
    ends of a skewed scan's gutter), takes that colour; a white letter inside a black gutter, or black
    text on white, is content.
    """
    x0, y0, x1, y1 = box
    mean_axis = 1 if axis == 0 else 0
    black = m.black[y0:y1, x0:x1]
    w = m.white[y0:y1, x0:x1].mean(axis=mean_axis)
    b = black.mean(axis=mean_axis)
    cls = np.full(w.shape[0], CONTENT, dtype=np.int8)
    cls[w >= fill] = WHITE
    cls[b >= fill] = BLACK
    mixed = (w + b >= fill) & (cls == CONTENT)
    if mixed.any():
        for mask, major, colour in ((black, b > 0.5, BLACK), (m.white[y0:y1, x0:x1], w > 0.5, WHITE)):
            lines = mask if axis == 1 else mask.T  # one line per column
            n = lines.shape[0]
            first = lines.argmax(axis=0)
            last = n - 1 - lines[::-1].argmax(axis=0)
            span = (last - first + 1).astype(np.float64)
            cls[mixed & major & (lines.sum(axis=0) >= fill * span)] = colour
    return cls


def line_runs(cls: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs ``(start, end, class)`` of equal values."""
    if cls.size == 0:
        return []
    edges = np.flatnonzero(np.diff(cls)) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, cls.size]
    return [(int(s), int(e), int(cls[s])) for s, e in zip(starts, ends, strict=True)]
