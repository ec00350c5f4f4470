"""Caption detection on page models, and caption text normalisation.

A caption starts a line with a cue from a configurable, multilingual list (``Fig.``, ``Figure``, ``图``,
``Figura``, ``Abb.``, ``شکل``, ``Рис.`` ... and, for tables, ``Table``, ``Tab.``, ``表``, ``جدول`` ...) followed by
a number (``3``, ``3-12``, ``2.5``, ``S1``, ``۳-۲``; any decimal digits, read as ASCII in ``number``). Lines of
right-to-left text are in reading order (the OCR reader sees to it) and their rows continue to the left. Body-text references are rejected:

* the cue must start a line, and that line must start a paragraph (first line of its block, or the line
  above ends a sentence / is not running text / is far above), unless the label is set apart typographically;
* after the number comes punctuation (``Fig. 3.``, ``Figure 3:``, ``图3-12．``), the end of the line, a
  capital / CJK / opening bracket after a space (``Fig. 1  Examples``), or a label in another style (bold) —
  never a lower-case word (``Figure 3 shows``, ``Figura 3.5 presenta``);
* lines of a list of figures (dot leaders) are not captions.

The caption block then grows line by line (same column, aligned left or centred, same size, no paragraph
gap) until a gap, a size change or the next caption. A caption directly followed by another with the same
number (a bilingual caption: ``图 3-1 ...`` / ``Fig. 3-1 ...``) is one caption.

Works on :class:`~mmretinal_builder.pdf.page_model.PageModel` only, so OCR lines reuse it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..geometry import BBox, gap, horizontal_overlap, union
from .bidi import is_rtl
from .glyphs import SPACING_ACCENTS
from .glyphs import compose as _compose
from .layout import PageLayout, is_cjk
from .page_model import PageModel, TextLine

DEFAULT_FIGURE_CUES: tuple[str, ...] = (
    "Figure", "FIGURE", "Fig.", "FIG.", "Fig", "FIG", "Figs.", "Figura", "FIGURA", "Fig.ª",
    "Abb.", "Abbildung", "ABBILDUNG", "Plate", "PLATE", "图", "圖", "図",
    "\u0634\u06a9\u0644", "\u0634\u0643\u0644",  # Persian and Arabic "shekl" (figure)
    "Рис.", "Рисунок", "그림",
)
DEFAULT_TABLE_CUES: tuple[str, ...] = (
    "Table", "TABLE", "Tab.", "TAB.", "Tabla", "TABLA", "Tabelle", "Tableau", "Tabela", "Tabella", "表",
    "\u062c\u062f\u0648\u0644",  # Persian/Arabic "jadval" (table)
    "Таблица", "표",
)

# ASCII, full-width, Arabic-Indic and Persian (extended Arabic-Indic) digits
_DIGIT = "0-9\uff10-\uff19\u0660-\u0669\u06f0-\u06f9"
# Separators inside a number ("3-12", "2.5"); a full-width "．" always ends the label in CJK typesetting,
# and later parts have at most three digits ("图 2-3．2008年..." is label "图 2-3", not "2-3.2008").
_DASH = "\\-\u2010\u2011\u2012\u2013\u2014\u2212\uff0d."
_NUMBER = (
    rf"(?:[A-Z]{{1,2}}[\-.]?(?=[{_DIGIT}]))?[{_DIGIT}]+(?:[{_DASH}][{_DIGIT}]{{1,3}}(?![{_DIGIT}]))*"
    rf"(?:[A-Za-z](?![A-Za-z]))?"
    rf"|[IVXLC]{{1,6}}(?=[.:\uff0e\uff1a])"
)
#: Punctuation that may follow a caption number (and makes the line a caption on its own).
_CAPTION_PUNCT = ".:|\u2014\u2013-\uff0e\uff1a\u00b7\u060c\u061b\u06d4"
# CJK sentence stops (ideographic full stop, full-width ! ?) after a label end a body sentence; captions use a
# space, a full-width colon or full stop (U+FF0E) instead
_SENTENCE_STOPS = "\u3002\uff01\uff1f"
_TERMINAL = tuple(".!?:;\u3002\uff01\uff1f\uff1a\uff1b\uff0e)")
_SENTENCE_END = tuple(".!?\u3002\uff01\uff1f")
_LEADERS = re.compile(r"(\.\s?){4,}|\u2026{2,}|(\s\.){3,}")
_WS = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


@dataclass
class Caption:
    """A detected caption (figure or table) on one page."""

    page: int
    kind: Literal["figure", "table"]
    label: str  # as printed, whitespace normalised: "Fig. 1", "图3-12"
    number: str | None  # NFKC, dashes unified: "3-12"
    lines: list[int]  # indices into the page's lines, reading order
    bbox: BBox
    text: str  # normalised caption text, label included
    rule: str  # which acceptance rule fired, e.g. "cue+punct"
    raw_lines: list[str] = field(default_factory=list)


@dataclass
class _Head:
    kind: Literal["figure", "table"]
    cue: str
    label: str
    number: str | None
    rule: str


class CaptionFinder:
    """Finds figure and table captions on page models; configured by cue lists."""

    def __init__(self, figure_cues: Sequence[str] = DEFAULT_FIGURE_CUES,
                 table_cues: Sequence[str] = DEFAULT_TABLE_CUES, max_lines: int = 80) -> None:
        self.max_lines = max_lines
        self._patterns = [("figure", self._compile(figure_cues)), ("table", self._compile(table_cues))]

    @staticmethod
    def _compile(cues: Iterable[str]) -> re.Pattern[str] | None:
        cues = sorted({c.strip() for c in cues if c.strip()}, key=len, reverse=True)
        if not cues:
            return None
        alts = []
        for c in cues:
            esc = re.escape(c)
            # A cue ending in a letter must not run into a longer word ("Figures", "Figured", "شکلی"); Chinese
            # and Japanese cues are single characters that need no boundary.
            alts.append(esc + ("(?![^\\W\\d_])" if c[-1].isalpha() and not is_cjk(c[-1]) else ""))
        ws = r"[\s\u00a0\u2000-\u200b\u202f\u3000]*"
        return re.compile(
            rf"^{ws}(?P<cue>{'|'.join(alts)}){ws}(?:(?P<num>{_NUMBER})|(?P<bare>(?=[:\uff1a\u2014|])))"
        )

    # ------------------------------------------------------------------ heads

    def head(self, line: TextLine, continues: bool = False) -> _Head | None:
        """Is ``line`` the first line of a caption? ``continues``: it sits inside a running paragraph."""
        text = line.text
        if _LEADERS.search(text):
            return None  # list of figures / table of contents
        for kind, pat in self._patterns:
            if pat is None:
                continue
            m = pat.match(text)
            if not m:
                continue
            rest = text[m.end():]
            styled = _label_styled(line, m.end())
            rule = _after_label_rule(rest, styled, m.group("num") is None)
            if rule is None or (line.source == "ocr" and _misread_number(rest)):
                return None
            if continues and not styled:
                return None  # "... as shown in\nFigure 3. The ..." is body text
            label = _WS.sub(" ", text[m.start("cue"):m.end()]).strip()
            num = m.group("num")
            return _Head(kind, m.group("cue"), label, normalize_number(num) if num else None, rule)  # type: ignore[arg-type]
        return None

    # ------------------------------------------------------------------ pages

    def find(self, model: PageModel, layout: PageLayout, excluded: set[int] | None = None,
             vocabulary: set[str] | None = None) -> list[Caption]:
        """All captions of one page (figure and table), each with its full extent. ``excluded`` lines are
        never read (a broken text layer); ``vocabulary`` settles line-break hyphens."""
        excluded = excluded or set()
        lines = model.lines
        order = sorted(range(len(lines)), key=lambda i: (lines[i].bbox[1], lines[i].bbox[0]))
        prev_in_block = _previous_in_block(lines)
        heads: dict[int, _Head] = {}
        for i in order:
            ln = lines[i]
            if i in excluded or layout.furniture[i] or not ln.horizontal:
                continue
            if not any(pat.match(ln.text) for _, pat in self._patterns if pat is not None):
                continue  # no cue at its start: not a head, whatever the paragraph around it (tested first: cheap)
            prev = prev_in_block.get(i)
            cont = prev is not None and _continues_paragraph(lines[prev], ln)
            h = self.head(ln, cont)
            if h is not None:
                heads[i] = h
        used: set[int] = set()
        out: list[Caption] = []
        for i in order:
            if i not in heads or i in used:
                continue
            members = self._extent(model, i, heads, used | excluded)
            # A bilingual caption: the next head right below with the same number continues this one.
            parts = [(heads[i].label, members)]
            while True:
                taken_now = used | excluded | {k for _, ms in parts for k in ms}
                nxt = self._next_row_line(model, [k for _, ms in parts for k in ms], taken_now, heads_only=heads)
                if nxt is None or heads[nxt].number != heads[i].number or heads[nxt].kind != heads[i].kind:
                    break
                parts.append((heads[nxt].label, self._extent(model, nxt, heads, taken_now)))
            members = [k for _, ms in parts for k in ms]
            if heads[i].rule == "cue+eol" and len(members) == 1:
                continue  # a bare "Figure 3" (a table cell, a cross-reference) with nothing after it
            used.update(members)
            raw = _row_texts(model, members)
            text = " ".join(normalize_caption(_row_texts(model, ms), vocabulary, lab) for lab, ms in parts)
            h = heads[i]
            out.append(Caption(
                page=model.number, kind=h.kind, label=h.label, number=h.number, lines=members,
                bbox=union(lines[k].bbox for k in members), text=text, rule=h.rule, raw_lines=raw,
            ))
        return out

    def _extent(self, model: PageModel, start: int, heads: dict[int, _Head], taken: set[int]) -> list[int]:
        """The caption block that starts at line ``start``: its row, then aligned rows below."""
        lines = model.lines
        label_only = heads[start].rule == "cue+eol"
        members = [start] + _same_row(model, start, taken | {start}, reach=12.0 if label_only else 1.0)
        size = _text_size(lines, members)
        col0 = min(lines[k].bbox[0] for k in members)
        col1 = max(lines[k].bbox[2] for k in members)
        short_first = (col1 - col0) < 12 * size  # "Figure 3" alone: the text below may be wider
        pitch: float | None = None
        last_base = max(lines[k].base for k in members)
        # left edges a continuation row may start at: the caption's, and where the text after the label starts
        # (a hanging indent: continuation rows aligned under the text, not under the label)
        hang = [sp.bbox[0] for sp in lines[start].spans[1:] if sp.text.strip()][:1]
        hang += [lines[k].bbox[0] for k in members[1:2]]  # the text beside a margin label
        while len(members) < self.max_lines:
            best = None
            for k, ln in enumerate(lines):
                if k in taken or k in members or not ln.horizontal:
                    continue
                d = ln.base - last_base
                if d <= 0.3 * size:
                    continue
                limit = 1.75 * size if pitch is None else min(1.75 * size, 1.3 * pitch + 0.5)
                if d > limit:
                    continue
                first_text = label_only and len(members) == 1  # "FIGURE 3" set large, its text smaller
                # OCR sizes are estimates from a few glyph boxes: a short line's is rough
                tol = max(0.8, (0.3 if ln.source == "ocr" else 0.1) * size)
                if abs(ln.size - size) > tol and not (first_text and 0.6 <= ln.size / size <= 1.4):
                    continue
                left_ok = abs(ln.bbox[0] - col0) <= 1.5 * size or any(abs(ln.bbox[0] - h) <= 0.6 * size for h in hang)
                centre_ok = abs((ln.bbox[0] + ln.bbox[2]) / 2 - (col0 + col1) / 2) <= 1.5 * size
                inside = ln.bbox[0] >= col0 - 1.5 * size and ln.bbox[2] <= col1 + 1.5 * size
                spans_label = short_first and ln.bbox[0] <= col0 + size and ln.bbox[2] >= col1 - size
                if not (left_ok or centre_ok or spans_label
                        or (inside and horizontal_overlap(ln.bbox, (col0, 0, col1, 1)) > 0.9)):
                    continue
                if not (short_first or left_ok) and ln.bbox[2] > col1 + max(3 * size, 0.15 * (col1 - col0)):
                    continue  # a wider line that is not left-aligned: another column or the body text
                if best is None or (d, abs(ln.bbox[0] - col0)) < best[0]:
                    best = ((d, abs(ln.bbox[0] - col0)), k)
            if best is None:
                break
            k = best[1]
            if k in heads:
                break  # the next caption (a bilingual twin is joined by the caller)
            if _label_on_graphic(model, lines[k], col1 - col0, size):
                break  # a panel label at the edge of the figure the caption sits above
            if _new_paragraph(lines, members, k, col0, col1, size):
                break  # a sentence ended and an indented line or another typeface follows: the body text
            d = lines[k].base - last_base
            pitch = d if pitch is None else min(pitch, d)
            row = [k] + _same_row(model, k, taken | set(members) | {k})
            members.extend(row)
            if label_only and len(members) == len(row) + 1:
                size = _text_size(lines, row)  # the caption text's size, not the label's
            last_base = max(lines[j].base for j in row)
            col1 = max(col1, *(lines[j].bbox[2] for j in row))
            if short_first:
                col0 = min(col0, *(lines[j].bbox[0] for j in row))
                short_first = (col1 - col0) < 12 * size
        return members

    def _next_row_line(self, model: PageModel, members: list[int], taken: set[int],
                       heads_only: dict[int, _Head]) -> int | None:
        """The caption head (if any) directly below the block ``members``."""
        lines = model.lines
        size = _text_size(lines, members)
        last_base = max(lines[k].base for k in members)
        col0 = min(lines[k].bbox[0] for k in members)
        col1 = max(lines[k].bbox[2] for k in members)
        for k in sorted(heads_only, key=lambda j: lines[j].base):
            if k in taken:
                continue
            d = lines[k].base - last_base
            if 0.3 * size < d <= 2.2 * size and horizontal_overlap(lines[k].bbox, (col0, 0, col1, 1)) > 0.5:
                return k
        return None


# ----------------------------------------------------------------------------- line helpers


def _previous_in_block(lines: list[TextLine]) -> dict[int, int]:
    """For each line, the line just above it in the same text block (extraction order)."""
    last: dict[int, int] = {}
    out: dict[int, int] = {}
    for i, ln in enumerate(lines):
        if ln.block_id in last:
            out[i] = last[ln.block_id]
        last[ln.block_id] = i
    return out


def _continues_paragraph(prev: TextLine, line: TextLine) -> bool:
    """``line`` continues the running paragraph of ``prev`` (so a cue at its start is a reference)."""
    size = max(line.size, 1.0)
    d = line.base - prev.base
    if not (0.3 * size < d <= 1.6 * size):
        return False
    if horizontal_overlap(prev.bbox, line.bbox) < 0.5:
        return False
    if prev.text.rstrip().endswith(_TERMINAL):
        return False
    # A short line above (a label inside the figure) is not running text (tested before the script shares:
    # both tests are pure, and this one is cheap).
    if (prev.bbox[2] - prev.bbox[0]) < 0.7 * max(line.bbox[2] - line.bbox[0], 1.0):
        return False
    # Chinese then English: the second half of a bilingual caption, not a continuation
    return not (_cjk_share(prev.text) > 0.5 and _cjk_share(line.text) < 0.2)


def _new_paragraph(lines: list[TextLine], members: list[int], k: int, col0: float, col1: float,
                   size: float) -> bool:
    """After a finished sentence, line ``k`` starts a paragraph of its own: indented (in a left-aligned
    block, not a centred one) or set in another typeface (Latin text only: CJK lines mix two fonts)."""
    last = max(members, key=lambda j: (lines[j].base, lines[j].bbox[0]))
    if not lines[last].text.rstrip().endswith(_SENTENCE_END):
        return False
    ln = lines[k]
    first = lines[members[0]]
    later = [lines[j].bbox[0] for j in members if lines[j].base > first.base + 0.3 * size]
    if later:
        ref = min(later)  # continuation rows set the caption's left edge (a hanging indent included)
    elif any(abs(sp.bbox[0] - ln.bbox[0]) <= 0.6 * size for sp in first.spans[1:2]):
        return False  # aligned under the text after the label: a hanging indent
    else:
        ref = col0
    indent = ln.bbox[0] - ref
    # an indented body line keeps the right margin; a centred caption's next line is pulled in on both sides
    if indent >= 0.6 * size and col1 - ln.bbox[2] < 0.5 * indent:
        return True
    latin = _cjk_share(ln.text) < 0.2 and _cjk_share(lines[last].text) < 0.2
    return latin and _font(ln) != _font(lines[last])


def _font(ln: TextLine) -> str:
    """The typeface carrying most of a line's characters, style suffix dropped (Times-Bold -> times)."""
    counts: dict[str, int] = {}
    for s in ln.spans:
        name = re.split(r"[-,+]", s.font.split("+")[-1])[0].lower()
        counts[name] = counts.get(name, 0) + len(s.text.strip())
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0] if counts else ""


