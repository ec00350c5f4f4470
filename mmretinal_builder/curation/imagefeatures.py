"""Image evidence for the modality and retinal decisions: cheap, interpretable statistics of a picture.

All statistics are computed on a copy scaled to a fixed working size (long side 256 px), so they do not
depend on the resolution of the crop, and every value is a fraction or ratio in [0, 1] (rounded, so
outputs are byte-stable). What each one looks for:

* colour: saturation of the content, and how much of the colour is fundus red/orange;
* field of view: a dark surround, dark corners, and how circular the bright region is;
* graphics: near-white background, flat regions, few distinct colours, dense edges, axis-aligned
  gradients (charts, tables, diagrams, text pages; also man-made textures);
* OCT: horizontal layering (vertical gradients dominate), a dark band above the retina or a dark border;
* angiogram vs red-free photo: whether the thin vessels are brighter (FFA) or darker (CFP) than the
  background around them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BuilderError

WORK_SIZE = 256


@dataclass(frozen=True)
class ImageFeatures:
    width: int
    height: int
    sat: float  # mean saturation of the content pixels
    colour_frac: float  # content pixels with saturation > 0.25
    fundus_hue: float  # coloured pixels that are red/orange/yellow with R > B
    dark_border: float  # dark pixels in the outer border ring
    dark_corners: float  # dark pixels in the four corner patches
    white_frac: float  # near-white, unsaturated pixels
    dark_frac: float  # near-black pixels (field-of-view surrounds, OCT background)
    fov_iou: float  # IoU of the bright region with the circle fitted to its free boundary (see _circle_iou)
    fov_fill: float  # bright region's share of the image
    flat_frac: float  # non-dark pixels in perfectly flat 3x3 neighbourhoods
    top_colours: float  # pixels covered by the 8 most frequent quantised colours
    edge_density: float  # Canny edge pixels
    vert_grad: float  # |dI/dy| share of the gradient energy (blurred): layered images > 0.6
    dark_top: float  # dark pixels in the top 12% of rows
    bright_lines: float  # p98 top-hat / (p98 top-hat + p98 black-hat) inside the bright region: FFA > 0.5
    line_contrast: float  # p98 top-hat / 255: how strong the bright thin structures are
    skew: float  # skewness of the bright region's intensities, mapped to [0, 1] by (s + 5) / 10
    axis_energy: float  # gradient energy within 8 degrees of horizontal or vertical (graphics, bricks)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8; a clear error names the file when it cannot be decoded."""
    p = Path(path)
    try:
        data = np.fromfile(str(p), dtype=np.uint8)
    except OSError as e:
        raise BuilderError(f"{p}: cannot read image ({e.strerror or e})") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise BuilderError(f"{p}: not a readable image (empty, truncated or unknown format)")
    return img


def as_bgr(img: np.ndarray) -> np.ndarray:
    """Grey or BGRA -> BGR uint8."""
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def work_copy(img: np.ndarray, size: int = WORK_SIZE) -> np.ndarray:
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _r(x: float) -> float:
    return round(float(x), 4)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == k


