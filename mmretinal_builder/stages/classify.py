"""The ``classify`` stage: modality (CFP / FFA / OCT / other) and the retinal decision, per pair.

A figure without panels and every panel is judged on its own picture by
:func:`~mmretinal_builder.curation.modality.classify_image` (image evidence + caption cues; a picture the panels
stage left whole is judged by its tiles when it splits on gutters). A non-retinal one is dropped with
``non-retinal:<kind>`` (chart, table, text, diagram, map, heatmap, illustration, photo) unless
``drop_non_retinal`` is off (then it is kept, marked ``retinal: false``).

The whole of a figure with panels (the ``compound`` pair) is decided by its panels
(:func:`~mmretinal_builder.curation.retinal.figure_verdict`): retinal when any panel is, so a fundus photograph
beside vessel segmentations or heat maps keeps its figure; modality the most common of its retinal panels.
Only a figure none of whose panels is retinal is dropped. (A compound pair whose panels were all dropped before
this stage is judged on its own picture.)

Each pair also keeps ``modality_evidence``: the image's verdict, the caption's (cue words in any language),
and the rule that decided (``image``, ``agree``, ``caption``, ``image-over-caption``, ``combined``;
``tiles`` when a picture left whole was judged by its tiles).

Counters: ``modality:<m>`` per kept pair; ``modality-rule:<rule>``; caption cue against image evidence: ``cue:none``, ``cue:agree``,
``cue:disagree`` and ``cue:<caption>/image:<image>`` for each disagreement (the run report's stand-in for a
confusion matrix when there is no ground truth).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from ..curation.filter import Filter, Verdict, drop, keep, load_pair_image, mark
from ..curation.modality import ModalityResult, ModalityThresholds, classify_image
from ..curation.retinal import PanelJudgement, figure_verdict, non_retinal_kind
from ..errors import BuilderError
from ..schema import ModalityEvidence, Pair
from ..stage import Context, Params


class ClassifyParams(Params):
    thresholds: ModalityThresholds = Field(default_factory=ModalityThresholds)
    use_caption: bool = Field(default=True, description="let caption cues (FFA, OCT, ...) inform the modality")
    drop_non_retinal: bool = Field(default=True, description="drop pairs classified as not retinal")


def caption_for_cues(pair: Pair) -> str | None:
    """The cleaned caption (English + Chinese) when the clean stage ran, else the caption as extracted."""
    if pair.text is not None:
        joined = " ".join(t for t in (pair.text.en, pair.text.zh) if t)
        return joined or None
    return pair.source_caption


def _rule(res: ModalityResult) -> str:
    """Which evidence decided the modality (``tiles``: a picture left whole, judged by its tiles)."""
    return "tiles" if res.cells is not None else res.rule


class ClassifyStage(Filter):
    name: ClassVar[str] = "classify"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = ClassifyParams
    version: ClassVar[str] = "5"  # 5: pairs; a compound figure is retinal when any panel is; map/heatmap kinds; evidence

    params: ClassifyParams

    def judge_figure(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        panels = [p for p in pairs if p.role == "panel"]
        verdicts = {id(p): self.judge(p, ctx) for p in pairs if p.role != "compound" or not panels}
        judged = [PanelJudgement(bool(p.retinal), p.modality or "other", p.modality_confidence,
                                 None if verdicts[id(p)].keep else verdicts[id(p)].rule)
                  for p in panels if p.modality is not None]  # an unreadable panel has no say
        for p in pairs:
            if id(p) not in verdicts:
                verdicts[id(p)] = self._compound(p, judged, ctx)
        return [verdicts[id(p)] for p in pairs]

    def judge(self, pair: Pair, ctx: Context) -> Verdict:
        """Classify one picture; set the pair's modality, confidence and retinal flag."""
        p = self.params
        try:
            img = load_pair_image(ctx, pair)
        except BuilderError as e:
            ctx.warn(str(e))
            return drop("image-unreadable", error=str(e))
        res = classify_image(img, caption_for_cues(pair) if p.use_caption else None, p.thresholds)
        pair.modality = res.modality  # type: ignore[assignment]
        pair.modality_confidence = res.confidence
        pair.retinal = res.retinal
        pair.modality_evidence = ModalityEvidence(**res.evidence())  # type: ignore[arg-type]
        ctx.count(f"modality-rule:{res.rule}")
        if res.cue_modality is None:
            ctx.count("cue:none")
        elif res.cue_modality == res.image_modality:
            ctx.count("cue:agree")
        else:
            ctx.count("cue:disagree")
            ctx.count(f"cue:{res.cue_modality}/image:{res.image_modality}")
        detail: dict[str, Any] = {"modality": res.modality, "confidence": res.confidence,
                                  "probabilities": res.probabilities, "image": res.image_modality,
                                  "caption_cue": res.cue_modality}
        if res.cells is not None:
            detail["retinal_tiles"] = list(res.cells)
        if not res.retinal:
            kind = non_retinal_kind(res.features, img, p.thresholds.white_max)
            ctx.count(f"non-retinal:{kind}")
            if p.drop_non_retinal:
                return drop(f"non-retinal:{kind}", **detail)
            return mark(f"non-retinal:{kind}", **detail)
        ctx.count(f"modality:{res.modality}")
        return keep(_rule(res), **detail)

    def _compound(self, pair: Pair, panels: list[PanelJudgement], ctx: Context) -> Verdict:
        """The whole of a figure with panels, from its panels' decisions."""
        v = figure_verdict(panels) if panels else None
        if v is None:  # no panel was judged here: the figure's own picture decides
            return self.judge(pair, ctx)
        pair.modality, pair.modality_confidence, pair.retinal = v.modality, v.confidence, v.retinal  # type: ignore
        if not v.retinal:
            if self.params.drop_non_retinal:
                return drop(v.rule, **v.detail)
            return mark(v.rule, **v.detail)
        ctx.count(f"modality:{v.modality}")
        return keep(v.rule, modality=v.modality, confidence=v.confidence, **v.detail)
