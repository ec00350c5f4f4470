"""Pages whose content is turned on the page (a landscape figure and its caption set sideways on a
portrait page): detect the reading direction and move a page model into its reading frame.

Caption detection, figure candidates and pairing then run in the reading frame, where captions read
left to right; boxes go back to the page frame (:func:`box_to_page`) for the records, and figure images
are turned upright (:func:`upright`).
"""

from __future__ import annotations

import numpy as np

from ..geometry import BBox
from .page_model import DrawingCluster, ImagePlacement, PageModel, Span, TextLine

MIN_SHARE = 0.6  # share of the page's characters that must run sideways
MIN_CHARS = 20


def reading_turn(model: PageModel) -> int:
    """0, or 90 / 270: the clockwise turn that makes the page's text read left to right."""
    up = down = total = 0
    for ln in model.lines:
        n = len(ln.text.strip())
        total += n
        dx, dy = ln.direction
        if abs(dx) < 0.05 and dy < -0.95:
            up += n
        elif abs(dx) < 0.05 and dy > 0.95:
            down += n
    if total < MIN_CHARS:
        return 0
    if up >= MIN_SHARE * total:
        return 90
    if down >= MIN_SHARE * total:
        return 270
    return 0


def _point(x: float, y: float, turn: int, size: tuple[float, float]) -> tuple[float, float]:
    w, h = size
    if turn == 90:  # turn the page clockwise: text that read upwards reads rightwards
        return h - y, x
    if turn == 270:
        return y, w - x
    return x, y


def box_to_reading(b: BBox, turn: int, size: tuple[float, float]) -> BBox:
    """A page-frame box in the reading frame of a page of visible ``size``."""
    (x0, y0), (x1, y1) = _point(b[0], b[1], turn, size), _point(b[2], b[3], turn, size)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def box_to_page(b: BBox, turn: int, size: tuple[float, float]) -> BBox:
    """A reading-frame box back in the page frame (``size`` is the page's visible size)."""
    w, h = size
    if turn == 90:
        pts = [(y, h - x) for x, y in ((b[0], b[1]), (b[2], b[3]))]
    elif turn == 270:
        pts = [(w - y, x) for x, y in ((b[0], b[1]), (b[2], b[3]))]
    else:
        return b
    return (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))


def turn_model(model: PageModel, turn: int) -> PageModel:
    """The page model in its reading frame (same lines, images and drawings, same order and indices)."""
    if turn == 0:
        return model
    size = model.size

    def box(b: BBox) -> BBox:
        return box_to_reading(b, turn, size)

    def direction(d: tuple[float, float]) -> tuple[float, float]:
        dx, dy = d
        return (-dy, dx) if turn == 90 else (dy, -dx)

    lines = []
    for ln in model.lines:
        d = direction(ln.direction)
        lines.append(TextLine(
            text=ln.text, bbox=box(ln.bbox), block_id=ln.block_id, source=ln.source, baseline=None,
            spans=[Span(s.text, box(s.bbox), s.font, s.size, s.bold, s.italic) for s in ln.spans],
            horizontal=d[0] > 0.99 and abs(d[1]) < 0.02, direction=d,
        ))
    images = []
    w, h = size
    for im in model.images:
        a, b, c, d, e, f = im.transform
        t = (-b, a, -d, c, h - f, e) if turn == 90 else (b, -a, d, -c, f, w - e)
        images.append(ImagePlacement(xref=im.xref, bbox=box(im.bbox), transform=t, width_px=im.width_px,
                                     height_px=im.height_px, clip=box(im.clip) if im.clip else None,
                                     has_mask=im.has_mask, decoration=im.decoration))
    drawings = [DrawingCluster(box(dc.bbox), dc.n_paths, dc.n_curves, dc.n_fills, dc.n_diagonals, dc.rule_only,
                               dc.decoration) for dc in model.drawings]
    return PageModel(number=model.number, size=(size[1], size[0]), lines=lines, images=images, drawings=drawings,
                     text_layer=model.text_layer, rotation=model.rotation, scan_image=model.scan_image,
                     skew=model.skew)


def upright(arr: np.ndarray, turn: int) -> np.ndarray:
    """Pixels of a page-frame crop turned to the reading frame."""
    if turn == 90:
        return np.rot90(arr, k=-1)
    if turn == 270:
        return np.rot90(arr, k=1)
    return arr
