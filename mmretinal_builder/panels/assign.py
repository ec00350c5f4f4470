"""Bind sub-captions to panels: by panel label, else by reading order, else not at all (reported).

A caption with no panel names gives every panel the whole caption body. A caption that names panels
gives each panel the shared text plus the segments naming it; a name ``a`` also covers panels ``a1``,
``a2``; positions (left, top row...) are resolved from the panel boxes. Segments that match no panel and
panels that match no segment are returned, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .labels import label_key
from .subcaptions import Segment, Span, SubCaptions


@dataclass
class PanelText:
    """What a panel gets: its label (maybe inferred), its caption and the caption offsets used."""

    label: str | None
    label_source: str | None
    caption: str | None
    spans: list[list[int]]


@dataclass
class Assignment:
    panels: list[PanelText]
    unassigned: list[Segment] = field(default_factory=list)  # segments no panel took
    uncaptioned: list[int] = field(default_factory=list)  # panels no segment named


def _is_letter(label: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]\d*", label))


def leaf_labels(labels: Sequence[str]) -> list[str]:
    """Letter labels that name single panels: ``a`` is dropped when ``a1`` exists; gaps a, b, d -> a-d."""
    letters = [x for x in labels if _is_letter(x)]
    lower = {x.lower() for x in letters}
    leaves = sorted({x for x in letters if not any(o != x.lower() and o.startswith(x.lower()) and o[1:].isdigit()
                                                   for o in lower)}, key=label_key)
    if leaves and all(len(x) == 1 for x in leaves):
        upper = leaves[0].isupper()
        last = max(ord(x.lower()) for x in leaves)
        leaves = [chr(k).upper() if upper else chr(k) for k in range(ord("a"), last + 1)]
    return leaves


def _matches(seg_label: str, panel_label: str | None, panel_labels: set[str]) -> bool:
    if panel_label is None:
        return False
    s, p = seg_label.lower(), panel_label.lower()
    if s == p:
        return True
    # 'a' names 'a1', 'a2' when no panel is called plain 'a'
    return s not in panel_labels and p.startswith(s) and p[len(s):].isdigit()


def _grid(boxes: Sequence[Sequence[float]]) -> tuple[list[int], list[int], int, int]:
    """Row and column index of each box (clusters of overlapping extents) and the counts."""

    def clusters(lo: int, hi: int) -> tuple[list[int], int]:
        order = sorted(range(len(boxes)), key=lambda i: (boxes[i][lo] + boxes[i][hi]) / 2)
        idx = [0] * len(boxes)
        band: tuple[float, float] | None = None
        k = -1
        for i in order:
            a, b = boxes[i][lo], boxes[i][hi]
            if band is None or (min(b, band[1]) - max(a, band[0])) < 0.5 * min(b - a, band[1] - band[0]):
                k += 1
                band = (a, b)
            else:
                band = (min(a, band[0]), max(b, band[1]))
            idx[i] = k
        return idx, k + 1

    rows, nr = clusters(1, 3)
    cols, nc = clusters(0, 2)
    return rows, cols, nr, nc


def _position_panels(position: str, boxes: Sequence[Sequence[float]]) -> list[int]:
    rows, cols, nr, nc = _grid(boxes)
    keep = set(range(len(boxes)))
    for word in position.split("-"):
        if word == "left":
            keep &= {i for i in keep if cols[i] == 0}
        elif word == "right":
            keep &= {i for i in keep if cols[i] == nc - 1}
        elif word == "top":
            keep &= {i for i in keep if rows[i] == 0}
        elif word == "bottom":
            keep &= {i for i in keep if rows[i] == nr - 1}
        elif word == "middle":
            if nc == 3:
                keep &= {i for i in keep if cols[i] == 1}
            elif nr == 3:
                keep &= {i for i in keep if rows[i] == 1}
            else:
                keep = set()
    return sorted(keep) if len(keep) < len(boxes) else []


def assign_subcaptions(sub: SubCaptions, labels: Sequence[str | None], sources: Sequence[str | None],
                       boxes: Sequence[Sequence[float]]) -> Assignment:
    """Captions for panels in reading order with ``labels`` (None: unknown) and page/pixel ``boxes``."""
    n = len(boxes)
    labels, sources = list(labels), list(sources)
    if not sub.segments:
        shared = [list(s) for s in sub.shared]
        text = sub.span_text(sub.shared) or None
        return Assignment([PanelText(labels[i], sources[i], text, shared if text else []) for i in range(n)])
    # labels the panels do not show: take them from the caption in reading order when the counts agree
    # (OCR may misread a letter: when most OCR letters agree with the caption's order, the others yield)
    leaves = leaf_labels(sub.labels())
    if leaves and len(leaves) == n:
        same = [lab is None or lab.lower() == leaves[i].lower() for i, lab in enumerate(labels)]
        ocr = [i for i in range(n) if labels[i] is not None and sources[i] == "ocr"]
        firm_agree = all(same[i] for i in range(n) if i not in ocr)
        ocr_agree = sum(same[i] for i in ocr) > len(ocr) / 2 if ocr else True
        if firm_agree and ocr_agree:
            for i in range(n):
                if labels[i] is None or not same[i]:
                    labels[i], sources[i] = leaves[i], "order"
    panel_labels = {lab.lower() for lab in labels if lab}
    own: list[list[Span]] = [[] for _ in range(n)]
    named = [False] * n
    unassigned: list[Segment] = []
    for seg in sub.segments:
        hit: set[int] = set()
        for lab in seg.labels:
            if _is_letter(lab):
                hit |= {i for i in range(n) if _matches(lab, labels[i], panel_labels)}
            else:
                hit |= set(_position_panels(lab, boxes))
        if not hit:
            unassigned.append(seg)
            continue
        for i in hit:
            named[i] = True
            own[i].extend(seg.spans)
    out: list[PanelText] = []
    uncaptioned: list[int] = []
    for i in range(n):
        if not named[i]:
            uncaptioned.append(i)
            out.append(PanelText(labels[i], sources[i], None, []))
            continue
        spans = sorted(set(sub.shared) | set(own[i]))
        text = sub.span_text(spans) or None
        out.append(PanelText(labels[i], sources[i], text, [list(s) for s in spans] if text else []))
    return Assignment(out, unassigned, uncaptioned)
