"""The one schema shared by the builder and the trainer.

Two layers live here and nowhere else:

* **Records** that flow between pipeline stages and are written to ``figures.jsonl``
  (:class:`Figure` with its :class:`Panel` list and :class:`Provenance`).
* **The exported dataset's columns** (:data:`COLUMNS`, :func:`hf_features`) that ``keepfit`` reads.
  ``keepfit`` imports this module only; it never reaches into builder internals.

This module imports nothing heavy (no PyMuPDF, no torch, ``datasets`` only inside
:func:`hf_features`), so both halves can import it cheaply.

Boxes follow :mod:`mmretinal_builder.geometry`: PDF points, origin top-left, ``[x0, y0, x1, y1]``,
always stored next to the page size ``[w, h]``. Boxes inside an image are pixels, named ``*_px``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

#: Modality classes, in ClassLabel order. Never reorder: exported datasets store the index.
MODALITIES: tuple[str, ...] = ("CFP", "FFA", "OCT", "other")
Modality = Literal["CFP", "FFA", "OCT", "other"]

#: How a page's text was obtained (recorded per figure in provenance).
TextLayer = Literal["ok", "none", "broken"]


class _Record(BaseModel):
    """Base: unknown keys are errors (a typo in a hand-edited file must not vanish silently)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    def to_json(self) -> str:
        """Stable one-line JSON: sorted keys, no NaN, so reruns are byte-identical."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, allow_nan=False)


class Provenance(_Record):
    """Where a figure or pair came from and which rule produced it."""

    book: str = Field(description="PDF file name")
    book_sha256: str | None = Field(default=None, description="content hash of the PDF")
    page: int = Field(ge=1, description="1-based physical page of the figure")
    bbox: list[float] = Field(description="figure box, PDF points, origin top-left")
    page_size: list[float] = Field(description="[width, height] of the page in points")
    rule: str = Field(description="rule that produced the figure, e.g. 'embedded-raster', 'vector-cluster'")
    text_layer: TextLayer = Field(default="ok", description="page text layer: ok, none (scan), broken")
    dpi: float | None = Field(default=None, description="effective resolution of the crop")
    scores: dict[str, float] = Field(default_factory=dict, description="rule scores (pairing cost, ...)")
    caption_rule: str | None = Field(default=None, description="rule that found the caption")
    pair_rule: str | None = Field(default=None, description="how figure and caption were paired")


class LineageStep(_Record):
    """What one stage did to an item: stamped by the runner onto every item a stage keeps.

    ``rule`` and ``detail`` come from the stage (:meth:`mmretinal_builder.stage.Context.note`); a stage that
    notes nothing about an item still leaves a step (it kept the item unchanged or changed it by its one rule).
    """

    stage: str
    version: str
    rule: str | None = Field(default=None, description="the rule that decided this item at this stage")
    detail: dict[str, Any] = Field(default_factory=dict, description="boxes, text before/after, scores")


class CaptionText(_Record):
    """A caption after cleaning (curation stage)."""

    label: str | None = None
    en: str | None = Field(default=None, description="English text, citations and courtesy lines removed")
    zh: str | None = Field(default=None, description="Chinese text when present")
    lang: str | None = Field(default=None, description="detected language(s): en, zh, en+zh")
    entities: list[dict[str, Any]] = Field(default_factory=list, description="[{text, label, start, end}]")
    keywords: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="e.g. 'ocr-noise', 'too-short'")


class ModalityEvidence(_Record):
    """Why a pair has its modality: the image's verdict, the caption's, and the rule that decided (the classify
    stage; :attr:`mmretinal_builder.curation.modality.ModalityResult.rule`). Image and caption may disagree."""

    image: Modality = Field(description="what the image alone says")
    image_confidence: float = Field(description="image-only probability of that class")
    caption: Modality | None = Field(default=None, description="the modality the caption names most, if any")
    caption_share: float = Field(default=0.0, description="its share of the caption's modality mentions")
    caption_terms: list[str] = Field(default_factory=list, description="the words that named a modality")
    rule: str = Field(description="image | agree | caption | image-over-caption | combined")


class Panel(_Record):
    """One panel of a compound figure, with its sub-caption."""

    index: int = Field(ge=0, description="reading-order index within the figure")
    label: str | None = Field(default=None, description="panel name as printed, e.g. 'a', 'B', 'a1'")
    label_source: str | None = Field(default=None, description="pdf-text, ocr, order")
    bbox: list[float] = Field(description="panel box on the page, PDF points")
    bbox_px: list[int] = Field(description="panel box inside the figure image, pixels")
    image: str | None = Field(default=None, description="crop path relative to the run directory")
    image_size: list[int] | None = None
    caption: str | None = Field(default=None, description="preamble + this panel's sub-caption")
    caption_spans: list[list[int]] = Field(
        default_factory=list, description="[start, end) offsets of the used parts in the figure caption"
    )
    modality: Modality | None = None
    modality_confidence: float | None = None
    modality_evidence: ModalityEvidence | None = None
    retinal: bool | None = None
    quality_flags: list[str] = Field(default_factory=list)
    # curation (added by the curation stages; pairs are panels, so panels carry their own results)
    text: CaptionText | None = Field(default=None, description="this panel's cleaned caption")
    phash: str | None = Field(default=None, description="perceptual hash (hex) of the panel image")
    duplicates: list[str] = Field(default_factory=list, description="pair ids of near-duplicates merged into this")


class Figure(_Record):
    """One detected figure: a line of ``RUN_DIR/figures.jsonl``."""

    id: str = Field(description="stable id: hash of book, page and box")
    book: str
    page: int = Field(ge=1)
    bbox: list[float]
    page_size: list[float]
    label: str | None = Field(default=None, description="figure label as printed, e.g. 'Fig. 3-12'")
    number: str | None = Field(default=None, description="the label's number part, e.g. '3-12'")
    caption: str | None = Field(default=None, description="normalised caption text")
    caption_bbox: list[float] | None = None
    caption_page: int | None = None
    image: str | None = Field(default=None, description="crop path relative to the run directory")
    image_size: list[int] | None = Field(default=None, description="[width, height] pixels")
    image_sha256: str | None = None
    parts: list[list[float]] = Field(
        default_factory=list, description="page boxes of the separate embedded images that make up the figure"
    )
    panels: list[Panel] = Field(default_factory=list)
    retinal: bool | None = None
    modality: Modality | None = None
    modality_confidence: float | None = None
    modality_evidence: ModalityEvidence | None = None
    text: CaptionText | None = None
    quality_flags: list[str] = Field(default_factory=list)
    phash: str | None = Field(default=None, description="perceptual hash (hex) of the image")
    duplicates: list[str] = Field(default_factory=list, description="ids of near-duplicates merged into this")
    review: dict[str, Any] | None = Field(default=None, description="applied review decision")
    provenance: Provenance
    lineage: list[LineageStep] = Field(default_factory=list, description="what each stage did, in order")


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short, deterministic id from the given parts (used for figure and pair ids)."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:length]


def figure_id(book: str, page: int, bbox: list[float]) -> str:
    return stable_id(book, page, [round(v, 1) for v in bbox])


def pair_id(figure: Figure, panel: Panel | None) -> str:
    """A pair is a figure (no panels) or one panel of it."""
    return figure.id if panel is None else f"{figure.id}-p{panel.index}"


# ---------------------------------------------------------------- exported dataset

#: Column name -> short description. The dataset card's field table is generated from this.
COLUMNS: dict[str, str] = {
    "pair_id": "stable id of the pair: figure id, plus -pN for panel N",
    "figure_id": "id of the figure the pair belongs to",
    "image": "the figure or panel image (bytes embedded)",
    "caption": "English caption of the pair (panel: shared preamble + sub-caption)",
    "caption_zh": "Chinese caption when the source has one, else empty",
    "figure_caption": "the full caption of the whole figure",
    "figure_label": "figure label as printed, e.g. 'Fig. 3-12'",
    "panel_label": "panel name, e.g. 'a', empty for single figures",
    "modality": "CFP (colour fundus), FFA (fluorescein angiography), OCT, other",
    "modality_confidence": "classifier confidence in [0, 1]",
    "entities": "ophthalmic entities found in the caption",
    "book": "source PDF file name",
    "page": "1-based page of the figure",
    "bbox": "figure/panel box on the page, [x0, y0, x1, y1] PDF points, origin top-left",
    "page_size": "[width, height] of the page in points",
    "provenance": "JSON: rule, text layer, dpi, scores, review",
    "license": "licence of the source book",
}


def hf_features() -> Any:
    """The exported dataset's ``datasets.Features`` (imported lazily: the trainer may not need it)."""
    from datasets import ClassLabel, Features, Image, Sequence, Value

    return Features(
        {
            "pair_id": Value("string"),
            "figure_id": Value("string"),
            "image": Image(),
            "caption": Value("string"),
            "caption_zh": Value("string"),
            "figure_caption": Value("string"),
            "figure_label": Value("string"),
            "panel_label": Value("string"),
            "modality": ClassLabel(names=list(MODALITIES)),
            "modality_confidence": Value("float32"),
            "entities": Sequence(Value("string")),
            "book": Value("string"),
            "page": Value("int32"),
            "bbox": Sequence(Value("float32"), length=4),
            "page_size": Sequence(Value("float32"), length=2),
            "provenance": Value("string"),
            "license": Value("string"),
        }
    )