def _label_on_graphic(model: PageModel, ln: TextLine, col_width: float, size: float) -> bool:
    """A short line touching or inside an image or a vector drawing: a figure's label, not caption text."""
    if ln.bbox[2] - ln.bbox[0] >= 0.25 * col_width:
        return False
    text = ln.text.strip()
    if text.endswith(_SENTENCE_END) and sum(1 for c in text if c.isalnum()) >= 2:
        return False  # the end of a sentence ("反射。"), not a panel label ("A．")
    boxes = [im.bbox for im in model.images if not im.decoration]
    boxes += [d.bbox for d in model.drawings if not d.decoration and not d.rule_only]
    return any(gap(ln.bbox, b) <= 0.5 * size for b in boxes)


_SPACE_RE = re.compile(r"\s")  # the same characters as str.isspace()
_VOCAB_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+(?:-[A-Za-z\u00c0-\u024f]+)*")  # book_vocabulary's words
_CJK_CHAR_RE = re.compile("[\u3400-\u9fff\u3000-\u303f\uff00-\uffef\uf900-\ufaff]")  # layout.is_cjk


def _cjk_share(text: str) -> float:
    """Share of the non-space characters that are CJK (counted by regex: this runs for every line pair of
    every page). U+3000, the ideographic space, is in the CJK range but is a space: not counted either way."""
    if text.isascii():
        return 0.0
    chars = len(text) - len(_SPACE_RE.findall(text))
    if not chars:
        return 0.0
    return (len(_CJK_CHAR_RE.findall(text)) - text.count("\u3000")) / chars


