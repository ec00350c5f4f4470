"""What the curation stages judge: a figure without panels, or each panel of a figure.

A *unit* is one image-text pair to be: the figure itself when it has no panels, else each of its panels
(the panel stage has run before curation). Helpers here load a unit's picture, and remove a panel from
its figure with a reason: a dropped panel is not a pipeline item (the funnel counts figures), so it is
written to the stage's rejects with ``kind: "panel"`` and counted as ``panels-dropped:<reason>``; a
figure whose panels are all dropped is itself dropped by the stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BuilderError
from ..schema import Figure, Panel, pair_id
from ..stage import Context
from .imagefeatures import read_image


@dataclass
class Unit:
    figure: Figure
    panel: Panel | None

    @property
    def key(self) -> str:
        return pair_id(self.figure, self.panel)

    @property
    def caption(self) -> str | None:
        return self.panel.caption if self.panel is not None else self.figure.caption

    @property
    def image(self) -> str | None:
        if self.panel is not None and self.panel.image:
            return self.panel.image
        return self.figure.image


def units(fig: Figure) -> Iterator[Unit]:
    if fig.panels:
        for p in fig.panels:
            yield Unit(fig, p)
    else:
        yield Unit(fig, None)


def load_unit_image(ctx: Context, unit: Unit) -> np.ndarray:
    """The unit's picture (BGR); a panel without its own crop is cut from the figure by ``bbox_px``."""
    rel = unit.image
    if not rel:
        raise BuilderError(f"{unit.figure.book}: figure {unit.figure.id} has no image")
    img = read_image(Path(ctx.run_dir) / rel)
    if unit.panel is not None and not unit.panel.image:
        x0, y0, x1, y1 = (int(v) for v in unit.panel.bbox_px)
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            raise BuilderError(f"{unit.figure.book}: panel {unit.key} has an empty bbox_px {unit.panel.bbox_px}")
        img = img[y0:y1, x0:x1]
    return img


def drop_panel(ctx: Context, fig: Figure, panel: Panel, reason: str, detail: str | None = None) -> None:
    """Record a panel removed from its figure (the caller removes it from ``fig.panels``)."""
    ctx.count(f"panels-dropped:{reason}")
    ctx.rejects.append({"reason": reason, "detail": detail, "stage": ctx.stage, "kind": "panel",
                        "item": {"figure_id": fig.id, "pair_id": pair_id(fig, panel), "book": fig.book,
                                 "page": fig.page, "panel": panel.model_dump(mode="json")}})


def apply_panel_drops(ctx: Context, fig: Figure, drops: dict[int, tuple[str, str | None]]) -> bool:
    """Remove the panels in ``drops`` (panel index -> (reason, detail)); True when some panel is left.

    When none is left, the figure is dropped with the most common reason (ties: the first in panel
    order), and its detail lists every panel's reason.
    """
    if not drops:
        return True
    kept = [p for p in fig.panels if p.index not in drops]
    if kept:
        for p in fig.panels:
            if p.index in drops:
                drop_panel(ctx, fig, p, *drops[p.index])
        fig.panels = kept
        return True
    reasons = [drops[p.index][0] for p in fig.panels]
    top = max(dict.fromkeys(reasons), key=reasons.count)
    ctx.drop(fig, top, "; ".join(f"p{p.index}: {drops[p.index][0]}" for p in fig.panels))
    return False


Drop = tuple[str, str | None]  # (reason, detail)


def filter_by_unit(items: list[Figure], ctx: Context, judge: Callable[[Unit], Drop | None],
                   on_kept: Callable[[Figure], None] | None = None) -> list[Figure]:
    """Judge every unit of every figure (the figure itself, or each of its panels) and keep what passes.

    ``judge`` returns a drop or None. A dropped figure-level unit drops the figure; dropped panels leave the
    figure (see :func:`apply_panel_drops`). ``on_kept`` runs on each figure that stays.
    """
    out = []
    for n, fig in enumerate(items):
        drops: dict[int, Drop] = {}
        fig_drop: Drop | None = None
        for unit in units(fig):
            reason = judge(unit)
            if reason is None:
                continue
            if unit.panel is None:
                fig_drop = reason
            else:
                drops[unit.panel.index] = reason
        if fig_drop is not None:
            ctx.drop(fig, *fig_drop)
        elif apply_panel_drops(ctx, fig, drops):
            if on_kept is not None:
                on_kept(fig)
            out.append(fig)
        if ctx.progress:
            ctx.progress(n + 1, len(items))
    return out
