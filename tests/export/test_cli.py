"""``mmretinal export`` on the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mmretinal_builder.cli import app


def _cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_export_hf_and_flair(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    code, text = _cli("export", str(run_dir), "--out", str(out), "--split", "train=3", "--split", "test=1",
                      "--format", "hf", "--format", "flair-csv")
    assert code == 0, text
    assert "24 pairs" in text and "train" in text and "FLAIR CSV" in text
    assert (out / "README.md").exists() and (out / "mm_retinal_categorical.csv").exists()
    assert sorted(p.name.split("-")[0] for p in (out / "data").iterdir()) == ["test", "train"]


def test_export_errors_are_friendly(run_dir: Path, tmp_path: Path) -> None:
    code, text = _cli("export", str(tmp_path / "missing"), "--out", str(tmp_path / "ds"))
    assert code == 2 and "not a finished run" in text
    code, text = _cli("export", str(run_dir), "--out", str(tmp_path / "ds"), "--split", "train")
    assert code == 2 and "NAME=RATIO" in text
    code, text = _cli("export", str(run_dir), "--out", str(tmp_path / "ds"), "--format", "csv")
    assert code == 2 and "unknown format 'csv'" in text
