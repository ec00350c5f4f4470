"""Export a run: pairs -> rows -> book splits -> parquet shards / FLAIR CSV + dataset card.

Used by ``mmretinal export RUN_DIR`` (reads ``pairs.jsonl``, ``run.json``, ``stats.json``) and by the
``export`` stage at the end of ``mmretinal build`` (records in memory, funnel from the finished shards).
Every pair becomes a row: what to keep was decided by the stages.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import __version__
from ..errors import BuilderError
from ..io import atomic_write_text, iter_jsonl, read_json
from ..schema import ITEM, MODALITIES, Figure, Pair
from .card import CardFacts, card_metadata, licence_file, render_card, write_plots
from .flair_csv import CAPTION_CSV, CATEGORICAL_CSV, write_flair_csv
from .hf import DATA_DIR, write_parquet
from .pairs import PairRow, build_rows, licence_of
from .splits import DEFAULT_RATIOS, assign_books

FORMATS = ("hf", "flair-csv")
DEFAULT_NAME = "MM-Retinal-style fundus image-text pairs"
#: What an export writes into its folder; anything else there means the folder is not ours to overwrite.
OWNED = {"README.md", "LICENSE.md", DATA_DIR, "plots", "images", CAPTION_CSV, CATEGORICAL_CSV}


class NothingToExport(BuilderError):
    """The run has no pair (every figure dropped, or none found)."""


@dataclass
class ExportOptions:
    """How to export (the ``export`` stage's parameters map onto this)."""

    splits: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))
    seed: int = 0
    formats: list[str] = field(default_factory=lambda: ["hf"])
    shard_rows: int = 5000
    shard_mb: int = 500
    name: str | None = None


@dataclass
class ExportResult:
    out_dir: Path
    pairs: int
    splits: dict[str, dict[str, int]]  # hf splits written (empty ones left out)
    books: dict[str, str]  # book -> split
    files: list[str]  # written paths relative to out_dir, sorted


def check_out_dir(out_dir: Path, run_dir: Path) -> None:
    """Refuse to write where an export would clobber something that is not an earlier export."""
    out, run = Path(out_dir).resolve(), Path(run_dir).resolve()
    if out == run or run.is_relative_to(out):
        raise BuilderError(f"{out_dir}: the dataset folder must not be the run directory or contain it")
    if out.exists():
        if not out.is_dir():
            raise BuilderError(f"{out_dir}: exists and is not a folder")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OWNED and not p.name.startswith("."))
        if foreign:
            raise BuilderError(f"{out_dir}: not an export folder (holds {', '.join(foreign[:3])}); "
                               "choose a new or empty folder")


def _split_rows(rows: list[PairRow], ratios: dict[str, float], seed: int) -> tuple[dict[str, list[PairRow]],
                                                                                     dict[str, str]]:
    per_book = Counter(r.book for r in rows)
    books = assign_books(dict(per_book), ratios, seed)
    by_split: dict[str, list[PairRow]] = {s: [] for s in ratios}
    for r in rows:
        r.split = books[r.book]
        by_split[r.split].append(r)
    return by_split, books


