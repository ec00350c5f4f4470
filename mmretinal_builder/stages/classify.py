"""The ``classify`` stage: modality (CFP / FFA / OCT / other) per pair, and the retinal decision.

Each unit (a figure without panels, or each panel) gets ``modality``, ``modality_confidence`` and
``retinal`` from :func:`~mmretinal_builder.curation.modality.classify_image` (image evidence + caption
cues). Non-retinal units are dropped with ``non-retinal:<kind>`` (chart, table, text, diagram,
illustration, photo); a figure keeps the panels that are retinal. A figure with panels takes the most
common modality of its kept panels and their mean confidence.

Each unit also keeps ``modality_evidence``: the image's verdict, the caption's (cue words in any language),
and the rule that decided (``image``, ``agree``, ``caption``, ``image-over-caption``, ``combined``).

Counters: ``modality:<m>`` per kept unit; ``modality-rule:<rule>``; caption cue against image evidence: ``cue:none``,
``cue:agree``, ``cue:disagree`` and ``cue:<caption>/image:<image>`` for each disagreement (the run
report's stand-in for a confusion matrix when there is no ground truth).
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from ..curation.modality import ModalityThresholds, classify_image
from ..curation.retinal import non_retinal_kind
from ..curation.units import Unit, filter_by_unit, load_unit_image
from ..errors import BuilderError
from ..schema import Figure, ModalityEvidence
from ..stage import Context, Params, Stage


class ClassifyParams(Params):
    thresholds: ModalityThresholds = Field(default_factory=ModalityThresholds)
    use_caption: bool = Field(default=True, description="let caption cues (FFA, OCT, ...) inform the modality")
    drop_non_retinal: bool = Field(default=True, description="drop pairs classified as not retinal")


def caption_for_cues(unit: Unit) -> str | None:
    """The cleaned caption (English + Chinese) when the clean stage ran, else the raw one."""
    text = unit.panel.text if unit.panel is not None else unit.figure.text
    if text is not None:
        joined = " ".join(t for t in (text.en, text.zh) if t)
        return joined or None
    return unit.caption


class ClassifyStage(Stage):
    name: ClassVar[str] = "classify"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = ClassifyParams
    version: ClassVar[str] = "4"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        p: ClassifyParams = self.params  # type: ignore[assignment]

        def summarise(fig: Figure) -> None:
            if fig.panels:
                self._summarise(fig)

        return filter_by_unit(items, ctx, lambda unit: self._classify(unit, ctx, p), on_kept=summarise)

    def _classify(self, unit: Unit, ctx: Context, p: ClassifyParams) -> tuple[str, str | None] | None:
        """Classify one unit in place; return a drop (reason, detail) or None to keep it."""
        try:
            img = load_unit_image(ctx, unit)
        except BuilderError as e:
            ctx.warn(str(e))
            return "image-unreadable", str(e)
        caption = caption_for_cues(unit) if p.use_caption else None
        res = classify_image(img, caption, p.thresholds)
        target = unit.panel if unit.panel is not None else unit.figure
        target.modality = res.modality  # type: ignore[assignment]
        target.modality_confidence = res.confidence
        target.modality_evidence = ModalityEvidence(**res.evidence())  # type: ignore[arg-type]
        target.retinal = res.retinal
        ctx.count(f"modality-rule:{res.rule}")
        if res.cue_modality is None:
            ctx.count("cue:none")
        elif res.cue_modality == res.image_modality:
            ctx.count("cue:agree")
        else:
            ctx.count("cue:disagree")
            ctx.count(f"cue:{res.cue_modality}/image:{res.image_modality}")
        if not res.retinal and p.drop_non_retinal:
            kind = non_retinal_kind(res.features, img, p.thresholds.white_max)
            ctx.count(f"non-retinal:{kind}")
            return f"non-retinal:{kind}", f"p(other)={res.probabilities['other']}"
        ctx.count(f"modality:{res.modality}")
        return None

    @staticmethod
    def _summarise(fig: Figure) -> None:
        mods = Counter(pn.modality for pn in fig.panels if pn.modality)
        if not mods:
            return
        best = max(mods, key=lambda m: (mods[m], -[pn.modality for pn in fig.panels].index(m)))
        fig.modality = best  # type: ignore[assignment]
        confs = [pn.modality_confidence for pn in fig.panels if pn.modality == best and pn.modality_confidence]
        fig.modality_confidence = round(sum(confs) / len(confs), 4) if confs else None
        fig.retinal = any(pn.retinal for pn in fig.panels)
