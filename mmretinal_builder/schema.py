"""The one schema shared by the builder and the trainer.

Two layers live here and nowhere else:

* **Records** that flow between pipeline stages. Up to the panels stage the item is a :class:`Figure` (with
  its :class:`Panel` list and :class:`Provenance`); from the panels stage's output on it is a :class:`Pair`
  (a figure without panels, a panel, or the whole of a figure with panels), which carries its figure and what
  the curation stages decided. Both carry a ``lineage`` (:class:`LineageStep` per stage). The run writes the
  final pairs to ``pairs.jsonl`` and their figures to ``figures.jsonl``.
* **The exported dataset's columns** (:data:`COLUMNS`: name, type, description and how the value is read
  off a pair; :func:`arrow_schema`, :func:`hf_features`) that ``keepfit`` reads.
  ``keepfit`` imports this module only; it never reaches into builder internals.

This module imports nothing heavy (no PyMuPDF, no torch, ``datasets`` only inside
:func:`hf_features`), so both halves can import it cheaply.

Boxes follow :mod:`mmretinal_builder.geometry`: PDF points, origin top-left, ``[x0, y0, x1, y1]``,
always stored next to the page size ``[w, h]``. Boxes inside an image are pixels, named ``*_px``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

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

    def names(self) -> list[str]:
        """Canonical entity names (the lexicon id, else the mention), then the keywords, each once, in order."""
        found = [str(e.get("id") or e.get("text") or "").strip() for e in self.entities]
        found += [k.strip() for k in self.keywords]
        return list(dict.fromkeys(n for n in found if n))


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
    """One panel of a compound figure, with its sub-caption (geometry and text only: what curation decides about
    it is on its :class:`Pair`)."""

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


class Figure(_Record):
    """One detected figure: the item of the stages up to the panels stage, and a line of ``RUN_DIR/figures.jsonl``.

    Only what extraction and the panels stage found (boxes, caption, image, panels). What curation decides is
    on the figure's :class:`Pair` records (``pairs.jsonl``); ``pairs`` lists their ids in ``figures.jsonl``.
    """

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
    provenance: Provenance
    lineage: list[LineageStep] = Field(default_factory=list, description="what each stage did, in order")
    pairs: list[str] = Field(default_factory=list,
                             description="figures.jsonl only: ids of this figure's pairs that the run kept")


#: What a pair is: a figure without panels, the whole of a figure with panels, or one panel.
PairRole = Literal["figure", "compound", "panel"]


class Pair(_Record):
    """One image-text pair: the item of every stage after the panels stage, a line of ``RUN_DIR/pairs.jsonl``
    and a row of the exported dataset.

    A figure without panels is one pair (``figure``); a figure with panels gives one pair per panel (``panel``)
    and, unless the recipe says otherwise, the figure-level pair (``compound``: the whole figure with its full
    caption). Every pair carries its figure (``figure``: boxes, caption, provenance and the figure's lineage up
    to the panels stage; ``figure.panels`` is empty, the pair's own panel is ``panel``).

    The fields below ``panel`` are what the stages after panels decided, each written by one stage and nowhere
    else; ``lineage`` records the rule of every stage that kept the pair. The export copies them into the
    columns (:data:`COLUMNS`) and decides nothing.
    """

    id: str = Field(description="pair id: the figure id, plus -pN for panel N")
    role: PairRole
    figure: Figure
    panel: Panel | None = None
    # the text of the exported columns: set when the pair is made, rewritten by the clean stage
    caption: str = Field(default="", description="this pair's caption (a panel: preamble + its sub-caption)")
    caption_zh: str = Field(default="", description="its Chinese text when the source has one")
    figure_caption: str = Field(default="", description="the whole figure's caption")
    text: CaptionText | None = Field(default=None, description="the clean stage's reading of the caption")
    # classify
    retinal: bool | None = None
    modality: Modality | None = None
    modality_confidence: float | None = None
    modality_evidence: ModalityEvidence | None = None
    # quality, dedup, review
    quality_flags: list[str] = Field(default_factory=list)
    phash: str | None = Field(default=None, description="perceptual hash (hex) of the pair's image")
    duplicates: list[str] = Field(default_factory=list, description="pair ids of near-duplicates merged into this")
    review: dict[str, Any] | None = Field(default=None, description="applied review decision")
    lineage: list[LineageStep] = Field(default_factory=list, description="what each stage after panels did")

    @property
    def figure_id(self) -> str:
        return self.figure.id

    @property
    def image(self) -> str | None:
        """The pair's image file: the panel's crop, else the figure image (a panel without a crop is cut from it
        by ``panel.bbox_px``)."""
        if self.panel is not None and self.panel.image:
            return self.panel.image
        return self.figure.image

    @property
    def source_caption(self) -> str | None:
        """The caption text as extraction and the panels stage made it (before cleaning)."""
        return self.panel.caption if self.panel is not None else self.figure.caption

    @property
    def bbox(self) -> list[float]:
        return self.panel.bbox if self.panel is not None else self.figure.bbox

    def history(self) -> list[LineageStep]:
        """Every step from the first stage on: the figure's steps, then the pair's."""
        return [*self.figure.lineage, *self.lineage]


def pairs_of(figure: Figure, compound: bool = True) -> list[Pair]:
    """The pairs of one figure (the panels stage's output side): the figure itself when it has no panels, else
    the figure-level pair (when ``compound``) and one pair per panel, in panel order."""
    body = figure.model_copy(update={"panels": [], "pairs": [], "lineage": list(figure.lineage)})
    full = figure.caption or ""
    if not figure.panels:
        return [Pair(id=figure.id, role="figure", figure=body, caption=full, figure_caption=full)]
    out = [Pair(id=figure.id, role="compound", figure=body, caption=full, figure_caption=full)] if compound else []
    for p in sorted(figure.panels, key=lambda p: p.index):
        # a panel that no sub-caption names is described by the whole caption
        out.append(Pair(id=pair_id(figure, p), role="panel", figure=body, panel=p, caption=p.caption or full,
                        figure_caption=full))
    return out


def figures_of(pairs: list[Pair]) -> list[Figure]:
    """The figures the pairs belong to, in order of first appearance: each with the panels of its pairs and the
    ids of its pairs (``figures.jsonl``)."""
    by_id: dict[str, Figure] = {}
    for p in pairs:
        fig = by_id.get(p.figure.id)
        if fig is None:
            fig = by_id[p.figure.id] = p.figure.model_copy(update={"panels": [], "pairs": []}, deep=True)
        fig.pairs.append(p.id)
        if p.panel is not None:
            fig.panels.append(p.panel)
    for fig in by_id.values():
        fig.panels.sort(key=lambda q: q.index)
    return list(by_id.values())


def _item_tag(v: Any) -> str:
    if isinstance(v, dict):
        return "pair" if "role" in v else "figure"
    return "pair" if isinstance(v, Pair) else "figure"


#: A pipeline item read back from a shard: a :class:`Figure` (up to the panels stage) or a :class:`Pair`.
ITEM: TypeAdapter[Figure | Pair] = TypeAdapter(
    Annotated[Annotated[Figure, Tag("figure")] | Annotated[Pair, Tag("pair")], Discriminator(_item_tag)])


def stable_id(*parts: Any, length: int = 16) -> str:
    """A short, deterministic id from the given parts (used for figure and pair ids)."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:length]


def figure_id(book: str, page: int, bbox: list[float]) -> str:
    return stable_id(book, page, [round(v, 1) for v in bbox])


def pair_id(figure: Figure, panel: Panel | None) -> str:
    """A pair is a figure (the whole figure) or one panel of it."""
    return figure.id if panel is None else f"{figure.id}-p{panel.index}"


# ---------------------------------------------------------------- exported dataset
#
# The column list lives here once: name, type (as a ``datasets`` feature, from which the Arrow type follows),
# description (the dataset card's field table) and how the value is read off a pair. The export copies values;
# keepfit reads the same list (:func:`arrow_schema`, :data:`COLUMN_NAMES`).

_STRING = {"dtype": "string", "_type": "Value"}
_FLOAT = {"dtype": "float32", "_type": "Value"}


def _floats(n: int) -> dict[str, Any]:
    return {"feature": _FLOAT, "length": n, "_type": "List"}


def _round(values: list[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def _provenance_json(p: Pair) -> str:
    prov = p.figure.provenance.model_dump(mode="json")
    prov["review"] = p.review
    prov["quality_flags"] = sorted(set(p.quality_flags))
    prov["duplicates"] = p.duplicates
    if p.panel is not None:
        prov["panel"] = {"index": p.panel.index, "label_source": p.panel.label_source, "bbox_px": p.panel.bbox_px}
    return json.dumps(prov, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _lineage_rows(p: Pair) -> list[dict[str, Any]]:
    return [{"stage": s.stage, "version": s.version, "rule": s.rule,
             "detail": json.dumps(s.detail, sort_keys=True, ensure_ascii=False, allow_nan=False)}
            for s in p.history()]


class Column(BaseModel):
    """One exported column."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    feature: dict[str, Any]  # the ``datasets`` feature, as ``Features.to_dict()`` writes it
    description: str
    value: Any = None  # (pair, licence) -> the cell; None for ``image`` (the export reads the bytes)


#: The exported columns, in order. Never reorder ``MODALITIES``: ``modality`` stores the class index.
COLUMNS: tuple[Column, ...] = (
    Column(name="pair_id", feature=_STRING, description="stable id of the pair: figure id, plus -pN for panel N",
           value=lambda p, lic: p.id),
    Column(name="figure_id", feature=_STRING, description="id of the figure the pair belongs to",
           value=lambda p, lic: p.figure.id),
    Column(name="pair_type", feature=_STRING,
           description="figure (a figure without panels), compound (the whole of a figure with panels) or panel",
           value=lambda p, lic: p.role),
    Column(name="image", feature={"_type": "Image"}, description="the figure or panel image (bytes embedded)"),
    Column(name="caption", feature=_STRING,
           description="English caption of the pair (panel: shared preamble + sub-caption)",
           value=lambda p, lic: p.caption),
    Column(name="caption_zh", feature=_STRING, description="Chinese caption when the source has one, else empty",
           value=lambda p, lic: p.caption_zh),
    Column(name="figure_caption", feature=_STRING, description="the full caption of the whole figure",
           value=lambda p, lic: p.figure_caption),
    Column(name="figure_label", feature=_STRING, description="figure label as printed, e.g. 'Fig. 3-12'",
           value=lambda p, lic: p.figure.label or ""),
    Column(name="panel_label", feature=_STRING, description="panel name, e.g. 'a', empty for whole figures",
           value=lambda p, lic: (p.panel.label or "") if p.panel is not None else ""),
    Column(name="modality", feature={"names": list(MODALITIES), "_type": "ClassLabel"},
           description="CFP (colour fundus), FFA (fluorescein angiography), OCT, other",
           value=lambda p, lic: None if p.modality is None else MODALITIES.index(p.modality)),
    Column(name="modality_confidence", feature=_FLOAT, description="classifier confidence in [0, 1]",
           value=lambda p, lic: None if p.modality_confidence is None else round(float(p.modality_confidence), 4)),
    Column(name="entities", feature={"feature": _STRING, "_type": "List"},
           description="ophthalmic entities found in the caption (lexicon names)",
           value=lambda p, lic: p.text.names() if p.text is not None else []),
    Column(name="book", feature=_STRING, description="source PDF file name", value=lambda p, lic: p.figure.book),
    Column(name="page", feature={"dtype": "int32", "_type": "Value"}, description="1-based page of the figure",
           value=lambda p, lic: p.figure.page),
    Column(name="bbox", feature=_floats(4),
           description="figure/panel box on the page, [x0, y0, x1, y1] PDF points, origin top-left",
           value=lambda p, lic: _round(p.bbox)),
    Column(name="page_size", feature=_floats(2), description="[width, height] of the page in points",
           value=lambda p, lic: _round(p.figure.page_size)),
    Column(name="provenance", feature=_STRING, description="JSON: rule, text layer, dpi, scores, review",
           value=lambda p, lic: _provenance_json(p)),
    Column(name="lineage", feature={"feature": {"stage": _STRING, "version": _STRING, "rule": _STRING,
                                                "detail": _STRING}, "_type": "List"},
           description="what each stage did to the pair, in order: stage, its version, the rule that decided, "
                       "detail (JSON: boxes, text before/after, scores)",
           value=lambda p, lic: _lineage_rows(p)),
    Column(name="license", feature=_STRING, description="licence of the source book", value=lambda p, lic: lic),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)


def row_values(pair: Pair, licence: str) -> dict[str, Any]:
    """The cells of every exported column except ``image``, read off the pair."""
    return {c.name: c.value(pair, licence) for c in COLUMNS if c.value is not None}


def _arrow_type(feature: dict[str, Any]) -> Any:
    """The Arrow type ``datasets`` stores a feature as (the few kinds :data:`COLUMNS` uses)."""
    import pyarrow as pa

    kind = feature.get("_type")
    if kind == "Value":
        return {"string": pa.string(), "int32": pa.int32(), "float32": pa.float32()}[feature["dtype"]]
    if kind == "ClassLabel":
        return pa.int64()
    if kind == "Image":
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    if kind == "List":
        item = _arrow_type(feature["feature"])
        return pa.list_(item, feature["length"]) if feature.get("length", -1) >= 0 else pa.list_(item)
    if kind is None:  # a struct: field name -> feature
        return pa.struct([(k, _arrow_type(v)) for k, v in feature.items()])
    raise ValueError(f"schema: no Arrow type for feature {feature!r}")


def arrow_schema() -> Any:
    """The exported tables' Arrow schema, with the ``datasets`` features in its metadata (so ``ClassLabel`` and
    ``Image`` survive a round trip) - built with pyarrow alone, so the trainer needs no ``datasets``."""
    import pyarrow as pa

    features = {c.name: c.feature for c in COLUMNS}
    meta = json.dumps({"info": {"features": features}})
    return pa.schema([(c.name, _arrow_type(c.feature)) for c in COLUMNS], metadata={"huggingface": meta})


def hf_features() -> Any:
    """The exported dataset's ``datasets.Features`` (imported lazily: the trainer may not need it)."""
    from datasets import Features

    return Features.from_dict({c.name: c.feature for c in COLUMNS})
