"""Scanned pages are a little rotated: find the angle that makes the gutters straight again."""

from __future__ import annotations

import cv2
import numpy as np

from .masks import PxBox, SplitParams, masks


def estimate_skew(img: np.ndarray, p: SplitParams) -> float:
    """The rotation (degrees, within ``p.max_skew_deg``) that makes the most rows and columns all
    background: gutters of a scanned page run straight again. 0 when no angle does better than none."""
    m = masks(img, p)
    bg = ((m.white | m.black) * 255).astype(np.uint8)
    h, w = bg.shape
    scale = min(1.0, 500.0 / max(h, w))
    if scale < 1.0:
        bg = cv2.resize(bg, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = bg.shape
    mh, mw = max(1, sh // 30), max(1, sw // 30)  # edge lines are margins, not gutters

    def score(angle: float) -> int:
        rot = cv2.getRotationMatrix2D(((sw - 1) / 2, (sh - 1) / 2), angle, 1.0)
        r = cv2.warpAffine(bg, rot, (sw, sh), flags=cv2.INTER_NEAREST, borderValue=0) >= 128
        # the corners rotated in from outside are left out of every line, at every angle alike
        t = np.tan(np.radians(p.max_skew_deg))
        ex, ey = int(np.ceil(sh * t)) + 1, int(np.ceil(sw * t)) + 1
        rows = r[max(mh, ey):sh - max(mh, ey), ex:sw - ex].mean(axis=1)
        cols = r[ey:sh - ey, max(mw, ex):sw - max(mw, ex)].mean(axis=0)
        return int((rows >= p.gutter_fill).sum() + (cols >= p.gutter_fill).sum())

    base = score(0.0)
    coarse = [(score(float(a)), -abs(float(a)), float(a)) for a in np.arange(-p.max_skew_deg, p.max_skew_deg + 1e-9,
                                                                               0.25) if abs(a) > 1e-9]
    best = max(coarse, default=(base, 0.0, 0.0))
    if best[0] < base + max(3, 0.005 * (sh + sw)):  # a clear gain only: straight figures stay straight
        return 0.0
    fine = [(score(float(a)), float(a)) for a in np.arange(best[2] - 0.3, best[2] + 0.31, 0.05)
            if abs(a) <= p.max_skew_deg] + [(best[0], best[2])]
    top = max(f[0] for f in fine)
    # the best score often holds over a plateau of angles: take its middle
    return round(float(np.mean([a for sc, a in fine if sc == top])), 2)


def edge_skew(img: np.ndarray, max_deg: float) -> float:
    """The rotation (degrees, within ``max_deg``) that makes the long straight edges of ``img`` upright: tile
    seams and photograph frames of a scanned page, where no background line crosses the whole figure. 0
    when fewer than two long edges agree."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = g.shape
    scale = min(1.0, 800.0 / max(h, w))
    if scale < 1.0:
        g = cv2.resize(g, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(cv2.GaussianBlur(g, (3, 3), 0), 40, 120)
    min_len = int(0.35 * min(g.shape))
    lines = cv2.HoughLinesP(edges, 1, np.pi / 720, threshold=max(20, min_len // 2), minLineLength=min_len,
                            maxLineGap=max(3, min_len // 20))
    if lines is None:
        return 0.0
    angles, weights = [], []
    for x0, y0, x1, y1 in lines[:, 0]:
        dx, dy = float(x1 - x0), float(y1 - y0)
        a = np.degrees(np.arctan2(dy, dx))
        off = ((a + 45) % 90) - 45  # deviation from the nearest axis
        if abs(off) <= max_deg:
            angles.append(off)
            weights.append(np.hypot(dx, dy))
    if len(angles) < 2:
        return 0.0
    order = np.argsort(angles)
    cum = np.cumsum(np.asarray(weights)[order])
    median = float(np.asarray(angles)[order][np.searchsorted(cum, cum[-1] / 2)])
    agree = sum(wt for a, wt in zip(angles, weights, strict=True) if abs(a - median) <= 0.3)
    if agree < 0.5 * sum(weights) or abs(median) < 0.3:
        return 0.0
    return round(median, 2)  # the image's edges lean this way in image coordinates (y down)


def hull_back(box: PxBox, inv: np.ndarray, w: int, h: int, off: tuple[int, int]) -> PxBox:
    """A box of the deskewed image mapped back: the axis-aligned hull of its rotated corners."""
    pts = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]], np.float64)
    back = pts @ inv[:, :2].T + inv[:, 2]
    x0, y0 = (int(v) for v in np.floor(back.min(axis=0)))
    x1, y1 = (int(v) for v in np.ceil(back.max(axis=0)))
    return (off[0] + max(0, x0), off[1] + max(0, y0), off[0] + min(w, x1), off[1] + min(h, y1))
