"""Page composition for the sample books: page styles, flowing blocks (text, figures, tables) and floats.

The composer places blocks column by column, defers figures that do not fit (floats, kept in order),
puts full-width figures at the top of two-column pages and full-page plates on their own page with the
caption at the top of the next page. Every figure, caption and table box is recorded as it is drawn.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pymupdf

from . import charts
from .captions import Caption
from .panels import Box, justify_rows
from .texstyle import TexOptions
from .text import Line, draw_line, font_metrics, line_box, split_runs, text_width, union, wrap


@dataclass(frozen=True)
class PageStyle:
    """Page geometry and typography of one book."""

    name: str
    description: str
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    columns: int = 1
    gutter: float = 18.0
    side_col: tuple[float, float] | None = None  # margin column for side captions (wide-margin layout)
    lang: str = "en"
    body_font: str = "tiro"
    body_bold: str = "tibo"
    body_size: float = 9.5
    leading: float = 12.0
    cap_font: str = "helv"
    cap_bold: str = "hebo"
    cap_size: float = 8.0
    cap_leading: float = 10.0
    cap_align: str = "left"
    hyphenate: bool = True
    header_font: str = "heit"
    page_number_in_footer: bool = False
    chapter_word: str = "Chapter"
    tex: TexOptions | None = None  # draw text the way pdfTeX does (accents as glyphs, no spaces): texstyle.py

    @property
    def body_top(self) -> float:
        return self.top

    @property
    def body_bottom(self) -> float:
        return self.height - self.bottom

    @property
    def text_x0(self) -> float:
        return self.left

    @property
    def text_x1(self) -> float:
        return self.width - self.right

    def column_spans(self) -> list[tuple[float, float]]:
        w = (self.text_x1 - self.text_x0 - self.gutter * (self.columns - 1)) / self.columns
        return [(self.text_x0 + i * (w + self.gutter), self.text_x0 + i * (w + self.gutter) + w)
                for i in range(self.columns)]


@dataclass
class PanelImage:
    """One embedded raster: encoded bytes, pixel size, format, the retinal modality it shows."""

    data: bytes
    width: int
    height: int
    fmt: str
    modality: str

    @property
    def aspect(self) -> float:
        return self.width / self.height


@dataclass
class FigureSpec:
    """Everything the composer needs to draw one figure and to write its ground truth."""

    index: int
    caption: Caption
    kind: str  # raster | compound-separate | compound-single | compound-tiles | compound-inset | vector
    retinal: str  # yes | no | borderline
    modality: str
    panel_note: str
    images: list[PanelImage] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)  # compound-separate: panel indices per row
    letters: list[str] = field(default_factory=list)  # ground-truth panel letters, lower case
    letter_text: list[str] = field(default_factory=list)  # letters as drawn on the panels
    panel_modalities: list[str] = field(default_factory=list)
    composite_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # compound-single, px
    letter_style: str = "none"  # none | pdf-inside | pdf-below | burned
    vector: str | None = None  # bar | line | eye | flow | flow-thumbs
    aspect: float = 1.5  # vector figures: width / height
    span: str = "column"  # column | full | plate
    caption_position: str = "below"
    width_frac: float = 1.0
    cap_match_fig: bool = False
    side_align: str = "top"
    seed: int = 0
    thumbs: int = 0  # borderline diagrams: small retinal thumbnails inside a vector figure
    note: str = ""
    panel_contents: list[str] = field(default_factory=list)  # per panel: photograph, vessel-map, ... (maps.py)

    @property
    def n_panels(self) -> int:
        return self.thumbs or max(1, len(self.letters))


ONE_RASTER = ("raster", "compound-single", "compound-tiles", "compound-inset")  # kinds drawn as one image


@dataclass
class PlacedText:
    """A short text drawn inside a figure (panel letter)."""

    text: str
    x: float
    baseline: float
    size: float
    font: str
    colour: tuple[float, float, float]


@dataclass
class ContentLayout:
    """Figure content relative to its top-left corner: image rects, panel rects, letters."""

    w: float
    h: float
    images: list[tuple[Box, int]]  # rect, image index
    panels: list[Box]  # per panel letter (compound), in order
    letters: list[PlacedText]


LETTER_SIZE = 9.0
BELOW_BAND = 13.0
GAP = 4.0


class Composer:
    """Draws blocks onto pages of one PDF and records ground truth."""

    def __init__(self, doc: pymupdf.Document, style: PageStyle, rng: random.Random) -> None:
        self.doc = doc
        self.style = style
        self.rng = rng
        self.page: pymupdf.Page | None = None
        self.shape: pymupdf.Shape | None = None
        self.page_no = 0
        self.figures: dict[int, dict[str, Any]] = {}
        self.tables: list[dict[str, Any]] = []
        self.chapter_title = ""
        self.chapter_no = 0
        self.placed_on_page = 0

    # --- pages ---------------------------------------------------------------------------------------
    def new_page(self, header: bool = True) -> None:
        self.finish_page()
        st = self.style
        self.page = self.doc.new_page(width=st.width, height=st.height)
        self.shape = self.page.new_shape()
        self.page_no += 1
        self.placed_on_page = 0
        if header and self.chapter_title:
            self._header()
        self._footer(header)

    def finish_page(self) -> None:
        if self.shape is not None:
            self.shape.commit()
            self.shape = None

    def _header(self) -> None:
        st = self.style
        assert self.shape is not None
        if st.lang == "zh":
            title = f"第{self.chapter_no}章　{self.chapter_title}"
        elif st.chapter_word:
            title = f"{st.chapter_word} {self.chapter_no}  {self.chapter_title}"
        else:
            title = self.chapter_title
        y = st.top - 16
        line = wrap(split_runs(title, st.header_font), 1e9, 7.5)[0]
        num = wrap([(str(self.page_no), st.header_font)], 1e9, 7.5)[0]
        even = self.page_no % 2 == 0
        if even:
            draw_line(self.shape, num, st.text_x0, y, (0.3, 0.3, 0.3))
            draw_line(self.shape, line, st.text_x1 - line.width, y, (0.3, 0.3, 0.3))
        else:
            draw_line(self.shape, line, st.text_x0, y, (0.3, 0.3, 0.3))
            if not st.page_number_in_footer:
                draw_line(self.shape, num, st.text_x1 - num.width, y, (0.3, 0.3, 0.3))
        x0 = st.side_col[0] if st.side_col else st.text_x0
        self.shape.draw_line((x0, y + 4), (st.text_x1, y + 4))
        self.shape.finish(color=(0.5, 0.5, 0.5), width=0.4)

    def _footer(self, header: bool) -> None:
        st = self.style
        if not (st.page_number_in_footer or not header):
            return
        assert self.shape is not None
        num = wrap([(str(self.page_no), st.header_font)], 1e9, 7.5)[0]
        draw_line(self.shape, num, (st.width - num.width) / 2, st.height - st.bottom / 2, (0.3, 0.3, 0.3))

    # --- text ----------------------------------------------------------------------------------------
    def draw_lines(self, lines: list[Line], x: float, top: float, width: float, leading: float,
                   align: str = "left", colour: tuple[float, float, float] = (0, 0, 0)) -> list[Box]:
        """Draw wrapped lines from `top` (top of the first line's ascent); returns their boxes."""
        assert self.shape is not None
        boxes = []
        for i, ln in enumerate(lines):
            asc = max(font_metrics(f)[0] for _, f in ln.segments) * ln.size
            baseline = top + asc + i * leading
            lx = x + (width - ln.width) / 2 if align == "center" else x
            boxes.append(draw_line(self.shape, ln, lx, baseline, colour, tex=self.style.tex))
        return boxes

    # --- figures -------------------------------------------------------------------------------------
    def content_layout(self, spec: FigureSpec, avail_w: float, max_h: float) -> ContentLayout:
        """Size and arrange a figure's content to fit `avail_w` x `max_h`."""
        w = avail_w * spec.width_frac
        for _ in range(3):  # shrink until the height fits (gutters make height not quite linear in width)
            cl = self._arrange(spec, w)
            if cl.h <= max_h + 1e-6:
                return cl
            w *= max_h / cl.h * 0.995
        return self._arrange(spec, w)

    def _arrange(self, spec: FigureSpec, w: float) -> ContentLayout:
        lw = font_metrics("hebo")
        if spec.kind == "compound-separate":
            aspects = [[spec.images[i].aspect for i in row] for row in spec.rows]
            gap_v = GAP + (BELOW_BAND if spec.letter_style == "pdf-below" else 0)
            boxes, _ = justify_rows(aspects, w, GAP)
            images: list[tuple[Box, int]] = []
            panels: list[Box] = [(0, 0, 0, 0)] * len(spec.images)
            letters: list[PlacedText] = []
            y = 0.0
            for row, rb in zip(spec.rows, boxes, strict=True):
                rh = rb[0][3] - rb[0][1]
                for i, b in zip(row, rb, strict=True):
                    r = (b[0], y, b[2], y + rh)
                    images.append((r, i))
                    panels[i] = r
                    letters.extend(self._letter(spec, i, r, lw))
                y += rh + gap_v
            h = y - gap_v + (BELOW_BAND if spec.letter_style == "pdf-below" else 0)
            return ContentLayout(w, h, images, panels, letters)
        if spec.kind in ONE_RASTER:
            img = spec.images[0]
            ih = w / img.aspect
            r = (0.0, 0.0, w, ih)
            panels = []
            letters = []
            if spec.kind != "raster":
                sx = w / img.width
                for i, pb in enumerate(spec.composite_boxes):
                    pr = (pb[0] * sx, pb[1] * sx, pb[2] * sx, pb[3] * sx)
                    panels.append(pr)
                    letters.extend(self._letter(spec, i, pr, lw))
            h = ih + (BELOW_BAND if spec.letter_style == "pdf-below" else 0)
            return ContentLayout(w, h, [(r, 0)], panels, letters)
        return ContentLayout(w, w / spec.aspect, [], [], [])

    def _letter(self, spec: FigureSpec, i: int, r: Box, lw: tuple[float, float]) -> list[PlacedText]:
        if spec.letter_style == "pdf-inside":
            return [PlacedText(spec.letter_text[i], r[0] + 3, r[1] + 3 + lw[0] * LETTER_SIZE, LETTER_SIZE, "hebo",
                               (1, 1, 1))]
        if spec.letter_style == "pdf-below":
            t = spec.letter_text[i]
            tw = text_width(t, "helv", 8)
            return [PlacedText(t, (r[0] + r[2]) / 2 - tw / 2, r[3] + 2 + lw[0] * 8, 8, "helv", (0, 0, 0))]
        return []

    def draw_content(self, spec: FigureSpec, cl: ContentLayout, x: float, y: float) -> tuple[Box, list[Box]]:
        """Draw images / vector graphics and letters; returns the figure box and the panel boxes (page pt)."""
        assert self.page is not None and self.shape is not None
        boxes: list[Box] = []
        for r, i in cl.images:
            rect = pymupdf.Rect(x + r[0], y + r[1], x + r[2], y + r[3])
            self.page.insert_image(rect, stream=spec.images[i].data)
            boxes.append(tuple(rect))
        for t in cl.letters:
            ln = Line([(t.text, t.font)], text_width(t.text, t.font, t.size), t.size)
            boxes.append(draw_line(self.shape, ln, x + t.x, y + t.baseline, t.colour))
        if spec.kind == "vector":
            cv = charts.Canvas(self.shape, "helv")  # split_runs sets CJK characters in the CJK font
            rect = (x, y, x + cl.w, y + cl.h)
            lang = "zh" if self.style.lang == "zh" else "en"
            if spec.vector == "bar":
                charts.bar_chart(cv, rect, self.rng, lang)
            elif spec.vector == "line":
                charts.line_plot(cv, rect, self.rng, lang)
            elif spec.vector == "eye":
                charts.eye_schematic(cv, rect, self.rng, lang)
            elif spec.vector in ("flow", "flow-thumbs"):
                charts.flowchart(cv, rect, self.rng, lang, self.page, spec.thumbs, np.random.default_rng(spec.seed))
            else:
                raise ValueError(f"unknown vector figure kind {spec.vector!r}")
            boxes.append(cv.bbox())
        panels = [(x + p[0], y + p[1], x + p[2], y + p[3]) for p in cl.panels]
        return union(boxes), panels

    def caption_lines(self, cap: Caption, width: float) -> list[Line]:
        st = self.style
        return wrap(cap.runs(st.cap_font, st.cap_bold), width, st.cap_size, hyphenate=st.hyphenate)

    def lines_height(self, lines: list[Line], leading: float) -> float:
        if not lines:
            return 0.0
        asc = max(font_metrics(f)[0] for _, f in lines[0].segments) * lines[0].size
        desc = max(font_metrics(f)[1] for _, f in lines[-1].segments) * lines[-1].size
        return asc + (len(lines) - 1) * leading + desc

    def record_figure(self, spec: FigureSpec, bbox: Box, panels: list[Box], page: int) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "label": spec.caption.label,
            "page": page,
            "bbox": self.frac(bbox),
            "panels": spec.n_panels,
            "panel_note": spec.panel_note,
            "modality": spec.modality,
            "retinal": spec.retinal,
            "caption": spec.caption.text(),
            "caption_bbox": None,
            "caption_position": spec.caption_position,
            "caption_page": None,
            "kind": spec.kind,
        }
        if spec.kind.startswith("compound-") and spec.letters:
            contents = spec.panel_contents or ["photograph"] * len(spec.letters)
            rec["panel_boxes"] = [
                {"label": spec.letters[i], "bbox": self.frac(panels[i]),
                 "caption": spec.caption.panel_caption(spec.letters[i]), "modality": spec.panel_modalities[i],
                 "content": contents[i], "retinal": "yes" if contents[i] == "photograph" else "no"}
                for i in range(len(spec.letters))
            ]
        rec["note"] = spec.note
        self.figures[spec.index] = rec
        return rec

    def frac(self, b: Box) -> list[float]:
        st = self.style
        return [round(b[0] / st.width, 6), round(b[1] / st.height, 6), round(b[2] / st.width, 6),
                round(b[3] / st.height, 6)]


