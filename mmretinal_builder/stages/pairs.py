"""The ``panels`` stage as recipes run it: :class:`~.panels.PanelStage` splits figures into panels, then, at its
output side, every figure becomes its image-text pairs (:func:`figures_to_pairs`). From here on the pipeline's
item is a :class:`~mmretinal_builder.schema.Pair`.

A figure without panels is one pair (``figure``); a figure with panels gives the figure-level pair
(``compound``: the whole figure with its full caption; ``compound_pairs: false`` leaves it out) and one pair
per panel (``panel``, with its sub-caption). The stage forms items of another kind, so the funnel counts the
pairs it formed (``ctx.considered``; the figures it read are the stage's ``items_in``). Each pair's first own lineage step says which kind of pair it is, with its
box, panel name and caption as the panels stage gave it (the "before" of the clean stage's text).

The splitting stays in :mod:`.panels` (its input side and its tests are unaware of pairs); this subclass is
what the registry names ``panels``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from ..schema import Figure, Pair, pairs_of
from ..stage import Context
from .panels import PanelParams, PanelStage


class PanelPairParams(PanelParams):
    compound_pairs: bool = Field(True, description="also make the figure-level pair of a figure with panels "
                                                   "(the whole figure with its full caption)")


class PanelPairStage(PanelStage):
    """Panels, then pairs."""

    Params: ClassVar[type[PanelPairParams]] = PanelPairParams  # type: ignore[assignment]
    version: ClassVar[str] = f"{PanelStage.version}+pairs1"
    produces = Pair

    params: PanelPairParams

    def run(self, items: list[Figure], ctx: Context) -> list[Pair]:  # type: ignore[override]
        return figures_to_pairs(super().run(items, ctx), ctx, compound=self.params.compound_pairs)


def figures_to_pairs(figures: list[Figure], ctx: Context, compound: bool = True) -> list[Pair]:
    """Every figure as its pairs (see the module docstring), each noted with the rule that made it."""
    out: list[Pair] = []
    for fig in figures:
        pairs = pairs_of(fig, compound)
        # a note the splitting made about the figure carries over to its pairs
        split_rule, split_detail = ctx.notes.pop(id(fig), (None, {}))
        for p in pairs:
            ctx.count(f"pairs:{p.role}")
            detail: dict[str, Any] = {"bbox": p.bbox, "caption": p.caption, "panels": len(fig.panels)}
            if p.panel is not None:
                detail.update(panel=p.panel.index, label=p.panel.label, label_source=p.panel.label_source,
                              bbox_px=p.panel.bbox_px, sub_caption=p.panel.caption is not None)
            if split_rule is not None:
                detail.update(split_rule=split_rule, **split_detail)
            ctx.note(p, p.role, **detail)
        out.extend(pairs)
    ctx.considered = len(out)  # the funnel counts the pairs formed here (and the figures read as items_in)
    return out
