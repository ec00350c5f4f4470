"""What a real scanner adds to a page, taken off before the page is read: dark borders and shading.

* **Dark borders**: where the glass is wider than the sheet, or the sheet lies askew, the scan shows the
  scanner lid or the book's edge as a dark band along one or more sides (a wedge when the sheet is turned).
  :func:`remove_borders` follows, for every row (column), the dark run that starts at the image edge,
  smooths the run lengths along the side (a picture printed up to the edge is short next to a border
  that runs along the whole side) and paints the band with the paper level.
* **Shading**: a gutter shadow (a dark gradient along the binding side), a lamp that lights the middle
  better than the edges, yellowed or greyed paper. :func:`flatten_shading` estimates the paper's
  brightness per column and per row (a high percentile: most of any column is paper) and divides it out.
  The estimate of a column is the *envelope* of those brightnesses seen from the nearer page edge - it can
  only grow inwards - so a picture in the middle of the page, whose columns are darker, is never taken for
  shade, while a shadow that deepens towards the edge is followed exactly.

* **Stains and aged paper**: patches a little darker than the paper away from the edges.
  :func:`lift_stains` measures the paper on a coarse grid (a high percentile per cell; cells inside
  pictures take their paper neighbours' values) and lifts the mildly darker patches.

All work on a reduced copy (about 50 dpi) and apply the result to the full image; a page without borders
or shading comes back unchanged (the same array), so clean scans and renders are read exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_DPI = 50.0


@dataclass(frozen=True)
class CleanupConfig:
    """Thresholds of the page clean-up (shares of the paper level or of the page side)."""

    border_dark: float = 0.7  # darker than this share of the paper: border material (a lid, a page edge)
    max_border: float = 0.08  # a border band never reaches further into the page than this share of its side
    min_border: float = 0.004  # narrower bands are left alone (an antialiased edge, a speck)
    shade: float = 0.96  # paper darker than this share of the brightest paper is shading, divided out
    stain: float = 0.85  # ... down to this share in patches away from the edges (stains, aged paper)


def paper_white(gray: np.ndarray) -> int:
    """The paper level of a page image: a high percentile of a sparse sample (most pages are mostly paper)."""
    return int(np.percentile(gray[::8, ::8], 90))


def _reduced(gray: np.ndarray, dpi: float) -> tuple[np.ndarray, int]:
    f = max(1, round(dpi / WORK_DPI))
    if f == 1:
        return gray, 1
    return cv2.resize(gray, (gray.shape[1] // f, gray.shape[0] // f), interpolation=cv2.INTER_AREA), f


def _median(values: np.ndarray, window: int) -> np.ndarray:
    """Running median (odd ``window``, edges padded by reflection)."""
    window = max(1, window | 1)
    if window == 1 or len(values) < 3:
        return values.astype(float)
    pad = window // 2
    padded = np.pad(values.astype(float), pad, mode="reflect")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)


def edge_runs(dark: np.ndarray) -> np.ndarray:
    """For every row of ``dark`` (bool), the length of the run of dark pixels that starts at column 0."""
    light = ~dark
    return np.where(light.any(axis=1), light.argmax(axis=1), dark.shape[1])


def border_widths(small: np.ndarray, paper: int, cfg: CleanupConfig) -> dict[str, np.ndarray]:
    """Per side (``left``, ``right``, ``top``, ``bottom``), the border band's width at every row/column of
    ``small`` (reduced pixels, 0 where there is none)."""
    dark = small < cfg.border_dark * paper
    out: dict[str, np.ndarray] = {}
    views = {"left": dark, "right": dark[:, ::-1], "top": dark.T, "bottom": dark.T[:, ::-1]}
    for side, view in views.items():
        runs = edge_runs(view).astype(float)
        limit = cfg.max_border * view.shape[1]
        # a picture printed up to the edge is a short stretch of long runs; a border runs along the side
        smooth = np.minimum(_median(runs, max(3, view.shape[0] // 8)), limit)
        smooth[smooth < cfg.min_border * view.shape[1]] = 0.0
        out[side] = smooth
    return out


def remove_borders(gray: np.ndarray, dpi: float, paper: int | None = None,
                   cfg: CleanupConfig | None = None) -> np.ndarray:
    """``gray`` with the dark bands along its sides painted with the paper level (the input when none)."""
    cfg = cfg or CleanupConfig()
    paper = paper_white(gray) if paper is None else paper
    small, f = _reduced(gray, dpi)
    widths = border_widths(small, paper, cfg)
    if not any(w.any() for w in widths.values()):
        return gray
    h, w = gray.shape[:2]
    out = gray.copy()
    pad = 2  # reduced pixels: the soft edge between the band and the paper goes too
    for side, band in widths.items():
        if not band.any():
            continue
        along = h if side in ("left", "right") else w
        # band width (full-resolution pixels) at every full-resolution row/column of the side
        idx = np.minimum(np.arange(along) // f, len(band) - 1)
        reach = np.where(band[idx] > 0, (band[idx] + pad) * f, 0).astype(np.int64)
        across = np.arange(w if side in ("left", "right") else h)
        if side == "left":
            out[across[None, :] < reach[:, None]] = paper
        elif side == "right":
            out[across[None, :] >= (w - reach)[:, None]] = paper
        elif side == "top":
            out[across[:, None] < reach[None, :]] = paper
        else:
            out[across[:, None] >= (h - reach)[None, :]] = paper
    return out


def _envelope(levels: np.ndarray) -> np.ndarray:
    """The brightness seen from the nearer edge: it may only grow inwards (a running maximum from each end,
    the smaller of the two), so dips in the middle (pictures) are bridged and gradients at the edges kept."""
    from_start = np.maximum.accumulate(levels)
    from_end = np.maximum.accumulate(levels[::-1])[::-1]
    return np.minimum(from_start, from_end)


def shading(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative paper brightness per column and per row of ``small`` (1.0 = the brightest paper)."""
    profiles = []
    for axis in (0, 1):
        level = np.percentile(small, 90, axis=axis)
        level = _median(level, max(3, len(level) // 40))
        env = _envelope(level)
        profiles.append(env / max(float(env.max()), 1.0))
    return profiles[0], profiles[1]


def flatten_shading(gray: np.ndarray, dpi: float, cfg: CleanupConfig | None = None) -> np.ndarray:
    """``gray`` with gutter shadows and uneven lighting divided out (the input when the paper is even).

    Only paper between ``border_dark`` and ``shade`` of the brightest is lifted: anything darker is a
    border, a scanner lid or a band printed along the edge, left to :func:`remove_borders`.
    """
    cfg = cfg or CleanupConfig()
    small, _ = _reduced(gray, dpi)
    cols, rows = shading(small)
    if cols.min() >= cfg.shade and rows.min() >= cfg.shade:
        return gray

    def gain(profile: np.ndarray) -> np.ndarray:
        # paper within ``shade`` of the brightest stays as it is (no visible step: the noise is larger);
        # darker paper is lifted to the brightest
        g = np.where(profile < cfg.shade, profile, 1.0)
        return np.where(profile < cfg.border_dark, 1.0, g).astype(np.float32)

    h, w = gray.shape[:2]
    fx = cv2.resize(gain(cols)[None, :], (w, 1), interpolation=cv2.INTER_LINEAR)
    fy = cv2.resize(gain(rows)[:, None], (1, h), interpolation=cv2.INTER_LINEAR)
    out = gray.astype(np.float32) / (fy * fx)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def paper_map(small: np.ndarray, cfg: CleanupConfig) -> np.ndarray:
    """Relative brightness of the paper (1.0 = the brightest paper) on a coarse grid of cells about 1/16 of
    the page wide: the upper quartile per cell (paper even in a cell of dense text or half a picture),
    over the brightest cells' level; cells that are not paper-like (inside a picture, a dark band) take the
    values of their paper neighbours; smoothed."""
    h, w = small.shape[:2]
    cell = max(4, w // 16)
    gy, gx = max(1, h // cell), max(1, w // 16)
    grid = np.zeros((gy, gx), np.float32)
    for j in range(gy):
        for i in range(gx):
            block = small[j * h // gy:(j + 1) * h // gy, i * w // gx:(i + 1) * w // gx]
            grid[j, i] = np.percentile(block, 75)
    grid /= max(float(np.percentile(grid, 90)), 1.0)
    valid = (grid >= cfg.stain) & (grid <= 1.05)
    if not valid.any():
        return np.ones_like(grid)
    filled = np.where(valid, grid, 0.0).astype(np.float32)
    weight = valid.astype(np.float32)
    for _ in range(max(gx, gy)):  # spread paper values into the holes, nearest first
        if weight.min() > 0:
            break
        k = np.ones((3, 3), np.float32)
        num = cv2.filter2D(filled * (weight > 0), -1, k, borderType=cv2.BORDER_REPLICATE)
        den = cv2.filter2D((weight > 0).astype(np.float32), -1, k, borderType=cv2.BORDER_REPLICATE)
        grow = (weight == 0) & (den > 0)
        filled[grow] = num[grow] / den[grow]
        weight[grow] = 1.0
    return cv2.GaussianBlur(filled, (0, 0), 1.0, borderType=cv2.BORDER_REPLICATE)


def lift_stains(gray: np.ndarray, dpi: float, cfg: CleanupConfig | None = None) -> np.ndarray:
    """``gray`` with mildly darker patches of paper (stains, aged paper, uneven light) lifted to the paper
    level (the input when there are none). Darker patches are left alone: pictures, bands, shadows."""
    cfg = cfg or CleanupConfig()
    small, _ = _reduced(gray, dpi)
    grid = paper_map(small, cfg)
    if grid.min() >= cfg.shade:
        return gray
    gain = np.where((grid < cfg.shade) & (grid >= cfg.stain), grid, 1.0).astype(np.float32)
    h, w = gray.shape[:2]
    full = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(gray.astype(np.float32) / full + 0.5, 0, 255).astype(np.uint8)


def clean_page(gray: np.ndarray, dpi: float, cfg: CleanupConfig | None = None) -> np.ndarray:
    """Shading divided out, stains lifted, then borders painted over: the page as if it had been scanned
    flat and clean.

    Borders last: a gutter shadow runs into the border beside it, and paper painted at the edge first
    would look like the brightest paper there, where the shadow's envelope starts and stains are measured.
    """
    cfg = cfg or CleanupConfig()
    return remove_borders(lift_stains(flatten_shading(gray, dpi, cfg), dpi, cfg), dpi, cfg=cfg)