# --- blocks ----------------------------------------------------------------------------------------------

class Block:
    """Something the composer flows onto the page."""

    span = "column"

    def height(self, c: Composer, width: float) -> float:
        raise NotImplementedError

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        raise NotImplementedError


@dataclass
class Paragraph(Block):
    """Running text; split across columns and pages line by line."""

    text: str
    space_after: float = 5.0
    preset: list[Line] | None = None  # the rest of a paragraph split at a column end
    _lines: list[Line] | None = None
    _width: float = 0.0

    def lines(self, c: Composer, width: float) -> list[Line]:
        if self.preset is not None:
            return self.preset
        if self._lines is None or abs(self._width - width) > 1e-6:
            st = c.style
            self._lines = wrap(split_runs(self.text, st.body_font), width, st.body_size, hyphenate=False)
            self._width = width
        return self._lines

    def height(self, c: Composer, width: float) -> float:
        return len(self.lines(c, width)) * c.style.leading

    def draw_part(self, c: Composer, x: float, y: float, width: float, n: int) -> list[Line]:
        """Draw the first `n` lines; returns the lines left over."""
        lines = self.lines(c, width)
        st = c.style
        c.draw_lines(lines[:n], x, y + (st.leading - st.body_size * 1.2) / 2, width, st.leading)
        return lines[n:]


