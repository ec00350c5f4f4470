"""Book-level splits: whole books, deterministic, close to the ratios, empty splits allowed."""

from __future__ import annotations

import pytest

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.export.splits import assign_books, normalise_ratios

RATIOS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def test_every_book_in_exactly_one_split_and_deterministic() -> None:
    books = {f"book_{i:02d}.pdf": 10 + (i * 7) % 23 for i in range(40)}
    a = assign_books(books, RATIOS, seed=3)
    assert set(a) == set(books)
    assert set(a.values()) <= set(RATIOS)
    assert a == assign_books(dict(reversed(list(books.items()))), RATIOS, seed=3)  # input order irrelevant


def test_many_books_follow_the_ratios() -> None:
    books = {f"b{i}.pdf": 20 + i % 5 for i in range(100)}
    a = assign_books(books, RATIOS, seed=0)
    total = sum(books.values())
    for split, ratio in RATIOS.items():
        share = sum(n for b, n in books.items() if a[b] == split) / total
        assert abs(share - ratio) < 0.02, (split, share)


def test_seed_changes_which_books_go_where() -> None:
    books = {f"b{i}.pdf": 10 for i in range(30)}
    assignments = {tuple(sorted(assign_books(books, RATIOS, seed=s).items())) for s in range(5)}
    assert len(assignments) > 1


def test_few_books_leave_a_split_empty_and_zero_ratio_gets_nothing() -> None:
    a = assign_books({"big.pdf": 100, "small.pdf": 12}, RATIOS, seed=0)
    assert a == {"big.pdf": "train", "small.pdf": "validation"} or a == {"big.pdf": "train", "small.pdf": "test"}
    only_train = assign_books({"x.pdf": 5, "y.pdf": 5}, {"train": 1.0, "test": 0.0}, seed=1)
    assert set(only_train.values()) == {"train"}


@pytest.mark.parametrize("ratios", [{}, {"train": -1.0}, {"train": 0.0}, {"bad name": 1.0}])
def test_bad_ratios_are_clear_errors(ratios: dict[str, float]) -> None:
    with pytest.raises(BuilderError, match="export:"):
        normalise_ratios(ratios)
