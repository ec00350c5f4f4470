"""Book-level train/validation/test splits: a book never lands in two splits (no leakage of a book's
style, printing or near-duplicate figures across splits).

Books are visited in an order fixed by a hash of ``(seed, book)`` and each goes, whole, to the split
that brings the pair counts closest to the requested ratios. With many books the result follows the
ratios closely; with few, some split may stay empty (the exporter then leaves it out).
"""

from __future__ import annotations

import hashlib
import re

from ..errors import BuilderError

DEFAULT_RATIOS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}

# The Hub's split-name rule (``datasets.splits``): word characters, dot-separated parts.
_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


def normalise_ratios(ratios: dict[str, float]) -> dict[str, float]:
    """Validate split names and ratios; return ratios that sum to 1 (order kept)."""
    if not ratios:
        raise BuilderError("export: at least one split is needed, e.g. {train: 1.0}")
    for name, r in ratios.items():
        if not _SPLIT_NAME.match(name):
            raise BuilderError(f"export: invalid split name {name!r} (letters, digits, '_' and '.' only)")
        if not isinstance(r, int | float) or r < 0:
            raise BuilderError(f"export: split ratio of {name!r} must be a number >= 0, got {r!r}")
    total = float(sum(ratios.values()))
    if total <= 0:
        raise BuilderError("export: split ratios sum to 0")
    return {name: float(r) / total for name, r in ratios.items()}


def book_order_key(book: str, seed: int) -> str:
    """Deterministic pseudo-random position of a book (same seed and name -> same place)."""
    return hashlib.sha256(f"{seed}\x00{book}".encode()).hexdigest()


def assign_books(pairs_per_book: dict[str, int], ratios: dict[str, float], seed: int = 0) -> dict[str, str]:
    """Map each book to a split so that the splits' pair counts approach ``ratios``.

    Greedy: books in hash order; each goes where the summed absolute distance to the targets is
    smallest after adding it (ties: the split missing the largest share of its target, then the
    order of ``ratios``).
    """
    norm = normalise_ratios(ratios)
    names = list(norm)
    total = sum(pairs_per_book.values())
    target = {s: norm[s] * total for s in names}
    current = dict.fromkeys(names, 0)
    out: dict[str, str] = {}
    for book in sorted(pairs_per_book, key=lambda b: (book_order_key(b, seed), b)):
        n = pairs_per_book[book]

        def cost(split: str, n: int = n) -> tuple[float, float, int]:
            err = sum(abs(current[s] + (n if s == split else 0) - target[s]) for s in names)
            missing = (target[split] - current[split]) / target[split] if target[split] > 0 else float("-inf")
            return (round(err, 9), -missing, names.index(split))

        # a split with ratio 0 never receives a book
        candidates = [s for s in names if norm[s] > 0]
        best = min(candidates, key=cost)
        out[book] = best
        current[best] += n
    return out
