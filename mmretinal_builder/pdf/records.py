"""The records the extraction stages hand each other: ``pages`` -> :class:`PageRecord`, ``pair`` ->
:class:`FigureDraft`, ``crop`` -> :class:`~mmretinal_builder.schema.Figure`.

They live in the stages' shards (``items.jsonl``) like every other record, so a resumed build reads them back
instead of opening the PDF again, and a reader can see what each stage decided. They are internal to
extraction: the records the rest of the pipeline and the dataset use are in :mod:`mmretinal_builder.schema`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ..schema import Figure, LineageStep
from .page_model import ImagePlacement, PageModel, page_from_dict, page_to_dict


class PageRecord(BaseModel):
    """One page as the ``pages`` stage read it: the page model (text lines, OCR lines, image placements,
    drawing clusters, words), kept in the shard so ``pair`` and ``panels`` never read the PDF again."""

    model_config = ConfigDict(extra="forbid")
    book: str
    page: int = Field(ge=1)
    model: dict[str, Any] = Field(description="the page model, as pdf.page_model.page_to_dict writes it")
    ocr: str | None = Field(default=None, description="why the page was read by OCR (None: not read)")
    error: str | None = Field(default=None, description="why the page could not be read (then the model is empty)")
    pdf_images: int = Field(0, description="how many of model.images are the PDF's own (the rest: figure regions "
                                           "OCR found on a scan)")
    lineage: list[LineageStep] = Field(default_factory=list)
    _page: PageModel | None = PrivateAttr(default=None)  # the model itself, until the first page_model() call

    @classmethod
    def of(cls, book: str, model: PageModel, ocr: str | None = None, error: str | None = None,
           pdf_images: int | None = None, hand_over: bool = False) -> PageRecord:
        """``hand_over``: the first :meth:`page_model` call in this process returns ``model`` itself rather than
        a copy rebuilt from the dict (for models the caller no longer changes; the dict is written already)."""
        rec = cls(book=book, page=model.number, model=page_to_dict(model), ocr=ocr, error=error,
                  pdf_images=len(model.images) if pdf_images is None else pdf_images)
        if hand_over:
            rec._page = model
        return rec

    def page_model(self) -> PageModel:
        """The page model: the one handed over once (see :meth:`of`), else a new one read from :attr:`model`."""
        handed, self._page = self._page, None
        return handed if handed is not None else page_from_dict(self.model)

    def to_jsonable(self) -> dict[str, Any]:
        """What :func:`mmretinal_builder.io.dumps` writes: ``model`` is plain JSON already (page_to_dict)."""
        return {**self.model_dump(mode="json", exclude={"model"}), "model": self.model}


class NativeImage(BaseModel):
    """The one embedded image a figure may be cut from at its own resolution (a placement on the page)."""

    model_config = ConfigDict(extra="forbid")
    xref: int
    bbox: list[float]
    transform: list[float]
    width_px: int
    height_px: int
    clip: list[float] | None = None
    has_mask: bool = False

    @classmethod
    def of(cls, im: ImagePlacement) -> NativeImage:
        return cls(xref=im.xref, bbox=list(im.bbox), transform=list(im.transform), width_px=im.width_px,
                   height_px=im.height_px, clip=list(im.clip) if im.clip is not None else None, has_mask=im.has_mask)

    def placement(self) -> ImagePlacement:
        return ImagePlacement(xref=self.xref, bbox=tuple(self.bbox), transform=tuple(self.transform),  # type: ignore[arg-type]
                              width_px=self.width_px, height_px=self.height_px,
                              clip=tuple(self.clip) if self.clip is not None else None,  # type: ignore[arg-type]
                              has_mask=self.has_mask)


class CropPlan(BaseModel):
    """What the ``crop`` stage needs to cut a paired figure's image, decided by ``pair`` from the page model."""

    model_config = ConfigDict(extra="forbid")
    box: list[float] = Field(description="the figure box on the page (page frame, clipped to the page)")
    turn: int = Field(0, description="the page content's reading turn (0, 90, 270): the image is turned upright")
    image: NativeImage | None = Field(default=None, description="the figure's only embedded image, when it has "
                                      "one and at most one picture: its own pixels may be used")
    overlaid: bool = Field(False, description="something is drawn over that image (labels, arrows): render")
    native_dpi: float = Field(0.0, description="highest native resolution of the figure's images (0: none)")
    raster_area: float = Field(0.0, description="area of the box its images cover (points squared)")
    structure: str = Field(description="multi-image, multi-image+vector, raster+vector, raster-tiles, raster, "
                                       "vector-cluster: the figure's rule before the image is cut")
    scan_rule: str | None = Field(default=None, description="ocr:scan-region(s) when the figure is made of "
                                  "regions found on a scanned page (its rule then), else None")


class FigureDraft(Figure):
    """A figure paired with its caption, before its image is cut: a :class:`~mmretinal_builder.schema.Figure`
    without ``image`` plus the :class:`CropPlan`."""

    crop: CropPlan


class PageView:
    """What later stages read of one page without the PDF: its words and where its own images are placed."""

    def __init__(self, record: PageRecord) -> None:
        model = record.page_model()
        self.number = record.page
        self.words = model.words
        #: the whole placement box of each of the PDF's own images (visible frame), not clipped
        self.image_boxes = [im.full_bbox for im in model.images[: record.pdf_images]]


class PageIndex:
    """The ``pages`` stage's records of a book by page number, each read back only when asked for."""

    def __init__(self, records: list[PageRecord] | None) -> None:
        self._records = {r.page: r for r in records or []}
        self._views: dict[int, PageView] = {}

    def get(self, number: int) -> PageView | None:
        if number not in self._views:
            rec = self._records.get(number)
            if rec is None:
                return None
            self._views[number] = PageView(rec)
        return self._views[number]
