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


def hull_back(box: PxBox, inv: np.ndarray, w: int, h: int, off: tuple[int, int]) -> PxBox:
    """A box of the deskewed image mapped back: the axis-aligned hull of its rotated corners."""
    pts = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]], np.float64)
    back = pts @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(back.min(axis=0)).astype(int)
    x1, y1 = np.ceil(back.max(axis=0)).astype(int)
    return (off[0] + max(0, x0), off[1] + max(0, y0), off[0] + min(w, x1), off[1] + min(h, y1))
