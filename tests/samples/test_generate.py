"""Sample-set generation: determinism, public API, ground-truth structure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from mmretinal_builder.samples import generate_samples
from mmretinal_builder.samples.generate import default_books, write_books

from .conftest import SET_ARGS

KINDS = {"raster", "vector", "compound-separate", "compound-single", "compound-tiles", "compound-inset"}
POSITIONS = {"below", "above", "left", "right", "next-page"}
FIGURE_KEYS = {"label", "page", "bbox", "panels", "panel_note", "modality", "retinal", "caption", "caption_bbox",
               "caption_page", "caption_position", "kind", "note"}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_bytes(sample_set: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    out, _ = sample_set
    write_books(tmp_path, default_books(6), **SET_ARGS)
    first, second = _hashes(out), _hashes(tmp_path)
    assert len(first) == 7  # six PDFs and ground_truth.json
    assert first == second


def test_generate_samples_public_api(tmp_path: Path) -> None:
    gt = generate_samples(tmp_path / "a", seed=1, books=1, figures_per_book=2)
    again = generate_samples(tmp_path / "b", seed=1, books=1, figures_per_book=2)
    other = generate_samples(tmp_path / "c", seed=2, books=1, figures_per_book=2)
    assert gt.name == "ground_truth.json"
    assert _hashes(gt.parent) == _hashes(again.parent)
    assert _hashes(gt.parent) != _hashes(other.parent)
    docs = json.loads(gt.read_text(encoding="utf-8"))
    assert [d["id"] for d in docs] == ["retina_atlas_en_2col.pdf"]
    assert len(docs[0]["figures"]) == 2


def test_variant_switches_and_bad_arguments(tmp_path: Path) -> None:
    books = default_books(6, scanned=False, broken_text=False)
    assert {b.variant for b in books} == {"born-digital"}
    assert len({b.name for b in books}) == 6
    assert [b.name for b in default_books(11)][6:] == ["yandibing_tupu_zh_scan", "tesis_latex_es_pt_fr",
                                                       "maghaleh_fa_scan", "retina_atlas_en_2col_2",
                                                       "fundus_atlas_en_margin_2"]
    with pytest.raises(ValueError, match="books must be >= 1"):
        generate_samples(tmp_path, books=0)
    with pytest.raises(ValueError, match="figures_per_book"):
        generate_samples(tmp_path, figures_per_book=0)


def _inside(inner: list[float], outer: list[float], tol: float = 1e-3) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol and inner[2] <= outer[2] + tol
            and inner[3] <= outer[3] + tol)


def test_ground_truth_structure(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, docs = sample_set
    assert {d["variant"] for d in docs} == {"born-digital", "scanned", "broken-text"}
    assert {d["lang"] for d in docs} == {"English", "Chinese", "mixed"}
    for d in docs:
        pdf = (out / d["id"]).read_bytes()
        assert d["size"] == len(pdf) and d["sha256"] == hashlib.sha256(pdf).hexdigest()
        assert d["license"] == "CC0 (generated)"
        assert len(d["figures"]) == 12 and d["tables"]
        labels = [f["label"] for f in d["figures"]]
        assert len(set(labels)) == len(labels), labels
        assert {f["retinal"] for f in d["figures"]} >= {"yes", "no"}
        for f in d["figures"]:
            assert set(f) >= FIGURE_KEYS, f["label"]
            assert f["kind"] in KINDS and f["caption_position"] in POSITIONS
            for box in (f["bbox"], f["caption_bbox"]):
                assert 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1, (d["id"], f["label"], box)
            expected_page = f["page"] + 1 if f["caption_position"] == "next-page" else f["page"]
            assert f["caption_page"] == expected_page, (d["id"], f["label"])
            assert 1 <= f["page"] <= d["pages"]
            assert f["caption"] == " ".join(f["caption"].split()) and f["caption"].startswith(f["label"])
            if f["kind"].startswith("compound") and f["panels"] >= 2:
                pbs = f["panel_boxes"]
                assert len(pbs) == f["panels"] >= 2
                assert [p["label"] for p in pbs] == [chr(97 + i) for i in range(len(pbs))]
                for p in pbs:
                    assert _inside(p["bbox"], f["bbox"]), (d["id"], f["label"], p["label"])
                    assert p["caption"].startswith(f["label"]) and len(p["caption"]) <= len(f["caption"])
                    # a photograph is retinal and has its modality; a map made from one is neither
                    assert (p["content"], p["retinal"]) in {("photograph", "yes"), ("vessel-map", "no"),
                                                            ("lesion-map", "no"), ("heatmap", "no"),
                                                            ("layer-map", "no")}, p
                    assert p["modality"] in ({"CFP", "FFA", "OCT"} if p["retinal"] == "yes" else {"other"})
            elif f["kind"] == "compound-inset":  # one photograph with its magnified crops: one panel
                assert f["panels"] == 1 and "panel_boxes" not in f
            else:
                assert "panel_boxes" not in f
        for t in d["tables"]:
            assert t["label"].split()[0] in {"Table", "TABLE", "表", "Tabla", "Tab."}
            assert 0 <= t["bbox"][0] < t["bbox"][2] <= 1


def test_each_book_has_the_promised_variety(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    _, docs = sample_set
    every = [f for d in docs for f in d["figures"]]
    assert {f["kind"] for f in every} == KINDS
    assert {f["caption_position"] for f in every} >= POSITIONS
    notes = " ".join(f["panel_note"] for f in every)
    for phrase in ("ONE raster with black gutters", "burned into", "PDF text inside", "PDF text below"):
        assert phrase in notes
    assert {f["modality"].split()[0] for f in every} >= {"CFP", "FFA", "OCT", "other", "mixed"}
    assert "borderline" in {f["retinal"] for f in every}
    prefixes = {f["label"].split()[0] for f in every}
    assert prefixes >= {"Fig.", "Figure", "图", "Figura", "Abb.", "FIG."}
