"""Text drawn the way TeX draws it: no space glyphs, accents as glyphs of their own, ``\\_`` as a rule.

pdfTeX sets an accented letter from an 8-bit font as two glyphs: the accent (``´`` ``¨`` ``ˆ`` ``˜`` ``¸`` ...),
kerned so that it sits centred over the letter, and the letter (``\\i``, the dotless i, under an accent on i),
the accent first. Word spaces are gaps, not characters, and the OT1 underscore is a short rule on the baseline.
Other producers draw a combining mark (U+0301 ...) with zero advance after or even before its letter. A
text extractor that reads such a line in drawing order invents and loses spaces around accents
(``utilizando ´unicamente``, ``Representaci´on``) and reads the rule as a space (``Image 05L``): the
failure modes this module makes, with the reader's text known exactly (the text passed in).

:func:`draw_tex_text` draws one line onto a :class:`pymupdf.Shape`; the options choose the accent form
(``spacing`` glyphs or ``combining`` marks), the drawing order (accent ``before`` or ``after`` its letter) and
how ``_`` is drawn (``rule`` or ``glyph``). Advance widths are the font's, so the line is exactly as wide as
the same text set normally (the sample books' ground truth boxes stay the same).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pymupdf

#: combining mark -> the spacing accent glyph an 8-bit TeX font draws for it (all in WinAnsi)
SPACING_FOR: dict[str, str] = {
    "\u0301": "\u00b4", "\u0300": "`", "\u0302": "\u02c6", "\u0308": "\u00a8", "\u0303": "\u02dc",
    "\u0327": "\u00b8", "\u0304": "\u00af",
}
DOTLESS_I = "\u0131"
#: the 14 built-in PDF fonts (WinAnsi) have these accents only as ASCII ``^`` and ``~``
BASE14_ASCII = {"\u02c6": "^", "\u02dc": "~"}


@dataclass(frozen=True)
class TexOptions:
    """How accents and underscores are drawn (see the module docstring)."""

    accents: str = "spacing"  # spacing | combining
    order: str = "before"  # before | after: the accent's place in the content stream
    underscore: str = "rule"  # rule | glyph
    dotless_i: bool = False  # draw i under an accent as U+0131 (needs a font that has it)
    raise_capitals: bool = True  # TeX raises an accent over a capital by the height difference


def matplotlib_font(name: str = "DejaVuSerif.ttf") -> Path:
    """A TrueType font that ships with matplotlib (a builder dependency): DejaVu has accents, combining
    marks, the dotless i, Greek and the Arabic-script letters."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise FileNotFoundError(f"matplotlib's font {name} is missing ({path})")
    return path


@cache
def _font(fontname: str, fontfile: str | None) -> pymupdf.Font:
    return pymupdf.Font(fontfile=fontfile) if fontfile else pymupdf.Font(fontname)


def _split(ch: str) -> tuple[str, str | None]:
    """``á`` -> (``a``, U+0301); a letter without one accent we can draw -> (ch, None)."""
    dec = unicodedata.normalize("NFD", ch)
    if len(dec) == 2 and dec[1] in SPACING_FOR and dec[0].isalpha():
        return dec[0], dec[1]
    return ch, None


def draw_tex_text(shape: pymupdf.Shape, x: float, baseline: float, text: str, fontname: str, size: float,
                  opts: TexOptions | None = None, fontfile: str | None = None,
                  color: tuple[float, float, float] = (0, 0, 0)) -> float:
    """Draw ``text`` TeX-style from ``(x, baseline)``; returns the x where the line ends.

    Runs of plain characters are drawn as one string each; a space only moves the pen; an accented letter
    is its base glyph plus an accent glyph; ``_`` is a 0.4 pt rule 0.3 em wide after a 0.06 em kern
    (plain TeX's ``\\_``) when ``opts.underscore == "rule"``.
    """
    o = opts or TexOptions()
    font = _font(fontname, fontfile)

    def adv(s: str) -> float:
        return sum(font.glyph_advance(ord(c)) for c in s) * size

    def put(px: float, py: float, s: str) -> None:
        shape.insert_text((px, py), s, fontname=fontname, fontfile=fontfile, fontsize=size, color=color)

    run = ""
    run_x = x
    for ch in unicodedata.normalize("NFC", text):
        base, mark = _split(ch)
        if ch == " " or mark is not None or (ch == "_" and o.underscore == "rule"):
            if run:
                put(run_x, baseline, run)
                run = ""
            if ch == " ":
                x += adv(" ")
            elif ch == "_":
                full = adv("_")
                k = 0.06 * size
                w = max(0.1 * size, full - 2 * k)  # as wide as the glyph's advance allows: no gap reads as a space
                shape.draw_rect(pymupdf.Rect(x + k, baseline - 0.4, x + k + w, baseline))
                shape.finish(color=None, fill=color, width=0)
                x += full
            else:
                assert mark is not None
                width = adv(ch)  # the composed letter's advance: the line is as wide as normal text
                drawn = DOTLESS_I if base == "i" and o.dotless_i else base
                acc = SPACING_FOR[mark] if o.accents == "spacing" else mark
                if fontfile is None and acc in BASE14_ASCII:
                    acc = BASE14_ASCII[acc]  # the built-in fonts draw ˆ and ˜ only as their ASCII forms
                # a spacing accent is centred over the letter; a zero-width mark is drawn left of its origin
                ax = x + (width - adv(acc)) / 2 if o.accents == "spacing" else x + width
                ay = baseline - (0.22 * size if base.isupper() and o.raise_capitals else 0.0)
                if o.order == "before":
                    put(ax, ay, acc)
                    put(x, baseline, drawn)
                else:
                    put(x, baseline, drawn)
                    put(ax, ay, acc)
                x += width
            run_x = x
            continue
        run += ch
        x += adv(ch)
    if run:
        put(run_x, baseline, run)
    return x
