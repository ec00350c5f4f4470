"""Figures that are ONE raster of tiles with no or thin gutters, and photographs with zoomed crops beside them.

Two figure kinds (ground-truth ``kind``):

* ``compound-tiles``: tiles pasted edge to edge or 1-2 px apart, letters drawn inside the tiles (or PDF
  text). Stories: a photograph with maps made from it (vessel segmentations, a lesion map, a heat map) in a
  strip; photographs over their maps in two rows; a grid of photographs; OCT B-scans beside their layer
  maps. Maps are no retinal photographs: every panel's ground truth says what it shows (``content``) and
  whether it is one (``retinal``).
* ``compound-inset``: one or two photographs, each with one or two magnified crops of a boxed area beside
  it. A crop is part of its photograph's panel (the panel box covers both).

Each builder returns the composite, the panel boxes (pixels) and what each panel shows; captions come from
:func:`tile_caption` (English, Chinese, Spanish, German; other languages get the English text).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

from . import fundus, maps
from .captions import HEAD_STYLES, Caption, HeadStyle, LabelStyle, Segment
from .panels import burn_letter
from .vocab import Disease

Box = tuple[int, int, int, int]


@dataclass
class TilePanel:
    """One panel of a tile figure: what it shows and the imaging modality behind it."""

    content: str  # one of maps.CONTENTS
    modality: str  # CFP, FFA, OCT (the photograph a map was made from: its panel modality is "other")

    @property
    def retinal(self) -> str:
        return "yes" if self.content == "photograph" else "no"

    @property
    def panel_modality(self) -> str:
        return self.modality if self.content == "photograph" else "other"


def _bgr(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img


def _photo(nprng: np.random.Generator, mod: str, d: Disease, w: int, h: int, real: bool) -> np.ndarray:
    """A photograph of modality ``mod``; a CFP is sometimes scikit-image's retina(), sometimes cropped so its
    content reaches the frame (then two tiles meet picture to picture, not surround to surround)."""
    if mod == "OCT":
        return _bgr(fundus.draw_oct(nprng, w, h, d.oct_signs))
    if mod == "FFA":
        img = _bgr(fundus.draw_ffa(nprng, int(w * 1.25), int(h * 1.25), d.ffa_signs, phase=1))
    elif real:
        img = fundus.retina_variant(nprng, int(w * 1.25), int(h * 1.25))
    else:
        img = fundus.draw_cfp(nprng, int(w * 1.25), int(h * 1.25), d.lesions, d.cup)
    H, W = img.shape[:2]
    if nprng.random() < 0.5:  # the whole field of view, its dark surround touching the frame
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    x0, y0 = int(0.1 * W), int(0.1 * H)  # a central crop: picture up to the frame
    return cv2.resize(img[y0:H - y0, x0:W - x0], (w, h), interpolation=cv2.INTER_AREA)


def _map(photo: np.ndarray, content: str, mod: str, nprng: np.random.Generator) -> np.ndarray:
    if content == "vessel-map":
        return _bgr(maps.vessel_map(photo, inverted=nprng.random() < 0.3, bright_vessels=mod == "FFA",
                                    outline=nprng.random() < 0.3))
    if content == "lesion-map":
        return maps.lesion_map(photo, nprng)
    if content == "heatmap":
        return maps.heat_map(photo, nprng, overlay=nprng.random() < 0.6)
    if content == "layer-map":
        return maps.layer_map(photo)
    raise ValueError(f"no map of kind {content!r}")


def grid(tiles: list[list[np.ndarray]], gutter: int, value: int) -> tuple[np.ndarray, list[Box]]:
    """Tiles row by row (a row's tiles share a height), ``gutter`` px of grey ``value`` between them."""
    width = max(sum(t.shape[1] for t in row) + gutter * (len(row) - 1) for row in tiles)
    height = sum(row[0].shape[0] for row in tiles) + gutter * (len(tiles) - 1)
    canvas = np.full((height, width, 3), value, np.uint8)
    boxes: list[Box] = []
    y = 0
    for row in tiles:
        x = 0
        for t in row:
            h, w = t.shape[:2]
            canvas[y:y + h, x:x + w] = _bgr(t)
            boxes.append((x, y, x + w, y + h))
            x += w + gutter
        y += row[0].shape[0] + gutter
    return canvas, boxes


STORIES = ("maps-strip", "maps-rows", "photo-grid", "oct-layers")


def tile_figure(nprng: np.random.Generator, d: Disease, side: int, story: str
                ) -> tuple[np.ndarray, list[Box], list[TilePanel], str]:
    """A raster of tiles for ``story`` (tiles about ``side`` px): image, panel boxes, panels, layout note."""
    gutter = int(nprng.choice([0, 0, 1, 2]))
    value = int(nprng.choice([255, 0]))
    real = nprng.random() < 0.35
    mod = "FFA" if nprng.random() < 0.2 else "CFP"
    if story == "maps-strip":
        photo = _photo(nprng, mod, d, side, side, real)
        kinds = ["vessel-map", "lesion-map", "heatmap", "vessel-map"][: int(nprng.integers(2, 5))]
        if mod == "FFA":
            kinds = [k for k in kinds if k != "lesion-map"] or ["vessel-map"]
        tiles = [photo] + [_map(photo, k, mod, nprng) for k in kinds]
        panels = [TilePanel("photograph", mod)] + [TilePanel(k, mod) for k in kinds]
        img, boxes = grid([tiles], gutter, value)
        shape = f"1x{len(tiles)}"
    elif story == "maps-rows":
        k = int(nprng.integers(2, 4))
        kind = str(nprng.choice(["vessel-map", "heatmap", "lesion-map"])) if mod == "CFP" else "vessel-map"
        photos = [_photo(nprng, mod, d, side, side, real) for _ in range(k)]
        img, boxes = grid([photos, [_map(p, kind, mod, nprng) for p in photos]], gutter, value)
        panels = [TilePanel("photograph", mod)] * k + [TilePanel(kind, mod)] * k
        shape = f"2x{k}"
    elif story == "photo-grid":
        rows, cols = [(2, 2), (1, 3), (2, 3), (1, 2)][int(nprng.integers(0, 4))]
        tiles = [[_photo(nprng, mod, d, side, side, real) for _ in range(cols)] for _ in range(rows)]
        img, boxes = grid(tiles, gutter, value)
        panels = [TilePanel("photograph", mod)] * (rows * cols)
        shape = f"{rows}x{cols}"
    elif story == "oct-layers":
        n = int(nprng.integers(1, 3))
        w, h = int(side * 1.5), int(side * 0.75)
        rows = []
        for _ in range(n):
            scan = _bgr(fundus.draw_oct(nprng, w, h, d.oct_signs))
            rows.append([scan, maps.layer_map(scan)])
        img, boxes = grid(rows, gutter, value)
        panels = [TilePanel("photograph", "OCT"), TilePanel("layer-map", "OCT")] * n
        shape = f"{n}x2"
    else:
        raise ValueError(f"unknown tile story {story!r}; expected one of {STORIES}")
    where = "edge to edge" if gutter == 0 else f"{gutter} px {'white' if value == 255 else 'black'} gutters"
    return img, boxes, panels, f"{shape} tiles in ONE raster, {where}"


def inset_figure(nprng: np.random.Generator, d: Disease, side: int, n_photos: int
                 ) -> tuple[np.ndarray, list[Box], list[TilePanel], str]:
    """``n_photos`` photographs, each with 1-2 magnified crops of boxed areas beside it (right or below);
    every panel box covers its photograph and its crops."""
    gap, between = int(nprng.integers(4, 10)), int(nprng.integers(14, 24))
    below = nprng.random() < 0.3
    parts = []
    for _ in range(n_photos):
        photo = _photo(nprng, "CFP", d, side, side, nprng.random() < 0.4).copy()
        n_zoom = int(nprng.integers(1, 3))
        zs = (side - gap) // 2  # the crops stacked along the photo's side, each at most half of it
        zooms, marks = [], []
        for _k in range(n_zoom):  # crops of the clean photograph first, then the boxes that mark them
            c = int(side * nprng.uniform(0.18, 0.3))
            x0, y0 = (int(v) for v in nprng.integers(int(0.2 * side), int(0.8 * side) - c, 2))
            zooms.append(cv2.resize(photo[y0:y0 + c, x0:x0 + c].copy(), (zs, zs), interpolation=cv2.INTER_CUBIC))
            marks.append((x0, y0, c))
        colour = (255, 255, 255) if nprng.random() < 0.5 else (0, 255, 255)
        for x0, y0, c in marks:
            cv2.rectangle(photo, (x0, y0), (x0 + c, y0 + c), colour, max(1, side // 200))
        parts.append((photo, zooms, zs))
    sizes = [(side, side + gap + zs) if below else (side + gap + zs, side) for _, _, zs in parts]
    width = sum(w for w, _ in sizes) + between * (n_photos - 1)
    height = max(h for _, h in sizes)
    img = np.full((height, width, 3), 255, np.uint8)
    boxes: list[Box] = []
    x = 0
    for (photo, zooms, zs), (w, h) in zip(parts, sizes, strict=True):
        img[:side, x:x + side] = photo
        for k, z in enumerate(zooms):
            zx, zy = (x + k * (zs + gap), side + gap) if below else (x + side + gap, k * (zs + gap))
            img[zy:zy + zs, zx:zx + zs] = z
        boxes.append((x, 0, x + w, h))
        x += w + between
    panels = [TilePanel("photograph", "CFP")] * n_photos
    where = "below" if below else "beside"
    return img, boxes, panels, f"{n_photos} photograph(s) in ONE raster, magnified crops {where} each (one panel each)"


# --- captions -------------------------------------------------------------------------------------------

_WHAT = {
    "en": {"photograph": {"CFP": "Colour fundus photograph", "FFA": "Fluorescein angiogram",
                          "OCT": "OCT B-scan"},
           "vessel-map": "Retinal vessel segmentation", "lesion-map": "Lesion segmentation map",
           "heatmap": "Attention heat map of the classifier", "layer-map": "Automated retinal layer segmentation"},
    "zh": {"photograph": {"CFP": "彩色眼底照相", "FFA": "荧光素眼底血管造影", "OCT": "OCT图像"},
           "vessel-map": "视网膜血管分割结果", "lesion-map": "病灶分割图", "heatmap": "模型注意力热图",
           "layer-map": "视网膜分层自动分割"},
    "es": {"photograph": {"CFP": "Retinografía en color", "FFA": "Angiografía con fluoresceína",
                          "OCT": "Tomografía de coherencia óptica"},
           "vessel-map": "Segmentación de los vasos retinianos", "lesion-map": "Mapa de lesiones segmentadas",
           "heatmap": "Mapa de calor de atención del clasificador", "layer-map": "Segmentación automática de capas"},
    "de": {"photograph": {"CFP": "Fundusfotografie", "FFA": "Fluoreszeinangiographie",
                          "OCT": "Optische Kohärenztomographie"},
           "vessel-map": "Segmentierung der Netzhautgefäße", "lesion-map": "Karte der segmentierten Läsionen",
           "heatmap": "Aufmerksamkeitskarte des Klassifikators", "layer-map": "Automatische Schichtsegmentierung"},
}
_PRE = {  # (figures with maps, photographs only)
    "en": (("Automated analysis in {d}.", "Retinal image analysis of a patient with {d}.",
            "Segmentation results in {d}."), ("Fundus images of a patient with {d}.", "{D}.")),
    "zh": (("{d}的自动图像分析。",), ("{d}患者眼底图像。",)),
    "es": (("Análisis automático en {d}.",), ("Imágenes de fondo de ojo en {d}.",)),
    "de": (("Automatische Analyse bei {d}.",), ("Fundusbilder bei {d}.",)),
}
_ZOOM = {"en": " with magnified views of the boxed areas", "zh": "，方框区域放大显示",
         "es": " con ampliación de las zonas recuadradas", "de": " mit Vergrößerung der markierten Bereiche"}


def tile_caption(style: LabelStyle, number: str, d: Disease, panels: list[TilePanel], rng: random.Random,
                 head: HeadStyle, zoom: bool = False) -> Caption:
    """A caption naming every panel: a shared preamble, then one segment per panel."""
    lang = style.lang if style.lang in _WHAT else "en"
    name = d.name.get(lang, d.name["en"])
    what = _WHAT[lang]
    end = "。" if lang == "zh" else "."
    letters = [chr((ord("A") if head.upper else ord("a")) + i) for i in range(len(panels))]
    segs = []
    for i, p in enumerate(panels):
        body = what["photograph"][p.modality] if p.content == "photograph" else what[p.content]
        if zoom:
            body += _ZOOM[lang]
        if p.content == "photograph" and lang == "en" and rng.random() < 0.5:
            body += f" of the {rng.choice(['right', 'left'])} eye"
        segs.append(Segment((letters[i].lower(),), head.single(letters[i]), body + end))
    maps_shown = any(p.content != "photograph" for p in panels)
    pre = rng.choice(_PRE[lang][0 if maps_shown else 1]).format(d=name, D=name[:1].upper() + name[1:])
    if len(panels) == 1:  # one panel (a photograph with its crops): no panel heads
        body = segs[0].body
        sep = "" if lang == "zh" else " "
        return Caption(lang, style.label(number), style.printed(number), pre + sep + body, [],
                       bold_label=rng.random() < 0.75)
    return Caption(lang, style.label(number), style.printed(number), pre, segs,
                   bold_label=rng.random() < 0.75, bold_heads=rng.random() < 0.4)


def head_style(lang: str, rng: random.Random) -> HeadStyle:
    return rng.choice(HEAD_STYLES.get(lang, HEAD_STYLES["en"]))


def burn_letters(img: np.ndarray, boxes: list[Box], texts: list[str], on_white: bool) -> None:
    for b, t in zip(boxes, texts, strict=True):
        burn_letter(img, t, "tl", b, on_white=on_white)
