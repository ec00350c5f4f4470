"""Caption text exactly as printed: accents drawn as glyphs of their own, underscores drawn as rules.

The PDFs are generated here with :mod:`mmretinal_builder.samples.texstyle` the way pdfTeX (and other
producers) draw them: no space glyphs, the accent a separate glyph over its letter (spacing accent or
combining mark, drawn before or after the letter), ``\\_`` a short rule on the baseline.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.pdf.born_digital import build_page_model
from mmretinal_builder.pdf.captions import normalize_caption
from mmretinal_builder.pdf.glyphs import Glyph, repair_line, span_texts
from mmretinal_builder.samples.texstyle import TexOptions, draw_tex_text, matplotlib_font

TEXTS = (
    "utilizando únicamente el nervio óptico (Image_05L).",
    "Representación señal Ångström à côté de la rétine, São Paulo, über Größe, ÉPOCA Ñandú.",
    "Fundus_photo_01 y OCT_B-scan: ratio ≥0.5 ± 0.1 µm, 45° α-β 3/4 x^2 ~5 mm.",
    "angiografía fluoresceínica, tomografia de coerência óptica, rétinographie, Kohärenztomographie.",
)
DEJAVU = str(matplotlib_font("DejaVuSerif.ttf"))


def _variants() -> list[tuple[str, str | None, TexOptions]]:
    out = []
    for font, ff in (("tiro", None), ("helv", None), ("dejavu", DEJAVU)):
        for acc, order, us, dotless in itertools.product(("spacing", "combining"), ("before", "after"),
                                                         ("rule", "glyph"), (False, True)):
            if ff is None and (acc == "combining" or dotless):
                continue  # the built-in fonts have neither combining marks nor the dotless i
            out.append((font, ff, TexOptions(acc, order, us, dotless)))
    return out


@pytest.fixture(scope="module")
def tex_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str, TexOptions]]]:
    """One page per variant group, one line per (variant, text); returns the PDF and what each line says."""
    path = tmp_path_factory.mktemp("tex") / "tex.pdf"
    doc = pymupdf.open()
    expected = []
    page = doc.new_page(width=720, height=900)
    shape = page.new_shape()
    y = 30.0
    for font, ff, opts in _variants():
        for text in TEXTS:
            if ff is None and any(c in text for c in "≥±µαβ"):
                continue  # outside WinAnsi
            if y > 870:
                shape.commit()
                page = doc.new_page(width=720, height=900)
                shape = page.new_shape()
                y = 30.0
            draw_tex_text(shape, 20, y, text, font, 9, opts, fontfile=ff)
            expected.append((text, font, opts))
            y += 12
    shape.commit()
    doc.save(path)
    return path, expected


def test_tex_drawn_lines_read_as_printed(tex_pdf: tuple[Path, list[tuple[str, str, TexOptions]]]) -> None:
    path, expected = tex_pdf
    got = []
    with pymupdf.open(path) as doc:
        for page in doc:
            got += [ln.text.strip() for ln in build_page_model(page).lines]
    assert len(got) == len(expected)
    wrong = [(e, g) for (e, *_), g in zip(expected, got, strict=True) if g != e]
    assert not wrong, wrong[:5]


def test_without_geometry_the_same_pdf_reads_wrong(tex_pdf: tuple[Path, list[tuple[str, str, TexOptions]]]) -> None:
    """The generated PDFs do show the failure (MuPDF's own text is not what is printed)."""
    path, expected = tex_pdf
    with pymupdf.open(path) as doc:
        plain = [ln.strip() for page in doc for ln in page.get_text("text").splitlines() if ln.strip()]
    assert sum(p != e for p, (e, *_) in zip(plain, expected, strict=False)) >= len(expected) // 2
    assert any("´unicamente" in p or "Image 05L" in p for p in plain)


def _g(c: str, a0: float, a1: float, span: int = 0) -> Glyph:
    return Glyph(c, a0, a1, span)


def _text(glyphs: list[Glyph]) -> str:
    return "".join(span_texts(glyphs, 1))


def test_accent_goes_to_the_letter_under_it_and_spaces_follow_the_letters() -> None:
    # "nervio ´optico": MuPDF put a space before the accent; the letters o|o are a word gap apart: keep it
    line = [_g("o", 0, 5), _g(" ", 5, 8.3), _g("\u00b4", 8.8, 12.1), _g("o", 8.3, 13.3), _g("p", 13.3, 18.3)]
    assert _text(repair_line(line, 10)) == "o óp"
    # "Representaci ´on": same characters, but i|o touch: no space
    line = [_g("i", 0, 2.8), _g(" ", 2.8, 3.6), _g("\u00b4", 3.6, 6.9), _g("o", 2.8, 7.8), _g("n", 7.8, 12.8)]
    assert _text(repair_line(line, 10)) == "ión"
    # accent after its letter, no space invented after it
    line = [_g("u", 0, 5), _g("\u00b4", 0.8, 4.1), _g(" ", 4.1, 5), _g("n", 5, 10)]
    assert _text(repair_line(line, 10)) == "ún"


def test_standalone_accent_and_ascii_marks_are_kept() -> None:
    # "don´t" with the acute as an apostrophe: it sits between the letters, over neither
    line = [_g("n", 0, 5), _g("\u00b4", 5, 8.3), _g("t", 8.3, 11.1)]
    assert _text(repair_line(line, 10)) == "n\u00b4t"
    # "x^2": the caret follows the x
    line = [_g("x", 0, 5), _g("^", 5, 9.7), _g("2", 9.7, 14.7)]
    assert _text(repair_line(line, 10)) == "x^2"


def test_rule_in_a_gap_is_an_underscore_but_an_underline_is_not() -> None:
    line = [_g("e", 0, 4.4), _g(" ", 4.4, 9.4), _g("0", 9.4, 14.4)]
    assert _text(repair_line(line, 10, [(5.0, 8.8)])) == "e_0"
    # a rule under the letters (an underline) touches no gap
    line = [_g("a", 0, 4.4), _g("b", 4.4, 9.4)]
    assert _text(repair_line(line, 10, [(0.0, 9.4)])) == "ab"


@pytest.mark.parametrize(("rows", "expected"), [
    (["nervio \u00b4optico"], "nervio óptico"),  # without boxes a space is never removed
    (["Image_05L and IDRiD_023"], "Image_05L and IDRiD_023"),
    (["x^2 ~5 mm, p`s"], "x^2 ~5 mm, p`s"),  # ASCII marks are glyphs of their own in text
    (["e\u0301tude, \ufb01eld \ufb02ow e\ufb03cient \ufb05"], "étude, field flow efficient st"),
    (["\u00b1 0.2 \u00b5m \u2265 45\u00b0 \u03b1/\u03b2"], "\u00b1 0.2 \u00b5m \u2265 45\u00b0 \u03b1/\u03b2"),
])
def test_text_level_normalisation_keeps_every_other_glyph(rows: list[str], expected: str) -> None:
    assert normalize_caption(rows) == expected
