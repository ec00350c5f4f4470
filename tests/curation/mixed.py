"""Figures that mix fundus photographs with what papers show beside them (built in code, ground truth known).

A vessel segmentation (white vessels on black inside the field of view), a heat map (a jet colour map of a
smooth score, as attention/saliency figures show), a lesion map (flat-coloured lesion masks on black) and an
overlay (the photograph with coloured masks drawn on it: still a photograph). Sources: scikit-image's CC0
``retina()`` photograph and the generator's procedural fundus images.
"""

from __future__ import annotations

import cv2
import numpy as np

#: what each map is, as ground truth: retinal pictures are photographs (an overlay is a photograph with marks)
RETINAL = {"photo": True, "overlay": True, "vessels": False, "heatmap": False, "lesions": False}


def retina(size: int = 400, variant: int = 0) -> np.ndarray:
    """scikit-image's CC0 fundus photograph, BGR, ``size`` x ``size``; ``variant`` > 0: another eye made from it
    (mirrored, turned, its colour shifted), so the photographs of different figures are not duplicates."""
    from skimage import data

    img = cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    if variant:
        fov = field_of_view(img)
        img = cv2.flip(img, 1) if variant % 2 else img
        turn = cv2.getRotationMatrix2D((size / 2, size / 2), 37.0 * variant, 1.0)
        img = cv2.warpAffine(img, turn, (size, size), borderValue=(0, 0, 0))
        shift = np.array([(-9 * variant) % 25, (7 * variant) % 21, (5 * variant) % 17], np.int16)
        img = np.clip(img.astype(np.int16) + shift, 0, 255).astype(np.uint8)
        img[fov == 0] = 0
    return img


def field_of_view(img: np.ndarray) -> np.ndarray:
    """The bright disc of a fundus photograph (uint8 0/255)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    _, fov = cv2.threshold(grey, 20, 255, cv2.THRESH_BINARY)
    return cv2.erode(fov, np.ones((5, 5), np.uint8))


def vessels(img: np.ndarray) -> np.ndarray:
    """A binary vessel segmentation: dark thin structures of the green channel, white on black."""
    g = img[:, :, 1]
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    blackhat = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, k)
    _, seg = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    seg = cv2.bitwise_and(seg, field_of_view(img))
    return cv2.cvtColor(seg, cv2.COLOR_GRAY2BGR)


def heatmap(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """A jet-coloured score map (smooth blobs), black outside the field of view."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    score = np.zeros((h, w), np.float32)
    for _ in range(5):
        x, y = rng.uniform(0.25, 0.75, 2)
        cv2.circle(score, (int(x * w), int(y * h)), int(rng.uniform(0.05, 0.12) * w), float(rng.uniform(0.5, 1)), -1)
    score = cv2.GaussianBlur(score, (0, 0), 0.06 * w)
    score = (255 * score / max(float(score.max()), 1e-6)).astype(np.uint8)
    heat = cv2.applyColorMap(score, cv2.COLORMAP_JET)
    return cv2.bitwise_and(heat, heat, mask=field_of_view(img))


def lesion_map(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat-coloured lesion masks (exudates yellow, haemorrhages red, optic disc green) on black."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    cv2.circle(out, (int(0.7 * w), int(0.5 * h)), int(0.08 * w), (0, 200, 0), -1)
    for colour in ((0, 220, 255), (0, 0, 230)):
        for _ in range(int(rng.integers(6, 12))):
            x, y = rng.uniform(0.2, 0.8, 2)
            cv2.circle(out, (int(x * w), int(y * h)), int(rng.uniform(0.01, 0.03) * w), colour, -1)
    cv2.circle(out, (w // 2, h // 2), int(0.47 * w), (90, 90, 90), 2)  # the field of view outline
    return out


def overlay(img: np.ndarray, seed: int = 0) -> np.ndarray:
    """The photograph with semi-transparent coloured masks on it (like PALM Fig. 4 a2/b2): still a photograph."""
    marks = lesion_map(img, seed)
    mask = marks.any(axis=2)
    out = img.copy()
    out[mask] = (0.55 * img[mask] + 0.45 * marks[mask]).astype(np.uint8)
    return out


def tile(images: list[np.ndarray], cols: int, gutter: int = 12, background: int = 255) -> np.ndarray:
    """A grid of equally sized images with uniform gutters (one raster, as a journal figure)."""
    h, w = images[0].shape[:2]
    rows = (len(images) + cols - 1) // cols
    out = np.full((rows * h + (rows + 1) * gutter, cols * w + (cols + 1) * gutter, 3), background, np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, cols)
        y, x = gutter + r * (h + gutter), gutter + c * (w + gutter)
        out[y:y + h, x:x + w] = cv2.resize(im, (w, h))
    return out


MAKERS = {"photo": lambda img, s: img, "overlay": overlay, "vessels": lambda img, s: vessels(img),
          "heatmap": heatmap, "lesions": lesion_map}


def mixed_panels(kinds: list[str], size: int = 300, seed: int = 0) -> list[np.ndarray]:
    """One picture per kind; the maps are made from the photograph before them (a new eye after each
    photograph: variant ``seed`` + ten times the photographs that came before)."""
    out, base, eyes = [], retina(size, seed), 0
    for i, k in enumerate(kinds):
        if k == "photo" and i:
            eyes += 1
            base = retina(size, seed + 10 * eyes)
        out.append(MAKERS[k](base, seed + i))
    return out