def _same_row(model: PageModel, k: int, taken: set[int], reach: float = 1.0) -> list[int]:
    """Lines on the same baseline to the right of line ``k`` that continue it (split lines); ``reach`` is
    the largest gap in ems (a label alone in the margin reaches further, to its text in the column)."""
    lines = model.lines
    ln = lines[k]
    size = ln.size
    out = []
    rtl = is_rtl(ln.text)  # a right-to-left caption row goes on to the left
    edge = ln.bbox[0] if rtl else ln.bbox[2]
    for j in sorted(range(len(lines)), key=lambda j: -lines[j].bbox[2] if rtl else lines[j].bbox[0]):
        o = lines[j]
        if j in taken or j == k or not o.horizontal:
            continue
        # a column gutter is wider than one em; a line MuPDF split inside a caption row is not
        step = edge - o.bbox[2] if rtl else o.bbox[0] - edge
        gap_ok = -0.5 <= step <= (reach if not out else 1.0) * size
        if abs(o.base - ln.base) <= 0.3 * size and gap_ok and abs(o.size - size) <= 1.5:
            out.append(j)
            edge = o.bbox[0] if rtl else o.bbox[2]
    return out


def _text_size(lines: list[TextLine], members: list[int]) -> float:
    """Font size of the caption body (the label may be set larger or smaller)."""
    counts: dict[float, int] = {}
    for k in members:
        for s in lines[k].spans:
            n = len(s.text.strip())
            if n:
                counts[round(s.size, 1)] = counts.get(round(s.size, 1), 0) + n
    if not counts:
        return lines[members[0]].size
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


