"""``mmretinal trace``: every stage's step of a kept pair, and the stage that dropped a dropped one."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.curation.filter import Filter, Verdict, drop, keep
from mmretinal_builder.io import read_records, write_jsonl
from mmretinal_builder.schema import Pair
from mmretinal_builder.stage import Context
from mmretinal_builder.trace import find


class DropPanelB(Filter):
    name = "checks"

    def judge(self, pair: Pair, ctx: Context) -> Verdict:
        if pair.panel is not None and pair.panel.label == "B":
            return drop("too-blue", blue=0.93)
        return keep("fine", before="x", after="y")


def _with_a_drop(run_dir: Path) -> tuple[Path, Pair]:
    """The fixture run, as if a later stage had dropped panel B of every two-panel figure."""
    pairs = read_records(run_dir / "pairs.jsonl", Pair)
    ctx = Context(run_dir=run_dir, stage="checks")
    kept = DropPanelB().run(pairs, ctx)
    write_jsonl(run_dir / "pairs.jsonl", kept)
    write_jsonl(run_dir / "rejects.jsonl", [{"shard": "_run", **r} for r in ctx.rejects])
    return run_dir, next(p for p in pairs if p.panel is not None and p.panel.label == "B")


def test_find_kept_and_dropped(run_dir: Path) -> None:
    run, dropped = _with_a_drop(run_dir)
    traces = find(run, dropped.figure.id)  # a figure id: all its pairs, kept ones first
    assert [(t.role, t.dropped["reason"] if t.dropped else None) for t in traces] == [
        ("compound", None), ("panel", None), ("panel", "too-blue")]
    whole = traces[0]
    assert [s.stage for s in whole.steps] == ["extract", "panels"]  # the fixture's run: no curation yet
    assert whole.final["modality"] == "FFA" and whole.found["rule"] == "embedded-raster"
    (gone,) = find(run, dropped.id)
    assert gone.dropped["stage"] == "checks" and gone.steps[-1].rule == "too-blue"
    assert gone.steps[-1].detail == {"blue": 0.93, "dropped": True}
    assert [t.id for t in find(run, dropped.id[:8])] == [t.id for t in traces]  # a prefix names the figure


def test_cli_prints_every_step_and_the_drop(run_dir: Path) -> None:
    run, dropped = _with_a_drop(run_dir)
    res = CliRunner().invoke(app, ["trace", str(run), dropped.id])
    assert res.exit_code == 0, res.output
    assert f"panel pair {dropped.id}" in res.output and "dropped by checks: too-blue" in res.output
    assert "blue: 0.93" in res.output and "embedded-raster" in res.output
    res = CliRunner().invoke(app, ["trace", str(run), dropped.figure.id, "--json"])
    data = json.loads(res.output)
    assert [t["role"] for t in data] == ["compound", "panel", "panel"]
    assert [s["stage"] for s in data[0]["steps"]] == ["extract", "panels"]


def test_cli_unknown_id_is_a_clear_error(run_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["trace", str(run_dir), "0123456789abcdef"])
    assert res.exit_code == 2 and "no pair or figure '0123456789abcdef'" in res.output
    res = CliRunner().invoke(app, ["trace", str(tmp_path), "x"])
    assert res.exit_code == 2 and "no pairs.jsonl" in res.output
