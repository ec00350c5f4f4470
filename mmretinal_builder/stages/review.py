"""Apply the stored review decisions on every build: rejects dropped (reason ``review``), edits applied.

A review task is one figure with its panels, so a decision (latest per figure id wins, see
:mod:`mmretinal_builder.review.decisions`) applies to every pair of that figure. Edits:

* caption: replaces the figure caption (the exported caption of the whole figure); panel sub-captions are
  re-split from the edited caption with the panels stage's splitter, and their cleaned text is cleared (it
  described the old caption);
* modality: set on every pair of the figure, confidence 1.0;
* panel boxes: the reviewer's rectangles (figure pixels, reading order) replace the panels: the old panel pairs
  are dropped (``review:panels-replaced``) and the figure's pair is kept as itself plus the new panel pairs
  (labels and sub-captions kept by order, new crops cut from the figure image).

``needs-fix`` keeps the pairs with their edits and marks them, unless ``drop_needs_fix`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..curation.filter import Filter, Verdict, by_figure, drop, keep, mark
from ..geometry import rounded
from ..panels.assign import assign_subcaptions
from ..panels.subcaptions import split_subcaptions
from ..review.decisions import Decision, DecisionStore, latest
from ..schema import Figure, Pair, Panel, pair_id
from ..stage import Context, Params


class ReviewParams(Params):
    decisions: str = "annotations/decisions"  # folder of decision JSONL files, relative to the recipe
    drop_needs_fix: bool = False


class ReviewStage(Filter):
    name = "review"
    scope = "run"
    Params = ReviewParams
    version = "2"  # 2: pairs

    def _store(self, recipe_dir: Path | None) -> DecisionStore:
        folder = Path(self.params.decisions)
        if not folder.is_absolute():
            folder = (recipe_dir or Path.cwd()) / folder
        return DecisionStore(folder)

    def external_fingerprint(self, recipe_dir: Path | None) -> str:
        return self._store(recipe_dir).fingerprint()

    def decide(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        winners = latest(self._store(ctx.recipe_dir).load())
        ctx.count("decisions", len(winners))
        verdicts: dict[int, Verdict] = {}
        figures = set()
        for group in by_figure(pairs):
            figures.add(group[0].figure.id)
            d = winners.get(group[0].figure.id)
            if d is None:
                ctx.count("unreviewed")
                verdicts.update((id(p), keep("unreviewed")) for p in group)
                continue
            verdicts.update(zip(map(id, group), self._apply(group, d, ctx), strict=True))
        unknown = set(winners) - figures
        if unknown:
            ctx.count("decisions_for_absent_pairs", len(unknown))
        return [verdicts[id(p)] for p in pairs]

    def _apply(self, group: list[Pair], d: Decision, ctx: Context) -> list[Verdict]:
        detail: dict[str, Any] = {"decision": d.decision, "reviewer": d.reviewer, "time": d.time}
        if d.decision == "reject" or (d.decision == "needs-fix" and self.params.drop_needs_fix):
            return [drop("review", **detail) for _ in group]
        ctx.count(f"review:{d.decision}")
        review = {"decision": d.decision, "reviewer": d.reviewer, "time": d.time,
                  "edited": [k for k in ("caption", "modality", "panels") if getattr(d, k) is not None],
                  "note": d.note}
        if d.caption is not None:
            ctx.count("review:caption-edited")
            _edit_caption(group, d.caption)
        if d.modality is not None:
            ctx.count("review:modality-changed")
            for p in group:
                p.modality, p.modality_confidence = d.modality, 1.0  # type: ignore[assignment]
        verdicts: list[Verdict] = []
        new: list[Pair] = []
        if d.panels is not None:
            ctx.count("review:panels-edited")
            new = _new_panel_pairs(group, [b.bbox_px for b in d.panels], ctx)
        make = mark if d.decision == "needs-fix" else keep
        anchor = next((p for p in group if p.panel is None), group[0]) if new else None
        for p in [*group, *new]:
            p.review = review
        for p in group:
            if anchor is not None and p is anchor:
                parts = ([p.model_copy(update={"role": "compound"})] if p.panel is None else []) + new
                verdicts.append(Verdict(True, f"review:{d.decision}", {**detail, "edited": review["edited"]},
                                        mark=d.decision == "needs-fix", parts=parts))
            elif new and p.panel is not None:
                verdicts.append(drop("review:panels-replaced", **detail))
            else:
                verdicts.append(make(f"review:{d.decision}", **detail, edited=review["edited"]))
        return verdicts


def _edit_caption(group: list[Pair], caption: str) -> None:
    """The reviewer's caption for the whole figure; panel sub-captions re-split from it."""
    body = group[0].figure.model_copy(update={"caption": caption})
    panels = [p for p in group if p.panel is not None]
    if panels:
        sub = split_subcaptions(caption, body.label)
        res = assign_subcaptions(sub, [p.panel.label for p in panels], [p.panel.label_source for p in panels],
                                 [p.panel.bbox for p in panels])
        for p, pt in zip(panels, res.panels, strict=True):
            p.panel = p.panel.model_copy(update={"caption": pt.caption or caption, "caption_spans": pt.spans})
            p.caption, p.text = p.panel.caption, None  # the cleaned text described the old caption
    for p in group:
        p.figure = body
        p.figure_caption = caption
        if p.panel is None:
            p.caption = caption
            if p.text is not None:
                p.text = p.text.model_copy(update={"en": caption})


