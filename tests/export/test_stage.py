"""The export stage as the last stage of ``build``: dataset written, funnel in the card, items unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.errors import RecipeError
from mmretinal_builder.export.exporter import funnel_from_shards
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner
from mmretinal_builder.stage import STAGES

RECIPE = {
    "name": "stage-test",
    "license": "CC BY 4.0",
    "books": {"b.pdf": {"license": "MIT", "lang": "en"}},
    "stages": ["fake_atlas", {"export": {"splits": {"train": 0.5, "test": 0.5}, "formats": ["hf", "flair-csv"],
                                         "shard_rows": 5}}],
}


@pytest.fixture(autouse=True)
def _fake_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STAGES, "fake_atlas", "tests.export.fake_stage:FakeAtlasStage")


def _books(folder: Path) -> Path:
    folder.mkdir()
    for name in ("a.pdf", "b.pdf"):
        (folder / name).write_bytes(f"%PDF-1.4 {name}".encode())  # the fake stage never parses it
    return folder


def _build(tmp_path: Path, run: str) -> Path:
    books = tmp_path / "books" if (tmp_path / "books").exists() else _books(tmp_path / "books")
    Runner(recipe_from_dict(RECIPE), tmp_path / run, show_progress=False).build([books])
    return tmp_path / run


def test_build_ends_with_an_export(tmp_path: Path) -> None:
    run = _build(tmp_path, "run")
    ds = run / "dataset"
    figures = [json.loads(line) for line in (run / "figures.jsonl").read_text().splitlines()]
    assert len(figures) == 6  # the figures of the exported pairs
    rows = sum(pq.read_metadata(p).num_rows for p in (ds / "data").glob("*.parquet"))
    assert rows == 10  # 2 books x (2 single figures + a figure with 2 panels: its whole and each panel)
    pairs = [json.loads(line) for line in (run / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 10 and sum(p["role"] == "compound" for p in pairs) == 2
    names = sorted(p.name for p in (ds / "data").glob("*.parquet"))
    assert names == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    card = (ds / "README.md").read_text(encoding="utf-8")
    assert "| fake_atlas |  | 0 | 6 | too-small: 2 |" in card  # funnel from the finished shards
    assert "Books: 2 processed, 0 failed, of 2." in card
    assert "| b.pdf | MIT | en | 5 |" in card and "| a.pdf | CC BY 4.0 | - | 5 |" in card
    assert (ds / "mm_retinal.csv").read_text().count("\n") == 11
    stats = json.loads((run / "stats.json").read_text())
    export = next(s for s in stats["stages"] if s["stage"] == "export")
    # no panels stage: the export wrote the 6 figures as their 10 pairs (and counts what it formed)
    assert export["items_in"] == 6 and export["in"] == export["kept"] == export["counters"]["pairs"] == 10


def test_rebuilds_give_identical_parquet(tmp_path: Path) -> None:
    def hashes(run: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (run / "dataset/data").glob("*")}

    a, b = _build(tmp_path, "a"), _build(tmp_path, "b")
    assert hashes(a) == hashes(b) and hashes(a)
    assert (a / "dataset/README.md").read_text() == (b / "dataset/README.md").read_text()


def test_funnel_of_the_running_build_leaves_out_the_export(tmp_path: Path) -> None:
    run = _build(tmp_path, "run")
    assert [s["stage"] for s in funnel_from_shards(run)["stages"]] == ["fake_atlas", "export"]
    assert [s["stage"] for s in funnel_from_shards(run, before="export")["stages"]] == ["fake_atlas"]


def test_a_run_without_pairs_warns_instead_of_failing(tmp_path: Path) -> None:
    recipe = recipe_from_dict({"stages": [{"fake_atlas": {"figures": 0}}, "export"]})
    result = Runner(recipe, tmp_path / "run", show_progress=False).build([_books(tmp_path / "books")])
    assert result.figures == 0 and not result.failed
    assert not (tmp_path / "run" / "dataset" / "data").exists()
    stats = json.loads((tmp_path / "run" / "shards" / "_run" / "01-export" / "stats.json").read_text())
    assert any("no pairs to export" in w for w in stats["warnings"])
    code_out = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "ds")])
    assert code_out.exit_code == 2 and "no pairs to export" in code_out.output


def test_bad_export_params_are_recipe_errors() -> None:
    with pytest.raises(RecipeError, match="export"):
        recipe_from_dict({"stages": ["fake_atlas", {"export": {"splits": {"train": -1}}}]})
    with pytest.raises(RecipeError, match="formats"):
        recipe_from_dict({"stages": ["fake_atlas", {"export": {"formats": ["csv"]}}]})
