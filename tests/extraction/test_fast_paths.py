"""The extraction's shortcuts give what the long way gives: a line's glyphs read alone are the page rawdict's,
same-size images are told apart without a second decode, a render from the page's display list is the page's
render, an accent finds its letter among its neighbours as in a pass over the whole line, a span built without
the checked init is the same span, and a rule that cannot be an underscore does not send its line to the glyph
pass (speed work of issue 17; outputs must not change)."""

from __future__ import annotations

import random
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.pdf import born_digital
from mmretinal_builder.pdf.born_digital import (
    IMAGE_FLAGS,
    TEXT_FLAGS,
    _placement_owners,
    _raw_line,
    build_page_model,
)
from mmretinal_builder.pdf.crops import page_display_list, render_region
from mmretinal_builder.pdf.glyphs import Glyph, _base_of, _Neighbours, baseline_rules
from mmretinal_builder.pdf.page_model import Span
from mmretinal_builder.samples.texstyle import TexOptions, draw_tex_text

from .pdfs import picture

BOOKS = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"
PALM = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"


@pytest.mark.parametrize("pdf", [BOOKS / "sample_latex_es.pdf", BOOKS / "sample_zh.pdf", PALM])
def test_a_line_read_alone_is_the_page_rawdict_line(pdf: Path) -> None:
    with pymupdf.open(pdf) as doc:
        n = 0
        for page in doc:
            tp = page.get_textpage(flags=TEXT_FLAGS)
            d, full = tp.extractDICT(), tp.extractRAWDICT()
            for bi, block in enumerate(d["blocks"]):
                for li, line in enumerate(block.get("lines", [])):
                    page_raw: list = []
                    got = _raw_line(tp, line, [s["text"] for s in line["spans"]], bi, li, page_raw)
                    assert got == full["blocks"][bi]["lines"][li]
                    assert not page_raw  # read alone, not through the page's rawdict
                    n += 1
            assert tp.extractRAWDICT() == full  # the text page's mediabox is put back
    assert n > 100


def test_a_line_that_does_not_come_back_whole_falls_back_to_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    with pymupdf.open(BOOKS / "sample_latex_es.pdf") as doc:
        tp = doc[0].get_textpage(flags=TEXT_FLAGS)
        d, full = tp.extractDICT(), tp.extractRAWDICT()
        line = d["blocks"][0]["lines"][0]
        page_raw: list = []
        texts = [s["text"] + "x" for s in line["spans"]]  # as if a glyph were missing from the narrowed read
        assert _raw_line(tp, line, texts, 0, 0, page_raw) == full["blocks"][0]["lines"][0]
        assert len(page_raw) == 1