def _new_panel_pairs(group: list[Pair], boxes: list[list[int]], ctx: Context) -> list[Pair]:
    """Panel pairs from reviewer boxes: page boxes derived from the figure box, crops cut from its image; label,
    sub-caption and classification carried over from the old panel of the same position."""
    fig = group[0].figure
    old = [p for p in group if p.panel is not None]
    out = []
    for i, panel in enumerate(_panels_from_boxes(fig, boxes, [p.panel for p in old], ctx)):  # type: ignore[misc]
        prev = old[i] if i < len(old) else next((p for p in group if p.panel is None), None)
        out.append(Pair(id=pair_id(fig, panel), role="panel", figure=fig, panel=panel,
                        caption=panel.caption or fig.caption or "", figure_caption=group[0].figure_caption,
                        caption_zh=prev.caption_zh if prev else "",
                        modality=prev.modality if prev else None,
                        modality_confidence=prev.modality_confidence if prev else None,
                        retinal=prev.retinal if prev else None))  # its lineage starts with this stage
    return out


def _panels_from_boxes(fig: Figure, boxes: list[list[int]], old: list[Panel], ctx: Context) -> list[Panel]:
    """New panels from reviewer boxes: page boxes derived from the figure box, crops cut from its image."""
    image = None
    if fig.image:
        buf = np.fromfile(str(ctx.images.path(fig.image)), dtype=np.uint8)
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    w, h = fig.image_size or ([image.shape[1], image.shape[0]] if image is not None else [1, 1])
    sx = (fig.bbox[2] - fig.bbox[0]) / w
    sy = (fig.bbox[3] - fig.bbox[1]) / h
    out = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        crop_rel, size = None, None
        if image is not None and x1 > x0 and y1 > y0:
            ok, enc = cv2.imencode(".png", image[y0:y1, x0:x1])
            if ok:
                crop_rel = ctx.images.put(enc.tobytes(), "png")
                size = [x1 - x0, y1 - y0]
        prev = old[i] if i < len(old) else None
        out.append(Panel(
            index=i, label=prev.label if prev else None, label_source="review",
            bbox=rounded([fig.bbox[0] + x0 * sx, fig.bbox[1] + y0 * sy, fig.bbox[0] + x1 * sx, fig.bbox[1] + y1 * sy]),
            bbox_px=[x0, y0, x1, y1], image=crop_rel, image_size=size,
            caption=prev.caption if prev else fig.caption, caption_spans=prev.caption_spans if prev else [],
        ))
    return out
