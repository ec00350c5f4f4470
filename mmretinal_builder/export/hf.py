"""Parquet shards with the image bytes embedded, in the Hub's ``DatasetDict`` layout.

``DATASET_DIR/data/{split}-{i:05d}-of-{n:05d}.parquet``: rows are written one small row group at a
time, so memory holds a row group's images, never a split's. The Arrow schema (with the ``datasets``
feature metadata, so ``ClassLabel`` and ``Image`` survive) comes from :func:`schema.arrow_schema`.
The files are byte-identical across runs: fixed row order, no timestamps, constant writer metadata.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuilderError
from ..schema import arrow_schema
from .pairs import PairRow, read_image_bytes

DATA_DIR = "data"
ROW_GROUP_ROWS = 100  # the Hub's viewer reads image datasets by row group: keep them small
ROW_GROUP_BYTES = 64 << 20


@dataclass
class Shard:
    """One parquet file to write: its split, position and rows."""

    split: str
    index: int
    of: int
    rows: list[PairRow] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.split}-{self.index:05d}-of-{self.of:05d}.parquet"


def _image_size(run_dir: Path, row: PairRow) -> int:
    try:
        return (run_dir / row.image.path).stat().st_size
    except FileNotFoundError:
        raise BuilderError(f"{run_dir / row.image.path}: image of pair {row.pair_id} missing") from None


def plan_shards(rows_by_split: dict[str, list[PairRow]], run_dir: Path, shard_rows: int,
                shard_bytes: int) -> list[Shard]:
    """Cut each split into shards of at most ``shard_rows`` rows and about ``shard_bytes`` image bytes.

    Sizes come from ``stat`` (a crop counts as its whole source image), so the shard count - part of
    every file name - is known before any image is read.
    """
    if shard_rows < 1 or shard_bytes < 1:
        raise BuilderError("export: shard_rows and shard_mb must be >= 1")
    shards: list[Shard] = []
    for split, rows in rows_by_split.items():
        if not rows:
            continue
        groups: list[list[PairRow]] = [[]]
        size = 0
        for r in rows:
            n = _image_size(run_dir, r)
            if groups[-1] and (len(groups[-1]) >= shard_rows or size + n > shard_bytes):
                groups.append([])
                size = 0
            groups[-1].append(r)
            size += n
        shards.extend(Shard(split, i, len(groups), g) for i, g in enumerate(groups))
    return shards


def _table(rows: list[PairRow], images: list[bytes], schema: Any) -> Any:
    import pyarrow as pa

    cols: dict[str, list[Any]] = {name: [] for name in schema.names}
    for r, data in zip(rows, images, strict=True):
        values = dict(r.values)
        values["image"] = {"bytes": data, "path": f"{r.pair_id}.{r.image.ext}"}
        for name in schema.names:
            cols[name].append(values[name])
    return pa.Table.from_pydict(cols, schema=schema)


def write_shard(shard: Shard, run_dir: Path, path: Path, schema: Any) -> tuple[int, int]:
    """Stream one shard to ``path`` (row group by row group); returns (file bytes, Arrow bytes)."""
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=["book", "license", "figure_id"],
                              write_statistics=["page", "modality", "book"]) as writer:
            batch: list[PairRow] = []
            images: list[bytes] = []
            size = arrow_bytes = 0
            for r in shard.rows:
                data = read_image_bytes(run_dir, r.image)
                batch.append(r)
                images.append(data)
                size += len(data)
                if len(batch) >= ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
                    arrow_bytes += _write_group(writer, batch, images, schema)
                    batch, images, size = [], [], 0
            if batch:
                arrow_bytes += _write_group(writer, batch, images, schema)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path.stat().st_size, arrow_bytes


def _write_group(writer: Any, rows: list[PairRow], images: list[bytes], schema: Any) -> int:
    table = _table(rows, images, schema)
    writer.write_table(table, row_group_size=len(rows))
    return int(table.nbytes)


def write_parquet(rows_by_split: dict[str, list[PairRow]], run_dir: Path, out_dir: Path, *,
                  shard_rows: int = 5000, shard_bytes: int = 500 << 20,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, int]]:
    """Write every non-empty split under ``out_dir/data`` (replacing an older export's shards).

    Returns per split: ``{"num_examples", "num_shards", "num_bytes" (Arrow size, as ``datasets``
    reports it), "download_size" (parquet bytes on disk)}``.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    shards = plan_shards(rows_by_split, run_dir, shard_rows, shard_bytes)
    schema = arrow_schema()
    staging = out_dir / f".{DATA_DIR}.tmp"
    if staging.exists():
        shutil.rmtree(staging)  # left over by a killed export
    staging.mkdir(parents=True)
    info: dict[str, dict[str, int]] = {}
    total, done = sum(len(s.rows) for s in shards), 0
    for shard in shards:
        file_bytes, arrow_bytes = write_shard(shard, run_dir, staging / shard.name, schema)
        agg = info.setdefault(shard.split, dict.fromkeys(("num_examples", "num_shards", "num_bytes",
                                                          "download_size"), 0))
        agg["num_examples"] += len(shard.rows)
        agg["num_shards"] += 1
        agg["num_bytes"] += arrow_bytes
        agg["download_size"] += file_bytes
        done += len(shard.rows)
        if progress:
            progress(done, total)
    final = out_dir / DATA_DIR
    if final.exists():
        shutil.rmtree(final)  # old shards would otherwise match the split globs
    os.replace(staging, final)
    return info
