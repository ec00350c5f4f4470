"""Panel letters: PDF-text tokens, their binding to panels, and OCR of letters burned into the raster."""

from __future__ import annotations

import pytest

from mmretinal_builder.panels.labels import (
    LabelToken,
    assign_labels,
    increasing_subset,
    ocr_corner_tokens,
    ocr_strip_tokens,
    parse_label,
    pdf_label_tokens,
    plausible_sequence,
    tesseract_available,
    unify_case,
)
from mmretinal_builder.panels.split import split_raster

from .synth import compose


@pytest.mark.parametrize("text,expected", [
    ("a", ("a", False)), ("(b)", ("b", True)), ("A.", ("A", False)), ("（C）", ("C", True)), ("a1", ("a1", False)),
    ("(b2)", ("b2", True)), ("( a )", ("a", True)), ("D:", ("D", False)),
    ("ab", None), ("Fig", None), ("12", None), ("(a", ("a", True)), ("", None),
])
def test_parse_label(text: str, expected: tuple | None) -> None:
    assert parse_label(text) == expected


def _w(x0: float, y0: float, x1: float, y1: float, text: str, line: int, no: int, block: int = 0) -> tuple:
    return (x0, y0, x1, y1, text, block, line, no)


def test_pdf_tokens_first_word_or_parenthesised() -> None:
    words = [
        _w(10, 100, 20, 108, "(a)", 0, 0), _w(22, 100, 60, 108, "Normal", 0, 1),
        _w(110, 100, 115, 108, "b", 1, 0), _w(117, 100, 150, 108, "myopia", 1, 1),
        _w(200, 100, 205, 108, "(", 2, 0), _w(205, 100, 210, 108, "c", 2, 1), _w(210, 100, 214, 108, ")", 2, 2),
        _w(10, 120, 30, 128, "show", 3, 0), _w(32, 120, 36, 128, "a", 3, 1), _w(38, 120, 60, 128, "lesion", 3, 2),
        _w(400, 100, 410, 108, "(d)", 4, 0),  # outside the region
    ]
    toks = pdf_label_tokens(words, (0, 0, 300, 200))
    assert [(t.label, t.paren) for t in toks] == [("a", True), ("b", False), ("c", True)]
    assert toks[2].box == (200, 100, 214, 108)
    assert pdf_label_tokens(words, (0, 0, 300, 200), exclude=(0, 95, 120, 110))[0].label == "c"


def _tok(label: str, box: tuple) -> LabelToken:
    return LabelToken(label, box, "pdf-text")


def test_labels_between_rows_go_to_the_row_above_when_all_sit_below() -> None:
    # PALM Fig. 1: (a)-(c) between the rows, (d)-(f) under the second row
    panels = [(0, 0, 100, 100), (110, 0, 210, 100), (0, 130, 100, 230), (110, 130, 210, 230)]
    toks = [_tok("a", (40, 104, 55, 112)), _tok("b", (150, 104, 165, 112)),
            _tok("c", (40, 234, 55, 242)), _tok("d", (150, 234, 165, 242))]
    assert [t.label for t in assign_labels(panels, toks)] == ["a", "b", "c", "d"]


def test_labels_inside_corners_and_a_stray_letter() -> None:
    panels = [(0, 0, 100, 100), (110, 0, 210, 100)]
    toks = [_tok("a", (3, 3, 10, 12)), _tok("b", (113, 3, 120, 12)), _tok("x", (150, 300, 160, 310))]
    assert [t.label if t else None for t in assign_labels(panels, toks)] == ["a", "b"]
    assert assign_labels(panels, []) == [None, None]


def test_sequences() -> None:
    assert plausible_sequence(["a", "b", None, "d"])
    assert not plausible_sequence(["a"]) and not plausible_sequence(["a", "a"]) and not plausible_sequence(["a", "B"])
    assert plausible_sequence(["a1", "a2", "b1", "b2"], strict_order=True)
    assert not plausible_sequence(["b", "a"], strict_order=True)
    assert increasing_subset(["e", "b", "c", None]) == [None, "b", "c", None]
    assert unify_case(["A", "B", "c", None]) == ["A", "B", "C", None]


def test_ocr_reads_a_strip_of_letters_under_the_panels() -> None:
    assert tesseract_available(), "Tesseract is a dependency of the panel stage's OCR"
    c = compose([3], 7, gutter=12, letters="strip", tile="fundus")
    res = split_raster(c.image)
    toks = [t for s in res.strips for t in ocr_strip_tokens(c.image, s)]
    assert [t.label if t else None for t in assign_labels(res.panels, toks)] == ["a", "b", "c"]


@pytest.mark.parametrize("letters,background,upper", [("corner", 255, False), ("tag", 0, True)])
def test_ocr_reads_letters_burned_into_corners(letters: str, background: int, upper: bool) -> None:
    c = compose([3], 11, gutter=10, letters=letters, background=background, tile="mixed", upper=upper)
    res = split_raster(c.image)
    read = [(ocr_corner_tokens(c.image, b, "tl") or [None])[0] for b in res.panels]
    got = unify_case([t.label if t else None for t in read])
    assert sum(g == e for g, e in zip(got, c.labels, strict=True)) >= 2, got
    assert all(g in (None, e) for g, e in zip(got, c.labels, strict=True)), got
    # a corner without a letter yields nothing
    assert ocr_corner_tokens(c.image, res.panels[0], "br") == []