@dataclass
class Heading(Block):
    """A chapter or section heading; a chapter heading also sets the running header."""

    text: str
    size: float
    chapter: int = 0
    chapter_title: str = ""
    space_before: float = 6.0
    space_after: float = 6.0

    def height(self, c: Composer, width: float) -> float:
        return self.space_before + self.size * 1.3 * len(self._lines(c, width)) + self.space_after

    def _lines(self, c: Composer, width: float) -> list[Line]:
        return wrap(split_runs(self.text, c.style.body_bold), width, self.size)

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        if self.chapter:
            c.chapter_no = self.chapter
            c.chapter_title = self.chapter_title
        c.draw_lines(self._lines(c, width), x, y + self.space_before, width, self.size * 1.3)


@dataclass
class PageBreak(Block):
    """Start a new page once pending floats are placed (chapter openings)."""


@dataclass
class TableBlock(Block):
    """A ruled table with its caption above: text and lines, not a figure."""

    label: str
    printed_label: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    span: str = "column"

    def _layout(self, c: Composer, width: float) -> tuple[list[Line], float, list[float]]:
        st = c.style
        cap_runs = split_runs(self.printed_label, st.cap_bold) + split_runs(self.title, st.cap_font)
        lines = wrap(cap_runs, width, st.cap_size, hyphenate=False)
        size = 7.0
        cells = [self.header, *self.rows]
        need = [max(text_width(r[k], "helv", size) if not any(ord(ch) > 0x2FFF for ch in r[k])
                    else sum(text_width(t, f, size) for t, f in split_runs(r[k], "helv")) for r in cells) + 8
                for k in range(len(self.header))]
        scale = min(1.0, width / sum(need))
        cols = [n * (width / sum(need)) for n in need]
        return lines, size * scale if scale < 1 else size, cols

    def height(self, c: Composer, width: float) -> float:
        lines, _size, _cols = self._layout(c, width)
        return c.lines_height(lines, c.style.cap_leading) + 5 + 12 * (len(self.rows) + 1) + 2

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        assert c.shape is not None
        st = c.style
        lines, size, cols = self._layout(c, width)
        cap_boxes = c.draw_lines(lines, x, y, width, st.cap_leading)
        top = y + c.lines_height(lines, st.cap_leading) + 5
        row_h = 12.0
        bottom = top + row_h * (len(self.rows) + 1)
        for yy, wgt in ((top, 0.9), (top + row_h, 0.5), (bottom, 0.9)):
            c.shape.draw_line((x, yy), (x + width, yy))
            c.shape.finish(color=(0, 0, 0), width=wgt)
        for r, row in enumerate([self.header, *self.rows]):
            cx = x
            for k, cell in enumerate(row):
                font = st.cap_bold if r == 0 else st.cap_font
                ln = wrap(split_runs(cell, font), 1e9, size)[0]
                draw_line(c.shape, ln, cx + 3, top + r * row_h + 8.5)
                cx += cols[k]
        c.tables.append({"label": self.label, "page": c.page_no, "bbox": c.frac((x, top - 0.45, x + width, bottom + 0.45)),
                         "caption": " ".join(f"{self.printed_label}{self.title}".replace("\u00a0", " ").split()),
                         "caption_bbox": c.frac(union(cap_boxes))})


