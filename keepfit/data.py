"""Training data: MM-Retinal-style image-text pairs (the exported HF dataset) and public categorical
fundus datasets (FLAIR-style CSV or an ImageFolder) whose labels become text through :mod:`keepfit.prompts`.

The exported dataset is read with pyarrow (``DATASET_DIR/data/{split}-*.parquet``, columns of
:data:`mmretinal_builder.schema.COLUMNS`), so training works where ``datasets`` is not installed; a
``datasets`` object or a ``save_to_disk`` folder is accepted too. Images are decoded at reduced size when
possible (PIL ``draft`` for JPEG: ~10x cheaper than a full decode of a 2048 px fundus photo), resized so the
long side is ``image_size`` and zero-padded right/bottom to a square (aspect kept). Batches hold uint8 HWC
pixels: 4x less to pin and copy than float, and the HWC layout *is* channels_last once permuted on the
device.

Per-sample randomness (which category, which attribute, which description) is seeded by (seed, epoch,
index), independent of worker processes, so a resumed run sees the same texts; batching lives in
:mod:`keepfit.train.batches`.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import random
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from mmretinal_builder.schema import MODALITIES

from .errors import KeepfitError
from .prompts import (
    DEFAULT_KNOWLEDGE,
    FLAIR_TEMPLATE,
    Knowledge,
    category_key,
    category_vocabulary,
    describe,
    is_banned,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


# ------------------------------------------------------------------------------------------- decoding


def load_image(source: bytes | str | Path, size: int, name: str = "") -> np.ndarray:
    """Decode to RGB, long side ``size`` (aspect kept), zero-padded right/bottom to a square (as the reference
    and :mod:`keepfit.evaluate.features` do): (size, size, 3) uint8."""
    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if img.format == "JPEG":
            img.draft("RGB", (size, size))  # DCT-domain downscale: decodes at 1/2, 1/4 or 1/8 resolution
        img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise KeepfitError(f"{name or source}: cannot decode image ({e})") from e
    w, h = img.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    out = np.zeros((size, size, 3), dtype=np.uint8)
    out[:nh, :nw] = np.asarray(img)
    return out


def caption_key(text: str) -> str:
    """Captions equal up to case and whitespace are the same caption."""
    return re.sub(r"\s+", " ", text.strip().lower())


def caption_class_id(text: str, offset: int) -> int:
    """A global class id for a caption: 60-bit hash + offset (no communication needed across ranks)."""
    return offset + int(hashlib.sha256(caption_key(text).encode("utf-8")).hexdigest()[:15], 16)


def _fingerprint(parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _key_index(key: int | tuple[int, int]) -> tuple[int, int]:
    return (key[0], key[1]) if isinstance(key, tuple) else (int(key), 0)


# -------------------------------------------------------------------------------------- MM-Retinal pairs


def read_split_table(path: Path, split: str) -> Any:
    """The split as a pyarrow Table, from parquet shards or a ``datasets`` save_to_disk folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = sorted((path / "data").glob(f"{split}-*.parquet")) or sorted((path / split).glob("*.parquet"))
    if shards:
        try:
            return pa.concat_tables([pq.read_table(s) for s in shards], promote_options="default")
        except (pa.ArrowInvalid, OSError) as e:
            raise KeepfitError(f"{path}: cannot read the {split!r} parquet shards ({e})") from e
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        try:
            import datasets
        except ModuleNotFoundError as e:
            raise KeepfitError(f"{path}: a save_to_disk dataset needs the 'datasets' package") from e
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise KeepfitError(f"{path}: no split {split!r} (have {sorted(ds)})")
            ds = ds[split]
        return _hf_to_table(ds)
    if not path.exists():
        raise KeepfitError(f"{path}: dataset directory not found")
    raise KeepfitError(
        f"{path}: no {split!r} split (looked for data/{split}-*.parquet, {split}/*.parquet "
        "and a datasets save_to_disk folder)"
    )


def has_split(path: str | Path, split: str) -> bool:
    """Whether the exported dataset at ``path`` has parquet shards (or a saved split) named ``split``."""
    path = Path(path)
    if any((path / "data").glob(f"{split}-*.parquet")) or any((path / split).glob("*.parquet")):
        return True
    meta = path / "dataset_dict.json"
    return meta.is_file() and split in meta.read_text(encoding="utf-8")


