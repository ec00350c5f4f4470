"""Document-level layout facts that caption detection and figure building need, from page models only.

* the body-text font size and the width of a full body line (what "prose" looks like in this book);
* page furniture: running heads, page numbers, logos and rules repeated at the same place on many pages;
* which lines are prose (running text: never part of a figure, and a barrier between figure and caption);
* scanned pages: a page-covering image under text, or a book made of page-covering images.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from ..geometry import area, intersection
from .page_model import ImagePlacement, PageModel, TextLine

FURNITURE_BAND = 0.12  # running heads/feet live in the top and bottom 12% of the page
SCAN_COVER = 0.80  # an image covering this much of the page is a page scan (or a full-page plate)
WHOLE_PAGE = 0.95  # ... and this much, on a page without text, a scan rather than a plate


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0xF900 <= o <= 0xFAFF


_CJK_RE = re.compile("[\u3400-\u9fff\u3000-\u303f\uff00-\uffef\uf900-\ufaff]")
_SYMBOLS_RE = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")  # a token of symbols only ("+", "[", "--")
_DIGITS = re.compile(r"\d+")


def word_count(text: str) -> int:
    """Words, counting a CJK character as half a word (a Chinese line of 10 characters ~ 5 words)."""
    if text.isascii():
        return len(text.split())  # no CJK character: the words are the split (most lines of most books)
    cjk = len(_CJK_RE.findall(text))
    latin = len(_CJK_RE.sub(" ", text).split())
    return latin + cjk // 2


@dataclass
class DocStats:
    """What body text looks like in this book."""

    body_size: float
    column_width: float
    pages: int


@dataclass
class PageLayout:
    """Per-line roles on one page (parallel to ``PageModel.lines``)."""

    prose: list[bool]
    furniture: list[bool]


def document_stats(models: list[PageModel]) -> DocStats:
    sizes: Counter[float] = Counter()
    for m in models:
        for ln in m.lines:
            if ln.horizontal:
                sizes[round(ln.size * 2) / 2] += len(ln.text.strip())
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    widths = sorted(
        ln.bbox[2] - ln.bbox[0]
        for m in models for ln in m.lines
        if ln.horizontal and abs(ln.size - body) <= 0.75 and word_count(ln.text) >= 5
    )
    if widths:
        col = widths[min(len(widths) - 1, int(0.9 * len(widths)))]
    else:
        col = 0.6 * (models[0].size[0] if models else 600.0)
    return DocStats(body_size=float(body), column_width=float(col), pages=len(models))


def _furniture_key(ln: TextLine, page_h: float) -> tuple[int, str] | None:
    y = (ln.bbox[1] + ln.bbox[3]) / 2
    if FURNITURE_BAND * page_h < y < (1 - FURNITURE_BAND) * page_h:
        return None
    text = unicodedata.normalize("NFKC", ln.text).strip().lower()
    # scanned pages lie a little differently on the glass each time: an OCR'd head wanders by several points
    step = 8 if ln.source == "ocr" else 4
    return (round(y / step), _DIGITS.sub("#", text)[:40])


def _isolated(m: PageModel, k: int) -> bool:
    """No line sits right above or below line ``k`` in its column (running heads and folios stand alone)."""
    ln = m.lines[k]
    h = max(ln.bbox[3] - ln.bbox[1], 1.0)
    for j, o in enumerate(m.lines):
        if j == k or o.bbox[2] <= ln.bbox[0] or o.bbox[0] >= ln.bbox[2]:
            continue
        if -0.2 * h < o.bbox[1] - ln.bbox[3] < 0.6 * h or -0.2 * h < ln.bbox[1] - o.bbox[3] < 0.6 * h:
            return False
    return True


def furniture_keys(models: list[PageModel]) -> set[tuple[int, str]]:
    """Keys (position + text with digits masked) of lines that stand alone in the top or bottom band and
    repeat on at least three pages: running heads (also per chapter), folios, journal footers. A line one
    position step off counts too (an OCR'd head's box varies by a few points from page to page)."""
    counts: Counter[tuple[int, str]] = Counter()
    for m in models:
        seen = set()
        for k, ln in enumerate(m.lines):
            key = _furniture_key(ln, m.size[1])
            if key is not None and key not in seen and _isolated(m, k):
                seen.add(key)
                counts[key] += 1
    return {(y, t) for y, t in counts if counts[(y - 1, t)] + counts[(y, t)] + counts[(y + 1, t)] >= 3}


def mark_decorations(models: list[PageModel]) -> None:
    """Flag images and drawing clusters repeated at the same place on many pages (logos, banners).

    An image repeats when the same picture (same pixel size) sits at the same place: a book that sets
    its figures at one fixed spot on many pages (a photo atlas) has different pictures there."""
    need = max(3, int(0.3 * len(models) + 0.999))

    def key(b: tuple[float, float, float, float]) -> tuple[int, ...]:
        return tuple(round(v / 2) for v in b)

    def img_key(i: ImagePlacement) -> tuple[int, ...]:
        return (*key(i.bbox), i.width_px, i.height_px)

    img_counts: Counter[tuple[int, ...]] = Counter()
    drw_counts: Counter[tuple[int, ...]] = Counter()
    for m in models:
        img_counts.update({img_key(i) for i in m.images})
        drw_counts.update({key(d.bbox) for d in m.drawings})
    for m in models:
        for i in m.images:
            if img_counts[img_key(i)] >= need and area(i.bbox) < 0.25 * m.area:
                i.decoration = True
        for d in m.drawings:
            if drw_counts[key(d.bbox)] >= need:
                d.decoration = True


def mark_scans(models: list[PageModel], stats: DocStats) -> None:
    """Set ``scan_image`` on pages whose page-covering image is a scan rather than a full-page figure.

    A covering image is a scan when most pages of the book have one, when running text lies on it (an
    OCR layer over a scanned page), or when the page has no text and the image is the whole page; a
    text-less page whose image leaves a margin is a full-page plate (a figure). A ``scan_image`` already
    set (by OCR) is kept.
    """
    covering: dict[int, int] = {}
    for k, m in enumerate(models):
        for i, img in enumerate(m.images):
            if area(img.bbox) >= SCAN_COVER * m.area:
                covering[k] = i
                break
    scanned_book = len(models) >= 2 and len(covering) >= 0.5 * len(models)
    for k, i in covering.items():
        m = models[k]
        if m.scan_image is not None:
            continue
        whole_page = area(m.images[i].bbox) >= WHOLE_PAGE * m.area
        if scanned_book or (m.text_layer != "ok" and whole_page):
            m.scan_image = i
            continue
        img = m.images[i]
        prose_on = sum(1 for ln in m.lines if intersection(ln.bbox, img.bbox) > 0.5 * area(ln.bbox)
                       and word_count(ln.text) >= 5)
        if prose_on >= 5:
            m.scan_image = i


def _is_furniture(ln: TextLine, page_h: float, furniture: set[tuple[int, str]]) -> bool:
    """The line's key is a furniture key; an OCR line's text may differ by a misread word or two."""
    key = _furniture_key(ln, page_h)
    if key is None or key in furniture:
        return key is not None
    if ln.source != "ocr" or len(key[1]) < 4:
        return False
    return any(abs(y - key[0]) <= 1 and len(t) >= 4
               and difflib.SequenceMatcher(None, t, key[1], autojunk=False).ratio() >= 0.75 for y, t in furniture)


def _ocr_sentence(ln: TextLine, stats: DocStats) -> bool:
    """An OCR'd line of body size that ends a sentence of five words or more (``光凝及玻璃体腔注药等。`` opening
    a page): running text however short, never a figure's label."""
    return (ln.source == "ocr" and ln.horizontal and ln.text.rstrip().endswith(("\u3002", "."))
            and word_count(ln.text) >= 5 and abs(ln.size - stats.body_size) <= 0.75)


