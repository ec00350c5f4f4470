"""Line text from glyph geometry: accents set as their own glyphs, underscores drawn as rules.

TeX and some other typesetters draw an accented letter as two things: the letter, and an accent glyph
(a spacing accent such as ``´`` U+00B4, ``¨``, ``ˆ``, ``˜``, or a combining mark) placed over it by a
kern. A text extractor reads them as two characters in drawing order, and the gap the kern leaves makes
it invent spaces where a reader sees none and lose the ones a reader sees: ``utilizando ´unicamente``,
``Representaci´on``, ``utilizandó unicamente``. Text alone cannot tell ``nervio ´optico`` (a space, then
ó) from ``Representaci ´on`` (no space); the glyph boxes can: the accent sits over the letter it belongs to,
and the space exists when the *letters* around it are a word gap apart.

The same holds for TeX's OT1 underscore (``\\_``): a short rule drawn on the baseline between two glyphs,
which an extractor reads as a space (``Image 05L``). A thin rule in the gap between two glyphs of a line,
on its baseline, is an underscore.

:func:`repair_line` works on the characters of one extracted line (MuPDF ``rawdict``), in reading
direction, and returns the corrected text per span. Everything else is kept as it is.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..geometry import BBox

#: Spacing accents (and modifier letters used as accents) -> the combining mark they stand for.
SPACING_ACCENTS: dict[str, str] = {
    "\u00b4": "\u0301", "\u02ca": "\u0301", "`": "\u0300", "\u02cb": "\u0300", "\u00a8": "\u0308",
    "\u02c6": "\u0302", "^": "\u0302", "\u02dc": "\u0303", "~": "\u0303", "\u00b8": "\u0327",
    "\u02c7": "\u030c", "\u02d8": "\u0306", "\u02da": "\u030a", "\u02d9": "\u0307", "\u02dd": "\u030b",
    "\u00af": "\u0304", "\u02db": "\u0328",
}
#: A gap between two glyphs at least this many ems wide is a word space (TeX's interword space is
#: 0.33 em, shrinking to about 0.22 em in tight lines; kerning between letters stays under 0.1 em).
WORD_GAP_EM = 0.12
DOTLESS_I = "\u0131"


def is_mark(ch: str) -> bool:
    """A combining diacritic of the Latin/Greek/Cyrillic block (Arabic and Hebrew marks are left alone)."""
    return len(ch) == 1 and 0x0300 <= ord(ch) <= 0x036F


def is_accent(ch: str) -> bool:
    return ch in SPACING_ACCENTS or is_mark(ch)


_ACCENT_CHARS = frozenset(SPACING_ACCENTS) | frozenset(chr(c) for c in range(0x0300, 0x0370))  # is_accent as a set


def compose(base: str, accent: str) -> str | None:
    """``u`` + ``´`` -> ``ú`` (NFC); TeX's dotless i takes the accent as ``i``. None when Unicode has no
    precomposed letter for the pair (the caller keeps both glyphs)."""
    mark = SPACING_ACCENTS.get(accent, accent)
    if base == DOTLESS_I:
        base = "i"
    out = unicodedata.normalize("NFC", base + mark)
    return out if len(out) == len(base) else None


@dataclass(slots=True)  # slots: a repaired line builds one per character
class Glyph:
    """One character of a line: its text, its extent along the line's direction, the span it came from."""

    c: str
    a0: float  # start along the reading direction (points)
    a1: float  # end
    span: int


#: any accent glyph (is_accent as one character class: every line of every page is tested)
_ACCENT = re.compile("[" + "".join(re.escape(c) for c in SPACING_ACCENTS) + "\u0300-\u036f]")


_MARK = re.compile("[\u0300-\u036f]")  # is_mark as one character class


def has_mark(text: str) -> bool:
    """Does ``text`` hold a combining mark (:func:`is_mark`)?"""
    return _MARK.search(text) is not None


def line_needs_repair(text: str) -> bool:
    """Does this line's text hold a glyph the repair acts on (an accent glyph)?"""
    return _ACCENT.search(text) is not None


def repair_line(glyphs: list[Glyph], size: float, rules: Sequence[tuple[float, float]] = ()) -> list[Glyph]:
    """Compose accents onto the letters they sit over and read rules in gaps as underscores.

    ``glyphs``: the line's characters in extraction order with their extent along the line;
    ``rules``: extents of thin rules on the line's baseline (already filtered by the caller). Returns the
    new glyph list (accents that found their letter removed, spaces around them decided by the letters'
    gap, underscores inserted).
    """
    return _repair([Glyph(g.c, g.a0, g.a1, g.span) for g in glyphs], size, rules)


