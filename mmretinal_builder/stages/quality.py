"""The ``quality`` stage: too small, blank or uniform, blurry, extreme aspect ratio.

Every unit (figure without panels, or panel) gets its ``quality_flags``; a unit whose flags include one
listed in ``drop`` is dropped with ``quality:<flag>`` (the first such flag), the measures in the detail.
Each flag is counted (``quality:<flag>``) whether it drops or not.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..curation.quality import measure, quality_flags
from ..curation.units import apply_panel_drops, load_unit_image, units
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
    version: ClassVar[str] = "1"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        p: QualityParams = self.params  # type: ignore[assignment]
        out = []
        for n, fig in enumerate(items):
            drops: dict[int, tuple[str, str | None]] = {}
            fig_drop: tuple[str, str | None] | None = None
            for unit in units(fig):
                try:
                    img = load_unit_image(ctx, unit)
                except BuilderError as e:
                    ctx.warn(str(e))
                    reason: tuple[str, str | None] | None = ("image-unreadable", str(e))
                else:
                    m = measure(img)
                    flags = quality_flags(m, min_side=p.min_side, min_std=p.min_std,
                                          min_sharpness=p.min_sharpness, max_aspect=p.max_aspect)
                    target = unit.panel if unit.panel is not None else fig
                    target.quality_flags = list(dict.fromkeys([*target.quality_flags, *flags]))
                    for f in flags:
                        ctx.count(f"quality:{f}")
                    dropping = [f for f in flags if f in p.drop]
                    reason = (f"quality:{dropping[0]}", f"{m.width}x{m.height} std={m.std} sharpness={m.sharpness}"
                              f" aspect={m.aspect}") if dropping else None
                if reason is not None:
                    if unit.panel is None:
                        fig_drop = reason
                    else:
                        drops[unit.panel.index] = reason
            if fig_drop is not None:
                ctx.drop(fig, *fig_drop)
            elif apply_panel_drops(ctx, fig, drops):
                out.append(fig)
            if ctx.progress:
                ctx.progress(n + 1, len(items))
        return out
