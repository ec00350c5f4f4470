"""Right-to-left text (Persian, Arabic, Hebrew) in reading order.

Line text must be in *logical* order, the order a reader reads: ``شکل ۳-۲: تصویر OCT`` starts with the
caption cue. Positions on the page are *visual*: an RTL line runs from right to left, with left-to-right runs
(Latin words, numbers) set inside it. Tesseract usually returns the words of an RTL line in logical order,
but not always (a line it decided was left-to-right comes back in visual order), and it reverses numbers
joined by a hyphen (``۳-۲`` read as ``۲-۳``, ``5-1`` as ``1-5``) while it keeps ``۴.۱``. The helpers here
put words in logical order from their positions and undo the number reversal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

_HYPHENATED_NUMBER = re.compile(r"^(?P<lead>\W*)(?P<num>\d+(?:[\-\u2010\u2011\u2013\u2212]\d+)+)(?P<tail>\W*)$")


def strong_direction(text: str) -> str | None:
    """``rtl`` or ``ltr`` by the first strong character, None when there is none (digits, punctuation)."""
    for ch in text:
        d = unicodedata.bidirectional(ch)
        if d in ("R", "AL"):
            return "rtl"
        if d == "L":
            return "ltr"
    return None


def is_rtl(text: str) -> bool:
    """More right-to-left letters than left-to-right ones."""
    rtl = ltr = 0
    for ch in text:
        d = unicodedata.bidirectional(ch)
        rtl += d in ("R", "AL")
        ltr += d == "L"
    return rtl > ltr


def logical_order(items: Sequence[T], text: Callable[[T], str], x_centre: Callable[[T], float]) -> list[T]:
    """Words of one right-to-left line in reading order: right to left by position, except that runs of
    left-to-right words (``OCT image``) read left to right inside the line."""
    visual = sorted(items, key=x_centre, reverse=True)
    out: list[T] = []
    run: list[T] = []
    for it in visual:
        if strong_direction(text(it)) == "ltr":
            run.append(it)
            continue
        out.extend(reversed(run))
        run = []
        out.append(it)
    out.extend(reversed(run))
    return out


def fix_reversed_number(word: str) -> str:
    """``۲-۳:`` -> ``۳-۲:``: the groups of a hyphen-joined number Tesseract read backwards in an RTL line."""
    m = _HYPHENATED_NUMBER.match(word)
    if not m:
        return word
    parts = re.split(r"([\-\u2010\u2011\u2013\u2212])", m.group("num"))
    groups, seps = parts[0::2], parts[1::2]
    rebuilt = groups[-1]
    for sep, g in zip(reversed(seps), reversed(groups[:-1]), strict=True):
        rebuilt += sep + g
    return m.group("lead") + rebuilt + m.group("tail")
