"""Figure content for the sample books: which images a figure holds, its caption, letters and notes."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from . import fundus, negatives, tiles
from .captions import HEAD_STYLES, HeadStyle, LabelStyle, compound_caption, other_caption, single_caption
from .layout import FigureSpec, PanelImage
from .panels import burn_letter, composite, encode
from .vocab import DISEASES, Disease

FIGURE_KINDS = ("raster-cfp", "raster-ffa", "raster-oct", "raster-retina", "compound-separate", "compound-single",
                "compound-tiles", "compound-inset", "vector-bar", "vector-line", "vector-eye", "vector-flow",
                "borderline-flow", "neg-device", "neg-external", "neg-rchart")


@dataclass(frozen=True)
class ImageOptions:
    """Pixel size range of generated images and JPEG quality (the bundled set uses smaller images)."""

    min_px: int = 300
    max_px: int = 1500
    jpeg_quality: int = 88


def _image(nprng: np.random.Generator, mod: str, d: Disease, w: int, h: int, arrows: bool = False,
           phase: int | None = None) -> np.ndarray:
    if mod == "CFP":
        return fundus.draw_cfp(nprng, w, h, d.lesions, d.cup, arrows=arrows)
    if mod == "FFA":
        return fundus.draw_ffa(nprng, w, h, d.ffa_signs, phase=int(nprng.integers(0, 4)) if phase is None else phase)
    if mod == "OCT":
        return fundus.draw_oct(nprng, w, h, d.oct_signs)
    raise ValueError(f"no generator for modality {mod!r}")


def _size(nprng: np.random.Generator, mod: str, opts: ImageOptions, scale: float = 1.0) -> tuple[int, int]:
    lo, hi = opts.min_px, max(opts.min_px, int(opts.max_px * scale))
    w = int(nprng.integers(lo, hi + 1))
    if mod == "OCT":
        return w, int(w * nprng.uniform(0.45, 0.7))
    aspect = float(nprng.choice([1.0, 1.0, 1.0, 4 / 3, 1.5]))
    return w, int(round(w / aspect))


def _panel(img: np.ndarray, mod: str, opts: ImageOptions, nprng: np.random.Generator) -> PanelImage:
    small = img.shape[0] * img.shape[1] <= 520_000
    fmt = "png" if small and nprng.random() < (0.5 if img.ndim == 2 else 0.2) else "jpg"
    return PanelImage(encode(img, fmt, opts.jpeg_quality), img.shape[1], img.shape[0], fmt, mod)


def _letter_texts(head: HeadStyle, letters: list[str], rng: random.Random) -> list[str]:
    """Panel letters as drawn: 'A' for upper-case caption heads, else 'a' or '(a)' (one style per figure)."""
    if head.upper:
        return [ch.upper() for ch in letters]
    paren = rng.random() < 0.3
    return [f"({ch})" if paren else ch for ch in letters]


def _rows(mods: list[str], rng: random.Random) -> list[list[int]]:
    """Arrange panels: OCT B-scans (wide) get their own rows under the photographs."""
    n = len(mods)
    octs = [i for i, m in enumerate(mods) if m == "OCT"]
    others = [i for i, m in enumerate(mods) if m != "OCT"]
    rows: list[list[int]] = []
    if others:
        if len(others) == 4 and rng.random() < 0.6:
            rows += [others[:2], others[2:]]
        elif len(others) == 6:
            rows += [others[:3], others[3:]]
        else:
            rows.append(others)
    if octs:
        if len(octs) == 2 and not others and rng.random() < 0.5:
            rows.append(octs)
        else:
            rows += [[i] for i in octs]
    assert sorted(i for r in rows for i in r) == list(range(n))
    return rows


STORIES = {
    "multimodal": (["CFP", "FFA"], ["CFP", "OCT"], ["CFP", "FFA", "OCT"], ["CFP", "FFA", "FFA", "OCT"],
                   ["FFA", "OCT"]),
    "series": (["CFP", "CFP", "CFP"], ["FFA", "FFA"], ["OCT", "OCT"], ["OCT", "OCT", "OCT"], ["CFP", "CFP"]),
    "bilateral": (["CFP", "CFP"], ["CFP", "CFP", "FFA", "FFA"]),
    "gallery": (["CFP"] * 4, ["CFP"] * 6, ["CFP"] * 3),
}


def make_figure(index: int, kind: str, label_style: LabelStyle, number: str, d: Disease, rng: random.Random,
                nprng: np.random.Generator, opts: ImageOptions) -> FigureSpec:
    """Build one figure of the given kind: images (encoded), caption and panel bookkeeping."""
    if kind in ("raster-cfp", "raster-ffa", "raster-oct", "raster-retina"):
        mod = {"raster-cfp": "CFP", "raster-ffa": "FFA", "raster-oct": "OCT", "raster-retina": "CFP"}[kind]
        w, h = _size(nprng, mod, opts)
        arrows = mod == "CFP" and kind != "raster-retina" and rng.random() < 0.25
        if kind == "raster-retina":
            img = fundus.retina_variant(nprng, w, w)
            note = "scikit-image retina() (CC0) crop/resize variant"
        else:
            img = _image(nprng, mod, d, w, h, arrows=arrows)
            note = "procedural" + (", yellow arrows burned in" if arrows else "")
        cap = single_caption(label_style, number, d, mod, rng, arrows=arrows)
        return FigureSpec(index, cap, "raster", "yes", mod, "", [_panel(img, mod, opts, nprng)], note=note)
    if kind in ("compound-separate", "compound-single"):
        return _compound(index, kind, label_style, number, d, rng, nprng, opts)
    if kind in ("compound-tiles", "compound-inset"):
        return _tiles(index, kind, label_style, number, d, rng, nprng, opts)
    if kind.startswith("vector-") or kind == "borderline-flow":
        what = {"vector-bar": "bar", "vector-line": "line", "vector-eye": "eye", "vector-flow": "flow",
                "borderline-flow": "flow-thumbs"}[kind]
        cap = other_caption(label_style, number, what, rng)
        aspect = {"bar": 1.6, "line": 1.6, "eye": 1.9, "flow": 2.3, "flow-thumbs": 1.7}[what]
        if what == "flow-thumbs":
            n = 3
            return FigureSpec(index, cap, "vector", "borderline", "other (workflow diagram with CFP thumbnails)",
                              f"vector flowchart with {n} small CFP thumbnails (embedded images) in the first box",
                              vector=what, aspect=aspect, seed=int(nprng.integers(0, 2**31)), thumbs=n)
        mod_note = {"bar": "bar chart", "line": "line plot", "eye": "schematic eye cross-section",
                    "flow": "flowchart"}[what]
        return FigureSpec(index, cap, "vector", "no", f"other ({mod_note})", "", vector=what, aspect=aspect,
                          width_frac=rng.uniform(0.8, 1.0))
    if kind.startswith("neg-"):
        what = {"neg-device": "device", "neg-external": "external", "neg-rchart": "rchart"}[kind]
        w = int(nprng.integers(opts.min_px, max(opts.min_px, min(opts.max_px, 1000)) + 1))
        h = int(w * nprng.uniform(0.6, 0.8))
        img = {"device": negatives.device_photo, "external": negatives.external_eye,
               "rchart": negatives.raster_chart}[what](nprng, w, h)
        fmt = "png" if what == "rchart" else "jpg"
        pi = PanelImage(encode(img, fmt, opts.jpeg_quality), w, h, fmt, "other")
        mod_note = {"device": "photograph of a fundus camera", "external": "external eye photograph",
                    "rchart": "chart rendered to a raster"}[what]
        return FigureSpec(index, other_caption(label_style, number, what, rng), "raster", "no",
                          f"other ({mod_note})", "", [pi], width_frac=rng.uniform(0.6, 0.95))
    raise ValueError(f"unknown figure kind {kind!r}; expected one of {FIGURE_KINDS}")


def _compound(index: int, kind: str, label_style: LabelStyle, number: str, d: Disease, rng: random.Random,
              nprng: np.random.Generator, opts: ImageOptions) -> FigureSpec:
    lang = label_style.lang
    story = rng.choice(list(STORIES))
    mods = list(rng.choice(STORIES[story]))
    diseases = [rng.choice(DISEASES) for _ in mods] if story == "gallery" else None
    head = rng.choice(HEAD_STYLES[lang])
    cap = compound_caption(label_style, number, d, mods, rng, story, head, diseases)
    letters = [chr(97 + i) for i in range(len(mods))]
    letter_text = _letter_texts(head, letters, rng)
    rows = _rows(mods, rng)
    panel_scale = 0.55
    imgs = []
    for i, m in enumerate(mods):
        w, h = _size(nprng, m, opts, panel_scale)
        if m != "OCT" and story in ("bilateral", "gallery", "series"):
            h = w  # matching photographs are the same size
        dd = diseases[i] if diseases else d
        phase = (1 if i == mods.index("FFA") else 3) if m == "FFA" else None
        imgs.append(_image(nprng, m, dd, w, h, phase=phase))
    uniq = sorted(set(mods), key=mods.index)
    modality = uniq[0] if len(uniq) == 1 else f"mixed ({', '.join(uniq)})"
    grid = " + ".join(f"1x{len(r)}" for r in rows)
    dark = sum(m != "CFP" for m in mods) >= len(mods) / 2
    if kind == "compound-single":
        gutter_value = 0 if dark or rng.random() < 0.3 else 255
        one_row = len(rows) == 1
        style = rng.choices(["burned", "pdf-inside", "pdf-below"], [0.6, 0.25, 0.15 if one_row else 0])[0]
        width_px = int(np.clip(sum(im.shape[1] for im in imgs[: len(rows[0])]), 700, min(1800, opts.max_px * 1.6)))
        comp, boxes = composite(imgs, rows, width_px, int(nprng.integers(6, 18)), gutter_value)
        if style == "burned":
            on_white = gutter_value == 255 and rng.random() < 0.5
            for i, b in enumerate(boxes):
                burn_letter(comp, letter_text[i], "tl", b, on_white=on_white)
        gut = "black" if gutter_value == 0 else "white"
        where = {"burned": "letters burned into the raster", "pdf-inside": "letters are PDF text over the panels",
                 "pdf-below": "letters are PDF text below the panels"}[style]
        note = f"{grid} in ONE raster with {gut} gutters; {where}"
        pi = PanelImage(encode(comp, "jpg" if comp.ndim == 3 or comp.shape[1] > 900 else "png", opts.jpeg_quality),
                        comp.shape[1], comp.shape[0], "jpg" if comp.ndim == 3 or comp.shape[1] > 900 else "png",
                        modality)
        return FigureSpec(index, cap, "compound-single", "yes", modality, note, [pi], [], letters, letter_text,
                          mods, boxes, style, note=f"story: {story}")
    style = rng.choices(["pdf-inside", "pdf-below", "burned"], [0.45, 0.25, 0.3])[0]
    if style == "burned":
        for i, im in enumerate(imgs):
            burn_letter(im, letter_text[i], "tl")
    where = {"burned": "letters burned into each image", "pdf-inside": "letters are PDF text inside panel corners",
             "pdf-below": "letters are PDF text below each panel"}[style]
    note = f"{grid}, one embedded image per panel; {where}"
    panels = [_panel(im, m, opts, nprng) for im, m in zip(imgs, mods, strict=True)]
    return FigureSpec(index, cap, "compound-separate", "yes", modality, note, panels, rows, letters, letter_text,
                      mods, [], style, note=f"story: {story}")


def _tiles(index: int, kind: str, label_style: LabelStyle, number: str, d: Disease, rng: random.Random,
           nprng: np.random.Generator, opts: ImageOptions) -> FigureSpec:
    """One raster of tiles with no or thin gutters (photographs and maps made from them), or photographs with
    magnified crops beside them (:mod:`.tiles`)."""
    side = int(nprng.integers(opts.min_px, max(opts.min_px, int(opts.max_px * 0.45)) + 1))
    if kind == "compound-tiles":
        story = tiles.STORIES[int(nprng.integers(0, len(tiles.STORIES)))]
        img, boxes, panels, note = tiles.tile_figure(nprng, d, side, story)
    else:
        story = "insets"
        img, boxes, panels, note = tiles.inset_figure(nprng, d, side, int(nprng.integers(1, 3)))
    head = tiles.head_style(label_style.lang, rng)
    cap = tiles.tile_caption(label_style, number, d, panels, rng, head, zoom=kind == "compound-inset")
    n = len(panels)
    letters = [chr(97 + i) for i in range(n)] if n > 1 else []
    letter_text = _letter_texts(head, letters, rng) if n > 1 else []
    one_row = len({b[1] for b in boxes}) == 1
    style = "none" if n == 1 else rng.choices(["burned", "pdf-inside", "pdf-below"], [0.6, 0.25, 0.15 if one_row else 0])[0]
    if style == "burned":
        tiles.burn_letters(img, boxes, letter_text, on_white=rng.random() < 0.3)
    where = {"none": "no letters", "burned": "letters burned into the tiles",
             "pdf-inside": "letters are PDF text over the tiles", "pdf-below": "letters are PDF text below"}[style]
    uniq = sorted({p.modality for p in panels if p.content == "photograph"})
    modality = uniq[0] if len(uniq) == 1 else f"mixed ({', '.join(uniq)})"
    fmt = "jpg"
    pi = PanelImage(encode(img, fmt, opts.jpeg_quality), img.shape[1], img.shape[0], fmt, modality)
    contents = ", ".join(sorted({p.content for p in panels}))
    return FigureSpec(index, cap, kind, "yes", modality, f"{note}; {where}", [pi], [], letters, letter_text,
                      [p.panel_modality for p in panels] if n > 1 else [], list(boxes) if n > 1 else [], style,
                      note=f"story: {story}; shows: {contents}",
                      panel_contents=[p.content for p in panels] if n > 1 else [])
