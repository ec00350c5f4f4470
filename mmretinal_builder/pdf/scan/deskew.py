"""Skew of a scanned page: estimated from the baselines of its characters, undone by one rotation.

Angles follow OpenCV's convention: positive = the content is turned counter-clockwise as displayed
(``cv2.getRotationMatrix2D(center, angle, 1)`` applied to a straight page gives a page skewed by
``angle``). :func:`deskew` turns the render back; :class:`Rotation` maps boxes found on the straightened
image back to the unrotated render, where page coordinates are defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ...geometry import BBox

WORK_DPI = 100.0  # skew is estimated on a copy at about this resolution
MIN_POINTS = 40  # fewer character-like components than this: no estimate (angle 0)


@dataclass(frozen=True)
class Rotation:
    """Rotation by ``angle`` degrees about the centre of a ``width`` x ``height`` image (pixel edges)."""

    angle: float
    width: int
    height: int

    def _apply(self, x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
        a = math.radians(angle)
        cx, cy = self.width / 2.0, self.height / 2.0
        dx, dy = x - cx, y - cy
        # cv2.getRotationMatrix2D: x' = cos*x + sin*y, y' = -sin*x + cos*y (about the centre)
        return cx + math.cos(a) * dx + math.sin(a) * dy, cy - math.sin(a) * dx + math.cos(a) * dy

    def to_skewed(self, x: float, y: float) -> tuple[float, float]:
        """A point of the straightened image -> the same point on the original (skewed) render."""
        xs, ys = self._apply(np.asarray(x, float), np.asarray(y, float), self.angle)
        return float(xs), float(ys)

    def hull_to_skewed(self, box: BBox) -> BBox:
        """The axis-aligned hull, on the original render, of a box of the straightened image."""
        xs = np.array([box[0], box[2], box[0], box[2]], float)
        ys = np.array([box[1], box[1], box[3], box[3]], float)
        qx, qy = self._apply(xs, ys, self.angle)
        return (float(qx.min()), float(qy.min()), float(qx.max()), float(qy.max()))

    def shift_to_skewed(self, box: BBox) -> tuple[float, float]:
        """Translation that moves ``box`` (straightened image) to where its centre lies on the original.

        Text lines are moved rigidly by this shift: they keep their height and stay horizontal rows,
        which is what line grouping and caption detection need.
        """
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        ox, oy = self.to_skewed(cx, cy)
        return ox - cx, oy - cy


def _reduced(gray: np.ndarray, dpi: float) -> tuple[np.ndarray, float]:
    f = max(1, round(dpi / WORK_DPI))
    if f == 1:
        return gray, 1.0
    small = cv2.resize(gray, (gray.shape[1] // f, gray.shape[0] // f), interpolation=cv2.INTER_AREA)
    return small, float(f)


def _components(gray: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Dark connected components of a reduced copy: (stats, labels, reduction factor, pixels per point)."""
    small, f = _reduced(gray, dpi)
    _, binary = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return stats, labels, f, (dpi / f) / 72.0


def baseline_points(gray: np.ndarray, dpi: float) -> np.ndarray:
    """Bottom-centre points (full-resolution pixels) of character-sized dark components off pictures."""
    stats, _, f, ppt = _components(gray, dpi)
    s = stats[1:]
    if len(s) == 0:
        return np.zeros((0, 2))
    x0, y0 = s[:, cv2.CC_STAT_LEFT], s[:, cv2.CC_STAT_TOP]
    w, h, a = s[:, cv2.CC_STAT_WIDTH], s[:, cv2.CC_STAT_HEIGHT], s[:, cv2.CC_STAT_AREA]
    # glyphs of 5-24 pt text: not specks, not rules, not pictures
    keep = (h >= 2.5 * ppt) & (h <= 24 * ppt) & (w <= 24 * ppt) & (a >= 4)
    big = np.flatnonzero((w > 48 * ppt) & (h > 48 * ppt))
    cx, by = x0 + w / 2.0, y0 + h
    for i in big:  # specks and texture inside photographs are not text
        keep &= ~((cx >= x0[i]) & (cx <= x0[i] + w[i]) & (by >= y0[i]) & (by <= y0[i] + h[i]))
    return np.stack([cx[keep] * f, by[keep] * f], axis=1)


