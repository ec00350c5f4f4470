"""Pairing by global assignment over geometry: below/above/beside, columns, panel groups, pages."""

from __future__ import annotations

import pytest

from mmretinal_builder.pdf.pairing import CaptionRef, PageItems, PairingConfig, pair_book, pair_page

CFG = PairingConfig()
SIZE = (595.0, 842.0)


def cap(box, kind="figure", number=None):
    return CaptionRef(bbox=box, kind=kind, number=number, lines=[box])


def pairs(matches):
    return sorted((m.caption, tuple(m.figures), m.rule) for m in matches)


def test_caption_below_above_and_beside():
    items = PageItems(1, SIZE, figures=[(100, 100, 300, 250), (100, 400, 300, 550), (100, 650, 300, 780)],
                      captions=[cap((100, 258, 300, 280)), cap((100, 375, 300, 395)), cap((310, 650, 500, 700))],
                      prose=[])
    matches, free_f, free_c = pair_page(items, CFG)
    assert pairs(matches) == [(0, (0,), "below"), (1, (1,), "above"), (2, (2,), "beside")]
    assert free_f == [] and free_c == []


def test_two_columns_pair_within_their_column():
    items = PageItems(1, SIZE, figures=[(50, 100, 280, 250), (310, 100, 540, 250)],
                      captions=[cap((310, 258, 540, 290)), cap((50, 258, 280, 290))], prose=[])
    matches, _, _ = pair_page(items, CFG)
    assert pairs(matches) == [(0, (1,), "below"), (1, (0,), "below")]


def test_one_caption_takes_a_panel_grid():
    grid = [(100 + 105 * c, 100 + 105 * r, 200 + 105 * c, 200 + 105 * r) for r in range(2) for c in range(3)]
    items = PageItems(1, SIZE, figures=grid, captions=[cap((100, 315, 410, 340))], prose=[])
    matches, free_f, _ = pair_page(items, CFG)
    assert len(matches) == 1 and matches[0].figures == list(range(6)) and matches[0].rule == "below+group"
    assert free_f == []


def test_running_text_or_a_caption_in_between_blocks_a_pair():
    prose = [(100, 300 + 12 * i, 400, 310 + 12 * i) for i in range(6)]
    items = PageItems(1, SIZE, figures=[(100, 100, 400, 280)], captions=[cap((100, 400, 400, 420))], prose=prose)
    matches, free_f, free_c = pair_page(items, CFG)
    assert matches == [] and free_f == [0] and free_c == [0]


def test_a_graphic_without_caption_stays_free():
    items = PageItems(1, SIZE, figures=[(100, 100, 300, 250), (400, 700, 500, 800)],
                      captions=[cap((100, 258, 300, 280))], prose=[(50, 400, 540, 690)])
    matches, free_f, _ = pair_page(items, CFG)
    assert pairs(matches) == [(0, (0,), "below")] and free_f == [1]


def test_plate_with_caption_opening_the_next_page():
    plate = PageItems(10, SIZE, figures=[(60, 60, 535, 780)], captions=[], prose=[])
    nxt = PageItems(11, SIZE, figures=[(100, 200, 300, 350)],
                    captions=[cap((60, 60, 535, 80), number="3.10"), cap((100, 358, 300, 380), number="3.11")],
                    prose=[(60, 420 + 12 * i, 535, 430 + 12 * i) for i in range(5)])
    matches, free_f, free_c = pair_book([plate, nxt], CFG)
    got = sorted((m.figure_page, m.figures[0], m.caption_page, m.caption, m.rule) for m in matches)
    assert got == [(10, 0, 11, 0, "next-page"), (11, 0, 11, 1, "below")]
    assert free_f == {0: [], 1: []} and free_c == {0: [], 1: []}


def test_table_caption_claims_a_table_image():
    items = PageItems(1, SIZE, figures=[(100, 130, 400, 300), (100, 400, 400, 600)],
                      captions=[cap((100, 100, 400, 120), kind="table"), cap((100, 608, 400, 630))], prose=[])
    matches, _, _ = pair_page(items, CFG)
    assert pairs(matches) == [(0, (0,), "above"), (1, (1,), "below")]
    assert items.captions[matches[0].caption].kind == "table"


def test_numbers_order_a_caption_block():
    # two figures, their captions stacked in one block below both: the numbers decide, not the distance
    for figures in ([(100, 100, 400, 250), (100, 260, 400, 410)], [(60, 100, 290, 410), (305, 100, 535, 410)]):
        items = PageItems(1, SIZE, figures=figures,
                          captions=[cap((60, 420, 535, 435), number="2"), cap((60, 440, 535, 455), number="1")],
                          prose=[])
        matches, _, _ = pair_page(items, CFG)
        assert {m.caption: m.figures for m in matches} == {0: [1], 1: [0]}, figures


def test_a_caption_inside_running_text_does_not_pair_across_pages():
    plate = PageItems(10, SIZE, figures=[(60, 60, 535, 780)], captions=[], prose=[])
    text = [(60, 60 + 12 * i, 535, 70 + 12 * i) for i in range(10)]
    nxt = PageItems(11, SIZE, figures=[], captions=[cap((60, 200, 535, 220), number="4")],
                    prose=text + [(60, 240 + 12 * i, 535, 250 + 12 * i) for i in range(10)])
    matches, free_f, free_c = pair_book([plate, nxt], CFG)
    assert matches == [] and free_f == {0: [0], 1: []} and free_c == {0: [], 1: [0]}



@pytest.mark.parametrize(("c_top", "expected"), [
    (335.6, [(0, (0, 1, 2), "above+group"), (1, (3,), "below")]),  # 17 pt under its siblings, 23 over 3.10
    (358.6, [(0, (0, 1), "above+group"), (1, (2, 3), "below+group")]),  # 40 pt under them, 8 over 3.10
])
def test_stacked_figures_between_their_captions(c_top, expected):
    # The page of the generated pdfTeX thesis (seed 0, page 9) where 'Figura 3.9' lost its panel (c): three
    # panels stacked under the caption above them, then 'Figura 3.10' under them with its caption below.
    # Panel (c) is nearer the lower caption than the upper one, so the assignment gave it to 3.10 although it
    # sits closer to its own siblings; it goes with the lower figure only where it sits closer to that.
    a, b = (221.2, 150.4, 373.8, 219.1), (221.2, 236.1, 373.8, 318.6)
    c = (221.2, c_top, 373.8, c_top + 83.6)
    fig_310 = (115.3, 450.2, 479.7, 569.5)
    items = PageItems(9, SIZE, figures=[a, b, c, fig_310],
                      captions=[cap((85.0, 122.9, 504.6, 143.3), number="3.9"),
                                cap((85.0, 576.5, 509.0, 607.4), number="3.10")], prose=[])
    matches, free_f, _ = pair_page(items, CFG)
    assert pairs(matches) == expected and free_f == []