def _repair(glyphs: list[Glyph], size: float, rules: Sequence[tuple[float, float]]) -> list[Glyph]:
    """:func:`repair_line` on glyphs the caller hands over (changed in place: no copy)."""
    em = max(size, 1.0)
    out = _compose_accents(glyphs, em)
    for r in rules:
        out = _insert_underscore(out, r, em)
    return out


def _compose_accents(glyphs: list[Glyph], em: float) -> list[Glyph]:
    removed: set[int] = set()
    touched: list[int] = []
    # the accents, found before any is composed: a letter under an accent is never an accent itself (_base_of takes
    # letters only), so composing one changes no other glyph's being an accent
    accents = [i for i, g in enumerate(glyphs) if g.c in _ACCENT_CHARS]
    if not accents:
        return glyphs  # a line read for an underscore only
    near = _Neighbours(glyphs, em)
    for i in accents:
        g = glyphs[i]
        j = _base_of(glyphs, i, em, removed, near.around(i))
        if j is None:
            continue
        new = compose(glyphs[j].c, g.c)
        if new is None:
            continue
        glyphs[j].c = new
        removed.add(i)
        touched.append(j)
    if not removed:
        return glyphs
    # the spaces on either side of a composed letter are what the letters' gap says, not what the
    # accent's position made the extractor invent
    keep = [g for i, g in enumerate(glyphs) if i not in removed]
    for g in {id(glyphs[j]): glyphs[j] for j in touched}.values():
        k = next(n for n, h in enumerate(keep) if h is g)
        keep = _respace(keep, k, em)
    return keep


class _Neighbours:
    """The glyphs of a line that can be the letter under an accent: those reaching within 0.15 em of it (what
    :func:`_base_of` accepts), found by bisection on the glyphs' starts instead of a pass over the whole line."""

    def __init__(self, glyphs: list[Glyph], em: float) -> None:
        self.glyphs = glyphs
        self.em = em
        starts = [g.a0 for g in glyphs]
        # every extent finite (a NaN or an infinity makes the sum so; a sum that overflows only costs the bisection)
        finite = math.isfinite(em) and math.isfinite(sum(starts) + sum(g.a1 for g in glyphs))
        self.order = sorted(range(len(glyphs)), key=starts.__getitem__) if finite else None
        self.starts = [glyphs[j].a0 for j in self.order] if self.order is not None else []
        self.widest = max((g.a1 - g.a0 for g in glyphs), default=0.0)

    def around(self, i: int) -> list[int] | None:
        """Indices (ascending, as a full pass visits them) of every glyph that may qualify; None: all of them."""
        if self.order is None:
            return None
        acc = self.glyphs[i]
        slack = 0.15 * self.em + 0.01 * self.em + 1e-6  # the mark rule's reach, widened past rounding
        lo, hi = acc.a0 - slack, max(acc.a1, acc.a0) + slack
        first = bisect.bisect_left(self.starts, lo - self.widest)
        last = bisect.bisect_right(self.starts, hi)
        return sorted(j for j in self.order[first:last] if self.glyphs[j].a1 >= lo)


def _base_of(glyphs: list[Glyph], i: int, em: float, removed: set[int],
             candidates: list[int] | None = None) -> int | None:
    """The letter the accent ``glyphs[i]`` sits over, or None (a standalone ``´`` used as an apostrophe).

    ``candidates``: the only glyphs that can qualify (:class:`_Neighbours`), in index order; None: all."""
    acc = glyphs[i]
    width = acc.a1 - acc.a0
    best: tuple[float, int] | None = None
    for j in range(len(glyphs)) if candidates is None else candidates:
        g = glyphs[j]
        if j == i or j in removed or not g.c[:1].isalpha():
            continue
        if width > 0.05 * em:
            # a spacing accent: most of it (or most of the letter) lies over the letter
            overlap = min(acc.a1, g.a1) - max(acc.a0, g.a0)
            if overlap < 0.5 * min(width, g.a1 - g.a0):
                continue
            key = -overlap + 0.01 * abs((acc.a0 + acc.a1) - (g.a0 + g.a1))
        else:
            # a zero-width mark: drawn left of its origin, over the letter that ends there; else the
            # letter whose box holds it
            end = abs(g.a1 - acc.a0)
            if end <= 0.15 * em:
                key = end
            elif g.a0 <= acc.a0 <= g.a1:
                key = 0.15 * em + min(acc.a0 - g.a0, g.a1 - acc.a0)
            else:
                continue
            key += 0.001 * abs(j - i)  # ties: the neighbour in drawing order
        if best is None or key < best[0]:
            best = (key, j)
    return best[1] if best else None


