"""Synthetic compound figures for the panel tests: fundus/FFA/OCT-like tiles on white or black gutters,
with letters burned into a corner or written in a strip under each panel. Everything is seeded."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

PxBox = tuple[int, int, int, int]


def fundus(h: int, w: int, rng: np.random.Generator, surround: float = 1.0) -> np.ndarray:
    """An orange disc with vessels and an optic disc on black; ``surround`` < 1 shrinks the disc."""
    img = np.zeros((h, w, 3), np.uint8)
    r = int(min(h, w) / 2 * surround)
    cy, cx = h // 2, w // 2
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (cx, cy), r, 255, -1)
    base = np.array([30, 70, 170], np.float32) + rng.normal(0, 12, 3)
    tex = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 3)[..., None]
    field_ = np.clip(base + tex * 2, 0, 255)
    img[mask > 0] = field_[mask > 0].astype(np.uint8)
    od = (int(cx + rng.uniform(-0.4, 0.4) * r), int(cy + rng.uniform(-0.2, 0.2) * r))
    cv2.circle(img, od, max(3, r // 7), (120, 200, 250), -1)
    for _ in range(8):
        ang = rng.uniform(0, 2 * np.pi)
        end = (int(od[0] + np.cos(ang) * r * 1.2), int(od[1] + np.sin(ang) * r * 1.2))
        cv2.line(img, od, end, (20, 30, 110), max(1, r // 60))
    img[mask == 0] = 0
    return img


def ffa(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Grey angiogram: bright vessels on a dark disc, black outside."""
    g = np.zeros((h, w), np.uint8)
    r = int(min(h, w) * 0.48)
    cv2.circle(g, (w // 2, h // 2), r, 70, -1)
    noise = rng.normal(0, 8, (h, w))
    g = np.clip(g + (g > 0) * noise, 0, 255).astype(np.uint8)
    for _ in range(10):
        p0 = (int(w / 2 + rng.uniform(-0.2, 0.2) * w), int(h / 2 + rng.uniform(-0.2, 0.2) * h))
        ang = rng.uniform(0, 2 * np.pi)
        p1 = (int(p0[0] + np.cos(ang) * r), int(p0[1] + np.sin(ang) * r))
        cv2.line(g, p0, p1, 220, max(1, r // 50))
    circle = np.zeros_like(g)
    cv2.circle(circle, (w // 2, h // 2), r, 255, -1)
    g[circle == 0] = 0
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def oct_scan(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Speckled dark B-scan with a bright wavy retina band."""
    g = np.clip(rng.normal(25, 12, (h, w)), 0, 255)
    xs = np.arange(w)
    top = (0.35 * h + 0.06 * h * np.sin(xs / w * 2 * np.pi * rng.uniform(0.5, 1.5))).astype(int)
    for x in range(w):
        t = top[x]
        band = int(0.25 * h)
        g[t:t + band, x] += np.linspace(150, 60, band)[: max(0, min(band, h - t))]
    return cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def dark_oct(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A B-scan whose vitreous (the top third) and choroid shadow are near-black: smooth low noise a little
    above black, as many devices export it (dark like a gutter, but not flat)."""
    noise = cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 1.2)
    g = np.clip(16 + noise, 0, 255)
    xs = np.arange(w)
    top = (0.38 * h + 0.05 * h * np.sin(xs / w * 2 * np.pi * rng.uniform(0.5, 1.5))).astype(int)
    band = int(0.3 * h)
    speckle = rng.normal(0, 25, (h, w))
    for x in range(w):
        t = top[x]
        n = max(0, min(band, h - t))
        g[t:t + n, x] += np.linspace(170, 70, band)[:n] + speckle[t:t + n, x]
    return cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


TILES = {"fundus": fundus, "ffa": ffa, "oct": oct_scan, "dark-oct": dark_oct}


@dataclass
class Composition:
    image: np.ndarray
    boxes: list[PxBox]  # ground-truth panel boxes, reading order
    labels: list[str] = field(default_factory=list)


def _put_letter(img: np.ndarray, text: str, box: PxBox, on_white: bool) -> None:
    x0, y0, x1, y1 = box
    h = y1 - y0
    scale = max(0.6, h / 220.0)
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
    pad = max(3, int(h * 0.03))
    x, y = x0 + pad, y0 + pad + th
    if on_white:
        cv2.rectangle(img, (x - 3, y - th - 3), (x + tw + 3, y + base + 1), (255, 255, 255), -1)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    else:
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def compose(rows: list[int], seed: int, gutter: int = 12, background: int = 255, tile: str = "fundus",
            size: int = 240, letters: str = "none", margin: int = 0, upper: bool = False,
            jpeg: bool = False, square: bool = False) -> Composition:
    """Panels in ``rows`` (panels per row), all ``size`` px high, separated by ``gutter`` px.

    ``letters``: none | corner (burned into the top-left corner) | tag (black on a white tag) |
    strip (centred in a white band under each panel).
    """
    rng = np.random.default_rng(seed)
    strip_h = 36 if letters == "strip" else 0
    tiles: list[list[np.ndarray]] = []
    for n in rows:
        row = []
        for _ in range(n):
            kind = tile if tile != "mixed" else ["fundus", "ffa", "oct"][int(rng.integers(0, 3))]
            w = int(size * (1.6 if kind in ("oct", "dark-oct") else 1.0 if square else rng.uniform(0.95, 1.3)))
            row.append(TILES[kind](size, w, rng))
        tiles.append(row)
    width = max(sum(t.shape[1] for t in row) + gutter * (len(row) - 1) for row in tiles) + 2 * margin
    height = len(rows) * (size + strip_h) + gutter * (len(rows) - 1) + 2 * margin
    canvas = np.full((height, width, 3), background, np.uint8)
    boxes: list[PxBox] = []
    labels: list[str] = []
    y = margin
    for row in tiles:
        x = margin
        for t in row:
            h, w = t.shape[:2]
            canvas[y:y + h, x:x + w] = t
            box = (x, y, x + w, y + h)
            boxes.append(box)
            lab = chr((ord("A") if upper else ord("a")) + len(labels))
            labels.append(lab)
            if letters in ("corner", "tag"):
                _put_letter(canvas, lab, box, on_white=letters == "tag")
            elif letters == "strip":
                if background != 255:
                    canvas[y + h:y + h + strip_h, x:x + w] = 255
                text = f"({lab})"
                (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)
                cv2.putText(canvas, text, (x + (w - tw) // 2, y + h + (strip_h + th) // 2),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
            x += w + gutter
        y += size + strip_h + gutter
    if jpeg:
        ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])
        canvas = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return Composition(canvas, boxes, labels)


def box_iou(a: PxBox, b: PxBox) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = w * h if w > 0 and h > 0 else 0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
