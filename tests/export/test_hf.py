"""Parquet export: loads with ``datasets`` offline, images embedded, byte-identical reruns, shards."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.export import ExportOptions, export_run
from mmretinal_builder.schema import MODALITIES, hf_features


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "data").glob("*.parquet"))}


def test_load_dataset_offline_decodes_every_split(run_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "ds"
    result = export_run(run_dir, out, ExportOptions(splits={"train": 0.5, "validation": 0.25, "test": 0.25}))
    assert sum(v["num_examples"] for v in result.splits.values()) == result.pairs == 24
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert set(ds) == set(result.splits) == {"train", "validation", "test"}
    assert ds["train"].features == hf_features()
    seen_books: dict[str, str] = {}
    for split, d in ds.items():
        assert d.num_rows == result.splits[split]["num_examples"]
        for row in d:
            assert isinstance(row["image"], Image.Image) and row["image"].size[0] > 0
            row["image"].load()  # the bytes decode
            assert seen_books.setdefault(row["book"], split) == split  # a book in one split only
            assert row["caption"] and (row["modality"] is None or MODALITIES[row["modality"]] in MODALITIES)
            assert row["pair_type"] in ("figure", "compound", "panel") and row["lineage"][0]["stage"] == "extract"
    panel = next(r for r in ds["train"].to_list() + ds["validation"].to_list() + ds["test"].to_list()
                 if r["panel_label"] == "B")
    assert panel["image"]["bytes"][:8] == b"\x89PNG\r\n\x1a\n"  # cut from the figure at export
    assert panel["pair_id"].endswith("-p1") and panel["figure_caption"] != panel["caption"]


def test_two_exports_are_byte_identical(run_dir: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    export_run(run_dir, a)
    export_run(run_dir, b)
    ha = _hashes(a)
    assert ha and ha == _hashes(b)
    for name in ("README.md", "LICENSE.md", "plots/modality.png", "plots/caption_length.png"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    export_run(run_dir, a)  # re-export into the same folder: same files, nothing stale left
    assert _hashes(a) == ha
    assert not [p for p in a.iterdir() if p.name.startswith(".")]
    meta = pq.read_metadata(next((a / "data").glob("*.parquet")))
    assert b"huggingface" in meta.metadata and "parquet-cpp" in meta.created_by


def test_shards_named_and_sized(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = export_run(run_dir, out, ExportOptions(splits={"train": 1.0}, shard_rows=6))
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == [f"train-0000{i}-of-00004.parquet" for i in range(4)]
    assert [pq.read_metadata(out / "data" / n).num_rows for n in names] == [6, 6, 6, 6]
    assert result.splits["train"]["num_shards"] == 4
    export_run(run_dir, out, ExportOptions(splits={"train": 1.0}, shard_rows=7))
    names = sorted(p.name for p in (out / "data").iterdir())
    assert [pq.read_metadata(out / "data" / n).num_rows for n in names] == [7, 7, 7, 3]
    export_run(run_dir, out, ExportOptions(splits={"train": 1.0}))  # fewer shards now: old ones removed
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]


def test_images_are_embedded_not_paths(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    export_run(run_dir, out, ExportOptions(splits={"train": 1.0}))
    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    for img in table.column("image").to_pylist():
        assert img["bytes"] and not os.path.isabs(img["path"]) and "/" not in img["path"]
        Image.open(io.BytesIO(img["bytes"])).verify()


def test_refuses_to_overwrite_foreign_folders(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="run directory"):
        export_run(run_dir, run_dir)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    with pytest.raises(BuilderError, match="not an export folder"):
        export_run(run_dir, foreign)
    with pytest.raises(BuilderError, match="pairs.jsonl"):
        export_run(tmp_path / "nowhere", tmp_path / "ds")


def test_bad_pairs_line_names_file_and_record(run_dir: Path, tmp_path: Path) -> None:
    with (run_dir / "pairs.jsonl").open("a") as f:
        f.write('{"id": "x", "role": "figure"}\n')
    with pytest.raises(BuilderError, match=r"pairs.jsonl: record 25"):
        export_run(run_dir, tmp_path / "ds")
