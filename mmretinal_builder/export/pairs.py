"""Pairs -> dataset rows: one row per pair, the cells read off the pair by :data:`schema.COLUMNS`.

The export decides nothing: which pairs exist (a figure, the whole of a compound figure, each panel), their
captions, modality and flags were decided by the stages and are in the pairs' lineage. A row holds every
column's value except the image bytes, which are read shard by shard later (:class:`ImageRef` says where
from), so a whole run's rows fit in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuilderError
from ..schema import MODALITIES, Figure, Pair, pairs_of, row_values


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
    """One exported pair without its image bytes: ``values`` has a cell for every column but ``image``."""

    values: dict[str, Any]
    image: ImageRef
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # card-only facts (text layer), not exported

    @property
    def pair_id(self) -> str:
        return self.values["pair_id"]

    @property
    def figure_id(self) -> str:
        return self.values["figure_id"]

    @property
    def book(self) -> str:
        return self.values["book"]

    @property
    def page(self) -> int:
        return self.values["page"]

    @property
    def caption(self) -> str:
        return self.values["caption"]

    @property
    def modality(self) -> str | None:
        """The class name (the cell holds its index)."""
        m = self.values["modality"]
        return None if m is None else MODALITIES[m]


def licence_of(book: str, recipe: dict[str, Any]) -> str:
    """Licence of a book: ``recipe.books[book].license``, else the recipe's ``license``, else 'unknown'."""
    meta = (recipe.get("books") or {}).get(book) or {}
    return str(meta.get("license") or recipe.get("license") or "unknown")


def image_ref(pair: Pair) -> ImageRef | None:
    """Where the pair's picture is: its own file, or the figure image cut to the panel box."""
    if pair.panel is not None and pair.panel.image:
        return ImageRef(pair.panel.image)
    if not pair.figure.image:
        return None
    if pair.panel is not None:
        x0, y0, x1, y1 = (int(v) for v in pair.panel.bbox_px)
        return ImageRef(pair.figure.image, (x0, y0, x1, y1))
    return ImageRef(pair.figure.image)


def pair_row(pair: Pair, licence: str) -> PairRow:
    """The row of one pair. A pair without any image (a vector figure never rendered) cannot be a row: that is a
    run that skipped the crop, an error, not something to leave out quietly."""
    ref = image_ref(pair)
    if ref is None:
        raise BuilderError(f"{pair.figure.book}: pair {pair.id} has no image to export")
    return PairRow(row_values(pair, licence), ref, extra={"text_layer": pair.figure.provenance.text_layer})


def as_pairs(items: Iterable[Pair | Figure]) -> Iterable[Pair]:
    """Pairs as they are; a figure (a run without the panels stage) as its pairs."""
    for item in items:
        yield from ([item] if isinstance(item, Pair) else pairs_of(item))


def build_rows(items: Iterable[Pair | Figure], recipe: dict[str, Any]) -> list[PairRow]:
    """All rows of a run in a fixed order (book, page, figure id, the whole figure before its panels)."""
    rows: list[PairRow] = []
    order: dict[str, int] = {}
    for pair in as_pairs(items):  # consumed one by one: a generator over pairs.jsonl never piles up records
        rows.append(pair_row(pair, licence_of(pair.figure.book, recipe)))
        order[pair.id] = pair.panel.index if pair.panel is not None else -1
    rows.sort(key=lambda r: (r.book, r.page, r.figure_id, order[r.pair_id]))
    seen: set[str] = set()
    for r in rows:
        if r.pair_id in seen:
            raise BuilderError(f"pairs: pair id {r.pair_id} appears twice (figure {r.figure_id} listed twice?)")
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
