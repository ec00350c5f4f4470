"""Born-digital reader: PyMuPDF pages -> :class:`~mmretinal_builder.pdf.page_model.PageModel`.

One text page per page gives the lines (``dict`` output, ligatures expanded by MuPDF); a second one,
built only when the page uses images, gives every image placement with its clip and transform; vector
paths come from ``get_cdrawings`` and are clustered here. Every box is moved into the visible frame
(page rotation applied), the frame renders and ground truth use. Documents are opened by
:class:`mmretinal_builder.book.Book` only; this module reads pages it is handed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from typing import Any

import pymupdf

from ..geometry import BBox
from .glyphs import (
    MarkTrace,
    baseline_rules,
    has_mark,
    line_needs_repair,
    mark_traces,
    raw_line_texts,
    rules_near,
)
from .limits import PDF_ERRORS  # re-exported: what MuPDF raises on damaged input
from .page_model import DrawingCluster, ImagePlacement, PageModel, Span, TextLine

TEXT_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
IMAGE_FLAGS = pymupdf.TEXT_PRESERVE_IMAGES | pymupdf.TEXT_CLIP  # TEXT_CLIP: image boxes cut by clip paths
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|-bd\b|\.b$", re.IGNORECASE)
_ITALIC_FONT = re.compile(r"italic|oblique|-it\b|-ital", re.IGNORECASE)
#: Paths are joined into one cluster when their boxes come closer than this (points).
CLUSTER_TOLERANCE = 3.0


# ----------------------------------------------------------------------------- page model


def build_page_model(page: pymupdf.Page, xref_digests: dict[int, bytes] | None = None) -> PageModel:
    """Read one page into a :class:`PageModel` (lines, images, drawing clusters), visible frame."""
    rot = page.rotation_matrix
    rect = page.rect
    model = PageModel(number=page.number + 1, size=(float(rect.width), float(rect.height)),
                      rotation=int(page.rotation))
    paths = _paths(page, None if tuple(rot) == _IDENTITY else rot, model.size)
    tp = page.get_textpage(flags=TEXT_FLAGS)
    model.lines = _lines(tp, rot, _underscore_rules(paths), page)
    listed = page.get_images(full=True)
    if listed:
        model.images = _images(page, listed, rot, xref_digests if xref_digests is not None else {})
    model.drawings = cluster_paths(paths, CLUSTER_TOLERANCE)
    if model.images or any(not d.rule_only for d in model.drawings):
        # a page that can hold a figure keeps its words (panel letters printed as text), from the same text page
        model.words = _words(tp.extractWORDS(), rot if page.rotation else None)
    del tp
    return model


def _words(words: list[tuple], rot: pymupdf.Matrix | None) -> list[Any]:
    if rot is None:
        return words  # MuPDF's tuples are already (float x4, str, int x3): nothing to convert
    out = []
    for w in words:
        r = pymupdf.Rect(w[:4]) * rot
        out.append((float(r.x0), float(r.y0), float(r.x1), float(r.y1), w[4], int(w[5]), int(w[6]), int(w[7])))
    return out


_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _vis(box: Any, rot: pymupdf.Matrix | None) -> BBox:
    """``box`` in the visible frame; ``rot`` None: the page is not rotated (the box as MuPDF gave it: a transform by
    the identity would only turn -0.0 into 0.0, and costs a tenth of the page's reading time)."""
    if rot is None:
        return (box[0] + 0.0, box[1] + 0.0, box[2] + 0.0, box[3] + 0.0)
    r = pymupdf.Rect(box) * rot
    return (float(r.x0), float(r.y0), float(r.x1), float(r.y1))


def _underscore_rules(paths: list[dict[str, Any]]) -> list[BBox]:
    """Small thin horizontal rules: the shape TeX's OT1 ``\\_`` takes (:mod:`.glyphs` decides)."""
    return [p["bbox"] for p in paths if p["rule"] and p["bbox"][3] - p["bbox"][1] <= 1.5
            and 1.0 <= p["bbox"][2] - p["bbox"][0] <= 15.0]


def _lines(tp: pymupdf.TextPage, rot: pymupdf.Matrix, rules: list[BBox] | None = None,
           page: pymupdf.Page | None = None) -> list[TextLine]:
    """Text lines of a page. Lines holding accent glyphs or touching an underscore rule are read again
    glyph by glyph (``rawdict``, same text page so the same blocks and lines) and repaired by geometry
    (:mod:`.glyphs`): the text a reader sees, not the drawing order (:func:`_raw_line`: only those lines)."""
    d = tp.extractDICT()
    vis_rot = None if tuple(rot) == _IDENTITY else rot  # unrotated page: boxes as MuPDF gives them
    rules = rules or []
    raw: list[dict[str, Any]] = []  # the whole page's rawdict, read only if a line cannot be read alone
    marks: list[MarkTrace] | None = None  # true boxes of combining marks, read once when a line has one
    used_marks: set[int] = set()
    out: list[TextLine] = []
    styles = _SPAN_STYLES
    bid = -1
    for bi, block in enumerate(d.get("blocks", [])):
        if block.get("type") != 0:
            continue
        bid += 1
        for li, line in enumerate(block.get("lines", [])):
            line_spans = line.get("spans")
            if not line_spans:
                continue
            # MuPDF's dict gives every span its text, font, flags, size and box: read by index (a span per word)
            texts = [s["text"] for s in line_spans]
            joined = "".join(texts)
            accent = line_needs_repair(joined)
            if not accent and not rules and not joined.strip():
                continue  # blank, and nothing can put a glyph into it: the line would be dropped below
            dx, dy = line.get("dir", (1.0, 0.0))
            vdx = dx * rot.a + dy * rot.c  # direction in the visible frame (linear part only)
            vdy = dx * rot.b + dy * rot.d
            first = line_spans[0]
            origin_y = first.get("origin", (0.0, 0.0))[1] + 0.0 if vis_rot is None else \
                (pymupdf.Point(first.get("origin", (0.0, 0.0))) * rot).y
            lb = line["bbox"]
            lbox = (lb[0] + 0.0, lb[1] + 0.0, lb[2] + 0.0, lb[3] + 0.0) if vis_rot is None else _vis(lb, vis_rot)
            # the line's largest font size: what the glyph pass and the underscore test need (only they)
            size = max((float(s.get("size", 0.0)) for s in line_spans), default=0.0) if accent or rules else 0.0
            near = not accent and bool(rules) and rules_near(rules, lbox, size)
            if near and not (vdx > 0.99 and baseline_rules(rules, float(origin_y), size)):
                # a rule in the line's box that cannot be an underscore of it (an overline, a table rule): the
                # glyph pass would give the spans' own text, NFC-normalised; that, without the glyph pass
                near = False
                texts = [unicodedata.normalize("NFC", t) for t in texts]
                joined = "".join(texts)
            if accent or near:
                raw_line = _raw_line(tp, line, texts, bi, li, raw)
                if marks is None and page is not None and has_mark(joined):
                    marks = mark_traces(page.get_texttrace())
                texts = raw_line_texts(raw_line, None if vis_rot is None else lambda b: _vis(b, vis_rot), (vdx, vdy),
                                       size, rules, float(origin_y), marks or [], used_marks)
                joined = "".join(texts)
            if not joined.strip():
                continue  # the line's text (its non-empty spans joined) is blank
            spans = []
            add = spans.append
            one_size: float | None = None  # the spans' font size while they all have the same one
            sizes_differ = False
            for s, text in zip(line_spans, texts, strict=True):
                if not text:
                    continue
                font = s["font"]
                flags = s["flags"]
                style = styles.get((font, flags))
                if style is None:
                    style = _span_style(font, flags)
                b = s["bbox"]
                span_size = float(s["size"])
                if one_size is None:
                    one_size = span_size
                elif span_size != one_size:
                    sizes_differ = True
                # Span.of inlined: a long text page has a span per word
                add(_tuple_new(Span, (
                    text, (b[0] + 0.0, b[1] + 0.0, b[2] + 0.0, b[3] + 0.0) if vis_rot is None else _vis(b, vis_rot),
                    font, span_size, style[0], style[1])))
            # TextLine's generated __init__ skipped (a long book has a line per ten words): the same fields
            line_out = _new(TextLine)
            line_out.__dict__.update(
                text=joined, bbox=lbox, spans=spans, block_id=bid, source="pdf", baseline=float(origin_y),
                horizontal=vdx > 0.99 and abs(vdy) < 0.02,
                direction=_EAST if vis_rot is None and vdx == 1.0 and vdy == 0.0 else (round(vdx, 4), round(vdy, 4)))
            if one_size is not None and not sizes_differ:
                # one size on a line that is not blank: what TextLine.size would find, known here without a pass
                line_out.prime_size(round(one_size, 1))
            out.append(line_out)
    return out


def _narrowed_rawdict(tp: pymupdf.TextPage, rect: BBox) -> dict[str, Any]:
    """The text page's rawdict with its mediabox set to ``rect`` for the call (put back after); {} when this
    PyMuPDF does not expose the mediabox (the caller then reads the whole page)."""
    try:
        box = tp.this.m_internal.mediabox
        saved = (box.x0, box.y0, box.x1, box.y1)
    except AttributeError:
        return {}
    try:
        box.x0, box.y0, box.x1, box.y1 = rect
        return tp.extractRAWDICT()
    except (AttributeError, TypeError, *PDF_ERRORS):
        return {}
    finally:
        box.x0, box.y0, box.x1, box.y1 = saved


_BOLD_FLAG, _ITALIC_FLAG = pymupdf.TEXT_FONT_BOLD, pymupdf.TEXT_FONT_ITALIC
_FONT_STYLES: dict[str, tuple[bool, bool]] = {}


_tuple_new = tuple.__new__
_new = object.__new__
#: the direction of a horizontal line of an unrotated page, as round(1.0, 4), round(0.0, 4) give it (there, vdx 1.0
#: means dx 1.0, so vdy is 0.0 + dy: never -0.0; rotated pages go through the rounding)
_EAST = (1.0, 0.0)
_SPAN_STYLES: dict[tuple[str, int], tuple[bool, bool]] = {}


def _span_style(font: str, flags: Any) -> tuple[bool, bool]:
    """(bold, italic) of a span from its font name and MuPDF's flags, kept per (font, flags) pair."""
    if len(_SPAN_STYLES) > 4096:
        _SPAN_STYLES.clear()
    bold, italic = _font_style(font)
    value = int(flags)
    style = _SPAN_STYLES[(font, flags)] = (bool(value & _BOLD_FLAG) or bold, bool(value & _ITALIC_FLAG) or italic)
    return style


def _font_style(font: str) -> tuple[bool, bool]:
    """(bold, italic) as the font's name says, looked up once per font name (a page has a span per word)."""
    style = _FONT_STYLES.get(font)
    if style is None:
        if len(_FONT_STYLES) > 4096:  # fonts named per glyph run (some producers): keep the table small
            _FONT_STYLES.clear()
        style = _FONT_STYLES[font] = (bool(_BOLD_FONT.search(font)), bool(_ITALIC_FONT.search(font)))
    return style


def _raw_line(tp: pymupdf.TextPage, line: dict[str, Any], texts: list[str], bi: int, li: int,
              page_raw: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``rawdict`` form (characters with their boxes) of ``line``, the ``dict`` line ``li`` of block ``bi``.

    MuPDF's rawdict of a whole page builds a dict per character of the page, while a line needing repair has a
    few dozen: the text page's mediabox is narrowed to the line for one call (MuPDF leaves out blocks, lines and
    characters outside it) and restored. The line is taken only when it comes back whole (same box, direction,
    spans and text) and alone; otherwise the whole page's rawdict is read once (``page_raw`` keeps it)."""
    if not page_raw:
        x0, y0, x1, y1 = line["bbox"]
        if tuple(line.get("dir", ())) == (1.0, 0.0):
            # a horizontal line: a band through its middle meets every glyph of it and not the lines above and
            # below, whose boxes overlap its own by a point or two
            mid, half = (y0 + y1) / 2, (y1 - y0) / 4
            rect = (x0 - 2.0, mid - half, x1 + 2.0, mid + half)
        else:
            rect = (x0 - 2.0, y0 - 2.0, x1 + 2.0, y1 + 2.0)
        part = _narrowed_rawdict(tp, rect)
        found = [ln for b in part.get("blocks", []) for ln in b.get("lines", [])
                 if ln.get("bbox") == line["bbox"] and ln.get("dir") == line.get("dir")
                 and len(ln.get("spans", [])) == len(texts)
                 and all("".join([c["c"] for c in s.get("chars", ())]) == t
                         for s, t in zip(ln["spans"], texts, strict=True))]
        if len(found) == 1:
            return found[0]
        page_raw.append(tp.extractRAWDICT())
    return page_raw[0]["blocks"][bi]["lines"][li]


def _images(page: pymupdf.Page, listed: list[tuple], rot: pymupdf.Matrix,
            xref_digests: dict[int, bytes]) -> list[ImagePlacement]:
    """Image placements with clip and transform; the xref is found by pixel size, by hash when ambiguous."""
    tp = page.get_textpage(flags=IMAGE_FLAGS)
    infos = tp.extractIMGINFO()
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    smask = {}
    for item in listed:
        xref, sm, w, h = item[0], item[1], item[2], item[3]
        if xref not in by_size[(w, h)]:
            by_size[(w, h)].append(xref)
        smask[xref] = bool(sm)
    ambiguous = any(len(by_size.get((i["width"], i["height"]), [])) > 1 for i in infos)
    doc = page.parent
    digests: list[bytes | None] | None = None
    owners: list[int | None] | None = None
    if ambiguous:
        owners = _placement_owners(tp, infos, by_size, doc)
        if owners is None:
            digests = [h.get("digest") for h in tp.extractIMGINFO(hashes=True)]
    del tp
    page_box = (0.0, 0.0, float(page.rect.width), float(page.rect.height))
    out = []
    for k, info in enumerate(infos):
        cands = by_size.get((info["width"], info["height"]), [])
        xref = cands[0] if len(cands) == 1 else 0
        if len(cands) > 1 and owners is not None:
            xref = owners[k] or 0
        elif len(cands) > 1 and digests is not None:
            digest = digests[k]
            for x in cands:
                if x not in xref_digests:
                    try:
                        xref_digests[x] = pymupdf.Pixmap(doc, x).digest
                    except PDF_ERRORS:
                        xref_digests[x] = b""
                if xref_digests[x] == digest:
                    xref = x
                    break
        m = pymupdf.Matrix(info["transform"]) * rot
        transform = (m.a, m.b, m.c, m.d, m.e, m.f)
        bbox = _clip_box(_vis(info["bbox"], rot), page_box)
        if bbox is None:
            continue  # drawn entirely off the page
        placement = ImagePlacement(xref=xref, bbox=bbox, transform=transform, width_px=int(info["width"]),
                                   height_px=int(info["height"]),
                                   has_mask=bool(info.get("has-mask")) or smask.get(xref, False))
        full = placement.full_bbox
        if any(abs(a - b) > 0.5 for a, b in zip(full, bbox, strict=True)):
            placement.clip = bbox
        out.append(placement)
    return out


def _placement_owners(tp: pymupdf.TextPage, infos: list[dict[str, Any]],
                      by_size: dict[tuple[int, int], list[int]], doc: pymupdf.Document) -> list[int | None] | None:
    """The xref of each placement whose pixel size several of the page's images share, without decoding any.

    MuPDF loads an image object once and keeps it in its store: the text page's image block and the object
    loaded from the xref are then the same object, so the placement belongs to that xref. This is what
    hashing every placement and every candidate xref (``extractIMGINFO(hashes=True)``) tells, without decoding
    them. None (the caller hashes) unless every ambiguous placement is found this way."""
    try:
        pdf = pymupdf.mupdf.pdf_specifics(doc.this)
        placed = [b.i_image().m_internal_value() for b in tp.this
                  if b.m_internal.type == pymupdf.mupdf.FZ_STEXT_BLOCK_IMAGE]
        if len(placed) != len(infos):
            return None
        loaded: dict[int, Any] = {}  # xref -> image object, kept alive while addresses are compared
        out: list[int | None] = []
        for k, info in enumerate(infos):
            cands = by_size.get((info["width"], info["height"]), [])
            if len(cands) <= 1:
                out.append(None)
                continue
            for x in cands:
                if x not in loaded:
                    loaded[x] = pymupdf.mupdf.pdf_load_image(pdf, pymupdf.mupdf.pdf_new_indirect(pdf, x, 0))
            owners = [x for x in cands if loaded[x].m_internal_value() == placed[k]]
            if len(owners) != 1:
                return None
            out.append(owners[0])
        return out
    except (AttributeError, TypeError, ValueError, *PDF_ERRORS):
        return None


def _clip_box(b: BBox, page: BBox) -> BBox | None:
    x0, y0, x1, y1 = max(b[0], page[0]), max(b[1], page[1]), min(b[2], page[2]), min(b[3], page[3])
    if x1 - x0 <= 0.1 or y1 - y0 <= 0.1:
        return None
    return (x0, y0, x1, y1)


# ----------------------------------------------------------------------------- vector paths


def _is_light(color: Any, level: float = 0.95) -> bool:
    return color is not None and len(color) > 0 and all(c >= level for c in color)


def _paths(page: pymupdf.Page, rot: pymupdf.Matrix | None, size: tuple[float, float]) -> list[dict[str, Any]]:
    """Visible paths with the few features clustering needs (bbox, curves, fills, diagonals, rule-like).

    ``rot`` None: the page is not rotated (boxes as MuPDF gives them; see :func:`_vis`)."""
    page_area = size[0] * size[1]
    page_box = (0.0, 0.0, size[0], size[1])
    out = []
    for p in page.get_cdrawings():
        kind = p.get("type", "")
        fill, color = p.get("fill"), p.get("color")
        filled = "f" in kind and fill is not None and not _is_light(fill) and p.get("fill_opacity", 1.0) > 0.05
        stroked = "s" in kind and color is not None and not _is_light(color) and p.get("stroke_opacity", 1.0) > 0.05
        light_fill = "f" in kind and fill is not None and _is_light(fill, 0.85) and not _is_light(fill)
        if not (filled or stroked or light_fill):
            continue  # invisible or white: draws nothing a reader sees
        box = _clip_box(_vis(p["rect"], rot), page_box)
        if box is None:
            box = _vis(p["rect"], rot)
            if not (0 <= box[0] <= size[0] and 0 <= box[1] <= size[1]):
                continue
            box = (box[0], box[1], max(box[2], box[0] + 0.01), max(box[3], box[1] + 0.01))
        w, h = box[2] - box[0], box[3] - box[1]
        if w * h >= 0.4 * page_area and not filled:
            continue  # page frames and background tints: never part of a figure
        if w * h >= 0.9 * page_area:
            continue  # full-page background fill
        curves = diagonals = 0
        for it in p.get("items", ()):
            op = it[0]
            if op == "c":
                curves += 1
            elif op == "l":
                (ax, ay), (bx, by) = it[1], it[2]
                if abs(ax - bx) > 0.5 and abs(ay - by) > 0.5:
                    diagonals += 1
            elif op == "qu":
                diagonals += 1
        thin = min(w, h) <= 2.0
        rule = curves == 0 and diagonals == 0 and (thin or not filled)
        out.append({"bbox": box, "curves": curves, "diagonals": diagonals, "filled": filled, "rule": rule})
    return out


def cluster_paths(paths: list[dict[str, Any]], tol: float) -> list[DrawingCluster]:
    """Union paths whose boxes come within ``tol`` points (grid buckets keep it near-linear)."""
    n = len(paths)
    if n == 0:
        return []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cell = 48.0
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    half = tol / 2
    boxes = [p["bbox"] for p in paths]
    for i, b in enumerate(boxes):
        x0, y0, x1, y1 = b[0] - half, b[1] - half, b[2] + half, b[3] + half
        for cx in range(int(x0 // cell), int(x1 // cell) + 1):
            for cy in range(int(y0 // cell), int(y1 // cell) + 1):
                bucket = buckets[(cx, cy)]
                for j in bucket:
                    c = boxes[j]
                    if c[0] - half <= x1 and x0 <= c[2] + half and c[1] - half <= y1 and y0 <= c[3] + half:
                        ri, rj = find(i), find(j)
                        if ri != rj:
                            parent[max(ri, rj)] = min(ri, rj)
                bucket.append(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        bs = [boxes[i] for i in members]
        box = (min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))
        out.append(DrawingCluster(
            bbox=box, n_paths=len(members),
            n_curves=sum(paths[i]["curves"] for i in members),
            n_fills=sum(1 for i in members if paths[i]["filled"]),
            n_diagonals=sum(paths[i]["diagonals"] for i in members),
            rule_only=all(paths[i]["rule"] for i in members),
        ))
    out.sort(key=lambda c: (round(c.bbox[1], 1), round(c.bbox[0], 1), c.n_paths))
    return out