def _two_same_size_images(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(pymupdf.Rect(50, 50, 250, 183), stream=picture(300, 200, "JPEG", seed=1))
    page.insert_image(pymupdf.Rect(300, 50, 500, 183), stream=picture(300, 200, "JPEG", seed=2))
    page.insert_image(pymupdf.Rect(50, 400, 250, 533), stream=picture(300, 200, "JPEG", seed=1))  # again
    doc.save(str(path), garbage=3, deflate=True)  # garbage=3: the repeated image is one xref
    return path


def test_same_size_images_are_told_apart_without_hashing_the_placements(tmp_path: Path) -> None:
    path = _two_same_size_images(tmp_path / "two.pdf")
    with pymupdf.open(path) as doc:
        page = doc[0]
        tp = page.get_textpage(flags=IMAGE_FLAGS)
        infos = tp.extractIMGINFO()
        hashed = [h["digest"] for h in tp.extractIMGINFO(hashes=True)]
        by_size: dict = {}
        for item in page.get_images(full=True):
            if item[0] not in by_size.setdefault((item[2], item[3]), []):
                by_size[(item[2], item[3])].append(item[0])
        assert len(by_size[(300, 200)]) == 2
        # what hashing tells: each placement's pixels are those of exactly one candidate xref
        by_digest = {pymupdf.Pixmap(doc, x).digest: x for x in by_size[(300, 200)]}
        assert _placement_owners(tp, infos, by_size, doc) == [by_digest[h] for h in hashed]
        model = build_page_model(page, {})
    xrefs = [im.xref for im in model.images]
    assert xrefs[0] == xrefs[2] != xrefs[1] and 0 not in xrefs


def test_a_placement_no_candidate_owns_is_left_to_the_placement_hashes(tmp_path: Path) -> None:
    path = _two_same_size_images(tmp_path / "two.pdf")
    with pymupdf.open(path) as doc:
        page = doc[0]
        tp = page.get_textpage(flags=IMAGE_FLAGS)
        infos = tp.extractIMGINFO()
        xrefs = sorted({item[0] for item in page.get_images(full=True)})
        # one of the two real owners is not a candidate: its placements cannot be placed this way
        assert _placement_owners(tp, infos, {(300, 200): [xrefs[0], 10_000]}, doc) is None


def test_a_render_from_the_display_list_is_the_page_render() -> None:
    with pymupdf.open(PALM) as doc:
        page = doc[3]
        box = (98.4, 46.5, 554.64, 171.23)
        a = render_region(page, box, 300, 40_000_000, True)
        b = render_region(page_display_list(page), box, 300, 40_000_000, True)
        pix = page.get_pixmap(matrix=pymupdf.Matrix(300 / 72, 300 / 72), clip=pymupdf.Rect(box), alpha=False,
                              annots=False)
    assert a.data == b.data and a.size == b.size == (pix.width, pix.height)


def test_an_accent_finds_the_same_letter_among_its_neighbours() -> None:
    rng = random.Random(7)
    em = 10.0
    for _ in range(300):
        glyphs, x = [], 0.0
        for _ in range(rng.randint(1, 40)):
            c = rng.choice("aeiou nrst\u00b4`\u0301\u0308")
            w = 0.0 if c in "\u0301\u0308" else rng.uniform(0.5, 6.0)
            x0 = x + rng.uniform(-4.0, 1.0)  # kerned back over the letter, or a gap
            glyphs.append(Glyph(c, x0, x0 + w, 0))
            x = max(x, x0 + w)
        near = _Neighbours(glyphs, em)
        for i in range(len(glyphs)):
            assert _base_of(glyphs, i, em, set(), near.around(i)) == _base_of(glyphs, i, em, set())
    nan = [Glyph("a", float("nan"), 1.0, 0), Glyph("\u00b4", 0.0, 1.0, 0)]
    assert _Neighbours(nan, em).around(1) is None  # not finite: the whole line is searched


def test_span_of_is_the_same_frozen_span() -> None:
    a = Span("Fig.", (1.0, 2.0, 3.0, 4.0), "Times-Bold", 9.0, True, False)
    b = Span.of("Fig.", (1.0, 2.0, 3.0, 4.0), "Times-Bold", 9.0, True, False)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    with pytest.raises(AttributeError):
        b.text = "x"  # type: ignore[misc]


def test_an_overline_is_no_underscore_and_needs_no_glyph_pass(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    shape = page.new_shape()
    end = draw_tex_text(shape, 72, 100, "the mean x of all eyes", "tiro", 10, TexOptions())
    draw_tex_text(shape, 72, 130, "see Image_05L", "tiro", 10, TexOptions())
    x = 72 + (end - 72) * 0.45
    shape.draw_rect(pymupdf.Rect(x, 94.6, x + 5, 95.0))  # a bar over a letter, at x-height: no underscore
    shape.finish(color=None, fill=(0, 0, 0), width=0)
    shape.commit()
    path = tmp_path / "bar.pdf"
    doc.save(str(path))
    bar, under = (x, 94.6, x + 5, 95.0), (0.0, 99.6, 5.0, 100.0)
    assert baseline_rules([bar, under], 100.0, 10.0) == [under]  # only the one on the baseline
    calls = []
    real = born_digital._raw_line
    monkeypatch.setattr(born_digital, "_raw_line", lambda *a: calls.append(a[1]["bbox"]) or real(*a))
    with pymupdf.open(path) as d:
        rules = born_digital._underscore_rules(born_digital._paths(d[0], None, (595.0, 842.0)))
        assert any(abs(r[1] - 94.6) < 0.2 for r in rules)  # the bar is a rule the repair looks at
        model = build_page_model(d[0], {})
    assert [ln.text for ln in model.lines] == ["the mean x of all eyes", "see Image_05L"]
    assert len(calls) == 1 and calls[0][1] > 110  # only the line with the underscore takes the glyph pass
