"""The datasets of a run: public categorical images (FLAIR CSVs, ImageFolders, or the synthetic demo set),
the MM-Retinal training pairs, and the held-out pairs its retrieval is measured on (test split, or the
validation books)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import MMPairs, PublicImages, has_split, read_flair_csv, read_split_table
from ..errors import ConfigError
from ..prompts import DEFAULT_KNOWLEDGE, load_knowledge
from .config import Config
from .runtime import Runtime


@dataclass
class TrainData:
    public: PublicImages | None
    mm: MMPairs | None
    #: pairs the held-out retrieval uses (test split, or the validation books)
    mm_heldout: MMPairs | None
    heldout_name: str
    vocabulary: list[str]
    fingerprint: str

    def counts(self) -> dict[str, Any]:
        """Sizes and drops for the run summary."""
        out: dict[str, Any] = {}
        if self.public is not None:
            out["public"] = self.public.counts()
        if self.mm is not None:
            out["mm"] = {"kept": len(self.mm), "dropped": {k: v for k, v in self.mm.dropped.items() if v}}
        if self.mm_heldout is not None:
            out[self.heldout_name] = len(self.mm_heldout)
        return out


def _public(cfg: Config, rt: Runtime, out_dir: Path) -> PublicImages | None:
    dc, size, seed = cfg.data, cfg.model.image_size, cfg.train.seed
    options = {
        "template": dc.template,
        "knowledge": load_knowledge(dc.knowledge_file) if dc.knowledge_file else DEFAULT_KNOWLEDGE,
        "describe": dc.describe,
        "plain_datasets": dc.plain_datasets,
        "banned": dc.banned_categories,
    }
    if dc.public:
        return PublicImages.from_sources(dc.public, size, seed, **options)
    if dc.synthetic_public > 0:
        from .synthetic import write_public_csv

        syn_dir = out_dir / "synthetic-public"
        if rt.is_main and not (syn_dir / "public.csv").is_file():
            write_public_csv(syn_dir, dc.synthetic_public, seed=seed)
        rt.barrier()
        return PublicImages(read_flair_csv(syn_dir / "public.csv"), size, seed, **options)
    return None


def _by_books(table: Any, books: list[str], keep: bool) -> Any:
    """Rows of ``table`` whose ``book`` is (keep) or is not (not keep) in ``books``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    mask = pc.is_in(table.column("book"), value_set=pa.array(books))
    return table.filter(mask if keep else pc.invert(mask))


def load_data(cfg: Config, rt: Runtime, out_dir: Path) -> TrainData:
    """Public categorical data (or the synthetic demo set), MM pairs (train + held-out)."""
    dc, size = cfg.data, cfg.model.image_size
    public = _public(cfg, rt, out_dir)
    vocabulary = public.vocabulary if public is not None else []
    mm = heldout = None
    heldout_name = "test"
    if dc.mm_dir:
        opts = {"caption_field": dc.caption_field, "class_offset": len(vocabulary), "modalities": dc.modalities}
        root = Path(dc.mm_dir)
        table = read_split_table(root, dc.mm_split)
        if dc.mm_val_books:
            books = set(table.column("book").to_pylist()) if "book" in table.column_names else set()
            missing = sorted(set(dc.mm_val_books) - books)
            if missing:
                raise ConfigError(f"data.mm_val_books: {missing} not in {root}[{dc.mm_split}] (books: {sorted(books)})")
            heldout_name = "validation"
            heldout = MMPairs(_by_books(table, dc.mm_val_books, True), size, base_dir=root,
                              name=f"{root}[{dc.mm_split} validation books]", **opts)
            table = _by_books(table, dc.mm_val_books, False)
        mm = MMPairs(table, size, base_dir=root, name=f"{root}[{dc.mm_split}]", **opts)
        if heldout is None and dc.mm_test_split and cfg.train.eval_retrieval:
            if has_split(root, dc.mm_test_split):
                heldout = MMPairs.load(root, dc.mm_test_split, size, **opts)
            elif rt.is_main:
                warnings.warn(f"{root}: no {dc.mm_test_split!r} split, held-out retrieval skipped", stacklevel=2)
    if public is None and mm is None:
        raise ConfigError("no training data: set data.mm_dir and/or data.public (or data.synthetic_public)")
    parts = [f"public:{public.fingerprint()}" if public is not None else "",
             f"mm:{mm.fingerprint()}" if mm is not None else ""]
    if not cfg.train.eval_retrieval:
        heldout = None
    return TrainData(public, mm, heldout, heldout_name, vocabulary, "+".join(p for p in parts if p))
