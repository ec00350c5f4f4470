"""Vector figures drawn with PyMuPDF shapes: bar chart, line plot, eye cross-section, flowchart.

Each function draws inside `rect` and returns the tight box of what it drew (in-figure labels included),
which becomes the figure's ground-truth box.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pymupdf

from .fundus import draw_cfp
from .panels import encode
from .text import draw_line, split_runs, wrap

Box = tuple[float, float, float, float]
Colour = tuple[float, float, float]

PALETTE: tuple[Colour, ...] = ((0.20, 0.40, 0.70), (0.85, 0.45, 0.15), (0.30, 0.60, 0.30), (0.60, 0.25, 0.55))

LABELS = {
    "eye": {"en": ("Cornea", "Lens", "Iris", "Vitreous", "Retina", "Choroid", "Sclera", "Macula", "Optic nerve"),
            "zh": ("角膜", "晶状体", "虹膜", "玻璃体", "视网膜", "脉络膜", "巩膜", "黄斑", "视神经")},
    "bar_x": {"en": ("No DR", "Mild", "Moderate", "Severe", "PDR"), "zh": ("无", "轻度", "中度", "重度", "增殖期")},
    "bar_y": {"en": "Eyes (%)", "zh": "眼数（%）"},
    "line_x": {"en": "Months", "zh": "月"},
    "line_y": {"en": "CST (um)", "zh": "厚度（um）"},
    "series": {"en": ("Ranibizumab", "Aflibercept", "Laser"), "zh": ("雷珠单抗", "阿柏西普", "激光")},
    "flow": {"en": ("Fundus photography", "Grading", "Referable DR?", "Retina clinic", "Annual recall"),
             "zh": ("眼底照相", "阅片分级", "需转诊?", "眼底病门诊", "每年复查")},
    "flow_thumbs": {"en": ("Image collection", "Reader 1", "Reader 2", "Adjudication", "Final grade"),
                    "zh": ("图像采集", "阅片者1", "阅片者2", "仲裁", "最终分级")},
}


class Canvas:
    """A Shape wrapper that remembers the box of everything drawn."""

    def __init__(self, shape: pymupdf.Shape, font: str) -> None:
        self.shape = shape
        self.font = font
        self.boxes: list[Box] = []

    def line(self, p: tuple[float, float], q: tuple[float, float], colour: Colour = (0, 0, 0),
             width: float = 0.8) -> None:
        self.shape.draw_line(p, q)
        self.shape.finish(color=colour, width=width)
        hw = width / 2
        self.boxes.append((min(p[0], q[0]) - hw, min(p[1], q[1]) - hw, max(p[0], q[0]) + hw, max(p[1], q[1]) + hw))

    def rect(self, r: Box, fill: Colour | None = None, colour: Colour | None = (0, 0, 0), width: float = 0.8,
             radius: float | None = None) -> None:
        self.shape.draw_rect(pymupdf.Rect(r), radius=radius)
        self.shape.finish(color=colour, fill=fill, width=width if colour else 0)
        hw = width / 2 if colour else 0
        self.boxes.append((r[0] - hw, r[1] - hw, r[2] + hw, r[3] + hw))

    def poly(self, pts: list[tuple[float, float]], colour: Colour | None = (0, 0, 0), fill: Colour | None = None,
             width: float = 0.8, closed: bool = False) -> None:
        self.shape.draw_polyline(pts)
        self.shape.finish(color=colour, fill=fill, width=width, closePath=closed)
        hw = width / 2
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        self.boxes.append((min(xs) - hw, min(ys) - hw, max(xs) + hw, max(ys) + hw))

    def circle(self, c: tuple[float, float], r: float, colour: Colour | None = (0, 0, 0), fill: Colour | None = None,
               width: float = 0.8) -> None:
        self.shape.draw_circle(c, r)
        self.shape.finish(color=colour, fill=fill, width=width)
        hw = width / 2
        self.boxes.append((c[0] - r - hw, c[1] - r - hw, c[0] + r + hw, c[1] + r + hw))

    def text(self, x: float, baseline: float, s: str, size: float = 6.5, anchor: str = "left",
             colour: Colour = (0, 0, 0)) -> Box:
        lines = wrap(split_runs(s, self.font), 1e9, size)
        ln = lines[0]
        if anchor == "center":
            x -= ln.width / 2
        elif anchor == "right":
            x -= ln.width
        box = draw_line(self.shape, ln, x, baseline, colour)
        self.boxes.append(box)
        return box

    def bbox(self) -> Box:
        return (min(b[0] for b in self.boxes), min(b[1] for b in self.boxes),
                max(b[2] for b in self.boxes), max(b[3] for b in self.boxes))


def _arrow(cv: Canvas, p: tuple[float, float], q: tuple[float, float]) -> None:
    cv.line(p, q, width=0.7)
    a = math.atan2(q[1] - p[1], q[0] - p[0])
    s = 3.5
    pts = [q, (q[0] - s * math.cos(a - 0.4), q[1] - s * math.sin(a - 0.4)),
           (q[0] - s * math.cos(a + 0.4), q[1] - s * math.sin(a + 0.4))]
    cv.poly(pts, colour=(0, 0, 0), fill=(0, 0, 0), width=0.3, closed=True)


def bar_chart(cv: Canvas, rect: Box, rng: random.Random, lang: str) -> None:
    x0, y0, x1, y1 = rect
    px0, py0, px1, py1 = x0 + 26, y0 + 14, x1 - 4, y1 - 16
    cats = LABELS["bar_x"][lang]
    nser = rng.choice([1, 2])
    cv.line((px0, py1), (px1, py1))
    cv.line((px0, py0), (px0, py1))
    for k in range(5):
        yy = py1 - k * (py1 - py0) / 4
        cv.line((px0 - 2, yy), (px0, yy), width=0.5)
        cv.text(px0 - 3, yy + 2, str(k * 20), 6, "right")
    cv.text(x0 + 1, y0 + 7, LABELS["bar_y"][lang], 6)  # axis title above the axis
    gw = (px1 - px0) / len(cats)
    bw = gw * 0.7 / nser
    for i, c in enumerate(cats):
        for s in range(nser):
            v = rng.uniform(0.08, 0.95)
            bx = px0 + i * gw + gw * 0.15 + s * bw
            cv.rect((bx, py1 - v * (py1 - py0), bx + bw, py1), fill=PALETTE[s], colour=None)
        cv.text(px0 + (i + 0.5) * gw, py1 + 9, c, 6, "center")
    if nser == 2:
        for s in range(2):
            lx = px1 - 60
            ly = py0 + 4 + 9 * s
            cv.rect((lx, ly - 5, lx + 6, ly + 1), fill=PALETTE[s], colour=None)
            cv.text(lx + 9, ly, LABELS["series"][lang][s], 6)


def line_plot(cv: Canvas, rect: Box, rng: random.Random, lang: str) -> None:
    x0, y0, x1, y1 = rect
    px0, py0, px1, py1 = x0 + 28, y0 + 14, x1 - 6, y1 - 20
    months = [0, 1, 3, 6, 9, 12]
    cv.line((px0, py1), (px1, py1))
    cv.line((px0, py0), (px0, py1))
    for k in range(5):
        yy = py1 - k * (py1 - py0) / 4
        cv.line((px0 - 2, yy), (px0, yy), width=0.5)
        cv.text(px0 - 3, yy + 2, str(200 + 50 * k), 6, "right")
    for m in months:
        xx = px0 + m / 12 * (px1 - px0 - 8) + 4
        cv.line((xx, py1), (xx, py1 + 2), width=0.5)
        cv.text(xx, py1 + 9, str(m), 6, "center")
    cv.text((px0 + px1) / 2, y1 - 2, LABELS["line_x"][lang], 6.5, "center")
    cv.text(x0 + 1, y0 + 7, LABELS["line_y"][lang], 6)
    nser = rng.choice([2, 3])
    for s in range(nser):
        start = rng.uniform(0.7, 0.95)
        vals = [start] + [start * rng.uniform(0.35, 0.6) + rng.uniform(-0.05, 0.05) for _ in months[1:]]
        pts = [(px0 + m / 12 * (px1 - px0 - 8) + 4, py1 - v * (py1 - py0)) for m, v in zip(months, vals, strict=True)]
        cv.poly(pts, colour=PALETTE[s], width=1.0)
        for p in pts:
            err = rng.uniform(3, 8)
            cv.line((p[0], p[1] - err), (p[0], p[1] + err), PALETTE[s], 0.5)
            cv.circle(p, 1.6, PALETTE[s], PALETTE[s], 0.5)
        lx, ly = px1 - 62, py0 + 5 + 9 * s
        cv.line((lx, ly - 2), (lx + 8, ly - 2), PALETTE[s], 1.0)
        cv.text(lx + 11, ly, LABELS["series"][lang][s], 6)


def eye_schematic(cv: Canvas, rect: Box, rng: random.Random, lang: str) -> None:
    x0, y0, x1, y1 = rect
    h = y1 - y0
    r = min(h * 0.4, (x1 - x0) * 0.28)
    c = (x0 + (x1 - x0) * 0.45, y0 + h / 2)
    names = LABELS["eye"][lang]

    def arc(rad: float, a0: float, a1: float, colour: Colour, width: float) -> list[tuple[float, float]]:
        pts = [(c[0] + rad * math.cos(math.radians(a)), c[1] + rad * math.sin(math.radians(a)))
               for a in np.linspace(a0, a1, 60)]
        cv.poly(pts, colour=colour, width=width)
        return pts

    arc(r, -145, 145, (0.35, 0.35, 0.35), 2.0)  # sclera (the front is open for the cornea)
    arc(r - 3, -140, 140, (0.55, 0.25, 0.15), 1.5)  # choroid
    arc(r - 5.5, -120, 120, (0.85, 0.35, 0.2), 1.2)  # retina stops at the ora serrata
    # cornea: a steeper arc in front
    front = c[0] - r * math.cos(math.radians(35))
    cr = r * 0.62
    ccx = front + cr * math.cos(math.radians(35)) * 0.55
    pts = [(ccx - cr * math.cos(math.radians(a)), c[1] + cr * math.sin(math.radians(a))) for a in np.linspace(-60, 60, 40)]
    cv.poly(pts, colour=(0.2, 0.4, 0.7), width=1.2)
    lens_c = (c[0] - r * 0.62, c[1])
    cv.shape.draw_oval(pymupdf.Rect(lens_c[0] - r * 0.12, c[1] - r * 0.3, lens_c[0] + r * 0.12, c[1] + r * 0.3))
    cv.shape.finish(color=(0.3, 0.3, 0.3), fill=(0.85, 0.9, 1.0), width=0.8)
    cv.boxes.append((lens_c[0] - r * 0.12, c[1] - r * 0.3, lens_c[0] + r * 0.12, c[1] + r * 0.3))
    for s in (-1, 1):  # iris
        cv.line((lens_c[0] - r * 0.14, c[1] + s * r * 0.2), (lens_c[0] - r * 0.14, c[1] + s * r * 0.55),
                (0.4, 0.25, 0.1), 1.6)
    # optic nerve leaving the back, just below the axis; macula on the axis
    on = c[1] + r * 0.18
    cv.line((c[0] + r - 1, on - 6), (min(x1 - 2, c[0] + r + 22), on - 8), (0.3, 0.3, 0.3), 1.0)
    cv.line((c[0] + r - 1, on + 6), (min(x1 - 2, c[0] + r + 22), on + 8), (0.3, 0.3, 0.3), 1.0)
    mac = (c[0] + r - 5.5, c[1] - r * 0.02)
    cv.circle(mac, 1.8, (0.6, 0.2, 0.1), (0.6, 0.2, 0.1), 0.4)
    targets = [(pts[len(pts) // 3][0], pts[len(pts) // 3][1]), (lens_c[0], c[1] - r * 0.1),
               (lens_c[0] - r * 0.14, c[1] - r * 0.45), (c[0], c[1] + r * 0.2),
               (c[0] + (r - 5.5) * math.cos(math.radians(-60)), c[1] + (r - 5.5) * math.sin(math.radians(-60))),
               (c[0] + (r - 3) * math.cos(math.radians(-85)), c[1] + (r - 3) * math.sin(math.radians(-85))),
               (c[0] + r * math.cos(math.radians(-110)), c[1] + r * math.sin(math.radians(-110))),
               mac, (c[0] + r + 14, on)]
    left = [0, 1, 2]
    for i, (name, t) in enumerate(zip(names, targets, strict=True)):
        if i in left:
            lx = x0 + 2
            ly = y0 + 10 + i * (h * 0.28)
            lb = cv.text(lx, ly, name, 6.5)
            cv.line((lb[2] + 1, ly - 2), t, (0.4, 0.4, 0.4), 0.4)
        else:
            lx = x1 - 40
            ly = y0 + 9 + (i - 3) * (h - 14) / 5
            cv.line((lx - 1, ly - 2), t, (0.4, 0.4, 0.4), 0.4)
            cv.text(lx, ly, name, 6.5)


def flowchart(cv: Canvas, rect: Box, rng: random.Random, lang: str, page: pymupdf.Page | None = None,
              thumbs: int = 0, nprng: np.random.Generator | None = None) -> int:
    """Boxes and arrows; with `thumbs`, small CFP images sit in the first box (a borderline figure)."""
    x0, y0, x1, y1 = rect
    names = LABELS["flow_thumbs" if thumbs else "flow"][lang]
    w = x1 - x0
    h = y1 - y0
    bw = w * 0.22
    bh = min(22.0, h * 0.18)
    cols = [x0 + 2, x0 + w * 0.39, x1 - bw - 2]
    placed = 0
    if thumbs and page is not None and nprng is not None:
        tb = (x0 + 2, y0 + 2, x0 + 2 + bw, y1 - 2)
        cv.rect(tb, colour=(0.3, 0.3, 0.3), width=0.6)
        cv.text((tb[0] + tb[2]) / 2, tb[1] + 9, names[0], 6.5, "center")
        side = min(bw - 8, (tb[3] - tb[1] - 16) / thumbs - 3)
        for k in range(thumbs):
            ty = tb[1] + 14 + k * (side + 3)
            r = (tb[0] + (bw - side) / 2, ty, tb[0] + (bw + side) / 2, ty + side)
            img = draw_cfp(nprng, 200, 200, ())
            page.insert_image(pymupdf.Rect(r), stream=encode(img, "jpg", 80))
            cv.boxes.append(r)
            placed += 1
        first = ((tb[2], (tb[1] + tb[3]) / 2),)
    else:
        b = (cols[0], y0 + h / 2 - bh / 2, cols[0] + bw, y0 + h / 2 + bh / 2)
        cv.rect(b, fill=(0.9, 0.93, 1.0), radius=0.2)
        cv.text((b[0] + b[2]) / 2, (b[1] + b[3]) / 2 + 2, names[0], 6.5, "center")
        first = ((b[2], (b[1] + b[3]) / 2),)
    mids = []
    for k in range(2):
        yy = y0 + h * (0.28 + 0.44 * k)
        b = (cols[1], yy - bh / 2, cols[1] + bw, yy + bh / 2)
        cv.rect(b, fill=(1.0, 0.95, 0.85), radius=0.2)
        cv.text((b[0] + b[2]) / 2, yy + 2, names[1 + k], 6.5, "center")
        _arrow(cv, first[0], (b[0], yy))
        mids.append((b[2], yy))
    for k in range(2):
        yy = y0 + h * (0.28 + 0.44 * k)
        b = (cols[2], yy - bh / 2, cols[2] + bw, yy + bh / 2)
        cv.rect(b, fill=(0.88, 0.97, 0.88), radius=0.2)
        cv.text((b[0] + b[2]) / 2, yy + 2, names[3 + k], 6.5, "center")
        _arrow(cv, mids[k], (b[0], yy))
    return placed
