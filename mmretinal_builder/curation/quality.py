"""Image quality checks: too small, blank or uniform, blurry, extreme aspect ratio.

Each check returns a flag name; the quality stage records flags in ``quality_flags`` and drops the
pictures whose flags its Params list (reason ``quality:<flag>``).

Blur is the variance of the Laplacian, made comparable across sizes and exposures: the picture is
scaled to a fixed working size (long side 384 px), the Laplacian is taken over the content only (the
dark surround of a field of view and its rim are left out: they are flat, or a sharp edge in any
photograph), and its standard deviation is divided by the content's grey-level standard deviation, so a
dim angiogram and a bright photograph are judged alike. Fundus photographs are smooth by nature, so the
default threshold sits well below the sharpness of real photographs (see the tests for the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .imagefeatures import as_bgr

BLUR_SIZE = 384


@dataclass(frozen=True)
class QualityMeasures:
    width: int
    height: int
    std: float  # grey-level standard deviation of the whole picture
    sharpness: float  # std of the Laplacian over std of the content, at the working size
    aspect: float  # long side / short side


def measure(img: np.ndarray) -> QualityMeasures:
    img = as_bgr(img)
    h, w = img.shape[:2]
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    s = BLUR_SIZE / max(h, w)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    # resample in float: an 8-bit result would add rounding noise that the Laplacian reads as detail
    g = cv2.resize(grey.astype(np.float32), (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    content = (g > 20).astype(np.uint8)
    content = cv2.erode(content, np.ones((7, 7), np.uint8)).astype(bool)  # off the rim of a field of view
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=3)
    if content.sum() < 64:
        sharp = 0.0
    else:
        cstd = float(g[content].std())
        # 8-bit rounding alone gives the 3x3 Laplacian a variance of 20/12 (less after averaging down):
        # not detail, so it is taken out, else dim, low-contrast pictures never look blurry
        noise = 20.0 / 12.0 * min(1.0, s) ** 2
        detail = max(0.0, float(lap[content].var()) - noise) ** 0.5
        sharp = detail / cstd if cstd > 1.0 else 0.0
    return QualityMeasures(w, h, round(float(grey.std()), 3), round(sharp, 4), round(max(w, h) / max(1, min(w, h)), 3))


def quality_flags(m: QualityMeasures, *, min_side: int, min_std: float, min_sharpness: float,
                  max_aspect: float) -> list[str]:
    """Flags in a fixed order: too-small, blank, blurry, extreme-aspect."""
    flags = []
    if min(m.width, m.height) < min_side:
        flags.append("too-small")
    if m.std < min_std:
        flags.append("blank")
    elif m.sharpness < min_sharpness:
        flags.append("blurry")  # a blank picture has no edges either: one reason is enough
    if m.aspect > max_aspect:
        flags.append("extreme-aspect")
    return flags
