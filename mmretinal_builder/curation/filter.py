"""One base class for the curation stages: a :class:`Filter` keeps, marks or drops each image-text pair.

Every stage after the panels stage (clean, classify, quality, dedup, review) is a Filter over
:class:`~mmretinal_builder.schema.Pair` records. A Filter says, for every pair it receives, one
:class:`Verdict`:

* ``keep(rule, **detail)``: the pair goes on; ``rule`` says why (which rule decided), ``detail`` what the stage
  saw (text before/after, scores, boxes). Counted as ``keep:<rule>``.
* ``mark(rule, **detail)``: the pair goes on with something recorded against it (a caption flag, a quality
  flag that does not drop). Counted as ``mark:<rule>``.
* ``drop(reason, **detail)``: the pair leaves the pipeline; the reason is counted in the funnel and the pair,
  with this stage's step added to its lineage, goes to the stage's rejects (so ``mmretinal trace`` can say
  which stage dropped it and why).

A kept pair's rule and detail become this stage's step in its lineage (the runner stamps it). A verdict may
replace a pair by several (``parts``: the review stage's new panel boxes); the funnel counts the pairs made
there as received and kept (``ctx.considered``).

Pairs are judged a figure at a time (:meth:`Filter.judge_figure`: the whole of a compound figure after its
panels, so the figure-level decision can use the panels'), or all at once (:meth:`Filter.decide`: dedup).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from ..errors import BuilderError
from ..schema import Figure, LineageStep, Pair
from ..stage import Context, Stage
from .imagefeatures import read_image


@dataclass
class Verdict:
    """What a filter decided about one pair."""

    keep: bool
    rule: str  # a kept pair: the rule that decided; a dropped one: the drop reason (e.g. "non-retinal:chart")
    detail: dict[str, Any] = field(default_factory=dict)
    mark: bool = False
    parts: list[Pair] | None = None  # the pair is kept as these pairs instead (rare: review's panel edits)

    def text(self) -> str | None:
        """The detail as one line for ``rejects.jsonl``."""
        if not self.detail:
            return None
        return json.dumps(self.detail, sort_keys=True, ensure_ascii=False, default=str)


def keep(rule: str, **detail: Any) -> Verdict:
    return Verdict(True, rule, detail)


def mark(rule: str, **detail: Any) -> Verdict:
    return Verdict(True, rule, detail, mark=True)


def drop(reason: str, **detail: Any) -> Verdict:
    return Verdict(False, reason, detail)


def by_figure(pairs: list[Pair]) -> Iterator[list[Pair]]:
    """The pairs of each figure together, figures in order of first appearance, panels last (by index) so a
    figure-level decision may use its panels' decisions."""
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.figure.id, []).append(p)
    for group in groups.values():
        yield sorted(group, key=lambda p: (p.panel is not None, p.panel.index if p.panel is not None else 0))


def load_pair_image(ctx: Context, pair: Pair) -> np.ndarray:
    """The pair's picture (BGR); a panel without its own crop is cut from the figure image by ``bbox_px``."""
    rel = pair.image
    if not rel:
        raise BuilderError(f"{pair.figure.book}: pair {pair.id} has no image")
    img = read_image(Path(ctx.run_dir) / rel)
    if pair.panel is not None and not pair.panel.image:
        x0, y0, x1, y1 = (int(v) for v in pair.panel.bbox_px)
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            raise BuilderError(f"{pair.figure.book}: panel {pair.id} has an empty bbox_px {pair.panel.bbox_px}")
        img = img[y0:y1, x0:x1]
    return img


class Filter(Stage):
    """Base of the curation stages. Subclasses implement :meth:`judge` (one pair), or :meth:`judge_figure` (the
    pairs of one figure), or :meth:`decide` (all pairs at once)."""

    consumes: ClassVar[type[BaseModel] | None] = Pair
    produces: ClassVar[type[BaseModel]] = Pair

    def run(self, items: list[Any], ctx: Context) -> list[Any]:
        pairs = self._pairs(items)
        verdicts = self.decide(pairs, ctx)
        if len(verdicts) != len(pairs):
            raise BuilderError(f"stage {self.name!r} judged {len(verdicts)} of {len(pairs)} pairs")
        out: list[Pair] = []
        formed = 0  # pairs made here besides those received (a verdict's parts)
        for pair, v in zip(pairs, verdicts, strict=True):
            if not v.keep:
                ctx.drop(self._with_step(pair, v, ctx.stage), v.rule, v.text())
                continue
            ctx.count(f"{'mark' if v.mark else 'keep'}:{v.rule}")
            parts = v.parts if v.parts is not None else [pair]
            formed += len(parts) - 1
            for part in parts:
                ctx.note(part, v.rule, **v.detail)
            out.extend(parts)
        if formed:
            ctx.considered = len(pairs) + formed  # the funnel counts the pairs made here as received and kept
        return out

    def decide(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        """A verdict per pair, in the order given. Default: a figure at a time."""
        verdicts: dict[int, Verdict] = {}
        done = 0
        for group in by_figure(pairs):
            for p, v in zip(group, self.judge_figure(group, ctx), strict=True):
                verdicts[id(p)] = v
            done += len(group)
            if ctx.progress:
                ctx.progress(done, len(pairs))
        return [verdicts[id(p)] for p in pairs]

    def judge_figure(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        """Verdicts for the pairs of one figure (panels after the whole figure). Default: each on its own."""
        return [self.judge(p, ctx) for p in pairs]

    def judge(self, pair: Pair, ctx: Context) -> Verdict:  # pragma: no cover - interface
        raise NotImplementedError(f"stage {self.name!r} does not implement judge()")

    def _pairs(self, items: list[Any]) -> list[Pair]:
        if any(isinstance(i, Figure) for i in items):
            raise BuilderError(f"stage {self.name!r} works on image-text pairs, which the panels stage makes: put "
                               "'panels' before it in the recipe")
        return items

    def _with_step(self, pair: Pair, v: Verdict, stage: str) -> Pair:
        """The dropped pair with this stage's step last in its lineage (what ``rejects.jsonl`` keeps)."""
        out = pair.model_copy()
        out.lineage = [*pair.lineage, LineageStep(stage=stage, version=self.version, rule=v.rule,
                                                  detail={**v.detail, "dropped": True})]
        return out
