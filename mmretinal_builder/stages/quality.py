"""The ``quality`` stage: too small, blank or uniform, blurry, extreme aspect ratio.

Every unit (figure without panels, or panel) gets its ``quality_flags``; a unit whose flags include one
listed in ``drop`` is dropped with ``quality:<flag>`` (the first such flag), the measures in the detail.
Each flag is counted (``quality:<flag>``) whether it drops or not.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..curation.quality import measure, quality_flags
from ..curation.units import Drop, Unit, filter_by_unit, load_unit_image
from ..errors import BuilderError
from ..schema import Figure
from ..stage import Context, Params, Stage

QualityFlag = Literal["too-small", "blank", "blurry", "extreme-aspect"]


class QualityParams(Params):
    min_side: int = Field(default=96, ge=1, description="shorter side in pixels below which: too-small")
    min_std: float = Field(default=4.0, ge=0, description="grey-level std below which: blank")
    min_sharpness: float = Field(default=0.15, ge=0, description="normalised Laplacian below which: blurry")
    max_aspect: float = Field(default=6.0, ge=1, description="long/short side above which: extreme-aspect")
    drop: list[QualityFlag] = Field(default_factory=lambda: ["too-small", "blank", "blurry", "extreme-aspect"],
                                    description="flags that drop the pair (others are only recorded)")


class QualityStage(Stage):
    name: ClassVar[str] = "quality"
    scope: ClassVar[Literal["book", "run"]] = "book"
    Params: ClassVar[type[Params]] = QualityParams
    version: ClassVar[str] = "2"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        return filter_by_unit(items, ctx, lambda unit: self._judge(unit, ctx))

    def _judge(self, unit: Unit, ctx: Context) -> Drop | None:
        """Measure one unit, record its flags; return a drop when a flag in ``drop`` fired."""
        p: QualityParams = self.params  # type: ignore[assignment]
        try:
            img = load_unit_image(ctx, unit)
        except BuilderError as e:
            ctx.warn(str(e))
            return "image-unreadable", str(e)
        m = measure(img)
        flags = quality_flags(m, min_side=p.min_side, min_std=p.min_std, min_sharpness=p.min_sharpness,
                              max_aspect=p.max_aspect)
        target = unit.panel if unit.panel is not None else unit.figure
        target.quality_flags = list(dict.fromkeys([*target.quality_flags, *flags]))
        for f in flags:
            ctx.count(f"quality:{f}")
        dropping = [f for f in flags if f in p.drop]
        if not dropping:
            return None
        return (f"quality:{dropping[0]}",
                f"{m.width}x{m.height} std={m.std} sharpness={m.sharpness} aspect={m.aspect}")
