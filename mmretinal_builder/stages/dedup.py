"""The ``dedup`` stage (scope "run"): near-duplicate pictures across all books of a run.

Every pair (a figure, the whole of a compound figure, a panel) is fingerprinted
(:mod:`~mmretinal_builder.curation.phash`); its pHash (hex) goes to ``phash``. Near-duplicate groups
(:mod:`~mmretinal_builder.curation.dedup`; pairs of one figure are never duplicates of each other) keep their
best copy (a born-digital page's before a scan's, then the largest picture): the kept pair lists the merged pair ids in ``duplicates`` (rule ``kept-best-copy``), the others
are dropped with reason ``duplicate`` and the kept pair id in the detail.

Counters: ``units``, ``candidates`` (hash neighbours), ``filtered`` (after the structure-hash, aspect and
same-figure rules), ``verified`` (pixel check passed), ``duplicates``, ``groups``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from ..curation.dedup import DedupThresholds, Item, caption_hash, find_duplicates
from ..curation.filter import Filter, Verdict, drop, keep, load_pair_image
from ..curation.phash import fingerprint, thumbnail, to_hex
from ..errors import BuilderError
from ..schema import Pair
from ..stage import Context, Params


class DedupParams(Params):
    thresholds: DedupThresholds = Field(default_factory=DedupThresholds)


def _caption(pair: Pair) -> str | None:
    if pair.text is not None and (pair.text.en or pair.text.zh):
        return " ".join(t for t in (pair.text.en, pair.text.zh) if t)
    return pair.source_caption


class DedupStage(Filter):
    name: ClassVar[str] = "dedup"
    scope: ClassVar[Literal["book", "run"]] = "run"
    Params: ClassVar[type[Params]] = DedupParams
    version: ClassVar[str] = "3"  # 2: pairs; 3: a born-digital copy wins over a scanned one

    def decide(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        p: DedupParams = self.params  # type: ignore[assignment]
        def where(i: int) -> tuple[str, int, str, int]:
            q = pairs[i]
            return (q.figure.book, q.figure.page, q.figure.id, q.panel.index if q.panel is not None else -1)

        order = sorted(range(len(pairs)), key=where)
        seen: list[Pair] = []
        dedup_items: list[Item] = []
        for i in order:
            pair = pairs[i]
            try:
                img = load_pair_image(ctx, pair)
            except BuilderError as e:
                ctx.warn(f"dedup skips {pair.id}: {e}")
                ctx.count("unreadable")
                continue
            fp = fingerprint(img)
            pair.phash = to_hex(fp.phash)
            seen.append(pair)
            dedup_items.append(Item(pair.id, pair.figure.id, int(img.shape[0] * img.shape[1]),
                                    caption_hash(_caption(pair)), fp,
                                    born_digital=pair.figure.provenance.text_layer == "ok"))
            if ctx.progress:
                ctx.progress(len(seen), len(pairs))
        ctx.count("units", len(seen))

        def thumb(i: int) -> np.ndarray:
            return thumbnail(load_pair_image(ctx, seen[i]))

        res = find_duplicates(dedup_items, thumb, p.thresholds)
        ctx.count("candidates", res.candidates)
        ctx.count("filtered", res.filtered)
        ctx.count("verified", res.verified)
        ctx.count("groups", len(res.keepers))
        ctx.count("duplicates", len(res.dropped))

        verdicts: dict[str, Verdict] = {}
        for k, dups in res.keepers.items():
            target = seen[k]
            target.duplicates = sorted(set(target.duplicates) | {seen[d].id for d in dups})
            verdicts[target.id] = keep("kept-best-copy", merged=target.duplicates, phash=target.phash)
        for d, k in res.dropped.items():
            verdicts[seen[d].id] = drop("duplicate", of=seen[k].id, phash=seen[d].phash)
        return [verdicts.get(q.id) or keep("unique", phash=q.phash) for q in pairs]