def _row_texts(model: PageModel, members: list[int]) -> list[str]:
    """The caption's text, one string per printed row (rows are joined by the normaliser)."""
    rows: list[list[int]] = []
    for k in sorted(members, key=lambda j: (model.lines[j].base, model.lines[j].bbox[0])):
        ln = model.lines[k]
        if rows and abs(model.lines[rows[-1][0]].base - ln.base) <= 0.3 * max(ln.size, 1.0):
            rows[-1].append(k)
        else:
            rows.append([k])
    out = []
    for row in rows:
        rtl = is_rtl("".join(model.lines[j].text for j in row))  # pieces of a right-to-left row read right to left
        parts = sorted(row, key=lambda j: -model.lines[j].bbox[2] if rtl else model.lines[j].bbox[0])
        out.append(" ".join(model.lines[j].text for j in parts))
    return out


def _label_styled(line: TextLine, end: int) -> bool:
    """The label (first ``end`` characters) is bold/italic/another font while the text after it is not."""
    pos = 0
    label_spans, rest_spans = [], []
    for s in line.spans:
        if pos < end:
            if s.text.strip():
                label_spans.append(s)
        elif s.text.strip():
            rest_spans.append(s)
        pos += len(s.text)
    if not label_spans or not rest_spans:
        return bool(label_spans) and all(s.bold for s in label_spans)
    lab, nxt = label_spans[0], rest_spans[0]
    return (lab.bold and not nxt.bold) or (lab.italic != nxt.italic) or (lab.font != nxt.font and lab.bold)


