"""Stage ``panels``: split compound figures into panels, name them and give each its sub-caption.

Per figure: panel boxes come from the figure's separate embedded images (``Figure.parts``) and from
splitting the raster at gutters and at seams between tiles that meet without one
(:mod:`mmretinal_builder.panels.split`, :mod:`~mmretinal_builder.panels.seams`); a zoomed crop beside a
panel is part of it (:mod:`~mmretinal_builder.panels.insets`); panel letters from the PDF text
near the panels, else OCR of letters burned into the raster; sub-captions from
:mod:`mmretinal_builder.panels.subcaptions`, bound by label, else by reading order. A figure that is one
picture keeps ``panels == []``. Nothing is dropped: a figure whose image cannot be read is kept as it
is and counted. Sub-captions no panel takes, and panels no sub-caption names, are reported.

The stage never opens the PDF: PDF-text letters and image placements come from the pages the ``pages`` stage
read (``ctx.earlier("pages")``); without that stage, letters are read by OCR only.

The figure image is taken to cover ``Figure.bbox``; when its aspect ratio says otherwise (an embedded
raster whose figure box also holds PDF-text letters below it) the image placement on the page with the
matching aspect ratio is used to map pixels to page points.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from .. import geometry
from ..panels.assign import assign_subcaptions
from ..panels.insets import merge_zooms
from ..panels.labels import (
    assign_labels,
    increasing_subset,
    ocr_corner_tokens,
    ocr_strip_tokens,
    pdf_label_tokens,
    plausible_sequence,
    tesseract_available,
    unify_case,
    whitelist,
)
from ..panels.split import PxBox, SplitParams, reading_order, split_raster
from ..panels.subcaptions import split_subcaptions
from ..pdf.records import PageIndex, PageView
from ..schema import Figure, Panel
from ..stage import Context, Params, Stage


class PanelParams(Params):
    """Gutter thresholds, panel size limits, label sources."""

    white_level: int = Field(225, ge=0, le=255, description="a gutter pixel is white when all channels >= this")
    black_level: int = Field(35, ge=0, le=255, description="a gutter pixel is black when all channels <= this")
    gutter_fill: float = Field(0.985, gt=0.5, le=1.0, description="share of a gutter line that is background")
    min_gutter_px: int = Field(3, ge=1, description="thinnest gutter, pixels")
    min_gutter_frac: float = Field(0.004, ge=0, lt=0.5, description="thinnest gutter, share of the region")
    min_panel_frac: float = Field(0.08, gt=0, lt=1, description="smallest panel side, share of the figure side")
    min_panel_px: int = Field(40, ge=4, description="smallest panel side, pixels")
    max_skew_deg: float = Field(3.0, ge=0, le=10,
                                description="figures of scanned pages are also split deskewed within this angle")
    min_part_frac: float = Field(0.015, ge=0, lt=1,
                                 description="embedded parts smaller than this share of the figure area are no panels")
    label_margin_pt: float = Field(16.0, ge=0, description="how far around the figure PDF-text letters are read")
    ocr: bool = Field(True, description="read letters burned into the raster with Tesseract")
    ocr_languages: str = Field("eng", description="Tesseract languages for panel letters, e.g. 'eng'")
    ocr_corners: bool = Field(True, description="also look for letters in panel corners (slower)")

    def split_params(self) -> SplitParams:
        return SplitParams(white_level=self.white_level, black_level=self.black_level,
                           gutter_fill=self.gutter_fill, min_gutter_px=self.min_gutter_px,
                           min_gutter_frac=self.min_gutter_frac, min_panel_frac=self.min_panel_frac,
                           min_panel_px=self.min_panel_px, max_skew_deg=self.max_skew_deg)


def _read_image(path: Path) -> np.ndarray | None:
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    if data is None or data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return img


def _named_panels(caption: str | None, label: str | None) -> int | None:
    """How many panels the caption names when they run a, b, c... (or A, B, C...) from the first letter
    with none skipped: a prior for how many tiles one raster holds. None otherwise (numbers, roman numerals,
    a gap in the run: the names may mean something else)."""
    names = [x for x in split_subcaptions(caption or "", label).labels() if len(x) == 1 and x.isalpha()]
    if len(names) < 2:
        return None
    first = "a" if names[0].islower() else "A"
    return len(names) if sorted(names) == [chr(ord(first) + i) for i in range(len(names))] else None


def _aspect(b: Any) -> float:
    return geometry.width(b) / max(geometry.height(b), 1e-6)


class PanelStage(Stage):
    """Panels, panel labels and sub-captions of compound figures."""

    name: ClassVar[str] = "panels"
    scope: ClassVar = "book"
    Params: ClassVar[type[PanelParams]] = PanelParams
    # 2: black gutters are flat canvas black; dark picture content stays in panels
    # 3: tiles meeting without a gutter (seams, equal-tile grids), maps beside photographs, zoomed crops merged
    # 4: on scans, tiles at blurred seams where tiles of that size are elsewhere or the caption names them
    version: ClassVar[str] = "4"

    params: PanelParams

    def __init__(self, params: PanelParams | None = None) -> None:
        super().__init__(params)
        self._zooms = 0  # zoomed crops merged into their panel, for the figure being split

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        wanted = {fig.page for fig in items}
        pages = PageIndex(ctx.earlier("pages", keep=lambda r: r.page in wanted) if items else None)
        out = []
        for n, fig in enumerate(items, 1):
            out.append(self.process(fig, ctx, pages.get(fig.page)))
            if ctx.progress is not None:
                ctx.progress(n, len(items))
        return out

    # ------------------------------------------------------------------------------------------ per figure

    def process(self, fig: Figure, ctx: Context, page: PageView | None = None) -> Figure:
        """``fig`` with ``panels`` filled (or left empty when it is one picture); ``page``: what the ``pages``
        stage read of the figure's page (its words and image placements), when the recipe has that stage."""
        if fig.image is None:
            ctx.count("panels:no-image")
            return fig
        path = ctx.run_dir / fig.image
        img = _read_image(path)
        if img is None:
            ctx.warn(f"{path}: figure image missing or unreadable; panels not split")
            ctx.count("panels:unreadable-image")
            return fig
        frame = self._frame(fig, img, page)
        self._zooms = 0
        boxes, strips = self._panel_boxes(fig, img, frame, _named_panels(fig.caption, fig.label))
        if self._zooms:
            ctx.count("panels:zoom-merged", self._zooms)
        if len(boxes) < 2:
            ctx.count("panels:single")
            return fig.model_copy(update={"panels": []})
        ctx.count("panels:compound")
        ctx.count("panels:panels", len(boxes))
        page_boxes = [self._to_page(b, img, frame) for b in boxes]
        sub = split_subcaptions(fig.caption or "", fig.label)
        labels, sources = self._labels(fig, img, page, boxes, page_boxes, strips, ctx,
                                       whitelist([x for x in sub.labels() if re.fullmatch(r"[A-Za-z]\d*", x)]))
        res = assign_subcaptions(sub, labels, sources, page_boxes)
        for seg in res.unassigned:
            ctx.report({"figure": fig.id, "labels": list(seg.labels), "text": sub.span_text(seg.spans),
                        "spans": [list(s) for s in seg.spans]}, "subcaption-unassigned",
                       f"{fig.label or fig.id}: no panel named {', '.join(seg.labels)}")
        for i in res.uncaptioned:
            ctx.report({"figure": fig.id, "panel": i, "label": res.panels[i].label},
                       "panel-without-subcaption", f"{fig.label or fig.id}: panel {i} is named by no sub-caption")
        for _m, why in sub.rejected:
            ctx.count(f"panels:rejected-caption-label:{why}")
        ext = Path(fig.image).suffix.lstrip(".").lower() or "png"
        panels = []
        for i, (b, pb, pt) in enumerate(zip(boxes, page_boxes, res.panels, strict=True)):
            x0, y0, x1, y1 = b
            crop = img[y0:y1, x0:x1]
            rel = ctx.images.put(_encode(crop, ext), "jpg" if ext in ("jpg", "jpeg") else "png")
            if pt.label_source:
                ctx.count(f"panels:label:{pt.label_source}")
            panels.append(Panel(index=i, label=pt.label, label_source=pt.label_source,
                                bbox=geometry.rounded(pb), bbox_px=[int(v) for v in b], image=rel,
                                image_size=[x1 - x0, y1 - y0], caption=pt.caption, caption_spans=pt.spans))
        return fig.model_copy(update={"panels": panels})

    def _frame(self, fig: Figure, img: np.ndarray, page: PageView | None) -> tuple[float, float, float, float]:
        """The page box the figure image covers (see the module docstring)."""
        bbox = geometry.as_bbox(fig.bbox)
        h, w = img.shape[:2]
        want = w / max(h, 1)
        if page is None or abs(_aspect(bbox) - want) <= 0.02 * want:
            return bbox
        best = None
        for b in page.image_boxes:
            if geometry.intersection(b, bbox) < 0.9 * geometry.area(b):
                continue
            err = abs(_aspect(b) - want) / want
            if err <= 0.02 and (best is None or err < best[0]):
                best = (err, b)
        return best[1] if best is not None else bbox

    def _to_page(self, b: PxBox, img: np.ndarray, frame: tuple[float, float, float, float]) -> list[float]:
        h, w = img.shape[:2]
        sx, sy = geometry.width(frame) / w, geometry.height(frame) / h
        return [frame[0] + b[0] * sx, frame[1] + b[1] * sy, frame[0] + b[2] * sx, frame[1] + b[3] * sy]

    def _to_px(self, b: list[float], img: np.ndarray, frame: tuple[float, float, float, float]) -> PxBox:
        h, w = img.shape[:2]
        sx, sy = w / max(geometry.width(frame), 1e-6), h / max(geometry.height(frame), 1e-6)
        x0 = int(np.clip(round((b[0] - frame[0]) * sx), 0, w))
        y0 = int(np.clip(round((b[1] - frame[1]) * sy), 0, h))
        x1 = int(np.clip(round((b[2] - frame[0]) * sx), 0, w))
        y1 = int(np.clip(round((b[3] - frame[1]) * sy), 0, h))
        return (x0, y0, x1, y1)

    def _panel_boxes(self, fig: Figure, img: np.ndarray, frame: tuple[float, float, float, float],
                     named: int | None = None) -> tuple[list[PxBox], list[PxBox]]:
        """Panel boxes (pixels, reading order) and label strips: parts first, each split by gutters.
        ``named``: how many panels the caption names (a prior for one raster whose thin gutters a scan
        blurred; see :func:`split_raster`).

        Only figures of scanned pages (no text layer) are looked at deskewed: a straight figure's
        gutters are rows and columns already.
        """
        sp = self.params.split_params()
        if fig.provenance.text_layer != "none":
            sp = replace(sp, max_skew_deg=0.0)
        h, w = img.shape[:2]
        regions: list[PxBox] = []
        if len(fig.parts) >= 2:
            fig_area = geometry.area(frame)
            parts = [geometry.as_bbox(p) for p in fig.parts]
            parts = [p for p in _merge_touching(parts) if geometry.area(p) >= self.params.min_part_frac * fig_area]
            for k in reading_order(parts):
                p = parts[k]
                px = self._to_px(list(p), img, frame)
                if px[2] - px[0] >= 4 and px[3] - px[1] >= 4:
                    regions.append(px)
        if not regions:
            regions = [(0, 0, w, h)]
        boxes: list[PxBox] = []
        strips: list[PxBox] = []
        for r in regions:
            res = split_raster(img, sp, r, expect=named if len(regions) == 1 else None)
            if not res.panels and len(regions) > 1:
                boxes.append(r)  # a blank-looking part is still a separate image
            boxes.extend(res.panels)
            strips.extend(res.strips)
        if len(regions) > 1:  # a zoomed crop embedded as an image of its own is part of its panel too
            boxes, self._zooms = merge_zooms(img, boxes)
        return boxes, strips

    def _labels(self, fig: Figure, img: np.ndarray, page: PageView | None, boxes: list[PxBox], page_boxes: list[list[float]],
                strips: list[PxBox], ctx: Context, allowed: str) -> tuple[list[str | None], list[str | None]]:
        """Panel labels and their source: PDF text first, then OCR of strips, then of panel corners.

        OCR may only read the letters the caption names (``allowed``), when it names any.
        """
        n = len(boxes)
        if page is not None and fig.provenance.text_layer == "ok":  # a broken layer's letters are noise
            m = self.params.label_margin_pt
            b = fig.bbox
            region = (b[0] - m, b[1] - m, b[2] + m, b[3] + m)
            exclude = fig.caption_bbox if fig.caption_bbox and (fig.caption_page in (None, fig.page)) else None
            tokens = pdf_label_tokens(page.words, region, exclude)
            found = assign_labels(page_boxes, tokens)
            if plausible_sequence([t.label if t else None for t in found]):
                return [t.label if t else None for t in found], ["pdf-text" if t else None for t in found]
        if not self.params.ocr:
            return [None] * n, [None] * n
        if not tesseract_available():
            ctx.count("panels:ocr-unavailable")
            return [None] * n, [None] * n
        lang = self.params.ocr_languages
        tokens = [t for s in strips for t in ocr_strip_tokens(img, s, lang, allowed=allowed)]
        found = assign_labels(boxes, tokens) if tokens else [None] * n
        labels = increasing_subset(unify_case([t.label if t else None for t in found]))
        if not plausible_sequence(labels, strict_order=True) and self.params.ocr_corners:
            labels = self._corner_labels(img, boxes, lang, allowed)
        if plausible_sequence(labels, strict_order=True):
            return labels, ["ocr" if lab else None for lab in labels]
        return [None] * n, [None] * n

    def _corner_labels(self, img: np.ndarray, boxes: list[PxBox], lang: str, allowed: str) -> list[str | None]:
        """Letters burned into the same corner of every panel (top-left first); the corner that reads best."""
        best: list[str | None] = [None] * len(boxes)
        for corner in ("tl", "tr", "bl", "br"):
            found = []
            for b in boxes:
                toks = ocr_corner_tokens(img, b, corner, lang, allowed=allowed)
                found.append(toks[0].label if toks else None)
            read = sum(x is not None for x in found)
            labels = increasing_subset(unify_case(found))
            if plausible_sequence(labels, strict_order=True) and \
                    sum(x is not None for x in labels) > sum(x is not None for x in best):
                best = labels
            if read >= 2:
                break  # this corner holds the letters; misreads are dropped, not looked for elsewhere
        return best


def _encode(img: np.ndarray, ext: str) -> bytes:
    if ext in ("jpg", "jpeg"):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    else:
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {img.shape} panel crop as {ext}")
    return buf.tobytes()


def _merge_touching(boxes: list[tuple[float, float, float, float]], tol: float = 1.0
                    ) -> list[tuple[float, float, float, float]]:
    """Tiles of one picture (parts that overlap or touch) become one box."""
    boxes = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if geometry.gap(boxes[i], boxes[j]) <= tol:
                    boxes[i] = geometry.union([boxes[i], boxes[j]])
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes
