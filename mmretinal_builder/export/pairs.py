"""Figure records -> dataset rows: one row per panel when a figure has panels, else one per figure.

Rows carry everything of :data:`~mmretinal_builder.schema.COLUMNS` except the image bytes, which are
read shard by shard later (:class:`ImageRef` says where from), so a whole run's rows fit in memory.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuilderError
from ..schema import MODALITIES, Figure, Panel, pair_id


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image file under the run directory, optionally cropped to a pixel box."""

    path: str  # relative to the run directory
    crop_px: tuple[int, int, int, int] | None = None

    @property
    def ext(self) -> str:
        return "png" if self.crop_px is not None else Path(self.path).suffix.lower().lstrip(".") or "bin"


@dataclass(slots=True)
class PairRow:
    """One exported pair without its image bytes (see :data:`schema.COLUMNS` for the meaning)."""

    pair_id: str
    figure_id: str
    image: ImageRef
    caption: str
    caption_zh: str
    figure_caption: str
    figure_label: str
    panel_label: str
    modality: str
    modality_confidence: float | None
    entities: list[str]
    book: str
    page: int
    bbox: list[float]
    page_size: list[float]
    provenance: str
    license: str
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # card-only facts (text layer), not exported

    def column_values(self) -> dict[str, Any]:
        """Values of every exported column except ``image``."""
        return {
            "pair_id": self.pair_id,
            "figure_id": self.figure_id,
            "caption": self.caption,
            "caption_zh": self.caption_zh,
            "figure_caption": self.figure_caption,
            "figure_label": self.figure_label,
            "panel_label": self.panel_label,
            "modality": MODALITIES.index(self.modality),
            "modality_confidence": self.modality_confidence,
            "entities": self.entities,
            "book": self.book,
            "page": self.page,
            "bbox": self.bbox,
            "page_size": self.page_size,
            "provenance": self.provenance,
            "license": self.license,
        }


def licence_of(book: str, recipe: dict[str, Any]) -> str:
    """Licence of a book: ``recipe.books[book].license``, else the recipe's ``license``, else 'unknown'."""
    meta = (recipe.get("books") or {}).get(book) or {}
    return str(meta.get("license") or recipe.get("license") or "unknown")


def _entities(fig: Figure, caption: str, panel: Panel | None) -> list[str]:
    """Canonical entity names (the lexicon id, else the mention) then keywords, unique in order.

    A panel cleaned on its own uses its own entities; otherwise it keeps the figure's entities mentioned in its
    caption (the figure's entities may belong to other panels).
    """
    text = panel.text if panel is not None and panel.text is not None else fig.text
    if text is None:
        return []
    if text is not fig.text:
        panel = None  # the panel's own entities: no filtering needed
    found = [(str(e.get("id") or e.get("text") or "").strip(), str(e.get("text") or "").strip())
             for e in text.entities]
    found += [(k.strip(), k.strip()) for k in text.keywords]
    out: list[str] = []
    low = caption.lower()
    for name, mention in found:
        if not name or name in out:
            continue
        if panel is None or (mention and mention.lower() in low) or name.lower() in low:
            out.append(name)
    return out


def _provenance(fig: Figure, panel: Panel | None) -> str:
    prov = fig.provenance.model_dump(mode="json")
    prov["review"] = fig.review
    prov["quality_flags"] = sorted(set(fig.quality_flags) | set(panel.quality_flags if panel else []))
    prov["duplicates"] = fig.duplicates
    if panel is not None:
        prov["panel"] = {"index": panel.index, "label_source": panel.label_source, "bbox_px": panel.bbox_px}
    return json.dumps(prov, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _round(values: list[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def figure_rows(fig: Figure, licence: str, skipped: Counter | None = None) -> list[PairRow]:
    """The rows of one figure. Left out (and counted in ``skipped``): pairs without any image, and panels
    judged non-retinal (``panel.retinal is False``)."""
    skipped = skipped if skipped is not None else Counter()
    text = fig.text
    full = (text.en if text is not None and text.en else None) or fig.caption or ""
    zh = (text.zh if text is not None and text.zh else "") or ""
    rows = []
    units: list[Panel | None] = list(sorted(fig.panels, key=lambda p: p.index)) if fig.panels else [None]
    for panel in units:
        if panel is not None and panel.retinal is False:
            # stages drop whole figures; a panel judged non-retinal on its own can only be left out here
            skipped["non-retinal-panel"] += 1
            continue
        if panel is None:
            caption = full
            ref = ImageRef(fig.image) if fig.image else None
        else:
            # the panel's own sub-caption (preamble + its part) is what describes the panel image;
            # cleaned (citations, courtesy lines removed) when the clean stage handled the panel
            ptext = panel.text
            caption = (ptext.en if ptext is not None and ptext.en else None) or panel.caption or full
            if panel.image:
                ref = ImageRef(panel.image)
            elif fig.image:
                x0, y0, x1, y1 = (int(v) for v in panel.bbox_px)
                ref = ImageRef(fig.image, (x0, y0, x1, y1))
            else:
                ref = None
        if ref is None:
            skipped["no-image"] += 1
            continue
        modality = (panel.modality if panel is not None and panel.modality else None) or fig.modality or "other"
        conf = panel.modality_confidence if panel is not None and panel.modality else fig.modality_confidence
        rows.append(PairRow(
            pair_id=pair_id(fig, panel),
            figure_id=fig.id,
            image=ref,
            caption=caption,
            caption_zh=(panel.text.zh or "") if panel is not None and panel.text is not None and panel.text.zh
            else zh,
            figure_caption=full,
            figure_label=fig.label or "",
            panel_label=(panel.label or "") if panel is not None else "",
            modality=modality,
            modality_confidence=None if conf is None else round(float(conf), 4),
            entities=_entities(fig, caption, panel),
            book=fig.book,
            page=fig.page,
            bbox=_round(panel.bbox if panel is not None else fig.bbox),
            page_size=_round(fig.page_size),
            provenance=_provenance(fig, panel),
            license=licence,
            extra={"text_layer": fig.provenance.text_layer},
        ))
    return rows


def build_rows(figures: Iterable[Figure], recipe: dict[str, Any], skipped: Counter | None = None) -> list[PairRow]:
    """All rows of a run in a fixed order (book, page, figure id, panel index)."""
    rows: list[PairRow] = []
    for fig in figures:  # consumed one by one: a generator over figures.jsonl never piles up records
        rows.extend(figure_rows(fig, licence_of(fig.book, recipe), skipped))
    rows.sort(key=lambda r: (r.book, r.page, r.figure_id))  # stable: panels stay in index order
    seen: set[str] = set()
    for r in rows:
        if r.pair_id in seen:
            raise BuilderError(f"figures: pair id {r.pair_id} appears twice (figure {r.figure_id} listed twice?)")
        seen.add(r.pair_id)
    return rows


def read_image_bytes(run_dir: Path, ref: ImageRef) -> bytes:
    """The bytes of a pair's image: the stored file, or a PNG of its crop."""
    path = Path(run_dir) / ref.path
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BuilderError(f"{path}: image file missing from the run directory") from None
    if ref.crop_px is None:
        return data
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            x0, y0, x1, y1 = ref.crop_px
            x0, y0 = max(0, x0), max(0, y0)
            x1, y1 = min(im.width, x1), min(im.height, y1)
            if x1 <= x0 or y1 <= y0:
                raise BuilderError(f"{path}: panel box {list(ref.crop_px)} lies outside the {im.size} image")
            crop = im.crop((x0, y0, x1, y1))
            if crop.mode not in ("RGB", "L", "RGBA", "LA", "P", "I;16"):
                crop = crop.convert("RGB")
            buf = io.BytesIO()
            crop.save(buf, format="PNG", optimize=False)
            return buf.getvalue()
    except OSError as e:
        raise BuilderError(f"{path}: cannot read image to crop a panel: {e}") from None
