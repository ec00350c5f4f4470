"""Stage ``crop``: each paired figure's image, cut from the book through its one door.

Per :class:`~mmretinal_builder.pdf.records.FigureDraft` (the ``pair`` stage's plan):

* the figure is one embedded image with nothing drawn over it, and its box is the image's (within
  ``native_tolerance``): the image's own pixels, passed through or cropped and turned, never resampled
  (lineage rule ``embedded-raster`` / ``embedded-raster-pixels``);
* anything else: the figure's page region rendered at ``max(render_dpi, native dpi of its images)``, capped by
  ``max_dpi`` and ``max_pixels`` (rule ``region-render``), JPEG when images cover half the region
  (``render_format: auto``), PNG otherwise;
* content set sideways is turned upright.

Images go to the run's content-addressed store; the record becomes a :class:`~mmretinal_builder.schema.Figure`.
A region that cannot be rendered is dropped (``figure-image-failed``), with MuPDF's reason.
"""

from __future__ import annotations

from typing import Literal

import pymupdf
from pydantic import Field

from ..errors import BuilderError
from ..geometry import area
from ..pdf.born_digital import PDF_ERRORS
from ..pdf.crops import FigureImage, native_image, page_display_list, render_region, turn_image
from ..pdf.limits import memory_limit
from ..pdf.records import FigureDraft
from ..schema import Figure
from ..stage import Context, Params, Stage


class CropParams(Params):
    """Render settings (recipe: ``- crop: {render_dpi: 300}``)."""

    render_dpi: float = Field(300.0, ge=72, le=1200, description="minimum resolution of rendered figures")
    max_dpi: float = Field(600.0, ge=72, le=2400, description="renders never exceed this resolution")
    max_pixels: int = Field(40_000_000, ge=1_000_000, description="pixel cap of one rendered figure")
    render_format: Literal["auto", "png", "jpeg"] = Field(
        "auto", description="auto: JPEG for regions that are mostly photographs, PNG otherwise")
    native_tolerance: float = Field(3.0, ge=0, description="points a figure box may exceed its single image "
                                                           "and still use the image's own pixels")


class CropStage(Stage):
    name = "crop"
    scope = "book"
    Params = CropParams
    version = "1"
    consumes = FigureDraft
    produces = Figure

    def __init__(self, params: CropParams | None = None) -> None:
        super().__init__(params)
        self.params: CropParams

    def run(self, items: list[FigureDraft], ctx: Context) -> list[Figure]:  # type: ignore[override]
        if any(not isinstance(d, FigureDraft) for d in items):
            raise BuilderError("the crop stage cuts the pair stage's figures: put `- pair` before `- crop`")
        if not items:
            return []
        book = ctx.pdf
        out: list[Figure] = []
        self._page_list: tuple[int, pymupdf.DisplayList] | None = None  # the last page's display list
        try:
            with memory_limit(ctx.limits.max_memory_mb):
                for n, draft in enumerate(items, 1):
                    fig = self._crop(draft, ctx)
                    if fig is not None:
                        out.append(fig)
                    if ctx.progress is not None:
                        ctx.progress(n, len(items))
        finally:
            self._page_list = None  # freed while the book is open
        repaired = book.mupdf_warnings()  # what MuPDF repaired while rendering
        if repaired:
            ctx.warn(repaired)
        return out

    def _display_list(self, number: int, ctx: Context) -> pymupdf.DisplayList:
        """Page ``number``'s display list, built once for the figures of one page (drafts come in page order)."""
        if self._page_list is None or self._page_list[0] != number:
            self._page_list = None  # the previous page's list is freed before the next one is built
            self._page_list = (number, page_display_list(ctx.pdf.page(number)))
        return self._page_list[1]

    def _crop(self, draft: FigureDraft, ctx: Context) -> Figure | None:
        p, plan = self.params, draft.crop
        book = ctx.pdf
        box = tuple(plan.box)
        img: FigureImage | None = None
        if plan.image is not None:
            placed = plan.image.placement()
            same_box = all(abs(a - b) <= p.native_tolerance for a, b in zip(box, placed.bbox, strict=True))
            if same_box and not plan.overlaid:
                try:
                    img = native_image(book.doc, placed)
                except PDF_ERRORS as e:
                    ctx.warn(f"page {draft.page}: image xref {placed.xref} cannot be decoded ({e}); rendering")
        if img is None:
            dpi = min(max(p.render_dpi, plan.native_dpi), p.max_dpi)
            photo = p.render_format == "jpeg" or (p.render_format == "auto" and plan.raster_area >= 0.5 * area(box))
            try:
                source = self._display_list(draft.page, ctx)
                img = render_region(source, box, dpi, p.max_pixels, photo)  # type: ignore[arg-type]
            except PDF_ERRORS as e:
                ctx.warn(f"page {draft.page}: figure region cannot be rendered ({e})")
                ctx.drop({"book": ctx.book, "page": draft.page, "bbox": draft.bbox, "id": draft.id},
                         "figure-image-failed", detail=str(e))
                return None
        if plan.turn:
            img = turn_image(img, plan.turn)
        rel = ctx.images.put(img.data, img.ext)
        sha = rel.rsplit("/", 1)[-1].split(".", 1)[0]
        rule = plan.structure
        if rule == "raster":
            rule = img.rule if img.rule != "region-render" else "embedded-raster+overlay"
        if draft.provenance.text_layer != "ok":  # the page was read by OCR
            rule = plan.scan_rule or f"ocr:{rule}"
        scores = {**draft.provenance.scores, "rendered": float(img.rule == "region-render"),
                  **({"reading_turn": float(plan.turn)} if plan.turn else {})}
        fields = draft.model_dump(exclude={"crop"})
        fields.update(image=rel, image_size=list(img.size), image_sha256=sha,
                      provenance={**fields["provenance"], "rule": rule, "dpi": img.dpi, "scores": scores})
        fig = Figure.model_validate(fields)
        ctx.note(fig, img.rule, dpi=img.dpi, size=list(img.size), format=img.ext, turn=plan.turn, image=rel)
        return fig
