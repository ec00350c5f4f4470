"""Regular grids of separate images are one figure candidate, even across a column gutter."""

from __future__ import annotations

from mmretinal_builder.pdf.candidates import picture_grids as _grids

MAX_GAP = 8.0  # points (0.8 x a 10 pt body font)


def picture_grids(boxes):
    return _grids(boxes, MAX_GAP)


def grid(x0: float, y0: float, rows: int, cols: int, w: float = 95.0, h: float = 95.0, g: float = 4.0):
    return [[x0 + c * (w + g), y0 + r * (h + g), x0 + c * (w + g) + w, y0 + r * (h + g) + h]
            for r in range(rows) for c in range(cols)]


def test_grid_across_gutter_keeps_out_a_picture_at_a_larger_gap():
    cells = grid(252.3, 66.0, 2, 3)
    below = [355.4, 269.8, 496.1, 410.6]  # 10 pt under the grid, not aligned with its columns
    assert picture_grids(cells + [below]) == [list(range(6))]


def test_aligned_picture_at_a_larger_gap_stays_out():
    cells = grid(50, 50, 2, 2)
    # same column edges as the grid, but 8 pt below instead of 4: another figure
    extra = [50, 50 + 2 * 99 + 4, 145, 50 + 2 * 99 + 4 + 95]
    assert picture_grids(cells + [extra]) == [[0, 1, 2, 3]]


def test_two_grids_across_a_gutter_stay_two():
    left, right = grid(50, 50, 2, 2), grid(50 + 2 * 99 + 14, 50, 2, 2)
    assert picture_grids(left + right) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_strips_of_three_or_more():
    assert picture_grids(grid(50, 50, 1, 3)) == [[0, 1, 2]]
    stack = [[50, 66, 245, 196], [50, 200, 245, 288], [50, 292, 245, 424]]  # one column, heights differ
    below = [64, 434, 274, 600]  # another figure, 10 pt under it
    assert picture_grids(stack + [below]) == [[0, 1, 2]]


def test_not_grids():
    assert picture_grids(grid(50, 50, 1, 2)) == []  # two side by side: pairing decides
    assert picture_grids(grid(50, 50, 1, 3, g=12.0)) == []  # a gutter between three figures
    assert picture_grids(grid(50, 50, 2, 2)[:3]) == []  # a missing cell
    assert picture_grids(grid(50, 50, 2, 2, g=30.0)) == []  # gaps too wide for one figure
    uneven = grid(50, 50, 2, 2)
    uneven[3] = [149, 149, 244, 200]  # a cell of another height
    assert picture_grids(uneven) == []