def _circle_iou(fg: np.ndarray) -> float:
    """IoU of a region with the circle fitted to its boundary (clipped to the frame).

    The circle is a least-squares fit (Kasa) to the boundary points that do not lie on the image
    border, so a field of view cut by the frame still fits its true circle.
    """
    h, w = fg.shape
    fg = fg.copy()
    fg[:3], fg[-3:], fg[:, :3], fg[:, -3:] = False, False, False, False  # a thin frame line must not join
    fg = _largest_component(fg)
    if not fg.any():
        return 0.0
    contours, _ = cv2.findContours(fg.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float64)
    inside = (pts[:, 0] > 4) & (pts[:, 0] < w - 5) & (pts[:, 1] > 4) & (pts[:, 1] < h - 5)
    pts = pts[inside]
    if len(pts) < 12:
        return 1.0 if fg.mean() > 0.9 else 0.0  # no free boundary: the region fills the frame
    x, y = pts[:, 0], pts[:, 1]
    a = np.column_stack([x, y, np.ones_like(x)])
    sol, *_ = np.linalg.lstsq(a, x * x + y * y, rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    rad2 = sol[2] + cx * cx + cy * cy
    if rad2 <= 0:
        return 0.0
    yy, xx = np.mgrid[0:h, 0:w]
    circ = (xx - cx) ** 2 + (yy - cy) ** 2 <= rad2
    union = float((circ | fg).sum())
    return float((circ & fg).sum()) / union if union else 0.0


def image_features(img: np.ndarray) -> ImageFeatures:
    """All statistics of one image (BGR or grey uint8)."""
    img = as_bgr(img)
    H, W = img.shape[:2]
    small = work_copy(img)
    h, w = small.shape[:2]
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hue, s, v = hsv[..., 0].astype(np.int32), hsv[..., 1] / 255.0, hsv[..., 2].astype(np.float32)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    n = float(h * w)

    white = (v > 230) & (s < 0.12)
    dark = v < 32
    content = ~dark & ~white
    nc = max(1.0, float(content.sum()))
    sat = float(s[content].sum()) / nc
    coloured = content & (s > 0.25)
    colour_frac = float(coloured.sum()) / nc
    b, r = small[..., 0].astype(np.int32), small[..., 2].astype(np.int32)
    warm = coloured & ((hue < 25) | (hue > 165)) & (r > b + 20)
    fundus_hue = float(warm.sum()) / max(1.0, float(coloured.sum()))

    bw = max(2, round(0.06 * min(h, w)))
    ring = np.zeros((h, w), bool)
    ring[:bw], ring[-bw:], ring[:, :bw], ring[:, -bw:] = True, True, True, True
    dark_border = float(dark[ring].mean())
    cs = max(2, round(0.08 * min(h, w)))
    corners = [dark[:cs, :cs], dark[:cs, -cs:], dark[-cs:, :cs], dark[-cs:, -cs:]]
    dark_corners = float(np.mean([c.mean() for c in corners]))
    white_frac = float(white.mean())
    dark_frac = float(dark.mean())

    # field of view: the largest bright region and how well a circle fits it
    fg = _largest_component(cv2.medianBlur(grey.astype(np.uint8), 5) > 28)
    fov_fill = float(fg.mean())
    fov_iou = _circle_iou(fg)

    g8 = grey.astype(np.uint8)
    rng3 = cv2.dilate(g8, np.ones((3, 3), np.uint8)).astype(np.int16) - cv2.erode(g8, np.ones((3, 3), np.uint8))
    nondark = ~dark
    flat_frac = float(((rng3 <= 1) & nondark).sum()) / max(1.0, float(nondark.sum()))

    q = (small // 32).astype(np.int32)
    codes = q[..., 0] * 64 + q[..., 1] * 8 + q[..., 2]
    counts = np.sort(np.bincount(codes.ravel(), minlength=512))[::-1]
    top_colours = float(counts[:8].sum()) / n

    edge_density = float((cv2.Canny(g8, 60, 160) > 0).mean())

    blur = cv2.GaussianBlur(grey, (5, 5), 0)
    gx = np.abs(cv2.Sobel(blur, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(blur, cv2.CV_32F, 0, 1, ksize=3))
    tot = float(gx.sum() + gy.sum())
    vert_grad = float(gy.sum()) / tot if tot > 0 else 0.5

    top = dark[: max(1, round(0.12 * h))]
    dark_top = float(top.mean())

    # thin structures brighter (angiogram) or darker (photograph) than their surround, in the green channel
    k = max(3, round(min(h, w) / 28)) | 1
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    inner = cv2.erode(fg.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) if fg.any() else fg
    if inner.sum() < 0.05 * n:
        inner = np.ones((h, w), bool)
    chan = small[..., 1]
    th = cv2.morphologyEx(chan, cv2.MORPH_TOPHAT, ker)[inner]
    bh = cv2.morphologyEx(chan, cv2.MORPH_BLACKHAT, ker)[inner]
    pt, pb = float(np.percentile(th, 98)), float(np.percentile(bh, 98))
    bright_lines = pt / (pt + pb) if pt + pb > 0 else 0.5
    line_contrast = pt / 255.0
    vals = grey[inner]
    sd = float(vals.std())
    skew_raw = float(((vals - vals.mean()) ** 3).mean()) / sd**3 if sd > 1e-3 else 0.0
    skew = (min(5.0, max(-5.0, skew_raw)) + 5.0) / 10.0

    ang = np.degrees(np.arctan2(cv2.Sobel(blur, cv2.CV_32F, 0, 1, ksize=3), cv2.Sobel(blur, cv2.CV_32F, 1, 0, ksize=3)))
    # measured inside a 6% margin: a crop's own edges (a scanned panel's frame line, the paper around it) are
    # axis-aligned in every picture; a chart's grid, bars and text fill its inside
    m = int(0.06 * min(h, w))
    mag = (gx + gy)[m:h - m, m:w - m]
    off = np.abs(((ang[m:h - m, m:w - m] + 45.0) % 90.0) - 45.0)  # distance to the nearest multiple of 90 degrees
    axis_energy = float(mag[off <= 8.0].sum()) / float(mag.sum()) if float(mag.sum()) > 0 else 0.0

    return ImageFeatures(
        width=W, height=H, sat=_r(sat), colour_frac=_r(colour_frac), fundus_hue=_r(fundus_hue),
        dark_border=_r(dark_border), dark_corners=_r(dark_corners), white_frac=_r(white_frac), dark_frac=_r(dark_frac), fov_iou=_r(fov_iou),
        fov_fill=_r(fov_fill), flat_frac=_r(flat_frac), top_colours=_r(top_colours), edge_density=_r(edge_density),
        vert_grad=_r(vert_grad), dark_top=_r(dark_top),
        bright_lines=_r(bright_lines), line_contrast=_r(line_contrast), skew=_r(skew), axis_energy=_r(axis_energy),
    )