def _misread_number(rest: str) -> bool:
    """OCR text after a number that goes on with a dash and a symbol: the rest of a number misread
    (``图 1-？显示`` for ``图 1-1显示``), not the punctuation after a label."""
    r = rest.lstrip()
    return len(r) >= 2 and r[0] in "-\u2010\u2011\u2013\u2014\uff0d" and not (r[1].isalnum() or r[1].isspace()
                                                                               or r[1] in "([\uff08")


def _after_label_rule(rest: str, styled: bool, bare: bool) -> str | None:
    """Which rule accepts the text after the label, or None when it reads as a body-text reference."""
    if bare:
        return "cue+punct" if rest.lstrip()[:1] in (":", "\uff1a", "\u2014", "|") or styled else None
    stripped = rest.lstrip(" \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u3000")
    if not stripped:
        return "cue+eol"
    ch = stripped[0]
    if ch in _SENTENCE_STOPS:
        return None  # "……典型病例见\n图5-1。本病……": the label ends a sentence, a reference wrapped to a line start
    if ch in _CAPTION_PUNCT:
        if ch in "-\u2013\u2014" and len(stripped) > 1 and stripped[1].isdigit():
            return None  # a range "Fig. 3-5": still a reference list
        return "cue+punct"
    if styled:
        return "cue+style"
    spaced = len(stripped) < len(rest)
    if not spaced:
        return None  # "图3显示", "Fig.3shows": no break after the number
    if ch.isupper() or ch.isdigit() or is_cjk(ch) or ch in "([\u201c\"'\u2018\uff08\u300c":
        return "cue+capital"
    return None


