"""The ``dedup`` stage (scope "run"): near-duplicate pictures across all books of a run.

Every unit (figure without panels, or panel) is fingerprinted (:mod:`~mmretinal_builder.curation.phash`);
its pHash (hex) goes to ``phash``. Near-duplicate groups (:mod:`~mmretinal_builder.curation.dedup`) keep
their largest picture; the kept unit lists the merged pair ids in ``duplicates``, the others are dropped
with reason ``duplicate`` and the kept pair id as detail (a panel is removed from its figure; a figure
left without panels is dropped).

Counters: ``units``, ``candidates`` (hash neighbours), ``filtered`` (after the structure-hash, aspect and
same-figure rules), ``verified`` (pixel check passed), ``duplicates``, ``groups``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from ..curation.dedup import DedupThresholds, Item, caption_hash, find_duplicates
from ..curation.phash import fingerprint, thumbnail, to_hex
from ..curation.units import Unit, apply_panel_drops, load_unit_image, units
from ..errors import BuilderError
from ..schema import Figure
from ..stage import Context, Params, Stage


class DedupParams(Params):
    thresholds: DedupThresholds = Field(default_factory=DedupThresholds)


def _caption(unit: Unit) -> str | None:
    text = unit.panel.text if unit.panel is not None else unit.figure.text
    if text is not None and (text.en or text.zh):
        return " ".join(t for t in (text.en, text.zh) if t)
    return unit.caption


class DedupStage(Stage):
    name: ClassVar[str] = "dedup"
    scope: ClassVar[Literal["book", "run"]] = "run"
    Params: ClassVar[type[Params]] = DedupParams
    version: ClassVar[str] = "1"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        p: DedupParams = self.params  # type: ignore[assignment]
        figs = sorted(items, key=lambda f: (f.book, f.page, f.id))
        all_units: list[Unit] = []
        dedup_items: list[Item] = []
        total = sum(max(1, len(f.panels)) for f in figs)
        for fig in figs:
            for unit in units(fig):
                try:
                    img = load_unit_image(ctx, unit)
                except BuilderError as e:
                    ctx.warn(f"dedup skips {unit.key}: {e}")
                    ctx.count("unreadable")
                    continue
                fp = fingerprint(img)
                (unit.panel if unit.panel is not None else fig).phash = to_hex(fp.phash)
                all_units.append(unit)
                dedup_items.append(Item(unit.key, fig.id, int(img.shape[0] * img.shape[1]),
                                        caption_hash(_caption(unit)), fp))
                if ctx.progress:
                    ctx.progress(len(all_units), total)
        ctx.count("units", len(all_units))

        def thumb(i: int) -> np.ndarray:
            return thumbnail(load_unit_image(ctx, all_units[i]))

        res = find_duplicates(dedup_items, thumb, p.thresholds)
        ctx.count("candidates", res.candidates)
        ctx.count("filtered", res.filtered)
        ctx.count("verified", res.verified)
        ctx.count("groups", len(res.keepers))
        ctx.count("duplicates", len(res.dropped))

        for keep, dups in res.keepers.items():
            target = all_units[keep].panel or all_units[keep].figure
            target.duplicates = sorted(set(target.duplicates) | {all_units[d].key for d in dups})
        drops_by_fig: dict[str, dict[int, tuple[str, str | None]]] = {}
        fig_dropped: dict[str, str] = {}
        for d, keep in res.dropped.items():
            u = all_units[d]
            if u.panel is None:
                fig_dropped[u.figure.id] = all_units[keep].key
            else:
                drops_by_fig.setdefault(u.figure.id, {})[u.panel.index] = ("duplicate", all_units[keep].key)
        out = []
        for fig in figs:
            if fig.id in fig_dropped:
                ctx.drop(fig, "duplicate", fig_dropped[fig.id])
            elif apply_panel_drops(ctx, fig, drops_by_fig.get(fig.id, {})):
                out.append(fig)
        return out
