"""Side captions against below/above readings: a caption set flush beside a figure belongs to it."""

from __future__ import annotations

from mmretinal_builder.pdf.pairing import CaptionRef, PageItems, PairingConfig, pair_page, relation_cost

CFG = PairingConfig()
SIZE = (516.0, 729.0)


def cap(box, number=None):
    return CaptionRef(bbox=box, kind="figure", number=number, lines=[box])


def pairs(matches):
    return sorted((m.caption, tuple(m.figures), m.rule) for m in matches)


def staggered_page(numbers=("1-2", "1-3", "1-4")):
    """Figure 0 with its caption to the right (bottom edges flush); figure 1 lower right with its caption
    to the left (tops flush). Caption 1 also lies just under figure 0, caption 0 just over figure 1."""
    figures = [(60.5, 58.3, 306.7, 218.9), (238.3, 231.8, 442.1, 347.0), (116.6, 352.1, 395.3, 530.6)]
    captions = [cap((316.6, 175.0, 461.1, 219.5), numbers[0]), cap((63.4, 226.6, 218.2, 245.6), numbers[1]),
                cap((53.5, 536.2, 453.6, 555.7), numbers[2])]
    return PageItems(2, SIZE, figures=figures, captions=captions, prose=[])


def test_flush_side_captions_beat_below_and_above_readings():
    matches, free_f, free_c = pair_page(staggered_page(), CFG)
    assert pairs(matches) == [(0, (0,), "beside"), (1, (1,), "beside"), (2, (2,), "below")]
    assert free_f == [] and free_c == []


def test_side_pairing_does_not_rest_on_figure_numbers():
    # unnumbered (OCR missed the labels) and with the numbers the other way round: geometry decides
    for numbers in ((None, None, None), ("1-3", "1-2", "1-4")):
        matches, _, _ = pair_page(staggered_page(numbers), CFG)
        assert pairs(matches)[:2] == [(0, (0,), "beside"), (1, (1,), "beside")]


def test_flush_side_caption_costs_about_a_below_caption():
    fig = (100.0, 100.0, 300.0, 250.0)
    below = relation_cost(fig, (100.0, 258.0, 300.0, 280.0), SIZE[1])
    flush = relation_cost(fig, (310.0, 100.0, 460.0, 130.0), SIZE[1])
    loose = relation_cost(fig, (310.0, 160.0, 460.0, 190.0), SIZE[1])
    assert below is not None and flush is not None and loose is not None
    assert flush[1] == "beside" and loose[1] == "beside"
    assert flush[0] < below[0] + 0.03 < loose[0]


def test_caption_starting_a_little_above_its_side_figure_is_not_penalised_much():
    fig = (240.0, 230.0, 440.0, 350.0)
    level = relation_cost(fig, (60.0, 230.0, 220.0, 250.0), SIZE[1])
    raised = relation_cost(fig, (60.0, 226.0, 220.0, 246.0), SIZE[1])
    assert level is not None and raised is not None
    assert raised[0] - level[0] < 0.025  # the raised first line costs only its misalignment


def test_left_aligned_short_caption_below_stays_with_its_figure():
    # a short caption under the left part of a wide figure, a second figure with its own caption beside it
    items = PageItems(1, SIZE, figures=[(60, 60, 456, 260), (60, 330, 250, 480)],
                      captions=[cap((60, 268, 200, 282), "1"), cap((262, 330, 456, 360), "2")], prose=[])
    matches, _, _ = pair_page(items, CFG)
    assert pairs(matches) == [(0, (0,), "below"), (1, (1,), "beside")]


def test_two_columns_with_a_tall_figure_beside_a_caption_keep_below_pairs():
    # the left caption lies in the rows of the tall right figure, next to it: each still takes the figure above
    items = PageItems(1, SIZE, figures=[(40, 60, 248, 200), (268, 60, 476, 400)],
                      captions=[cap((40, 206, 248, 230), "1"), cap((268, 406, 476, 430), "2")], prose=[])
    matches, _, _ = pair_page(items, CFG)
    assert pairs(matches) == [(0, (0,), "below"), (1, (1,), "below")]


def test_margin_captions_pair_beside_down_a_page():
    figures = [(150, 60 + 200 * i, 476, 220 + 200 * i) for i in range(3)]
    captions = [cap((30, 60 + 200 * i, 140, 100 + 200 * i), str(i + 1)) for i in range(3)]
    matches, free_f, free_c = pair_page(PageItems(1, SIZE, figures=figures, captions=captions, prose=[]), CFG)
    assert pairs(matches) == [(i, (i,), "beside") for i in range(3)]
    assert free_f == [] and free_c == []
