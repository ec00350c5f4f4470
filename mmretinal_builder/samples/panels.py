"""Multi-panel figures: row-justified panel layout, single-raster composites with gutters, burned-in letters."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[float, float, float, float]


def justify_rows(aspects: list[list[float]], width: float, gutter: float) -> tuple[list[list[Box]], float]:
    """Place panels row by row so each row fills `width` and its panels share one height.

    `aspects` holds width/height per panel per row. Returns boxes (origin top-left) and total height.
    """
    boxes: list[list[Box]] = []
    y = 0.0
    for row in aspects:
        h = (width - gutter * (len(row) - 1)) / sum(row)
        x = 0.0
        rb = []
        for a in row:
            rb.append((x, y, x + a * h, y + h))
            x += a * h + gutter
        boxes.append(rb)
        y += h + gutter
    return boxes, y - gutter


def _as_bgr(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img


def composite(images: list[np.ndarray], rows: list[list[int]], width_px: int, gutter_px: int,
              gutter_value: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """One raster holding all panels separated by white or black gutters; returns it and each panel's px box."""
    aspects = [[images[i].shape[1] / images[i].shape[0] for i in row] for row in rows]
    boxes, total_h = justify_rows(aspects, float(width_px), float(gutter_px))
    gray = all(img.ndim == 2 for img in images)
    shape = (int(round(total_h)), width_px) if gray else (int(round(total_h)), width_px, 3)
    canvas = np.full(shape, gutter_value, np.uint8)
    px_boxes: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(images)
    for row, rb in zip(rows, boxes, strict=True):
        for i, (x0, y0, x1, y1) in zip(row, rb, strict=True):
            bx = (int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
            bx = (bx[0], bx[1], min(bx[2], width_px), min(bx[3], shape[0]))
            tile = images[i] if gray else _as_bgr(images[i])
            canvas[bx[1] : bx[3], bx[0] : bx[2]] = cv2.resize(tile, (bx[2] - bx[0], bx[3] - bx[1]),
                                                                interpolation=cv2.INTER_AREA)
            px_boxes[i] = bx
    return canvas, px_boxes


def burn_letter(img: np.ndarray, text: str, corner: str = "tl", box: tuple[int, int, int, int] | None = None,
                on_white: bool = False) -> None:
    """Write a panel letter into the raster (in place): white with a dark outline, or black on a white tag."""
    x0, y0, x1, y1 = box if box is not None else (0, 0, img.shape[1], img.shape[0])
    h = y1 - y0
    scale = max(0.5, h / 260.0)
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thick)
    pad = max(3, int(h * 0.03))
    x = x0 + pad if corner in ("tl", "bl") else x1 - pad - tw
    y = y0 + pad + th if corner in ("tl", "tr") else y1 - pad - base
    white = 255 if img.ndim == 2 else (255, 255, 255)
    black = 0 if img.ndim == 2 else (0, 0, 0)
    if on_white:
        cv2.rectangle(img, (x - 2, y - th - 2), (x + tw + 2, y + base), white, -1)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, black, thick, cv2.LINE_AA)
    else:
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, black, thick + 2, cv2.LINE_AA)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, white, thick, cv2.LINE_AA)


def encode(img: np.ndarray, fmt: str, quality: int = 88) -> bytes:
    """Encode to JPEG or PNG bytes (deterministic for the same pixels)."""
    if fmt == "jpg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    elif fmt == "png":
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    else:
        raise ValueError(f"encode: unknown image format {fmt!r}")
    if not ok:
        raise RuntimeError(f"encode: OpenCV failed to encode a {img.shape} image as {fmt}")
    return buf.tobytes()
