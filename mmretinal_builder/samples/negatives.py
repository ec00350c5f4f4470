"""Non-retinal raster figures (negatives): a device photograph, an external eye photograph, a raster chart."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .fundus import Rng, add_noise


def device_photo(rng: Rng, w: int, h: int) -> np.ndarray:
    """A photo-like picture of a fundus camera on a table (BGR uint8)."""
    top = np.array(rng.uniform(150, 220, 3))
    bottom = top * rng.uniform(0.55, 0.8)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = (top * (1 - t) + bottom * t).astype(np.float32) * np.ones((1, w, 1), np.float32)
    img = img.astype(np.uint8)
    table_y = int(h * rng.uniform(0.68, 0.78))
    cv2.rectangle(img, (0, table_y), (w, h), tuple(int(c) for c in rng.uniform(60, 120, 3)), -1)
    # base, body, lens barrel, chin rest
    bx0, bx1 = int(w * 0.22), int(w * 0.78)
    cv2.rectangle(img, (bx0, table_y - int(h * 0.1)), (bx1, table_y), (70, 70, 75), -1)
    body = (int(w * 0.35), int(h * 0.25), int(w * 0.62), table_y - int(h * 0.1))
    cv2.rectangle(img, body[:2], body[2:], (215, 215, 210), -1)
    cv2.rectangle(img, body[:2], body[2:], (150, 150, 150), max(1, w // 300))
    cy = (body[1] + body[3]) // 2
    for k, col in enumerate([(40, 40, 40), (25, 25, 28), (90, 60, 50), (15, 15, 18)]):
        rad = int(h * (0.12 - 0.025 * k))
        cv2.circle(img, (body[0] - int(w * 0.02), cy), max(2, rad), col, -1, cv2.LINE_AA)
    cv2.circle(img, (body[0] - int(w * 0.04), cy - int(h * 0.03)), max(2, int(h * 0.015)), (240, 230, 220), -1,
               cv2.LINE_AA)
    cv2.rectangle(img, (int(w * 0.12), int(h * 0.2)), (int(w * 0.16), table_y - int(h * 0.1)), (200, 200, 200), -1)
    cv2.rectangle(img, (int(w * 0.66), int(h * 0.3)), (int(w * 0.75), int(h * 0.42)), (30, 30, 30), -1)  # screen
    img = cv2.GaussianBlur(img, (5, 5), 0)
    return add_noise(img, rng, rng.uniform(3, 6))


def external_eye(rng: Rng, w: int, h: int) -> np.ndarray:
    """An external (anterior segment) eye photograph: an eye but not a retina, a hard negative (BGR uint8)."""
    skin = np.array([rng.uniform(120, 170), rng.uniform(150, 190), rng.uniform(190, 230)])
    img = np.empty((h, w, 3), np.uint8)
    img[:] = skin.astype(np.uint8)
    cx, cy = w // 2, h // 2
    ax, ay = int(w * 0.42), int(h * 0.3)
    eye = np.zeros((h, w), np.uint8)
    cv2.ellipse(eye, (cx, cy), (ax, ay), 0, 0, 360, 255, -1, cv2.LINE_AA)
    sclera = np.full((h, w, 3), (225, 230, 238), np.uint8)
    for _ in range(12):  # conjunctival vessels
        p = (int(rng.uniform(cx - ax, cx + ax)), int(rng.uniform(cy - ay, cy + ay)))
        q = (p[0] + int(rng.normal(0, w * 0.05)), p[1] + int(rng.normal(0, h * 0.03)))
        cv2.line(sclera, p, q, (80, 80, 200), 1, cv2.LINE_AA)
    iris_r = int(min(ax, ay) * rng.uniform(0.75, 0.95))
    iris_col = [(40, 70, 110), (150, 120, 70), (60, 110, 90)][int(rng.integers(0, 3))]
    cv2.circle(sclera, (cx, cy), iris_r, iris_col, -1, cv2.LINE_AA)
    for k in range(90):  # radial iris texture
        a = 2 * math.pi * k / 90
        p = (cx + int(iris_r * 0.35 * math.cos(a)), cy + int(iris_r * 0.35 * math.sin(a)))
        q = (cx + int(iris_r * math.cos(a)), cy + int(iris_r * math.sin(a)))
        shade = tuple(int(c * rng.uniform(0.6, 1.3)) for c in iris_col)
        cv2.line(sclera, p, q, shade, 1, cv2.LINE_AA)
    cv2.circle(sclera, (cx, cy), int(iris_r * rng.uniform(0.3, 0.45)), (12, 12, 12), -1, cv2.LINE_AA)
    cv2.circle(sclera, (cx + iris_r // 4, cy - iris_r // 4), max(2, iris_r // 10), (250, 250, 250), -1,
               cv2.LINE_AA)
    m = eye.astype(np.float32)[..., None] / 255.0
    img = (img.astype(np.float32) * (1 - m) + sclera.astype(np.float32) * m).astype(np.uint8)
    for k in range(40):  # lashes along the upper lid
        a = math.pi + math.pi * k / 40
        p = (cx + int(ax * math.cos(a)), cy + int(ay * math.sin(a)))
        q = (p[0] + int(rng.normal(0, w * 0.01)), p[1] - int(h * rng.uniform(0.04, 0.08)))
        cv2.line(img, p, q, (20, 20, 25), max(1, w // 400), cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return add_noise(img, rng, rng.uniform(2, 5))


def raster_chart(rng: Rng, w: int, h: int) -> np.ndarray:
    """A bar or line chart rendered to pixels, as in books that paste charts as images (BGR uint8)."""
    img = np.full((h, w, 3), 255, np.uint8)
    x0, y0, x1, y1 = int(w * 0.12), int(h * 0.08), int(w * 0.95), int(h * 0.82)
    lw = max(1, w // 400)
    cv2.line(img, (x0, y1), (x1, y1), (0, 0, 0), lw, cv2.LINE_AA)
    cv2.line(img, (x0, y0), (x0, y1), (0, 0, 0), lw, cv2.LINE_AA)
    fs = max(0.35, w / 1400)
    n = int(rng.integers(4, 8))
    vals = rng.uniform(0.2, 0.95, n)
    if rng.random() < 0.5:
        bw = (x1 - x0) / (n * 1.6)
        for i, v in enumerate(vals):
            bx = int(x0 + (i + 0.5) * (x1 - x0) / n - bw / 2)
            cv2.rectangle(img, (bx, int(y1 - v * (y1 - y0))), (int(bx + bw), y1), (160, 110, 60), -1)
            cv2.putText(img, f"G{i + 1}", (bx, y1 + int(h * 0.07)), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), lw,
                        cv2.LINE_AA)
    else:
        for series, col in enumerate([(200, 80, 30), (40, 40, 200)]):
            pts = np.array([[x0 + (i + 0.5) * (x1 - x0) / n, y1 - (v * (0.8 - 0.2 * series)) * (y1 - y0)]
                            for i, v in enumerate(np.sort(vals) if series else vals)], np.int32)
            cv2.polylines(img, [pts], False, col, lw * 2, cv2.LINE_AA)
            for p in pts:
                cv2.circle(img, tuple(int(c) for c in p), lw * 4, col, -1, cv2.LINE_AA)
        for i in range(n):
            cv2.putText(img, f"M{3 * i}", (int(x0 + (i + 0.3) * (x1 - x0) / n), y1 + int(h * 0.07)),
                        cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), lw, cv2.LINE_AA)
    for k in range(5):
        yy = int(y1 - k * (y1 - y0) / 4)
        cv2.putText(img, str(100 * k), (int(w * 0.02), yy + 5), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), lw,
                    cv2.LINE_AA)
    return img