def _hf_to_table(ds: Any) -> Any:
    """A ``datasets.Dataset`` as a pyarrow Table with undecoded images ({bytes, path})."""
    import datasets

    if "image" in ds.features and isinstance(ds.features["image"], datasets.Image):
        ds = ds.cast_column("image", datasets.Image(decode=False))
    return ds.with_format("arrow")[:]


class MMPairs(Dataset):
    """Image-caption pairs of the exported dataset; item = {pixels, text, class_id, index}."""

    def __init__(
        self,
        table: Any,
        image_size: int,
        *,
        base_dir: Path | None = None,
        caption_field: str = "caption",
        class_offset: int = 0,
        modalities: Sequence[str] | None = None,
        name: str = "mm",
    ) -> None:
        missing = [c for c in ("image", caption_field) if c not in table.column_names]
        if missing:
            raise KeepfitError(f"{name}: missing column(s) {missing} (have {table.column_names})")
        captions = [c or "" for c in table.column(caption_field).to_pylist()]
        keep = [i for i, c in enumerate(captions) if c.strip()]
        if modalities is not None and "modality" in table.column_names:
            wanted = set(modalities)
            unknown = wanted - set(MODALITIES)
            if unknown:
                raise KeepfitError(
                    f"data.modalities: unknown {sorted(unknown)} (choose from {list(MODALITIES)})"
                )
            mods = [MODALITIES[m] if isinstance(m, int) else m for m in table.column("modality").to_pylist()]
            keep = [i for i in keep if mods[i] in wanted]
        with_caption = sum(1 for c in captions if c.strip())
        #: rows left out, by reason (the run summary reports them)
        self.dropped = {"empty caption": len(captions) - with_caption,
                        "modality not in data.modalities": with_caption - len(keep)}
        self.images = table.column("image").take(keep).combine_chunks()
        self.captions = [captions[i] for i in keep]
        ids = table.column("pair_id").to_pylist() if "pair_id" in table.column_names else None
        self.pair_ids = [ids[i] for i in keep] if ids else [str(i) for i in keep]
        self.class_ids = np.array([caption_class_id(c, class_offset) for c in self.captions], dtype=np.int64)
        self.image_size, self.base_dir, self.name = image_size, base_dir, name

    @classmethod
    def load(cls, path: str | Path, split: str, image_size: int, **kwargs: Any) -> MMPairs:
        path = Path(path)
        return cls(
            read_split_table(path, split), image_size, base_dir=path, name=f"{path}[{split}]", **kwargs
        )

    @classmethod
    def from_hf(cls, ds: Any, image_size: int, **kwargs: Any) -> MMPairs:
        """From a ``datasets.Dataset`` (``load_dataset``/``load_from_disk`` output)."""
        return cls(_hf_to_table(ds), image_size, **kwargs)

    def __len__(self) -> int:
        return len(self.captions)

    def image_source(self, i: int) -> bytes | Path:
        cell = self.images[i].as_py()
        if cell is None:
            raise KeepfitError(f"{self.name}: pair {self.pair_ids[i]} has no image")
        if isinstance(cell, dict):
            if cell.get("bytes"):
                return cell["bytes"]
            if cell.get("path"):
                p = Path(cell["path"])
                return p if p.is_absolute() or self.base_dir is None else self.base_dir / p
        if isinstance(cell, bytes):
            return cell
        raise KeepfitError(f"{self.name}: pair {self.pair_ids[i]}: image cell has neither bytes nor path")

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        i, _ = _key_index(key)
        pixels = load_image(self.image_source(i), self.image_size, f"{self.name} pair {self.pair_ids[i]}")
        return {"pixels": pixels, "text": self.captions[i], "class_id": int(self.class_ids[i]), "index": i}

    def fingerprint(self) -> str:
        return _fingerprint([f"{p}\t{c}" for p, c in zip(self.pair_ids, self.captions, strict=True)])


# ------------------------------------------------------------------------------------ public categorical


def _parse_list(cell: str, where: str) -> list[str]:
    cell = (cell or "").strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            value = ast.literal_eval(cell)
        except (ValueError, SyntaxError) as e:
            raise KeepfitError(f"{where}: not a python list literal: {cell!r}") from e
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise KeepfitError(f"{where}: expected a list of strings, got {cell!r}")
        return value
    return [cell]


class PublicItem(NamedTuple):
    """One labelled public image: its file, categories and attributes as written, and its dataset (the first
    folder of the CSV's image path, FLAIR's layout; the class folder's parent for an ImageFolder)."""

    path: Path
    categories: list[str]
    attributes: list[str]
    dataset: str


