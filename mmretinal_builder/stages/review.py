"""Apply the stored review decisions on every build: rejects dropped (reason ``review``), edits applied.

Latest decision per pair wins (see :mod:`mmretinal_builder.review.decisions`). Edits:

* caption: replaces the figure caption (and the cleaned English text); panel sub-captions are re-split from the
  edited caption with the panels stage's splitter;
* modality: set on the figure and all its panels, confidence 1.0;
* panel boxes: the reviewer's rectangles (figure pixels, reading order) replace the panels; labels and
  sub-captions are kept by order, new crops are cut from the figure image.

``needs-fix`` keeps the pair with its edits and marks it, unless ``drop_needs_fix`` is set.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..geometry import rounded
from ..panels.assign import assign_subcaptions
from ..panels.subcaptions import split_subcaptions
from ..review.decisions import Decision, DecisionStore, latest
from ..schema import Figure, Panel
from ..stage import Context, Params, Stage


class ReviewParams(Params):
    decisions: str = "annotations/decisions"  # folder of decision JSONL files, relative to the recipe
    drop_needs_fix: bool = False


class ReviewStage(Stage):
    name = "review"
    scope = "run"
    Params = ReviewParams
    version = "1"

    def _store(self, recipe_dir: Path | None) -> DecisionStore:
        folder = Path(self.params.decisions)
        if not folder.is_absolute():
            folder = (recipe_dir or Path.cwd()) / folder
        return DecisionStore(folder)

    def external_fingerprint(self, recipe_dir: Path | None) -> str:
        return self._store(recipe_dir).fingerprint()

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        winners = latest(self._store(ctx.recipe_dir).load())
        ctx.count("decisions", len(winners))
        out = []
        for fig in items:
            d = winners.get(fig.id)
            if d is None:
                ctx.count("unreviewed")
                out.append(fig)
                continue
            if d.decision == "reject" or (d.decision == "needs-fix" and self.params.drop_needs_fix):
                ctx.drop(fig, "review", f"{d.decision} by {d.reviewer}")
                continue
            out.append(apply_decision(fig, d, ctx))
        unknown = set(winners) - {f.id for f in items}
        if unknown:
            ctx.count("decisions_for_absent_pairs", len(unknown))
        return out


def apply_decision(fig: Figure, d: Decision, ctx: Context) -> Figure:
    fig = fig.model_copy(deep=True)
    ctx.count(f"review:{d.decision}")
    if d.caption is not None:
        ctx.count("review:caption-edited")
        fig.caption = d.caption
        if fig.text is not None:
            fig.text.en = d.caption
        _resplit_captions(fig)
    if d.modality is not None:
        ctx.count("review:modality-changed")
        fig.modality = d.modality  # type: ignore[assignment]
        fig.modality_confidence = 1.0
        for p in fig.panels:
            p.modality = d.modality  # type: ignore[assignment]
            p.modality_confidence = 1.0
    if d.panels is not None:
        ctx.count("review:panels-edited")
        fig.panels = _panels_from_boxes(fig, [p.bbox_px for p in d.panels], ctx)
    fig.review = {"decision": d.decision, "reviewer": d.reviewer, "time": d.time,
                  "edited": [k for k in ("caption", "modality", "panels") if getattr(d, k) is not None],
                  "note": d.note}
    return fig


def _resplit_captions(fig: Figure) -> None:
    """Sub-captions of the panels from the edited caption, with the panels stage's splitter and assignment."""
    if not fig.panels:
        return
    sub = split_subcaptions(fig.caption or "", fig.label)
    res = assign_subcaptions(sub, [p.label for p in fig.panels], [p.label_source for p in fig.panels],
                             [p.bbox for p in fig.panels])
    for p, pt in zip(fig.panels, res.panels, strict=True):
        p.caption, p.caption_spans = pt.caption or fig.caption, pt.spans
        p.text = None  # the cleaned text described the old caption


def _panels_from_boxes(fig: Figure, boxes: list[list[int]], ctx: Context) -> list[Panel]:
    """New panels from reviewer boxes: page boxes derived from the figure box, crops cut from its image."""
    image = None
    if fig.image:
        buf = np.fromfile(str(ctx.images.path(fig.image)), dtype=np.uint8)
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    w, h = fig.image_size or ([image.shape[1], image.shape[0]] if image is not None else [1, 1])
    sx = (fig.bbox[2] - fig.bbox[0]) / w
    sy = (fig.bbox[3] - fig.bbox[1]) / h
    old = fig.panels
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
            modality=prev.modality if prev else fig.modality, modality_confidence=prev.modality_confidence if prev
            else fig.modality_confidence, retinal=prev.retinal if prev else fig.retinal,
        ))
    return out
