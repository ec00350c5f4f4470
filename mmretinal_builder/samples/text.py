"""Rich-text line layout for the sample books: measuring, wrapping and drawing runs with PyMuPDF.

Text is laid out here (not by PyMuPDF's textbox) so that the generator knows every line's box and
can state, exactly, the text a reader sees (the ground truth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import pymupdf

from .texstyle import TexOptions, draw_tex_text

# The built-in CJK font is referenced, not embedded: its PDF widths are 1 em for every glyph and
# MuPDF reports its boxes with ascent 1.0 / descent 0.2 (from the font descriptor).
CJK_FONT = "china-s"
_CJK_METRICS = (1.0, 0.2)

# Line-breaking rules for Chinese (kinsoku): no line starts with a closing mark, none ends with an opener.
NO_LINE_START = set("，。．：；、）」』”’！？》%…")
NO_LINE_END = set("（「『“‘《")
# Labels like "Fig. 3-12" are set with a no-break space; a reader's whitespace normalisation makes it " ".
NBSP = "\u00a0"


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs and full-width punctuation (set in the CJK font)."""
    o = ord(ch)
    return (
        0x3000 <= o <= 0x303F
        or 0x3400 <= o <= 0x9FFF
        or 0xFF00 <= o <= 0xFFEF
        or ch in "“”‘’…"
    )


#: font names starting with this are TrueType fonts shipped with matplotlib, embedded (subset) in the PDF:
#: "mpl:DejaVuSerif" has the glyphs the 14 built-in fonts lack (œ, –, the dotless i, Greek)
MPL_PREFIX = "mpl:"


def font_file(name: str) -> str | None:
    """The font file to embed for ``name`` (None for the built-in PDF fonts)."""
    if not name.startswith(MPL_PREFIX):
        return None
    from .texstyle import matplotlib_font

    return str(matplotlib_font(name[len(MPL_PREFIX):] + ".ttf"))


def pdf_font_name(name: str) -> str:
    """The name a font is registered under on a page (no ':' in PDF resource names)."""
    return name.replace(":", "-")


@cache
def _font(name: str) -> pymupdf.Font:
    ff = font_file(name)
    return pymupdf.Font(fontfile=ff) if ff else pymupdf.Font(name)


@lru_cache(maxsize=100_000)
def advance(font: str, ch: str) -> float:
    """Advance width of one character at size 1, as the PDF will place it."""
    if font == CJK_FONT:
        return 1.0
    return _font(font).glyph_advance(ord(ch))


def text_width(text: str, font: str, size: float) -> float:
    """Width of a string set in one font."""
    return sum(advance(font, ch) for ch in text) * size


def font_metrics(font: str) -> tuple[float, float]:
    """(ascent, descent) at size 1 as MuPDF reports span boxes; descent is positive."""
    if font == CJK_FONT:
        return _CJK_METRICS
    f = _font(font)
    return float(f.ascender), float(-f.descender)