@dataclass
class FigureBlock(Block):
    """A figure with its caption below, above or beside it."""

    spec: FigureSpec

    @property
    def span(self) -> str:  # type: ignore[override]
        return self.spec.span

    def _geometry(self, c: Composer, width: float) -> dict[str, Any]:
        st = c.style
        sp = self.spec
        body_h = st.body_bottom - st.body_top
        max_h = body_h * (0.5 if sp.span == "full" else 0.42)
        pos = sp.caption_position
        if pos in ("left", "right"):
            if st.side_col is not None and pos == "left":
                cap_w = st.side_col[1] - st.side_col[0]
                cl = c.content_layout(sp, width, max_h)
                cap_x = st.side_col[0] - st.text_x0  # relative to the block's x (text column start)
                fig_x = 0.0
            else:
                fig_w = width * 0.6
                cap_w = width - fig_w - 10
                cl = c.content_layout(sp, fig_w, max_h)
                fig_x = 0.0 if pos == "right" else width - cl.w
                cap_x = cl.w + 10 if pos == "right" else 0.0
                cap_w = width - cl.w - 10 if pos == "left" else width - cap_x
            lines = c.caption_lines(sp.caption, cap_w)
            cap_h = c.lines_height(lines, st.cap_leading)
            h = max(cl.h, cap_h)
            cap_y = 0.0 if sp.side_align == "top" or cap_h >= cl.h else cl.h - cap_h
            return {"cl": cl, "lines": lines, "fig": (fig_x, 0.0), "cap": (cap_x, cap_y), "cap_w": cap_w, "h": h}
        cl = c.content_layout(sp, width, max_h)
        fig_x = (width - cl.w) / 2
        cap_w = cl.w if sp.cap_match_fig else width
        cap_x = fig_x if sp.cap_match_fig else 0.0
        lines = c.caption_lines(sp.caption, cap_w)
        cap_h = c.lines_height(lines, st.cap_leading)
        gap = 7.0
        if pos == "above":
            return {"cl": cl, "lines": lines, "fig": (fig_x, cap_h + gap), "cap": (cap_x, 0.0), "cap_w": cap_w,
                    "h": cap_h + gap + cl.h}
        return {"cl": cl, "lines": lines, "fig": (fig_x, 0.0), "cap": (cap_x, cl.h + gap), "cap_w": cap_w,
                "h": cl.h + gap + cap_h}

    def height(self, c: Composer, width: float) -> float:
        return self._geometry(c, width)["h"]

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        g = self._geometry(c, width)
        st = c.style
        bbox, panels = c.draw_content(self.spec, g["cl"], x + g["fig"][0], y + g["fig"][1])
        rec = c.record_figure(self.spec, bbox, panels, c.page_no)
        boxes = c.draw_lines(g["lines"], x + g["cap"][0], y + g["cap"][1], g["cap_w"], st.cap_leading,
                             st.cap_align)
        rec["caption_bbox"] = c.frac(union(boxes))
        rec["caption_page"] = c.page_no


