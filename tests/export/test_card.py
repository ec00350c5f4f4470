"""The dataset card: Hub metadata that validates locally, body numbers from the data and the funnel."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard

from mmretinal_builder.export import ExportOptions, export_run
from mmretinal_builder.export.card import check_card, hub_license, size_category
from mmretinal_builder.schema import COLUMNS


def _meta(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_card_metadata_passes_local_validation(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    export_run(run_dir, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    assert check_card(text, out) == []
    card = DatasetCard(text)
    assert card.data.pretty_name == "test-atlases"
    assert set(card.data.license) == {"cc-by-4.0", "cc-by-nc-sa-4.0", "other", "unknown"}
    assert card.data.license_name == "publisher-permission-for-research"
    assert (out / "LICENSE.md").read_text(encoding="utf-8").count("* ") == 4
    assert card.data.language == ["en", "zh"]
    assert card.data.size_categories == ["n<1K"]
    assert "image-to-text" in card.data.task_categories


def test_empty_split_is_neither_written_nor_listed(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = export_run(run_dir, out, ExportOptions(splits={"train": 0.9, "validation": 0.1, "test": 0.0}))
    assert "test" not in result.splits
    text = (out / "README.md").read_text(encoding="utf-8")
    splits = [e["split"] for e in _meta(text)["configs"][0]["data_files"]]
    assert splits == list(result.splits) and "test" not in splits
    assert [s["name"] for s in _meta(text)["dataset_info"]["splits"]] == splits
    assert not list((out / "data").glob("test-*"))
    assert "| test |" not in text


def test_body_has_fields_splits_funnel_review_sources_plots(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = export_run(run_dir, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| `{column.name}` |" in text
    assert "| `lineage` | list[struct{stage, version, rule, detail}] |" in text
    assert "| compound | 4 |" in text and "| panel | 8 |" in text  # pairs per pair_type
    for split, info in result.splits.items():
        assert f"| {split} | {info['num_examples']} |" in text
    assert "| 14 | 13 | too-small: 1 |" in text and "| quality | filter low-quality" in text  # stats.json
    assert "### Human review" in text and "| caption-edited | 2 |" in text and "| rejected (dropped) | 1 |" in text
    assert "| atlas_d.pdf | Publisher permission for research | en | 6 |" in text
    assert "MM-Retinal: Knowledge-Enhanced Foundational Pretraining" in text
    for name in ("modality.png", "caption_length.png", "pairs_per_book.png"):
        assert f"(plots/{name})" in text
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "6 pairs come from pages without a usable text layer" in text


def test_card_without_stats_or_review(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "stats.json").unlink()
    out = tmp_path / "ds"
    export_run(run_dir, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "stats.json` was not available" in text and "Human review" not in text
    assert check_card(text, out) == []


def test_check_card_finds_problems(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    export_run(run_dir, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    broken = text.replace("- cc-by-4.0\n", "- CC BY 4.0\n").replace("path: data/train-*", "path: data/nothing-*")
    problems = check_card(broken, out)
    assert any("not a Hub licence id" in p for p in problems)
    assert any("no file matches 'data/nothing-*'" in p for p in problems)


@pytest.mark.parametrize(("raw", "hub"), [("CC BY 4.0", "cc-by-4.0"), ("CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0"),
                                          ("Apache 2.0", "apache-2.0"), ("CC0", "cc0-1.0"), ("", "unknown"),
                                          ("All rights reserved", "other")])
def test_hub_license(raw: str, hub: str) -> None:
    assert hub_license(raw) == hub


def test_size_category() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 50_000, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