# ----------------------------------------------------------------------------- normalisation

_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
              "\ufb05": "st", "\ufb06": "st"}
# Text-level fallback for split accents (OCR text, text without glyph boxes): the born-digital reader
# already composed accents by geometry (:mod:`.glyphs`). Only non-ASCII spacing accents count here ("^", "~"
# and "`" are glyphs of their own in text: "x^2", "~5 mm"), and no space is ever removed: without the
# glyph boxes "nervio ´optico" (a space, then ó) and "Representaci ´on" (no space) cannot be told apart.
_TEXT_ACCENTS = {k: v for k, v in SPACING_ACCENTS.items() if not k.isascii()}
_ACC = "".join(re.escape(k) for k in _TEXT_ACCENTS)
_ACC_BEFORE = re.compile(rf"(?P<acc>[{_ACC}])(?P<base>[A-Za-z\u0131])")
_ACC_AFTER = re.compile(rf"(?P<base>[A-Za-z\u0131])(?P<acc>[{_ACC}])(?![A-Za-z\u0131])")
_DOTLESS = re.compile(rf"\u0131(?P<a1>[{_ACC}\u0300-\u036f])|(?P<a2>[{_ACC}\u0300-\u036f])\u0131")
_COMBINING_BEFORE = re.compile(r"(?<![A-Za-z\u0131\u0300-\u036f])(?P<acc>[\u0300-\u036f]+)(?P<base>[A-Za-z\u0131])")
_HYPHENS = "-\u2010\u2011\u00ad"
_LEFT_OF_HYPHEN = re.compile(r"([^\s\-\u2010\u2011\u00ad]+)[\-\u2010\u2011\u00ad]$")
_CJK_PUNCT_NO_SPACE_BEFORE = "\uff0c\u3002\uff1b\uff1a\uff01\uff1f\uff09\u3001\u300d\u300f\u3011"


