"""FLAIR / KeepFIT CSV export: both files, FLAIR's column names, images copied and readable."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

from PIL import Image

from mmretinal_builder.export import ExportOptions, export_run
from mmretinal_builder.schema import MODALITIES


def test_flair_csv_files_and_images(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "flair"
    result = export_run(run_dir, out, ExportOptions(formats=["flair-csv"]))
    with (out / "mm_retinal.csv").open(newline="", encoding="utf-8") as f:
        captions = list(csv.DictReader(f))
    with (out / "mm_retinal_categorical.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["image", "atributes", "categories"]  # FLAIR's spelling
        categorical = list(reader)
    assert len(captions) == len(categorical) == result.pairs == 24
    assert list(captions[0]) == ["image", "caption"]
    assert any("," in r["caption"] for r in captions)  # quoted properly, read back whole
    for cap, cat in zip(captions, categorical, strict=True):
        assert cap["image"] == cat["image"] and cap["image"].startswith("images/")
        with Image.open(out / cap["image"]) as im:
            im.verify()
        assert cat["atributes"] == "[]"
        cats = ast.literal_eval(cat["categories"])
        assert isinstance(cats, list) and len(cats) <= 1 and all(c in MODALITIES for c in cats)  # [] unclassified
    assert '"[\'FFA\']"' not in (out / "mm_retinal_categorical.csv").read_text()  # plain "['FFA']" literal
    assert "['FFA']" in (out / "mm_retinal_categorical.csv").read_text()
    assert not (out / "data").exists() and not (out / "README.md").exists()  # hf not asked for
    assert len(list((out / "images").iterdir())) == 24


def test_both_formats_in_one_folder(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "both"
    export_run(run_dir, out, ExportOptions(formats=["hf", "flair-csv"]))
    assert (out / "README.md").exists() and (out / "mm_retinal.csv").exists() and list((out / "data").iterdir())
