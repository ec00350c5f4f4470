"""A stand-in first stage for export tests: figures with small real images, no PDF parsing."""

from __future__ import annotations

from mmretinal_builder.schema import Figure, Panel, Provenance, figure_id
from mmretinal_builder.stage import Context, Params, Stage

from .conftest import make_image


class FakeAtlasParams(Params):
    figures: int = 4


class FakeAtlasStage(Stage):
    """Per book: figures 0, 1 single, 2 with two panels, 3 dropped as too small (``figures`` of them)."""

    name = "fake_atlas"
    Params = FakeAtlasParams

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        assert ctx.book is not None
        out = []
        for k in range(self.params.figures):  # type: ignore[attr-defined]
            bbox = [10.0, 20.0 + k, 200.0, 180.0 + k]
            seed = sum(map(ord, ctx.book)) + k
            img = ctx.images.put(make_image(seed), "png")
            prov = Provenance(book=ctx.book, page=k + 1, bbox=bbox, page_size=[595.0, 842.0], rule="fake")
            fig = Figure(id=figure_id(ctx.book, k + 1, bbox), book=ctx.book, page=k + 1, bbox=bbox,
                         page_size=[595.0, 842.0], label=f"Fig. {k}", caption=f"Fig. {k} retina of {ctx.book}",
                         image=img, provenance=prov)
            if k == 2:
                fig.panels = [Panel(index=i, label="AB"[i], bbox=bbox, bbox_px=[24 * i, 0, 24 * i + 24, 32],
                                    caption=f"panel {'AB'[i]}") for i in range(2)]
            if k == 3:
                ctx.drop(fig, "too-small")
                continue
            out.append(fig)
        ctx.count("pages", 4)
        return out