def normalize_number(num: str) -> str:
    """``３-１２``, ``۳-۱۲``, ``3–12`` -> ``3-12``: ASCII digits, one kind of dash."""
    s = unicodedata.normalize("NFKC", num)
    s = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in s)
    return re.sub(r"[\u2010\u2011\u2012\u2013\u2014\u2212]", "-", s)  # NFKC maps U+FF0D to "-" already


def fix_split_accents(text: str) -> str:
    """``Representaci´on`` -> ``Representación``: a spacing accent touching a letter becomes one character
    (spaces are never removed; see :mod:`.glyphs` for the geometric repair of PDF text)."""

    def compose(m: re.Match[str]) -> str:
        acc = m.group("acc")
        c = _compose(m.group("base"), acc[0])
        return c + acc[1:] if c else m.group(0)

    # TeX's dotless i exists only to carry an accent: the accent next to it is its own, on either side
    text = _DOTLESS.sub(lambda m: _compose("i", m.group("a1") or m.group("a2")) or m.group(0), text)
    text = _COMBINING_BEFORE.sub(compose, text)  # a combining mark typed before its letter
    text = _ACC_BEFORE.sub(compose, text)  # TeX order: accent, then the letter it sits on
    text = _ACC_AFTER.sub(compose, text)
    return unicodedata.normalize("NFC", text)


def _join_rows(rows: list[str], vocabulary: set[str] | None) -> str:
    out = ""
    for row in rows:
        row = row.strip()
        if not row:
            continue
        if not out:
            out = row
            continue
        if out[-1] in _HYPHENS and len(out) >= 2:
            left_m = _LEFT_OF_HYPHEN.search(out)
            right_m = re.match(r"[^\s]+", row)
            left = left_m.group(1) if left_m else ""
            right = right_m.group(0) if right_m else ""
            soft = out[-1] == "\u00ad"
            joined = soft or _drop_hyphen(left, right, vocabulary)
            out = out[:-1] + ("" if joined else "-") + row
            continue
        if (is_cjk(out[-1]) and is_cjk(row[0])) or out[-1] in "\u2014\u2013/":
            out += row
        else:
            out += " " + row
    return out


def _drop_hyphen(left: str, right: str, vocabulary: set[str] | None) -> bool:
    """Is the hyphen at a line break a typesetting break (drop it) or part of the word (keep it)?"""
    if not left or not right:
        return False
    l_word = re.sub(r"^\W+", "", left)
    r_word = re.sub(r"\W+$", "", right)
    if not l_word or not r_word:
        return False
    if not (l_word[-1].isalpha() and r_word[0].isalpha() and r_word[0].islower()):
        return False  # "CGAN-" + "460", "anti-" + "VEGF": a real hyphen
    if l_word[-1].isupper() and len(l_word) > 1 and l_word.isupper():
        return False
    if vocabulary:
        joined = (l_word + r_word).lower()
        hyph = f"{l_word}-{r_word}".lower()
        if hyph in vocabulary and joined not in vocabulary:
            return False
    return True


