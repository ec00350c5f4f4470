"""Labelled image sets for evaluation, from an ImageFolder, a FLAIR-style CSV or an exported HF dataset.

The readers of :mod:`keepfit.data` do the file work (same decoding and letterboxing as training); this
module only turns their rows into (image sources, integer labels, class names).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmretinal_builder.schema import MODALITIES

from ..data import PublicItem
from ..errors import KeepfitError


@dataclass
class LabeledImages:
    """Images (bytes or paths) with class ids into ``class_names``; ``captions`` when the source has them."""

    sources: list[bytes | Path]
    labels: np.ndarray
    class_names: list[str]
    name: str
    captions: list[str] | None = None
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, keep: Sequence[int], class_names: Sequence[str] | None = None) -> LabeledImages:
        """Rows ``keep``; with ``class_names``, labels are re-indexed into that (sub)list of names."""
        keep = list(keep)
        labels = self.labels[keep]
        names = list(class_names) if class_names is not None else self.class_names
        if class_names is not None:
            remap = {self.class_names.index(n): i for i, n in enumerate(names)}
            labels = np.array([remap[int(v)] for v in labels], dtype=np.int64)
        return LabeledImages(
            [self.sources[i] for i in keep], labels, names, self.name,
            [self.captions[i] for i in keep] if self.captions is not None else None,
            [self.ids[i] for i in keep] if self.ids else [],
        )

    def counts(self) -> dict[str, int]:
        return {n: int((self.labels == i).sum()) for i, n in enumerate(self.class_names)}


def _from_items(items: list[PublicItem], name: str) -> LabeledImages:
    multi = [str(it.path) for it in items if len(it.categories) != 1]
    if multi:
        raise KeepfitError(f"{name}: {len(multi)} image(s) have several categories (e.g. {multi[0]}); "
                           "classification needs exactly one per image")
    classes = sorted({it.categories[0] for it in items})
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[it.categories[0]] for it in items], dtype=np.int64)
    return LabeledImages([it.path for it in items], labels, classes, name, ids=[it.path.name for it in items])


def from_image_folder(root: str | Path) -> LabeledImages:
    """``root/<class>/<image>``; class names are the folder names, sorted."""
    from ..data import read_image_folder

    return _from_items(read_image_folder(Path(root)), str(root))


def from_flair_csv(path: str | Path, root: str | Path | None = None) -> LabeledImages:
    """FLAIR CSV (``image,atributes,categories``); image paths relative to ``root`` (default: CSV folder)."""
    from ..data import read_flair_csv

    return _from_items(read_flair_csv(Path(path), Path(root) if root else None), str(path))


def from_exported(path: str | Path, split: str = "test", label_column: str = "modality") -> LabeledImages:
    """A split of the exported dataset; ``modality`` labels use :data:`MODALITIES` (all four classes)."""
    from ..data import read_split_table

    p = Path(path)
    table = read_split_table(p, split)
    if label_column not in table.column_names:
        raise KeepfitError(f"{p}[{split}]: no column {label_column!r} (have {table.column_names})")
    raw = table.column(label_column).to_pylist()
    if label_column == "modality":
        names = list(MODALITIES)
        try:
            labels = [v if isinstance(v, int) else names.index(v) for v in raw]
        except ValueError as e:
            raise KeepfitError(f"{p}[{split}]: unknown modality value ({e})") from e
    else:
        if any(v is None or isinstance(v, list | dict) for v in raw):
            raise KeepfitError(f"{p}[{split}]: column {label_column!r} must hold one scalar label per row")
        names = sorted({str(v) for v in raw})
        labels = [names.index(str(v)) for v in raw]
    sources: list[bytes | Path] = []
    for i, cell in enumerate(table.column("image").to_pylist()):
        if isinstance(cell, dict) and cell.get("bytes"):
            sources.append(cell["bytes"])
        elif isinstance(cell, dict) and cell.get("path"):
            sources.append(Path(cell["path"]) if Path(cell["path"]).is_absolute() else p / cell["path"])
        else:
            raise KeepfitError(f"{p}[{split}]: row {i} has no image bytes or path")
    captions = table.column("caption").to_pylist() if "caption" in table.column_names else None
    ids = table.column("pair_id").to_pylist() if "pair_id" in table.column_names else []
    return LabeledImages(sources, np.asarray(labels, dtype=np.int64), names, f"{p}[{split}]",
                         [c or "" for c in captions] if captions is not None else None, ids)


def load_labeled(spec: str | Path, *, split: str = "test", label_column: str = "modality",
                 csv_root: str | Path | None = None) -> LabeledImages:
    """Dispatch on what ``spec`` is: a ``.csv`` file, an exported dataset dir, or an ImageFolder dir."""
    p = Path(spec)
    if p.is_file() and p.suffix.lower() == ".csv":
        return from_flair_csv(p, csv_root)
    if p.is_dir():
        exported = (p / "data").is_dir() or (p / split).is_dir() or (p / "dataset_dict.json").is_file() \
            or (p / "state.json").is_file()
        return from_exported(p, split, label_column) if exported else from_image_folder(p)
    raise KeepfitError(f"{p}: not a CSV file or a dataset directory")


def keep_classes_with(data: LabeledImages, minimum: int) -> tuple[LabeledImages, dict[str, int]]:
    """Drop classes with fewer than ``minimum`` images (e.g. for k-fold); returns (subset, dropped counts)."""
    counts = data.counts()
    kept = [n for n in data.class_names if counts[n] >= minimum]
    dropped = {n: c for n, c in counts.items() if c < minimum}
    rows = [i for i, v in enumerate(data.labels) if data.class_names[int(v)] in kept]
    return data.subset(rows, kept), dropped


def describe_sources(data: LabeledImages) -> dict[str, Any]:
    """What the report records about the evaluated data."""
    return {"name": data.name, "n": len(data), "class_counts": data.counts()}