def split_runs(text: str, latin_font: str) -> list[tuple[str, str]]:
    """Split mixed Chinese/Latin text into runs: CJK characters in the CJK font, the rest in `latin_font`."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = CJK_FONT if is_cjk(ch) else latin_font
        if runs and runs[-1][1] == font:
            runs[-1] = (runs[-1][0] + ch, font)
        else:
            runs.append((ch, font))
    return runs


@dataclass
class Line:
    """One laid-out line: segments of (text, font) drawn left to right, plus its measured width."""

    segments: list[tuple[str, str]]
    width: float
    size: float

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.segments)


def _break_ok(prev: str, cur: str) -> bool:
    """May a line break fall between characters `prev` and `cur` (without hyphenation)?"""
    if prev == NBSP or cur == NBSP or cur.isspace():
        return False
    if prev.isspace():
        return True
    if not (is_cjk(prev) or is_cjk(cur)):
        return False
    return cur not in NO_LINE_START and prev not in NO_LINE_END


_WORD_RE = re.compile(r"[A-Za-z]+")


def wrap(
    runs: list[tuple[str, str]], width: float, size: float, *, hyphenate: bool = False
) -> list[Line]:
    """Greedy line breaking of font runs into lines no wider than `width`.

    Breaks fall after spaces and around CJK characters; with `hyphenate`, a long alphabetic word
    that does not fit is split with a hyphen (the reader's text joins it back).
    """
    chars: list[tuple[str, str]] = [(ch, font) for text, font in runs for ch in text]
    n = len(chars)
    # chunks: maximal unbreakable pieces [start, end)
    starts = [0] + [i for i in range(1, n) if _break_ok(chars[i - 1][0], chars[i][0])]
    bounds = list(zip(starts, starts[1:] + [n], strict=True))
    lines: list[Line] = []
    cur: list[tuple[str, str]] = []
    cur_w = 0.0

    def flush() -> None:
        nonlocal cur, cur_w
        while cur and cur[-1][0].isspace():
            cur.pop()
        if cur:
            lines.append(_make_line(cur, size))
        cur, cur_w = [], 0.0

    for a, b in bounds:
        chunk = chars[a:b]
        body = chunk
        while body and body[-1][0].isspace():
            body = body[:-1]
        body_w = sum(advance(f, c) for c, f in body) * size
        chunk_w = sum(advance(f, c) for c, f in chunk) * size
        if cur and cur_w + body_w > width:
            word = "".join(c for c, _ in body)
            if hyphenate and _WORD_RE.fullmatch(word) and len(word) >= 8:
                fnt = body[0][1]
                k = _hyphen_split(word, fnt, size, width - cur_w)
                if k:
                    cur.extend(body[:k])
                    cur.append(("-", fnt))
                    flush()
                    rest = chunk[k:]
                    cur = list(rest)
                    cur_w = sum(advance(f, c) for c, f in rest) * size
                    continue
            flush()
        cur.extend(chunk)
        cur_w += chunk_w
    flush()
    return lines


def _hyphen_split(word: str, font: str, size: float, room: float) -> int:
    """Largest split point k (3 <= k <= len-3) whose 'word[:k]-' fits in `room`; 0 when none fits."""
    for k in range(len(word) - 3, 2, -1):
        if text_width(word[:k] + "-", font, size) <= room:
            return k
    return 0


def _make_line(chars: list[tuple[str, str]], size: float) -> Line:
    segs: list[tuple[str, str]] = []
    for ch, font in chars:
        if segs and segs[-1][1] == font:
            segs[-1] = (segs[-1][0] + ch, font)
        else:
            segs.append((ch, font))
    w = sum(text_width(t, f, size) for t, f in segs)
    return Line(segs, w, size)


def line_box(line: Line, x: float, baseline: float) -> tuple[float, float, float, float]:
    """Box of a drawn line as MuPDF reports it (union of its span boxes)."""
    asc = max(font_metrics(f)[0] for _, f in line.segments)
    desc = max(font_metrics(f)[1] for _, f in line.segments)
    return (x, baseline - asc * line.size, x + line.width, baseline + desc * line.size)


def draw_line(
    shape: pymupdf.Shape,
    line: Line,
    x: float,
    baseline: float,
    color: tuple[float, float, float] = (0, 0, 0),
    render_mode: int = 0,
    tex: TexOptions | None = None,
) -> tuple[float, float, float, float]:
    """Draw a line's segments onto a Shape; returns the line box. With ``tex``, Latin text is drawn the
    way pdfTeX draws it (:mod:`.texstyle`), at the same positions."""
    cx = x
    for text, font in line.segments:
        if tex is not None and font != CJK_FONT and render_mode == 0:
            draw_tex_text(shape, cx, baseline, text, pdf_font_name(font), line.size, tex, fontfile=font_file(font),
                          color=color)
        else:
            shape.insert_text((cx, baseline), text, fontname=pdf_font_name(font), fontfile=font_file(font),
                              fontsize=line.size, color=color, render_mode=render_mode)
        cx += text_width(text, font, line.size)
    return line_box(line, x, baseline)


def union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    """Smallest box containing all boxes."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def join_lines(lines: list[str]) -> str:
    """Join extracted caption lines the way a reader does: de-hyphenate, no space between CJK lines.

    The generator only hyphenates inside lower-case alphabetic words and never breaks at a printed
    hyphen, so a line ending in 'x-' followed by a lower-case letter is always a soft hyphen.
    """
    out = ""
    for raw in lines:
        line = " ".join(raw.split())
        if not line:
            continue
        if not out:
            out = line
        elif re.search(r"[a-z]-$", out) and line[0].islower():
            out = out[:-1] + line
        elif is_cjk(out[-1]) or is_cjk(line[0]):
            out += line
        else:
            out += " " + line
    return out


def normalise(text: str) -> str:
    """Single spaces, trimmed (the ground-truth caption convention)."""
    return " ".join(text.split())