def normalize_caption(rows: Sequence[str] | str, vocabulary: set[str] | None = None, label: str | None = None) -> str:
    """Caption text as a reader sees it: rows joined (hyphens at breaks resolved), ligatures and split
    accents repaired, whitespace collapsed, ``( a )`` -> ``(a)``.

    ``vocabulary`` (lower-case words, and hyphenated words, seen elsewhere in the book) decides doubtful
    line-break hyphens: ``well-`` + ``known`` stays hyphenated when the book prints ``well-known``.
    """
    if isinstance(rows, str):
        rows = rows.split("\n")
    clean = []
    for r in rows:
        for k, v in _LIGATURES.items():
            r = r.replace(k, v)
        r = _WS.sub(" ", r).strip()
        soft = r.endswith("\u00ad")  # a soft hyphen at the end of a row is always a typesetting break
        clean.append(r.replace("\u00ad", "") + ("\u00ad" if soft else ""))
    text = _join_rows(clean, vocabulary)
    text = text.replace("\u00ad", "")
    text = fix_split_accents(text)
    # in-line "word- word" left by a reader that lost the line break: join only when it is a real break
    text = re.sub(r"(?<=[A-Za-z0-9])- (?=[0-9])", "-", text)
    text = re.sub(r"\b([A-Za-z]+)- ([a-z]+)\b",
                  lambda m: m.group(1) + m.group(2) if _inline_break(m.group(1), m.group(2), vocabulary)
                  else m.group(0), text)
    text = _WS.sub(" ", text).strip()
    text = re.sub(r"([(\[\uff08])\s+", r"\1", text)
    text = re.sub(r"\s+([)\]\uff09])", r"\1", text)
    # a space before "," or a sentence's "." is never printed; before ":", ";", "!" and "?" it is French
    # typography (a reader sees "patient atteint de X : ..."), so it stays
    text = re.sub(r"\s+(,(?=\s|$))", r"\1", text)
    text = re.sub(r"(?<=\w)\s+(\.(?=\s|$))", r"\1", text)
    text = re.sub(rf"\s+([{_CJK_PUNCT_NO_SPACE_BEFORE}])", r"\1", text)
    text = re.sub(r"(?<=[\u3400-\u9fff\u3000-\u303f\uff00-\uffef])\s+(?=[\u3400-\u9fff\uff08\u300c])", "", text)
    # Chinese typesetting puts glue, not spaces, between CJK and Latin/digits; extraction turns the gap into
    # a space a reader does not see. The label keeps its own spacing ("图 3-12").
    head = ""
    if label and text.startswith(label):
        head, text = label, text[len(label):]
        lead = re.match(r"\s*\S?\s*", text)
        if lead and lead.group(0).strip() in "" + _CAPTION_PUNCT:
            head, text = head + lead.group(0), text[len(lead.group(0)):]
    text = _CJK_LATIN.sub("", text)
    return head + text


_CJK_CHARS = "\u3400-\u9fff\u3000-\u303f\uff00-\uffef\uf900-\ufaff"
_CJK_LATIN = re.compile(rf"(?<=[{_CJK_CHARS}])\s+(?=[A-Za-z0-9(\[])|(?<=[A-Za-z0-9%)\]])\s+(?=[{_CJK_CHARS}])")


def _inline_break(left: str, right: str, vocabulary: set[str] | None) -> bool:
    """``cor- responding``: a line-break hyphen the reader kept; joined only when the book knows the word."""
    if not vocabulary:
        return False
    joined = (left + right).lower()
    return joined in vocabulary and f"{left}-{right}".lower() not in vocabulary


def book_vocabulary(models: Iterable[PageModel]) -> set[str]:
    """Lower-case words (plain and hyphenated) printed in the book, to settle line-break hyphens."""
    vocab: set[str] = set()
    for m in models:
        # one pass per page: a word never runs across the newline between two lines (not a letter or a hyphen)
        vocab.update(map(str.lower, _VOCAB_WORD.findall("\n".join(ln.text for ln in m.lines))))
    return vocab