@dataclass
class PlateBlock(Block):
    """A full-page figure; its caption opens the next page."""

    spec: FigureSpec
    span: str = "plate"

    def draw_plate(self, c: Composer) -> NextPageCaption:
        st = c.style
        x0, x1 = st.text_x0, st.text_x1
        cl = c.content_layout(self.spec, x1 - x0, st.body_bottom - st.body_top - 4)
        x = x0 + (x1 - x0 - cl.w) / 2
        y = st.body_top + (st.body_bottom - st.body_top - cl.h) / 2
        bbox, panels = c.draw_content(self.spec, cl, x, y)
        c.record_figure(self.spec, bbox, panels, c.page_no)
        return NextPageCaption(self.spec)


@dataclass
class NextPageCaption(Block):
    """The caption of a plate, at the top of the page after it."""

    spec: FigureSpec

    def height(self, c: Composer, width: float) -> float:
        return c.lines_height(c.caption_lines(self.spec.caption, width), c.style.cap_leading) + 8

    def draw(self, c: Composer, x: float, y: float, width: float) -> None:
        lines = c.caption_lines(self.spec.caption, width)
        boxes = c.draw_lines(lines, x, y, width, c.style.cap_leading, c.style.cap_align)
        rec = c.figures[self.spec.index]
        rec["caption_bbox"] = c.frac(union(boxes))
        rec["caption_page"] = c.page_no