def export_pairs(items: Iterable[Pair | Figure], run_dir: Path, out_dir: Path, *, recipe: dict[str, Any],
                 funnel: dict[str, Any] | None, options: ExportOptions | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Export pairs (or figures, each as its pairs) whose images live under ``run_dir`` into ``out_dir``."""
    opts = options or ExportOptions()
    bad = [f for f in opts.formats if f not in FORMATS]
    if bad or not opts.formats:
        raise BuilderError(f"export: unknown format {bad[0] if bad else '(none)'!r} (use {' or '.join(FORMATS)})")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    check_out_dir(out_dir, run_dir)
    rows = build_rows(items, recipe)
    if not rows:
        raise NothingToExport(f"{run_dir}: no pairs to export")
    by_split, books = _split_rows(rows, opts.splits, opts.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits: dict[str, dict[str, int]] = {}
    if "hf" in opts.formats:
        splits = write_parquet(by_split, run_dir, out_dir, shard_rows=opts.shard_rows,
                               shard_bytes=opts.shard_mb << 20, progress=progress)
        _write_card(rows, books, splits, out_dir, recipe, funnel, opts)
    if "flair-csv" in opts.formats:
        write_flair_csv(rows, run_dir, out_dir, progress=progress)
    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out_dir).parts))
    return ExportResult(out_dir, len(rows), splits, books, files)


def _write_card(rows: list[PairRow], books: dict[str, str], splits: dict[str, dict[str, int]], out_dir: Path,
                recipe: dict[str, Any], funnel: dict[str, Any] | None, opts: ExportOptions) -> None:
    per_book = Counter(r.book for r in rows)
    rbooks = recipe.get("books") or {}
    facts = CardFacts(
        name=opts.name or (recipe.get("name") if recipe.get("name") not in (None, "", "default") else DEFAULT_NAME),
        splits=splits,
        books={b: {"license": licence_of(b, recipe), "lang": (rbooks.get(b) or {}).get("lang"),
                   "pairs": per_book[b], "split": s} for b, s in sorted(books.items())},
        modality_counts={m: n for m, n in Counter(r.modality for r in rows).items() if m in MODALITIES},
        caption_words=[len(r.caption.split()) for r in rows],
        funnel=funnel,
        pair_types=dict(Counter(r.values["pair_type"] for r in rows)),
        has_zh=any(r.values["caption_zh"] for r in rows),
        text_layers=dict(Counter(r.extra.get("text_layer", "ok") for r in rows)),
    )
    plots_dir = out_dir / "plots"
    if plots_dir.exists():
        shutil.rmtree(plots_dir)
    facts.plots = write_plots(facts, plots_dir)
    licence = out_dir / "LICENSE.md"
    if "license_link" in card_metadata(facts):
        atomic_write_text(licence, licence_file(facts))
    elif licence.exists():
        licence.unlink()
    atomic_write_text(out_dir / "README.md", render_card(facts, version=__version__))


# ----------------------------------------------------------------------------- from a run directory


def recipe_of(run_dir: Path) -> dict[str, Any]:
    """The recipe snapshot in ``run.json`` (name, licence, books' licences and languages)."""
    path = Path(run_dir) / "run.json"
    if not path.exists():
        return {}
    data = read_json(path)
    recipe = data.get("recipe") if isinstance(data, dict) else None
    if not isinstance(recipe, dict):
        raise BuilderError(f"{path}: no 'recipe' object")
    return recipe


def funnel_from_shards(run_dir: Path, before: str | None = None) -> dict[str, Any] | None:
    """The funnel of the run in progress, from its finished shards (``stats.json`` is written after export).

    Only shards of the books and stage positions named in ``run.json`` count, so shards left from an
    older recipe in the same folder do not; ``before`` stops at that stage (the export itself, whose
    shard from an earlier build may still be on disk).
    """
    from ..runner import RUN_SHARD, book_key, funnel

    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    if not path.exists():
        return None
    data = read_json(path)
    names = [s["name"] for s in data.get("recipe", {}).get("stages", [])]
    if before in names:
        names = names[: names.index(before)]
    keys = [book_key(b["name"]) for b in data.get("books", [])]
    shard_stats = []
    for key in [*keys, RUN_SHARD]:
        for i, name in enumerate(names):
            p = run_dir / "shards" / key / f"{i:02d}-{name}" / "stats.json"
            if p.exists():
                shard_stats.append(json.loads(p.read_text(encoding="utf-8")))
    if not shard_stats:
        return None
    out = funnel(shard_stats, names)
    # a book went through when it has the shard of the last book stage any book reached
    last: dict[str, int] = {}
    for s in shard_stats:
        if s["shard"] != RUN_SHARD:
            last[s["shard"]] = max(last.get(s["shard"], -1), names.index(s["stage"]))
    ok = sum(1 for v in last.values() if v == max(last.values(), default=-1))
    out["books"] = {"total": len(keys), "ok": ok, "failed": len(keys) - ok}
    return out


def _iter_items(path: Path) -> Iterator[Pair | Figure]:
    for n, obj in enumerate(iter_jsonl(path), 1):
        try:
            yield ITEM.validate_python(obj)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BuilderError(f"{path}: record {n}: {where}: {first['msg']}") from None


def export_run(run_dir: Path, out_dir: Path, options: ExportOptions | None = None,
               progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """``mmretinal export``: export ``RUN_DIR/pairs.jsonl`` with the run's recipe and funnel."""
    run_dir = Path(run_dir)
    pairs_path = run_dir / "pairs.jsonl"
    if not pairs_path.exists():
        raise BuilderError(f"{run_dir}: not a finished run (no pairs.jsonl)")
    stats_path = run_dir / "stats.json"
    funnel = read_json(stats_path) if stats_path.exists() else None
    return export_pairs(_iter_items(pairs_path), run_dir, out_dir, recipe=recipe_of(run_dir), funnel=funnel,
                        options=options, progress=progress)
