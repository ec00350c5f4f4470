"""The ``quality`` stage: too small, blank or uniform, blurry, extreme aspect ratio.

Every pair (a figure, the whole of a compound figure, a panel) is measured on its own picture and gets its
``quality_flags``; a pair whose flags include one listed in ``drop`` is dropped with ``quality:<flag>`` (the
first such flag), the measures in the detail; other flags mark it. Each flag is counted (``quality:<flag>``)
whether it drops or not.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..curation.filter import Filter, Verdict, drop, keep, load_pair_image, mark
from ..curation.quality import measure, quality_flags
from ..errors import BuilderError
from ..schema import Pair
from ..stage import Context, Params

QualityFlag = Literal["too-small", "blank", "blurry", "extreme-aspect"]


class QualityParams(Params):
    min_side: int = Field(default=96, ge=1, description="shorter side in pixels below which: too-small")
    min_std: float = Field(default=4.0, ge=0, description="grey-level std below which: blank")
    min_sharpness: float = Field(default=0.15, ge=0, description="normalised Laplacian below which: blurry")
    max_aspect: float = Field(default=6.0, ge=1, description="long/short side above which: extreme-aspect")
    drop: list[QualityFlag] = Field(default_factory=lambda: ["too-small", "blank", "blurry", "extreme-aspect"],
                                    description="flags that drop the pair (others are only recorded)")


class QualityStage(Filter):
    name: ClassVar[str] = "quality"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = QualityParams
    version: ClassVar[str] = "3"  # 3: pairs (the whole of a compound figure is measured too)

    def judge(self, pair: Pair, ctx: Context) -> Verdict:
        """Measure one pair's picture, record its flags; drop it when a flag in ``drop`` fired."""
        p: QualityParams = self.params  # type: ignore[assignment]
        try:
            img = load_pair_image(ctx, pair)
        except BuilderError as e:
            ctx.warn(str(e))
            return drop("image-unreadable", error=str(e))
        m = measure(img)
        flags = quality_flags(m, min_side=p.min_side, min_std=p.min_std, min_sharpness=p.min_sharpness,
                              max_aspect=p.max_aspect)
        pair.quality_flags = list(dict.fromkeys([*pair.quality_flags, *flags]))
        for f in flags:
            ctx.count(f"quality:{f}")
        detail = {"size": [m.width, m.height], "std": m.std, "sharpness": m.sharpness, "aspect": m.aspect,
                  "flags": flags}
        dropping = [f for f in flags if f in p.drop]
        if dropping:
            return drop(f"quality:{dropping[0]}", **detail)
        return mark(f"quality:{flags[0]}", **detail) if flags else keep("ok", **detail)