def _edge_angle(points: np.ndarray) -> float:
    """Skew (OpenCV convention) of the near-horizontal side of a rotated rectangle given by 4 corners."""
    best = 90.0
    for k in range(4):
        dx, dy = points[(k + 1) % 4] - points[k]
        ang = -math.degrees(math.atan2(dy, dx))
        ang = (ang + 90.0) % 180.0 - 90.0  # direction-free: (-90, 90]
        if abs(ang) < abs(best):
            best = ang
    return best


def shape_skew(gray: np.ndarray, dpi: float, max_angle: float) -> float | None:
    """Skew from straight shapes: rectangular pictures and long rules (minAreaRect), None if there are none."""
    stats, labels, _, ppt = _components(gray, dpi)
    angles, weights = [], []
    for i in range(1, len(stats)):
        x, y, w, h, a = (int(v) for v in stats[i])
        long_rule = max(w, h) >= 100 * ppt and min(w, h) <= 6 * ppt
        picture = min(w, h) >= 48 * ppt
        if not (long_rule or picture):
            continue
        ys, xs = np.nonzero(labels[y:y + h, x:x + w] == i)
        pts = np.stack([xs + x, ys + y], axis=1).astype(np.float32)
        rect = cv2.minAreaRect(pts)
        rw, rh = rect[1]
        # a picture must be rectangular: filled, or at least with a rectangular outline (an OCT scan whose
        # bright layers Otsu counts as paper); a round fundus photo or a chart is not
        if picture and a < 0.9 * rw * rh and cv2.contourArea(cv2.convexHull(pts)) < 0.95 * rw * rh:
            continue
        ang = _edge_angle(cv2.boxPoints(rect))
        if abs(ang) <= max_angle:
            angles.append(ang)
            weights.append(rw + rh)
    if not angles:
        return None
    order = np.argsort(angles)
    cum = np.cumsum(np.asarray(weights)[order])
    return round(float(np.asarray(angles)[order][np.searchsorted(cum, cum[-1] / 2.0)]), 3)


def _sharpness(points: np.ndarray, angle: float, bin_px: float) -> float:
    a = math.radians(angle)
    # rotate by -angle: straightened y of each point; baselines collapse into a few sharp bins
    y = math.sin(a) * points[:, 0] + math.cos(a) * points[:, 1]
    hist = np.bincount(((y - y.min()) / bin_px).astype(np.int64))
    return float(np.dot(hist, hist))


def estimate_skew(gray: np.ndarray, dpi: float, max_angle: float = 5.0) -> float:
    """Skew of the text on ``gray`` (degrees, OpenCV convention), 0.0 when there is too little text.

    Projection profile of character baselines: the angle at which the baselines fall into the fewest,
    fullest rows. Coarse search in 0.2 degree steps, then 0.02 degree steps around the best. A page with
    too little text falls back to the sides of rectangular pictures and long rules (:func:`shape_skew`).
    """
    pts = baseline_points(gray, dpi)
    if len(pts) < MIN_POINTS:
        shape = shape_skew(gray, dpi, max_angle)
        return 0.0 if shape is None else shape
    bin_px = max(1.0, dpi / 150.0)
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.2)
    scores = [_sharpness(pts, a, bin_px) for a in coarse]
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.2, best + 0.2 + 1e-9, 0.02)
    scores = [_sharpness(pts, a, bin_px) for a in fine]
    return round(float(fine[int(np.argmax(scores))]), 3)


def deskew(gray: np.ndarray, angle: float, background: int | None = 255) -> tuple[np.ndarray, Rotation]:
    """Turn ``gray`` by ``-angle`` (straightening a page skewed by ``angle``); same size, ``background`` fill
    (``None``: the edge pixels are repeated, so a scanner's dark border stays a border and paper stays paper).

    Returns the straight image and the :class:`Rotation` that maps its points back to ``gray``.
    """
    h, w = gray.shape[:2]
    back = Rotation(angle, w, h)
    if abs(angle) < 0.01:
        return gray, back
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -angle, 1.0)
    if background is None:
        out = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        out = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=int(background))
    return out, back
