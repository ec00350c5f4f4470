"""Retinal vs non-retinal: the decision, and what a non-retinal picture is (the drop reason).

An image is retinal when its modality is CFP, FFA or OCT (:mod:`.modality`). A non-retinal image is
dropped with ``non-retinal:<kind>``, the kind read from the same statistics plus long straight lines:

* ``table``: a page graphic (mostly near-white) with long horizontal rules (or a grid) and dense text;
* ``chart``: a page graphic with one or two long horizontal and some vertical axis lines, sparse marks;
* ``text``: a page graphic dense in small edges without long rules (a text block scanned as an image);
* ``diagram``: any other page graphic (flowcharts, annotation workflows, folder trees);
* ``map``: mostly black with a few flat colours: a vessel segmentation, a lesion or region mask (papers show
  them beside the fundus photograph they were made from);
* ``heatmap``: saturated colour everywhere in non-fundus hues (a jet colour map of a score, attention maps);
* ``illustration``: not a page graphic but drawn in flat colours (schematics, clip art);
* ``photo``: everything else (devices, external eyes, microscopy, scenes).

A picture is judged on its own: a compound figure is kept when any of its panels is retinal (see
:func:`figure_verdict`), so a fundus photograph is never dropped because the maps beside it are not retinal.

Decision for PALM (Scientific Data 2024) Fig. 5 and Fig. 6: **negative** (``non-retinal:diagram``).
Fig. 5 is an annotation-workflow diagram; its four fundus thumbnails fill about 6% of the figure and the
caption describes a process, not a fundus. As an image-text pair it would teach a model nothing about
the retina. Fig. 6 is a folder tree with tiny icons. If the panel stage cuts a thumbnail out of such a
diagram, that crop is judged on its own (and is a CFP).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .imagefeatures import ImageFeatures, as_bgr, work_copy

KINDS: tuple[str, ...] = ("chart", "table", "text", "diagram", "map", "heatmap", "illustration", "photo")


def long_lines(img: np.ndarray, frac: float = 0.45) -> tuple[int, int]:
    """Count long dark horizontal and vertical lines (``frac`` of the width/height), merged when adjacent."""
    grey = cv2.cvtColor(work_copy(as_bgr(img), 512), cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    ink = (grey < 170).astype(np.uint8)
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(w * frac)), 1)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(h * frac)))))

    def runs(profile: np.ndarray) -> int:
        on = np.concatenate([[0], (profile > 0).astype(np.int8), [0]])
        return int((np.diff(on) == 1).sum())

    return runs(horiz.sum(axis=1)), runs(vert.sum(axis=0))


def non_retinal_kind(f: ImageFeatures, img: np.ndarray, white_max: float = 0.30) -> str:
    """What a non-retinal picture is (one of :data:`KINDS`)."""
    if f.white_frac >= white_max:
        n_h, n_v = long_lines(img)
        if (n_h >= 3 and (n_v >= 2 or f.edge_density >= 0.10)) or (n_h >= 1 and f.edge_density >= 0.20):
            return "table"  # rules (or a grid) around dense cell text
        if 1 <= n_h <= 2 and n_v >= 1 and f.edge_density < 0.12:
            return "chart"  # axis lines around sparse marks
        if f.edge_density >= 0.15:
            return "text"
        return "diagram"
    if f.dark_frac >= 0.6 and f.top_colours >= 0.98:
        return "map"  # a few flat colours on black: segmentation, lesion mask
    if f.colour_frac >= 0.9 and f.sat >= 0.8 and f.fundus_hue <= 0.3:
        return "heatmap"  # saturated blues and greens a fundus never shows
    if f.flat_frac >= 0.45:
        return "illustration"
    return "photo"


@dataclass(frozen=True)
class PanelJudgement:
    """What classify decided about one panel of a figure."""

    retinal: bool
    modality: str
    confidence: float | None
    reason: str | None = None  # the drop reason of a non-retinal panel (``non-retinal:<kind>``)


@dataclass(frozen=True)
class FigureVerdict:
    """The decision for the whole of a figure with panels, from its panels' decisions."""

    retinal: bool
    modality: str
    confidence: float | None
    rule: str
    detail: dict[str, Any]


def figure_verdict(panels: list[PanelJudgement]) -> FigureVerdict:
    """Retinal when any panel is (a figure is dropped only when none of its panels is retinal); its modality is
    the most common modality of its retinal panels (ties: the first in panel order), its confidence their mean
    confidence. Without a retinal panel the figure takes the panels' most common drop reason."""
    retinal = [p for p in panels if p.retinal]
    pool = retinal or panels
    order = [p.modality for p in pool]
    counts = Counter(order)
    best = max(counts, key=lambda m: (counts[m], -order.index(m)))
    confs = [p.confidence for p in pool if p.modality == best and p.confidence]
    conf = round(sum(confs) / len(confs), 4) if confs else None
    detail: dict[str, Any] = {"retinal_panels": len(retinal), "panels": len(panels),
                              "modalities": dict(sorted(Counter(p.modality for p in panels).items()))}
    if retinal:
        return FigureVerdict(True, best, conf, "retinal-panels", detail)
    reasons = [p.reason or "non-retinal" for p in panels]
    return FigureVerdict(False, best, conf, max(dict.fromkeys(reasons), key=reasons.count), detail)