def read_flair_csv(path: Path, root: Path | None = None) -> list[PublicItem]:
    """Rows of a FLAIR-style CSV (``image,atributes,categories``; lists as python literals)."""
    if not path.is_file():
        raise KeepfitError(f"{path}: public dataset CSV not found")
    root = root or path.parent
    items: list[PublicItem] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = set(reader.fieldnames or [])
        if not {"image", "categories"} <= fields:
            raise KeepfitError(f"{path}: needs columns image and categories (have {sorted(fields)})")
        for n, row in enumerate(reader, start=2):
            cats = _parse_list(row["categories"], f"{path}:{n}")
            if not cats:
                raise KeepfitError(f"{path}:{n}: row without categories")
            attrs = _parse_list(row.get("atributes") or row.get("attributes") or "", f"{path}:{n}")
            dataset = Path(row["image"]).parts[0] if len(Path(row["image"]).parts) > 1 else path.stem
            items.append(PublicItem(root / row["image"], cats, attrs, dataset))
    if not items:
        raise KeepfitError(f"{path}: no rows")
    return items


def read_image_folder(root: Path) -> list[PublicItem]:
    """``root/<category>/<image>`` files, sorted."""
    if not root.is_dir():
        raise KeepfitError(f"{root}: image folder not found")
    items = [
        PublicItem(p, [d.name], [], root.name)
        for d in sorted(root.iterdir())
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not items:
        raise KeepfitError(f"{root}: no images in class sub-folders")
    return items


class PublicImages(Dataset):
    """Categorical fundus images; the text of an item is a FLAIR prompt for one of its categories.

    Samples with a banned category are left out (counted in ``dropped``); class ids are indices into the
    sorted vocabulary of category keys, so spelling variants of a class share an id and nothing else merges.
    """

    def __init__(
        self,
        items: list[PublicItem],
        image_size: int,
        seed: int,
        *,
        vocabulary: list[str] | None = None,
        template: str = FLAIR_TEMPLATE,
        knowledge: Knowledge = DEFAULT_KNOWLEDGE,
        describe: bool = True,
        plain_datasets: Sequence[str] = (),
        banned: Sequence[str] = (),
    ) -> None:
        self.dropped: Counter[str] = Counter()
        kept = []
        for item in items:
            hit = is_banned(item.categories, banned)
            if hit is None:
                kept.append(item)
            else:
                self.dropped[f"banned category {category_key(hit)!r}"] += 1
        if not kept:
            raise KeepfitError(f"public data: every one of {len(items)} samples has a banned category")
        self.items = kept
        self.vocabulary = vocabulary or category_vocabulary(c for it in kept for c in it.categories)
        self.class_of = {c: i for i, c in enumerate(self.vocabulary)}
        unknown = {category_key(c) for it in kept for c in it.categories} - set(self.class_of)
        if unknown:
            raise KeepfitError(f"public data: categories {sorted(unknown)} are not in the vocabulary")
        plain = set(plain_datasets)
        self.described = [describe and it.dataset not in plain for it in kept]
        self.image_size, self.seed = image_size, seed
        self.template, self.knowledge = template, knowledge

    @classmethod
    def from_sources(cls, sources: Sequence[Any], image_size: int, seed: int, **options: Any) -> PublicImages:
        items: list[PublicItem] = []
        for src in sources:
            if src.kind == "csv":
                items += read_flair_csv(Path(src.path), Path(src.root) if src.root else None)
            else:
                items += read_image_folder(Path(src.path))
        return cls(items, image_size, seed, **options)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        i, epoch = _key_index(key)
        item = self.items[i]
        rng = random.Random(f"{self.seed}/{epoch}/{i}")  # str seeds hash deterministically (sha512)
        category = rng.choice(item.categories)
        text = describe(category, rng, attributes=item.attributes, template=self.template,
                        knowledge=self.knowledge, augment=self.described[i])
        return {
            "pixels": load_image(item.path, self.image_size),
            "text": text,
            "class_id": self.class_of[category_key(category)],
            "index": i,
        }

    def fingerprint(self) -> str:
        return _fingerprint([f"{it.path.name}\t{'|'.join(it.categories)}" for it in self.items])

    def counts(self) -> dict[str, Any]:
        """What was kept and dropped (with reasons), for the run summary."""
        return {"kept": len(self.items), "dropped": dict(self.dropped)}
