"""Figure regions on a rendered page: large areas of ink that are not text (OpenCV).

On a scanned page the whole page is one image, so pictures and charts have to be found in the pixels:

1. a reduced grey copy (~100 dpi) is split into ink and paper (the paper level is read from the page
   margins, so tinted paper is paper; a page without paper margins, a picture filling it, has no regions);
2. the text OCR read (paragraphs, captions, labels) is blanked where it lies on paper (text printed on a
   photograph is part of it); the dashes of a frame that Tesseract read as ``1`` or ``|`` stay ink;
3. a closing joins the strokes of a chart and fills the gaps of a photograph; connected components of
   figure size are kept (a sparse one only when its ink runs through its inside, like a line chart's
   curves, and not only along its edges, or when it frames other graphics, like the dashed boxes of a
   flow diagram), nested and overlapping ones merged; small ink beside them that OCR did not read (tick
   labels of a chart with faint axes) joins them;
4. each region's box is the extent of its own ink, in points of the image it was found on: the
   straightened page (:mod:`~mmretinal_builder.pdf.scan.frame` keeps it as a turned rectangle of the page).

Labels that OCR did read are left to the figure-candidate builder, which absorbs nearby non-prose text
lines, exactly as for born-digital figures (a label printed over a region belongs to it without widening
it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ...geometry import BBox, gap, horizontal_overlap, intersection, union, vertical_overlap

WORK_DPI = 100.0


@dataclass(frozen=True)
class RegionConfig:
    """Thresholds of the region finder (points unless said otherwise)."""

    min_size: float = 28.0  # both sides at least this: smaller ink is never a figure on its own
    close: float = 6.0  # gaps this small inside a figure are bridged
    ink_contrast: int = 20  # grey levels below the paper that count as ink (light grey chart text too)
    text_fill: float = 0.75  # a word box with more ink than this lies on a picture: not blanked (small dense
    # Chinese print inks up to about 0.6 of its boxes at the working resolution; photographs nearly all)
    min_ink: float = 0.03  # share of a region's box that must be ink (a lone frame or axes are not a figure)
    merge_gap: float = 2.0  # regions closer than this are one
    absorb: float = 18.0  # small unread ink this close to a region, beside it, is its label
    min_paper: int = 160  # grey level the page margins must reach to be paper


def paper_level(gray: np.ndarray) -> int:
    """Grey level of the paper: the median of the outer margin ring of the page."""
    h, w = gray.shape[:2]
    r = max(2, int(0.03 * min(h, w)))
    ring = np.concatenate([gray[:r].ravel(), gray[-r:].ravel(), gray[:, :r].ravel(), gray[:, -r:].ravel()])
    return int(np.median(ring))


def ink_mask(gray: np.ndarray, contrast: int) -> np.ndarray:
    """uint8 mask (1 = ink) of pixels clearly darker than the paper."""
    level = paper_level(gray)
    return (gray < max(level - contrast, 1)).astype(np.uint8)


def find_regions(gray: np.ndarray, dpi: float, text_boxes: Sequence[BBox], cfg: RegionConfig | None = None,
                 ) -> list[BBox]:
    """Figure regions (points) on a grey render at ``dpi``; ``text_boxes`` (points) cover the text OCR read."""
    cfg = cfg or RegionConfig()
    f = max(1, round(dpi / WORK_DPI))
    small = cv2.resize(gray, (gray.shape[1] // f, gray.shape[0] // f), interpolation=cv2.INTER_AREA) if f > 1 \
        else gray
    ppt = (dpi / f) / 72.0  # pixels of the reduced copy per point
    if paper_level(small) < cfg.min_paper:
        return []  # no paper around the page: a picture filling the page, not a printed page with figures
    ink = ink_mask(small, cfg.ink_contrast)
    h, w = ink.shape
    near_text = np.zeros_like(ink)  # around blanked text: leftover specks there are text, not labels
    m = int(round(2 * ppt))
    for b in text_boxes:
        x0, y0 = max(0, int(b[0] * ppt) - 1), max(0, int(b[1] * ppt) - 1)
        x1, y1 = min(w, int(np.ceil(b[2] * ppt)) + 1), min(h, int(np.ceil(b[3] * ppt)) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        if ink[y0:y1, x0:x1].mean() <= cfg.text_fill:
            ink[y0:y1, x0:x1] = 0
            near_text[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m] = 1
    k = max(1, int(round(cfg.close * ppt)))
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    closed |= ink  # OpenCV's closing with an even kernel is shifted by a pixel: no ink may fall outside it
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    min_px = cfg.min_size * ppt
    boxes: list[BBox] = []
    sparse: list[tuple[BBox, int]] = []  # figure-sized but nearly empty: axes, frames; kept only next to a figure
    small: list[BBox] = []  # label-sized ink
    for i in range(1, n):
        x, y, bw, bh, a = (int(v) for v in stats[i])
        if bw < min_px or bh < min_px:
            if bw < min_px and bh < min_px and a >= 3 and max(bw, bh) <= 6 * min(bw, bh) + 2 \
                    and not near_text[y:y + bh, x:x + bw].any():
                # label-like: not a piece of a rule, not a speck of noise, not what is left of masked text
                small.append((float(x), float(y), float(x + bw), float(y + bh)))
            continue
        own = ink[y:y + bh, x:x + bw] & (labels[y:y + bh, x:x + bw] == i)
        ys, xs = np.nonzero(own)
        box = (float(x + xs.min()), float(y + ys.min()), float(x + xs.max() + 1), float(y + ys.max() + 1))
        dense = own.mean() >= cfg.min_ink or _drawn_across(own, cfg.min_ink)
        # a frame around graphics (the dashed box of a flow diagram, a panel's border) is a figure; a frame
        # around running text (a sidebar) is not: that text was blanked above, so its inside is empty
        framed = not dense and _outlines(own) and _drawn_across(ink[y:y + bh, x:x + bw], cfg.min_ink) \
            and ink[y:y + bh, x:x + bw].mean() >= cfg.min_ink
        if dense or framed:
            boxes.append(box)
        else:
            sparse.append((box, i))
    merged = merge_boxes(boxes, cfg.merge_gap * ppt)
    # the faint axes of a chart are sparse: they join the chart's lines they enclose or touch - their ink
    # must come that close, not only their box (the L of a page edge left by a border has a box over everything)
    reach = int(np.ceil(cfg.merge_gap * ppt)) + 1
    merged = [union([b] + [s for s, i in sparse if _ink_near(labels, i, s, b, reach)]) for b in merged]
    merged = absorb_labels(merge_boxes(merged, cfg.merge_gap * ppt), small, cfg.absorb * ppt)
    merged = merge_boxes(merged, cfg.merge_gap * ppt)
    out = [(b[0] / ppt, b[1] / ppt, b[2] / ppt, b[3] / ppt) for b in merged]
    out.sort(key=lambda b: (round(b[1], 1), round(b[0], 1)))
    return [tuple(round(v, 2) for v in b) for b in out]  # type: ignore[misc]


def _ink_near(labels: np.ndarray, i: int, box: BBox, region: BBox, reach: int) -> bool:
    """Component ``i`` (its box ``box``) has pixels within ``reach`` pixels of ``region``."""
    if intersection(box, region) <= 0 and gap(box, region) > reach:
        return False
    h, w = labels.shape
    x0, y0 = max(0, int(region[0]) - reach), max(0, int(region[1]) - reach)
    x1, y1 = min(w, int(np.ceil(region[2])) + reach), min(h, int(np.ceil(region[3])) + reach)
    return bool((labels[y0:y1, x0:x1] == i).any())


def _drawn_across(own: np.ndarray, min_ink: float) -> bool:
    """A sparse component whose ink runs through its inside (the curves of a line chart), not only along
    its edges (a frame, a pair of axes): at least a quarter of the inner rows and columns hold ink."""
    h, w = own.shape
    inner = own[h // 10:h - h // 10, w // 10:w - w // 10]
    if inner.size == 0 or own.mean() < min_ink / 3:
        return False
    return bool(inner.any(axis=1).mean() >= 0.25 and inner.any(axis=0).mean() >= 0.25)


def _outlines(own: np.ndarray, share: float = 0.6) -> bool:
    """The component runs along at least three sides of its box (a frame, dashed or not), not one or two
    (an L of axes, the remains of a page edge)."""
    h, w = own.shape
    band_y, band_x = max(2, h // 30), max(2, w // 30)
    sides = (own[:band_y].any(axis=0), own[-band_y:].any(axis=0), own[:, :band_x].any(axis=1),
             own[:, -band_x:].any(axis=1))
    return sum(float(s.mean()) >= share for s in sides) >= 3


def absorb_labels(regions: Sequence[BBox], small: Sequence[BBox], reach: float) -> list[BBox]:
    """Grow regions by the small ink nearby that OCR did not read (tick labels of a chart with faint axes,
    panel letters): a small box within ``reach`` of a region and beside it (overlapping its extent across)
    joins it; repeated, so a column of labels joins one after the other."""
    out = list(regions)
    pending = list(small)
    changed = True
    while changed and out and pending:
        changed = False
        rest = []
        for b in pending:
            best = None
            for k, r in enumerate(out):
                d = gap(r, b)
                if d <= reach and (horizontal_overlap(r, b) >= 0.5 or vertical_overlap(r, b) >= 0.5) \
                        and (best is None or d < best[0]):
                    best = (d, k)
            if best is None:
                rest.append(b)
            else:
                out[best[1]] = union([out[best[1]], b])
                changed = True
        pending = rest
    return out


def merge_boxes(boxes: Sequence[BBox], max_gap: float) -> list[BBox]:
    """Merge boxes that overlap or come within ``max_gap`` (repeated until stable)."""
    out = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if intersection(out[i], out[j]) > 0 or gap(out[i], out[j]) <= max_gap:
                    out[i] = union([out[i], out[j]])
                    del out[j]
                    changed = True
                    break
            if changed:
                break
    return out


def solid_pictures(gray: np.ndarray, dpi: float, min_size: float = 28.0, min_fill: float = 0.6,
                   contrast: int = 40) -> list[tuple[int, int, int, int]]:
    """Boxes (pixels of ``gray``) of dense dark areas of figure size: photographs, not text or charts.

    Blanked before OCR: Tesseract then neither reads texture as text nor merges a caption line printed
    close to a photograph into the photograph's block (and loses it).
    """
    f = max(1, round(dpi / WORK_DPI))
    small = cv2.resize(gray, (gray.shape[1] // f, gray.shape[0] // f), interpolation=cv2.INTER_AREA) if f > 1 \
        else gray
    ppt = (dpi / f) / 72.0
    ink = ink_mask(small, contrast)
    ink = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = (int(v) for v in stats[i])
        if w >= min_size * ppt and h >= min_size * ppt and a >= min_fill * w * h:
            out.append((x * f, y * f, (x + w) * f, (y + h) * f))
    return out


# ----------------------------------------------------------------------------- furniture

SIGNATURE_SIDE = 8  # a region's signature: its grey levels averaged into 8 x 8 cells
MARGIN_BAND = 0.15  # share of the page height (width) at the top and bottom (sides) where furniture lives
SAME_PLACE = 0.02  # share of the page side two boxes of furniture may differ by (scans shift a little)
SAME_LOOK = 18.0  # mean grey-level difference of two signatures of the same furniture (noise, JPEG)


def region_signature(gray: np.ndarray, box: BBox, scale: float) -> tuple[int, ...]:
    """A tiny thumbnail of the region ``box`` (points; ``scale`` pixels per point of ``gray``)."""
    h, w = gray.shape[:2]
    x0, y0 = max(0, int(box[0] * scale)), max(0, int(box[1] * scale))
    x1, y1 = min(w, max(x0 + 1, int(np.ceil(box[2] * scale)))), min(h, max(y0 + 1, int(np.ceil(box[3] * scale))))
    crop = gray[y0:y1, x0:x1]
    if crop.size == 0:
        return ()
    thumb = cv2.resize(crop, (SIGNATURE_SIDE, SIGNATURE_SIDE), interpolation=cv2.INTER_AREA)
    return tuple(int(v) for v in thumb.ravel())


def _in_margin(box: BBox, size: tuple[float, float]) -> bool:
    w, h = size
    return (box[3] <= MARGIN_BAND * h or box[1] >= (1 - MARGIN_BAND) * h
            or box[2] <= MARGIN_BAND * w or box[0] >= (1 - MARGIN_BAND) * w)


def repeated_regions(pages: Sequence[tuple[int, tuple[float, float], Sequence[BBox], Sequence[tuple[int, ...]]]],
                     n_pages: int) -> dict[int, set[int]]:
    """Regions of scanned pages that are page furniture: a banner, a logo, a rule printed in the margin band
    at the same place and looking the same on many pages (as many as
    :func:`~mmretinal_builder.pdf.layout.mark_decorations` asks of born-digital furniture).

    ``pages``: (page number, page size, regions, their signatures) in the straight frame. Returns page
    number -> indices of its furniture regions. A book that sets a different photograph at one place on
    every page keeps them: the look differs, and figures are not set in the margin band.
    """
    need = max(3, int(0.3 * n_pages + 0.999))
    items = [(n, k, b, sig, size) for n, size, regions, sigs in pages
             for k, (b, sig) in enumerate(zip(regions, sigs, strict=True)) if sig and _in_margin(b, size)]
    out: dict[int, set[int]] = {}
    for n, k, b, sig, size in items:
        tol = SAME_PLACE * max(size)
        pages_alike = {n2 for n2, _, b2, sig2, _ in items
                       if all(abs(p - q) <= tol for p, q in zip(b, b2, strict=True))
                       and len(sig2) == len(sig)
                       and float(np.mean(np.abs(np.asarray(sig, float) - np.asarray(sig2, float)))) <= SAME_LOOK}
        if len(pages_alike) >= need:
            out.setdefault(n, set()).add(k)
    return out