# --- flow ------------------------------------------------------------------------------------------------

def flow(c: Composer, blocks: list[Block]) -> None:
    """Place all blocks: columns top to bottom, floats in order, plates on their own page."""
    st = c.style
    queue: deque[Block] = deque(blocks)
    floats: deque[Block] = deque()
    spacing = 10.0
    guard = 0
    while queue or floats:
        guard += 1
        if guard > 10_000:
            raise RuntimeError("sample layout did not converge (a block larger than a page?)")
        opening = bool(queue) and isinstance(queue[0], Heading) and queue[0].chapter > 0 and not floats
        c.new_page(header=not opening)
        plate = next((b for b in floats if isinstance(b, PlateBlock)), None)
        if plate is None and not floats and queue and isinstance(queue[0], PlateBlock):
            plate = queue.popleft()  # type: ignore[assignment]
        elif plate is not None:
            floats.remove(plate)
        if isinstance(plate, PlateBlock):
            queue.appendleft(plate.draw_plate(c))
            continue
        y_top = st.body_top
        full_x0, full_x1 = st.text_x0, st.text_x1
        if queue and isinstance(queue[0], NextPageCaption):
            b = queue.popleft()
            b.draw(c, full_x0, y_top, full_x1 - full_x0)
            y_top += b.height(c, full_x1 - full_x0) + 4
            c.placed_on_page += 1
        if st.columns > 1:  # a full-width float (or the next full-width figure) goes to the page top
            src = floats if floats else queue
            if src and src[0].span == "full":
                b = src.popleft()
                h = b.height(c, full_x1 - full_x0)
                b.draw(c, full_x0, y_top, full_x1 - full_x0)
                y_top += h + spacing
                c.placed_on_page += 1
        page_done = False
        for cx0, cx1 in st.column_spans():
            if page_done:
                break
            w = cx1 - cx0
            y = y_top
            while True:
                avail = st.body_bottom - y
                if floats and floats[0].span not in ("full", "plate"):  # those wait for a page top
                    h = floats[0].height(c, w)
                    if h <= avail:
                        floats.popleft().draw(c, cx0, y, w)
                        y += h + spacing
                        c.placed_on_page += 1
                        continue
                    # the oldest float waits for the next column; text may fill this one meanwhile, but no
                    # figure overtakes it (figures in the queue join the floats below)
                if not queue:
                    break
                b = queue[0]
                if isinstance(b, PageBreak):
                    if floats:
                        break
                    queue.popleft()
                    if c.placed_on_page:
                        page_done = True
                        break
                    continue
                if isinstance(b, PlateBlock) or (b.span == "full" and st.columns > 1):
                    floats.append(queue.popleft())
                    continue
                if floats and isinstance(b, (FigureBlock, TableBlock)):
                    floats.append(queue.popleft())  # keep figure order
                    continue
                if isinstance(b, Paragraph):
                    lines = b.lines(c, w)
                    fit = int((avail + 0.01) // st.leading)
                    if fit >= len(lines):
                        b.draw_part(c, cx0, y, w, len(lines))
                        queue.popleft()
                        y += len(lines) * st.leading + b.space_after
                        c.placed_on_page += 1
                        continue
                    if fit >= 2:
                        rest = b.draw_part(c, cx0, y, w, fit)
                        queue[0] = Paragraph("", b.space_after, preset=rest)
                        c.placed_on_page += 1
                    break
                if isinstance(b, Heading):
                    if b.height(c, w) + 3 * st.leading <= avail:
                        b.draw(c, cx0, y, w)
                        y += b.height(c, w)
                        queue.popleft()
                        c.placed_on_page += 1
                        continue
                    break
                h = b.height(c, w)
                if h <= avail:
                    b.draw(c, cx0, y, w)
                    queue.popleft()
                    y += h + spacing
                    c.placed_on_page += 1
                    continue
                floats.append(queue.popleft())
        if not c.placed_on_page:
            raise RuntimeError(f"sample layout: nothing fits on page {c.page_no} of style {st.name}")
    c.finish_page()


__all__ = ["Block", "Composer", "FigureBlock", "FigureSpec", "Heading", "NextPageCaption", "PageBreak", "PageStyle",
           "PanelImage", "Paragraph", "PlateBlock", "TableBlock", "flow", "line_box"]
