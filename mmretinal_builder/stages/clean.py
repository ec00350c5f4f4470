"""The ``clean`` stage: caption cleaning, language split, ophthalmic entities, caption checks.

Every pair gets ``text`` (a :class:`~mmretinal_builder.schema.CaptionText`: English and Chinese apart, citations
and courtesy lines out, entities) and the text of its exported columns:

* ``figure_caption``: the figure caption's cleaned English text, else the caption as extracted;
* ``caption``: a panel's own cleaned English text, else its sub-caption as extracted, else the figure caption
  (the rule says which: ``english``, ``source``, ``figure-caption``); the whole figure: ``figure_caption``;
* ``caption_zh``: the Chinese text of the panel's own caption, else of the figure caption.

Captions that are empty, a single word or mostly OCR noise are flagged and counted (``caption:<flag>``, panels
``panel-caption:<flag>``; the pair is kept and marked); a pair is dropped only for the flags in ``drop_flags``
(reason ``caption:<flag>``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..curation.caption_clean import CleanOptions, clean_caption
from ..curation.filter import Filter, Verdict, drop, keep, mark
from ..schema import CaptionText, Pair
from ..stage import Context, Params

CaptionFlag = Literal["empty", "too-short", "ocr-noise"]


class CleanParams(Params):
    min_words_en: int = Field(default=2, ge=0, description="fewer English words than this: too-short")
    min_chars_zh: int = Field(default=4, ge=0, description="fewer Chinese characters than this: too-short")
    max_noise: float = Field(default=0.4, ge=0, le=1, description="share of noisy tokens above which: ocr-noise")
    min_words_bilingual: int = Field(default=3, ge=1, description="Latin words needed to split out English text")
    drop_flags: list[CaptionFlag] = Field(default_factory=list, description="caption flags that drop the pair")


class CleanTextStage(Filter):
    name: ClassVar[str] = "clean"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = CleanParams
    version: ClassVar[str] = "3"  # 3: pairs; the exported caption texts are decided here

    def judge_figure(self, pairs: list[Pair], ctx: Context) -> list[Verdict]:
        p: CleanParams = self.params  # type: ignore[assignment]
        opts = CleanOptions(min_words_en=p.min_words_en, min_chars_zh=p.min_chars_zh, max_noise=p.max_noise,
                            min_words_bilingual=p.min_words_bilingual)
        fig = pairs[0].figure
        fig_text = clean_caption(fig.caption, fig.label, opts)
        self._count(ctx, fig_text)  # once per figure, whatever pairs it has
        full = fig_text.en or fig.caption or ""
        zh = fig_text.zh or ""
        out = []
        for pair in pairs:
            before = pair.caption
            if pair.panel is None:
                text, rule = fig_text, "english" if fig_text.en else "source"
                pair.caption = full
            else:
                text = clean_caption(pair.panel.caption, None, opts)
                self._count(ctx, text, prefix="panel-")
                if text.en:
                    pair.caption, rule = text.en, "english"
                elif pair.panel.caption:
                    pair.caption, rule = pair.panel.caption, "source"
                else:
                    pair.caption, rule = full, "figure-caption"
            pair.text = text
            pair.figure_caption = full
            pair.caption_zh = text.zh or zh
            out.append(self._verdict(pair, text, rule, before, p.drop_flags))
        return out

    @staticmethod
    def _verdict(pair: Pair, text: CaptionText, rule: str, before: str, drop_flags: list[str]) -> Verdict:
        detail = {"before": before, "after": pair.caption, "zh": pair.caption_zh, "lang": text.lang,
                  "flags": text.flags, "entities": text.names()}
        bad = [f for f in text.flags if f in drop_flags]
        if bad:
            return drop(f"caption:{bad[0]}", **detail)
        if text.flags:
            return mark(f"caption:{text.flags[0]}", caption_rule=rule, **detail)
        return keep(rule, **detail)

    @staticmethod
    def _count(ctx: Context, text: CaptionText, prefix: str = "") -> None:
        for f in text.flags:
            ctx.count(f"{prefix}caption:{f}")
        ctx.count(f"{prefix}lang:{text.lang or 'none'}")
        ctx.count(f"{prefix}entities", len(text.entities))
