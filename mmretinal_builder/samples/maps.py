"""Images derived from a retinal photograph, as papers show them beside it: vessel segmentations, lesion
maps, heat maps, OCT layer maps.

They are made from the photograph by plain image processing (what a segmentation paper's figure shows is a
model's output; the look is what matters here: binary or colour-coded maps of the same field of view). The
panel splitter must find their tiles (their edges are where the black canvas of a map meets a photo) and
curation must keep the photographs beside them. Everything is deterministic for the same input and Generator.
"""

from __future__ import annotations

import cv2
import numpy as np

Rng = np.random.Generator

#: What a panel of a generated figure shows; ``retinal`` in the ground truth is "yes" only for photographs.
CONTENTS = ("photograph", "vessel-map", "lesion-map", "heatmap", "layer-map")


def _bgr(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img[:, :, :3]


def fov_mask(img: np.ndarray) -> np.ndarray:
    """The field of view of a fundus photograph or angiogram (bool): not the dark surround."""
    g = _bgr(img).max(axis=2)
    m = (g > 25).astype(np.uint8)
    k = max(3, min(img.shape[:2]) // 60) | 1
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.ones(img.shape[:2], bool)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    fov = lab == big
    # fill holes (dark lesions inside the field of view are still inside it)
    filled = fov.astype(np.uint8)
    cnts, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, cnts, -1, 1, -1)
    return filled.astype(bool)


def _vessel_response(img: np.ndarray, bright_vessels: bool) -> tuple[np.ndarray, np.ndarray]:
    """A vesselness-like response (float) and the field of view: black-hat of the contrast-enhanced green
    channel (dark vessels of a colour photo) or top-hat of the grey image (bright vessels of an angiogram)."""
    bgr = _bgr(img)
    chan = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bright_vessels else bgr[:, :, 1]
    fov = fov_mask(img)
    clahe = cv2.createCLAHE(clipLimit=2.5, tileGridSize=(8, 8))
    eq = clahe.apply(chan)
    k = max(7, min(img.shape[:2]) // 35) | 1
    kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    op = cv2.MORPH_TOPHAT if bright_vessels else cv2.MORPH_BLACKHAT
    resp = cv2.morphologyEx(eq, op, kern).astype(np.float32)
    # the rim of the field of view is a dark edge too: leave it out
    rim = cv2.erode(fov.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    resp[~rim] = 0
    return resp, fov


def vessel_map(img: np.ndarray, share: float = 0.11, inverted: bool = False, bright_vessels: bool = False,
               outline: bool = False) -> np.ndarray:
    """A binary vessel segmentation (grey uint8): the strongest ``share`` of the field of view's vesselness.

    White vessels on black, or ``inverted`` (black on white, as some papers print them); ``outline`` draws the
    field of view's rim in grey, as segmentation figures often do.
    """
    resp, fov = _vessel_response(img, bright_vessels)
    inside = resp[fov]
    t = float(np.quantile(inside, 1.0 - share)) if inside.size else 255.0
    seg = ((resp > max(t, 1.0)) & fov).astype(np.uint8) * 255
    seg = cv2.morphologyEx(seg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    if outline:
        cnts, _ = cv2.findContours(fov.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(seg, cnts, -1, 128, max(1, min(img.shape[:2]) // 300))
    return 255 - seg if inverted else seg


def lesion_map(img: np.ndarray, rng: Rng) -> np.ndarray:
    """A colour-coded lesion map (BGR) on black: dark blobs (haemorrhages) red, bright spots (exudates) yellow,
    vessels left out, the field of view's rim in dark grey."""
    bgr = _bgr(img).astype(np.float32)
    fov = fov_mask(img)
    g = bgr[:, :, 1]
    k = max(15, min(img.shape[:2]) // 12) | 1
    bg = cv2.medianBlur(np.clip(g, 0, 255).astype(np.uint8), k).astype(np.float32)
    vessels = vessel_map(img, share=0.1) > 0
    d = g - bg
    inside = cv2.erode(fov.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    t_dark = float(np.quantile(d[inside], 0.04)) if inside.any() else -20.0
    t_bright = float(np.quantile(d[inside], 0.985)) if inside.any() else 20.0
    dark = (d < min(t_dark, -6.0)) & inside & ~vessels
    bright = (d > max(t_bright, 8.0)) & inside
    out = np.zeros(bgr.shape, np.uint8)
    cnts, _ = cv2.findContours(fov.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, cnts, -1, (70, 70, 70), max(1, min(img.shape[:2]) // 250))
    # a few synthetic lesions so that every map shows something, placed inside the field of view
    ys, xs = np.nonzero(inside)
    if ys.size:
        for _ in range(int(rng.integers(3, 8))):
            i = int(rng.integers(0, ys.size))
            rad = int(rng.uniform(0.01, 0.03) * min(img.shape[:2])) + 1
            cv2.circle(out, (int(xs[i]), int(ys[i])), rad, (0, 0, 230) if rng.random() < 0.5 else (0, 220, 255), -1)
    out[dark] = (0, 0, 230)
    out[bright] = (0, 220, 255)
    return out


def heat_map(img: np.ndarray, rng: Rng, overlay: bool = True, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """An attention / saliency heat map (BGR): smooth blobs, colour-mapped, blended over the photograph
    (``overlay``) or alone inside the field of view on black."""
    h, w = img.shape[:2]
    fov = fov_mask(img)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        s = rng.uniform(0.06, 0.18) * min(h, w)
        field += float(rng.uniform(0.4, 1.0)) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    field /= max(float(field.max()), 1e-6)
    cm = cv2.applyColorMap((field * 255).astype(np.uint8), colormap)
    out = cv2.addWeighted(_bgr(img), 0.55, cm, 0.45, 0.0) if overlay else cm
    out[~fov] = 0
    return out


def layer_map(oct_img: np.ndarray) -> np.ndarray:
    """A colour-coded OCT layer segmentation (BGR): the tissue band split into coloured layers by depth
    from its top edge, the vitreous and choroid black."""
    g = oct_img if oct_img.ndim == 2 else cv2.cvtColor(oct_img[:, :, :3], cv2.COLOR_BGR2GRAY)
    h, w = g.shape
    pad = g >= 250  # devices pad a rotated scan with pure white
    g = np.where(pad, 0, g).astype(np.uint8)
    sm = cv2.GaussianBlur(g, (0, 0), 4)
    t = float(np.quantile(sm[~pad], 0.85)) if (~pad).any() else 128.0
    tissue = sm > t
    top = np.argmax(tissue, axis=0).astype(np.float32)
    present = tissue.any(axis=0)
    fill = float(np.median(top[present])) if present.any() else h / 3
    top = np.where(present, top, fill).astype(np.float32)
    top = cv2.GaussianBlur(cv2.medianBlur(top[None, :], 5)[0][None, :], (0, 0), max(2.0, w / 100))[0]
    colours = [(180, 60, 60), (60, 180, 60), (60, 60, 200), (200, 200, 40), (200, 60, 200), (40, 200, 220)]
    thick = max(3, h // 25)
    out = np.zeros((h, w, 3), np.uint8)
    rows = np.arange(h)[:, None]
    depth = rows - top[None, :]
    for i, c in enumerate(colours):
        band = (depth >= i * thick) & (depth < (i + 1) * thick)
        out[band] = c
    return out
