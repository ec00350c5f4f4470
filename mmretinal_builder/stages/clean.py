"""The ``clean`` stage: caption cleaning, language split, ophthalmic entities, caption checks.

Fills ``Figure.text`` (and ``Panel.text`` for every panel) with a
:class:`~mmretinal_builder.schema.CaptionText`. Captions that are empty, a single word or mostly OCR
noise are flagged and counted (``caption:<flag>``); they are dropped only for the flags listed in
``drop_flags`` (reason ``caption:<flag>``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..curation.caption_clean import CleanOptions, clean_caption
from ..curation.units import apply_panel_drops
from ..schema import Figure
from ..stage import Context, Params, Stage

CaptionFlag = Literal["empty", "too-short", "ocr-noise"]


class CleanParams(Params):
    min_words_en: int = Field(default=2, ge=0, description="fewer English words than this: too-short")
    min_chars_zh: int = Field(default=4, ge=0, description="fewer Chinese characters than this: too-short")
    max_noise: float = Field(default=0.4, ge=0, le=1, description="share of noisy tokens above which: ocr-noise")
    min_words_bilingual: int = Field(default=3, ge=1, description="Latin words needed to split out English text")
    drop_flags: list[CaptionFlag] = Field(default_factory=list, description="caption flags that drop the pair")


class CleanTextStage(Stage):
    name: ClassVar[str] = "clean"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = CleanParams
    version: ClassVar[str] = "2"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        p: CleanParams = self.params  # type: ignore[assignment]
        opts = CleanOptions(min_words_en=p.min_words_en, min_chars_zh=p.min_chars_zh, max_noise=p.max_noise,
                            min_words_bilingual=p.min_words_bilingual)
        out = []
        for n, fig in enumerate(items):
            fig.text = clean_caption(fig.caption, fig.label, opts)
            self._count(ctx, fig.text.flags, fig.text.lang, len(fig.text.entities))
            drops: dict[int, tuple[str, str | None]] = {}
            for panel in fig.panels:
                panel.text = clean_caption(panel.caption, None, opts)
                self._count(ctx, panel.text.flags, panel.text.lang, len(panel.text.entities), prefix="panel-")
                bad = [f for f in panel.text.flags if f in p.drop_flags]
                if bad:
                    drops[panel.index] = (f"caption:{bad[0]}", panel.caption)
            bad = [f for f in fig.text.flags if f in p.drop_flags]
            if bad and not fig.panels:
                ctx.drop(fig, f"caption:{bad[0]}", fig.caption)
            elif apply_panel_drops(ctx, fig, drops):
                out.append(fig)
            if ctx.progress:
                ctx.progress(n + 1, len(items))
        return out

    @staticmethod
    def _count(ctx: Context, flags: list[str], lang: str | None, n_entities: int, prefix: str = "") -> None:
        for f in flags:
            ctx.count(f"{prefix}caption:{f}")
        ctx.count(f"{prefix}lang:{lang or 'none'}")
        ctx.count(f"{prefix}entities", n_entities)
