"""Pixel classes the panel splitter works on: white and black background, line classes and runs.

A black line is background only when it is *uniform* like the figure's canvas: a gutter is one flat
colour, while the dark parts of a picture (an OCT's vitreous, a photo's noisy dark surround) are
textured or lighter. The canvas's black is measured on the figure itself (:func:`measure_canvas`), so a
scan whose black is noisy everywhere keeps all its black lines.

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

PxBox = tuple[int, int, int, int]

CONTENT, WHITE, BLACK = 0, 1, 2
JPEG_EDGE = 8  # lines: a JPEG block


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
    legend_frac: float = 0.2  # a piece this thin next to its neighbour...
    legend_paper: float = 0.5  # ...and mostly paper is a row of text (a scanned legend's noise looks inky)
    max_skew_deg: float = 0.0  # scanned figures: also split deskewed within this angle (0: never)
    flat_spread: float = 4.0  # a black background line's grey-level spread, above the canvas's own
    flat_level: float = 10.0  # ...and its median grey level at most this above the canvas's black
    max_depth: int = 6


@dataclass(frozen=True)
class Canvas:
    """What a black background line of this figure may look like: at most this spread of grey levels
    along the line (10th to 90th percentile) and this median grey level (also the most a background
    pixel's neighbourhood may average)."""

    max_spread: float
    max_level: float


@dataclass
class Masks:
    """Per pixel: white background, black (bool, H x W: all channels dark), the grey level and the
    brightest channel; ``canvas`` once measured (None: every black line is background)."""

    white: np.ndarray
    black: np.ndarray
    gray: np.ndarray
    bright: np.ndarray
    canvas: Canvas | None = None
    _canvas_black: np.ndarray | None = None

    def set_canvas(self, canvas: Canvas | None) -> None:
        """Measured canvas: a black pixel is the canvas's when its 5x5 neighbourhood is as dark (noise
        averages out; a picture's dark grey does not)."""
        self.canvas = canvas
        if canvas is None:
            self._canvas_black = None
            return
        local = cv2.blur(self.bright.astype(np.float32), (5, 5), borderType=cv2.BORDER_REPLICATE)
        self._canvas_black = self.black & (local <= canvas.max_level)

    @property
    def canvas_black(self) -> np.ndarray:
        """Black pixels as dark as the canvas: a picture's dark grey (an OCT's vitreous) is not among them."""
        return self.black if self._canvas_black is None else self._canvas_black


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
    return Masks(white=lo >= white, black=hi <= p.black_level, gray=np.asarray(gray, dtype=np.float32),
                 bright=np.asarray(hi, dtype=np.int16))


def line_stats(m: Masks, box: PxBox, axis: int, idx: np.ndarray) -> np.ndarray:
    """Grey levels (brightest channel) of the lines ``idx`` (region-relative) of ``box``: per line its
    spread (10th to 90th percentile: a JPEG edge or a speckle does not count, smooth shading does),
    and median, as rows of a (2, len(idx)) array."""
    x0, y0, x1, y1 = box
    v = m.bright[y0:y1, x0:x1]
    lines = v[idx, :] if axis == 0 else v[:, idx].T
    if lines.shape[1] == 0:
        return np.zeros((2, len(idx)))
    p10, p50, p90 = np.percentile(lines, (10, 50, 90), axis=1)
    return np.stack([p90 - p10, p50])


def measure_canvas(m: Masks, box: PxBox, p: SplitParams) -> Canvas | None:
    """The canvas's black in ``box``, measured on its full black rows and columns (gutters, margins,
    maybe a picture's dark band): the canvas is the flattest and darkest of them. Its noise (a scan's
    grain, JPEG noise) widens the allowance of ``p``. None when no row or column is all black."""
    raw = replace(m, canvas=None, _canvas_black=None)
    found = [line_stats(m, box, axis, idx) for axis in (0, 1)
             if (idx := np.flatnonzero(line_classes(raw, box, axis, p.gutter_fill) == BLACK)).size]
    if not found:
        return None
    spread, level = np.concatenate(found, axis=1)
    k = min(p.min_gutter_px, spread.size) - 1  # a line or two (a frame's edge) is no canvas
    s0 = float(np.partition(spread, k)[k])
    max_spread = 1.5 * s0 + p.flat_spread
    flat = spread <= max_spread
    k = min(k, int(flat.sum()) - 1)
    return Canvas(max_spread=max_spread, max_level=float(np.partition(level[flat], k)[k]) + max(p.flat_level, s0))


def _uniform(m: Masks, box: PxBox, axis: int, cls: np.ndarray, fill: float) -> None:
    """Black lines that are textured or lighter than the canvas are picture content (in place).

    A few uneven lines as dark as the canvas next to flat ones are a gutter's JPEG edge (ringing,
    colour bleeding in from a photo, within one 8x8 block): they stay background.
    """
    c = m.canvas
    idx = np.flatnonzero(cls == BLACK)
    if c is None or idx.size == 0:
        return
    spread, lev = line_stats(m, box, axis, idx)
    x0, y0, x1, y1 = box
    px = m.canvas_black[y0:y1, x0:x1]
    bk = m.black[y0:y1, x0:x1]
    # of the line's black pixels, the share as flat as the canvas (a black line may end in white paper:
    # the corner of a skewed scan)
    if axis == 0:
        share = px[idx, :].sum(axis=1) / np.maximum(bk[idx, :].sum(axis=1), 1)
    else:
        share = px[:, idx].sum(axis=0) / np.maximum(bk[:, idx].sum(axis=0), 1)
    dark = np.zeros(cls.shape, bool)
    dark[idx[lev <= c.max_level]] = True
    flat = np.zeros(cls.shape, bool)
    flat[idx[(spread <= c.max_spread) & (lev <= c.max_level) & (share >= fill)]] = True
    keep = flat.copy()
    for s, e, k in line_runs((dark & ~flat).astype(np.int8)):
        if k and e - s <= JPEG_EDGE and (s > 0 and flat[s - 1] or e < cls.size and flat[e]):
            keep[s:e] = True
    cls[(cls == BLACK) & ~keep] = CONTENT


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
    _uniform(m, box, axis, cls, fill)
    return cls


def line_runs(cls: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs ``(start, end, class)`` of equal values."""
    if cls.size == 0:
        return []
    edges = np.flatnonzero(np.diff(cls)) + 1
    starts = np.r_[0, edges]
    ends = np.r_[edges, cls.size]
    return [(int(s), int(e), int(cls[s])) for s, e in zip(starts, ends, strict=True)]