def _respace(glyphs: list[Glyph], k: int, em: float) -> list[Glyph]:
    """Decide the spaces left and right of ``glyphs[k]`` from the gaps to its non-space neighbours."""
    for side in (-1, 1):
        n = k + side
        while 0 <= n < len(glyphs) and glyphs[n].c.isspace():
            n += side
        if not 0 <= n < len(glyphs):
            continue  # spaces at the line's ends are trimmed later anyway
        left, right = (glyphs[n], glyphs[k]) if side < 0 else (glyphs[k], glyphs[n])
        gap = right.a0 - left.a1
        lo, hi = sorted((k, n))
        spaces = glyphs[lo + 1:hi]
        if gap >= WORD_GAP_EM * em:
            if not spaces:
                glyphs.insert(hi, Glyph(" ", left.a1, right.a0, right.span))
                if side > 0:
                    continue
                k += 1
        elif spaces:
            del glyphs[lo + 1:hi]
            if side < 0:
                k -= len(spaces)
    return glyphs


def _insert_underscore(glyphs: list[Glyph], rule: tuple[float, float], em: float) -> list[Glyph]:
    """Put ``_`` where a thin baseline rule lies in the gap between two glyphs (spaces in that gap go)."""
    r0, r1 = rule
    tol = 0.05 * em
    solid = [n for n, g in enumerate(glyphs) if not g.c.isspace()]
    left = [n for n in solid if glyphs[n].a1 <= r0 + tol]
    right = [n for n in solid if glyphs[n].a0 >= r1 - tol]
    if not left or not right:
        return glyphs  # a rule before or after the whole line: an underline or a leader, not a glyph
    li = max(left, key=lambda n: glyphs[n].a1)
    ri = min(right, key=lambda n: glyphs[n].a0)
    if ri != li + 1 and any(not glyphs[n].c.isspace() for n in range(li + 1, ri)):
        return glyphs  # something else is drawn in that gap
    lg, rg = glyphs[li], glyphs[ri]
    if rg.a0 < lg.a1 or (r1 - r0) < 0.6 * (rg.a0 - lg.a1) - 0.35 * em:
        return glyphs  # the rule fills only a sliver of a wide gap: not an underscore between these two
    under = Glyph("_", r0, r1, lg.span)
    mid: list[Glyph] = []
    if r0 - lg.a1 >= WORD_GAP_EM * em:
        mid.append(Glyph(" ", lg.a1, r0, lg.span))
    mid.append(under)
    if rg.a0 - r1 >= WORD_GAP_EM * em:
        mid.append(Glyph(" ", r1, rg.a0, rg.span))
    return glyphs[:li + 1] + mid + glyphs[ri:]


def span_texts(glyphs: list[Glyph], n_spans: int) -> list[str]:
    """The repaired text of each span (NFC), in span order."""
    parts: list[list[str]] = [[] for _ in range(n_spans)]
    for g in glyphs:
        parts[g.span].append(g.c)
    return [unicodedata.normalize("NFC", "".join(p)) for p in parts]


def extent(box: BBox, direction: tuple[float, float]) -> tuple[float, float]:
    """A box's extent along a unit direction (the reading axis of its line)."""
    dx, dy = direction
    if dx == 1.0 and dy == 0.0 and box[1] - box[1] == 0.0 and box[3] - box[3] == 0.0:
        # a horizontal line (most of them), finite y (else the products below give NaN): the same numbers
        return min(box[0], box[2]), max(box[0], box[2])
    xs = (box[0] * dx, box[2] * dx)
    ys = (box[1] * dy, box[3] * dy)
    return min(xs) + min(ys), max(xs) + max(ys)


#: A combining mark as drawn: (mark, box of the glyph drawn just before it, its own box), unrotated page
#: space. MuPDF's text extraction glues a combining mark to the character before it in the content
#: stream and reports it there; a mark drawn *before* its letter then lands on the wrong letter.
MarkTrace = tuple[str, BBox, BBox]


