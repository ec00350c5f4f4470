"""The whole review round trip against a real Label Studio server on 127.0.0.1.

build -> push -> reviewers annotate through the API (accept, reject, caption edit, modality change, panel box
change) -> pull -> rebuild -> the exported dataset reflects every decision; a second push creates no duplicates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mmretinal_builder.samples import generate_samples
from mmretinal_builder.schema import MODALITIES

from .ls_server import label_studio

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run([sys.executable, "-m", "mmretinal_builder.cli", *args], capture_output=True, text=True,
                         timeout=900, env={**os.environ, **(env or {})})
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def dataset_rows(run: Path) -> list[dict]:
    rows = []
    for f in sorted((run / "dataset" / "data").glob("*.parquet")):
        rows.extend(pq.read_table(f, columns=["pair_id", "figure_id", "caption", "figure_caption", "modality",
                                              "bbox", "panel_label"]).to_pylist())
    return rows


def rect(value: dict) -> dict:
    return {"from_name": "panels", "to_name": "image", "type": "rectanglelabels", "value": value,
            "original_width": 1, "original_height": 1}


def choice(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": "image", "type": "choices", "value": {"choices": [value]}}


def test_review_round_trip(tmp_path):
    root = tmp_path / "root"  # the server's document root: runs live below it
    books, run, decisions = tmp_path / "books", root / "run", tmp_path / "decisions"
    generate_samples(books, seed=5, books=2, figures_per_book=10, scanned=False, broken_text=False)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"stages:\n  - pages\n  - pair\n  - crop\n  - panels\n  - review: {{decisions: {decisions}}}\n"
                      "  - export: {splits: {train: 1.0}}\n")
    cli("build", str(books), "--out", str(run), "--recipe", str(recipe), "--no-progress")
    before = dataset_rows(run)
    figures = [json.loads(line) for line in (run / "figures.jsonl").read_text().splitlines()]
    singles = [f for f in figures if not f["panels"]]
    compound = next(f for f in figures if len(f["panels"]) >= 2)
    assert len(singles) >= 4, "the sample books have single-image figures"
    accept, reject, edit, modal = singles[:4]

    with label_studio(tmp_path / "ls-data", root) as srv:
        env = {"LABEL_STUDIO_API_KEY": srv.token}
        out = cli("review", "push", str(run), "--url", srv.url, "--document-root", str(root), "--project", "review test",
                  env=env)
        assert f"{len(figures)} created" in out

        from label_studio_sdk.client import LabelStudio

        ls = LabelStudio(base_url=srv.url, api_key=srv.token)
        project = next(p for p in ls.projects.list() if p.title == "review test")
        tasks = {t.data["pair_id"]: t for t in ls.tasks.list(project=project.id)}
        assert len(tasks) == len(figures)
        new_caption = edit["caption"] + " Reviewed."
        first = json.loads(json.dumps(tasks[compound["id"]].predictions[0].result))
        boxes = [r for r in first if r["from_name"] == "panels"]
        boxes[0]["value"]["width"] = boxes[0]["value"]["width"] * 0.5  # narrow panel 1 to half its width
        ls.annotations.create(id=tasks[accept["id"]].id, result=[choice("decision", "accept")])
        ls.annotations.create(id=tasks[reject["id"]].id, result=[choice("decision", "reject")])
        ls.annotations.create(id=tasks[edit["id"]].id, result=[
            choice("decision", "accept"),
            {"from_name": "caption", "to_name": "image", "type": "textarea", "value": {"text": [new_caption]}}])
        ls.annotations.create(id=tasks[modal["id"]].id, result=[choice("decision", "accept"), choice("modality", "FFA")])
        ls.annotations.create(id=tasks[compound["id"]].id, result=[choice("decision", "accept"), *boxes])

        out = cli("review", "pull", str(run), "--url", srv.url, "--project", "review test", "--decisions", str(decisions),
                  env=env)
        assert "5 new stored" in out
        cli("build", str(books), "--out", str(run), "--recipe", str(recipe), "--no-progress")
        after = dataset_rows(run)

        by_fig: dict[str, list[dict]] = {}
        for r in after:
            by_fig.setdefault(r["figure_id"], []).append(r)
        assert reject["id"] not in by_fig
        assert accept["id"] in by_fig
        assert by_fig[edit["id"]][0]["figure_caption"] == new_caption
        assert MODALITIES[by_fig[modal["id"]][0]["modality"]] == "FFA"
        old_rows = sorted((r for r in before if r["figure_id"] == compound["id"] and r["pair_type"] == "panel"),
                          key=lambda r: r["pair_id"])
        new_rows = sorted((r for r in by_fig[compound["id"]] if r["pair_type"] == "panel"), key=lambda r: r["pair_id"])
        old_w = old_rows[0]["bbox"][2] - old_rows[0]["bbox"][0]
        new_w = new_rows[0]["bbox"][2] - new_rows[0]["bbox"][0]
        assert new_w == pytest.approx(old_w * 0.5, rel=0.05)
        assert len(after) == len(before) - 1
        stats = json.loads((run / "stats.json").read_text())
        review = next(s for s in stats["stages"] if s["stage"] == "review")
        # the rejected figure's pair; the edited figure's old panel pairs, replaced by the reviewer's boxes
        assert review["dropped"] == {"review": 1, "review:panels-replaced": len(compound["panels"])}

        # A second push after the rebuild: changed pairs are updated, nothing is duplicated.
        out = cli("review", "push", str(run), "--url", srv.url, "--document-root", str(root), "--project", "review test",
                  env=env)
        assert "0 created" in out
        assert len(list(ls.tasks.list(project=project.id))) == len(figures)