def page_layout(model: PageModel, stats: DocStats, furniture: set[tuple[int, str]]) -> PageLayout:
    """Mark each line as prose (running text) and/or furniture (running head, page number)."""
    furn = [_is_furniture(ln, model.size[1], furniture) for ln in model.lines]
    long_min = 0.4 * stats.column_width

    # OCR reads the text inside a scanned figure too: what lies in a figure region of a scan is its labels
    regions = [im.bbox for k, im in enumerate(model.images)
               if im.xref == 0 and not im.decoration and k != model.scan_image]

    def is_long(ln: TextLine) -> bool:
        # symbols are not words: OCR reads a legend's colour swatches and markers as "[", "+" ...
        return ln.horizontal and (ln.bbox[2] - ln.bbox[0]) >= long_min \
            and word_count(_SYMBOLS_RE.sub(" ", ln.text)) >= 5 \
            and not (ln.source == "ocr" and any(intersection(ln.bbox, r) >= 0.9 * area(ln.bbox) for r in regions))

    # Running text is made of long lines; a paragraph's short last line is added below. Text blocks are not
    # trusted: MuPDF may put a figure's panel letters into the block of the caption or paragraph above them.
    long_line = [is_long(ln) or _ocr_sentence(ln, stats) for ln in model.lines]
    prose = list(long_line)
    # the short last line of a paragraph: right under a prose line, same size, left-aligned with it
    order = sorted(range(len(model.lines)), key=lambda i: (model.lines[i].base, model.lines[i].bbox[0]))
    for a, i in enumerate(order):
        ln = model.lines[i]
        if prose[i] or not ln.horizontal:
            continue
        for j in reversed(order[:a]):
            up = model.lines[j]
            d = ln.base - up.base
            if d > 1.8 * max(ln.size, 1.0):
                break
            if (long_line[j] and d > 0.5 * ln.size and abs(up.size - ln.size) <= 0.5
                    and abs(up.bbox[0] - ln.bbox[0]) <= max(ln.size, 1.0) and ln.bbox[2] <= up.bbox[2] + 2):
                prose[i] = True
                break
    return PageLayout(prose=[p and not f for p, f in zip(prose, furn, strict=True)], furniture=furn)