def mark_traces(trace: Sequence[dict]) -> list[MarkTrace]:
    """Combining marks with their true boxes, from PyMuPDF's ``page.get_texttrace()``."""
    out: list[MarkTrace] = []
    prev: BBox | None = None
    for span in trace:
        for ch in span.get("chars", ()):
            box = tuple(float(v) for v in ch[3])
            c = chr(ch[0]) if ch[0] >= 0 else ""
            if is_mark(c) and prev is not None:
                out.append((c, prev, box))  # type: ignore[arg-type]
            prev = box  # type: ignore[assignment]
    return out


def _true_mark_box(c: str, box: BBox, marks: Sequence[MarkTrace], used: set[int]) -> BBox:
    """The drawn box of the mark MuPDF reported at ``box`` (after the glyph drawn before it)."""
    for k, (m, prev, true) in enumerate(marks):
        if k in used or m != c:
            continue
        if abs(prev[2] - box[0]) <= 0.5 and abs(prev[3] - box[3]) <= 1.0:
            used.add(k)
            return true
    return box


def raw_line_texts(raw_line: dict, to_visible: Callable[[BBox], BBox] | None, direction: tuple[float, float],
                   size: float, rules: Sequence[BBox] = (), baseline: float | None = None,
                   marks: Sequence[MarkTrace] = (), used_marks: set[int] | None = None) -> list[str]:
    """Repaired text of each span of one MuPDF ``rawdict`` line (span order kept, empty spans included).

    ``to_visible`` maps a character box into the visible page frame (None: the page is not rotated), ``direction`` is the line's reading
    direction there; ``rules`` are thin filled rules of the page (visible frame) and ``baseline`` the
    line's baseline y, used for underscores on horizontal lines only; ``marks`` the true boxes of the
    page's combining marks (:func:`mark_traces`; ``used_marks`` tracks those already claimed).
    """
    glyphs: list[Glyph] = []
    spans = raw_line.get("spans", [])
    used = used_marks if used_marks is not None else set()
    # the common case, an unrotated page's horizontal line: the extent is the x range, read here without
    # building the visible box (the same numbers as extent(): min/max written out, -0.0 made 0.0 as _vis does)
    horizontal = to_visible is None and direction[0] == 1.0 and direction[1] == 0.0
    add = glyphs.append
    for si, s in enumerate(spans):
        for ch in s.get("chars", []):
            c = ch["c"]
            box = ch["bbox"]
            if marks and is_mark(c):
                box = _true_mark_box(c, tuple(box), marks, used)  # type: ignore[arg-type]
            if horizontal and box[1] - box[1] == 0.0 and box[3] - box[3] == 0.0:
                x0, x1 = box[0] + 0.0, box[2] + 0.0
                add(Glyph(c, x1 if x1 < x0 else x0, x1 if x1 > x0 else x0, si))
                continue
            vbox = (box[0] + 0.0, box[1] + 0.0, box[2] + 0.0, box[3] + 0.0) if to_visible is None \
                else to_visible(tuple(box))  # type: ignore[arg-type]
            a0, a1 = extent(vbox, direction)
            add(Glyph(c, a0, a1, si))
    found: list[tuple[float, float]] = []
    if rules and baseline is not None and direction[0] > 0.99 and glyphs:
        lo, hi = min(g.a0 for g in glyphs), max(g.a1 for g in glyphs)
        for r in baseline_rules(rules, baseline, size):
            if r[0] >= lo and r[2] <= hi:
                found.append((r[0], r[2]))
    return span_texts(_repair(glyphs, size, sorted(found)), len(spans))


def baseline_rules(rules: Sequence[BBox], baseline: float, size: float) -> list[BBox]:
    """The rules shaped and placed like an underscore on a line with this baseline and font size (thin, up to
    an em wide, on the baseline). A line near none of them reads no underscore: it needs no glyph pass."""
    em = max(size, 1.0)
    return [r for r in rules if r[3] - r[1] <= 0.15 * em and 0.15 * em <= r[2] - r[0] <= 1.2 * em
            and baseline - 0.2 * em <= r[3] <= baseline + 0.35 * em]


def rules_near(rules: Sequence[BBox], box: BBox, size: float) -> bool:
    """Is any candidate underscore rule inside the line's box (stretched down by half an em)?"""
    return any(r[0] >= box[0] - 0.5 and r[2] <= box[2] + 0.5 and box[1] <= r[1] and r[3] <= box[3] + 0.5 * size
               for r in rules)
