"""Decisions: parsing annotations, append-only store, latest wins, malformed exports lose nothing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.io import ImageStore, write_jsonl
from mmretinal_builder.review.decisions import Decision, DecisionStore, latest
from mmretinal_builder.review.labelstudio import pull_tasks, read_export_file
from mmretinal_builder.review.tasks import prediction, task_data
from mmretinal_builder.schema import Figure, Panel, Provenance, figure_id
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.review import ReviewParams, ReviewStage


def make_run(run: Path, n: int = 3) -> list[Figure]:
    store = ImageStore(run)
    figs = []
    for i in range(n):
        img = np.full((100, 200, 3), 30 * i, np.uint8)
        rel = store.put(cv2.imencode(".png", img)[1].tobytes(), "png")
        bbox = [50.0, 100.0 + 120 * i, 250.0, 200.0 + 120 * i]
        panels = [Panel(index=0, label="a", bbox=[50, 100, 150, 200], bbox_px=[0, 0, 100, 100], caption="P a"),
                  Panel(index=1, label="b", bbox=[150, 100, 250, 200], bbox_px=[100, 0, 200, 100], caption="P b")
                  ] if i == 0 else []
        figs.append(Figure(id=figure_id("b.pdf", 1, bbox), book="b.pdf", page=1, bbox=bbox, page_size=[600, 800],
                           label=f"Fig. {i}", caption=f"Fig. {i} text", image=rel, image_size=[200, 100],
                           modality="CFP", panels=panels,
                           provenance=Provenance(book="b.pdf", page=1, bbox=bbox, page_size=[600, 800], rule="t")))
    write_jsonl(run / "figures.jsonl", figs)
    return figs


def task_with(fig: Figure, tid: int, results: list[dict], ann_id: int, when: str, user: str = "r@x") -> dict:
    data = task_data(fig, "/data/local-files/?d=x")
    return {"id": tid, "data": data, "annotations": [
        {"id": ann_id, "completed_by": {"email": user}, "updated_at": when, "result": results}]}


def choice(name: str, value: str) -> dict:
    return {"from_name": name, "to_name": "image", "type": "choices", "value": {"choices": [value]}}


def test_round_trip_and_apply(tmp_path):
    run = tmp_path / "run"
    figs = make_run(run)
    caption_edit = {"from_name": "caption", "to_name": "image", "type": "textarea",
                    "value": {"text": ["Fig. 1 fixed caption"]}}
    boxes = [r for r in prediction(figs[0])["result"] if r["from_name"] == "panels"]
    boxes[1] = json.loads(json.dumps(boxes[1]))
    boxes[1]["value"]["width"] = 30.0  # the reviewer narrows panel b: 60 px at 200 px width
    tasks = [
        task_with(figs[0], 1, [choice("decision", "accept"), *boxes], 11, "2026-01-01T00:00:00Z"),
        task_with(figs[1], 2, [choice("decision", "accept"), caption_edit, choice("modality", "FFA")], 12,
                  "2026-01-01T00:00:00Z"),
        task_with(figs[2], 3, [choice("decision", "reject")], 13, "2026-01-01T00:00:00Z"),
    ]
    store = DecisionStore(tmp_path / "decisions")
    assert pull_tasks(tasks, run, store, "p") == (3, 3)
    assert pull_tasks(tasks, run, store, "p") == (3, 0)  # idempotent
    ctx = Context(run_dir=run, stage="review", recipe_dir=tmp_path)
    out = ReviewStage(ReviewParams(decisions=str(tmp_path / "decisions"))).run(figs, ctx)
    assert [f.id for f in out] == [figs[0].id, figs[1].id]
    assert ctx.dropped == {"review": 1}
    assert out[1].caption == "Fig. 1 fixed caption" and out[1].modality == "FFA"
    assert out[0].panels[1].bbox_px == [100, 0, 160, 100] and out[0].panels[1].label == "b"
    assert out[0].panels[1].image and (run / out[0].panels[1].image).exists()


def test_latest_wins_two_reviewers():
    a = Decision(pair_id="x", reviewer="a", time="2026-01-01T00:00:00Z", decision="accept", annotation_id=1)
    b = Decision(pair_id="x", reviewer="b", time="2026-01-02T00:00:00Z", decision="reject", annotation_id=2)
    assert latest([b, a])["x"].reviewer == "b"
    assert latest([a, b])["x"].reviewer == "b"


@pytest.mark.parametrize("problem", ["unknown-id", "escape", "bad-annotation"])
def test_malformed_export_loses_nothing(tmp_path, problem):
    run = tmp_path / "run"
    figs = make_run(run)
    store = DecisionStore(tmp_path / "decisions")
    pull_tasks([task_with(figs[0], 1, [choice("decision", "accept")], 1, "2026-01-01T00:00:00Z")], run, store, "p")
    before = {p.name: p.read_bytes() for p in store.files()}
    good = task_with(figs[1], 2, [choice("decision", "reject")], 2, "2026-01-02T00:00:00Z")
    bad = task_with(figs[2], 3, [choice("decision", "accept")], 3, "2026-01-02T00:00:00Z")
    if problem == "unknown-id":
        bad["data"]["pair_id"] = "not-a-pair"
    elif problem == "escape":
        bad["data"]["image_rel"] = "../../etc/passwd"
    else:
        bad["annotations"][0]["result"] = [choice("decision", "accept"), choice("modality", "XRAY")]
    with pytest.raises(BuilderError, match="nothing stored"):
        pull_tasks([good, bad], run, store, "p")
    assert {p.name: p.read_bytes() for p in store.files()} == before


def test_bad_json_export(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[{"id": 1, "data": ')
    with pytest.raises(BuilderError, match=r"export.json: invalid JSON"):
        read_export_file(path)


def test_corrupt_store_line_is_reported(tmp_path):
    folder = tmp_path / "decisions"
    folder.mkdir()
    (folder / "p.jsonl").write_text('{"pair_id": "x"\n')
    with pytest.raises(BuilderError, match=r"p.jsonl:1"):
        DecisionStore(folder).load()


def test_caption_edit_resplits_panel_captions(tmp_path):
    run = tmp_path / "run"
    figs = make_run(run, n=1)
    edit = {"from_name": "caption", "to_name": "image", "type": "textarea",
            "value": {"text": ["Fig. 0 Myopic fundus. (a) Peripapillary atrophy. (b) Lacquer cracks."]}}
    store = DecisionStore(tmp_path / "decisions")
    pull_tasks([task_with(figs[0], 1, [choice("decision", "accept"), edit], 1, "2026-01-01T00:00:00Z")], run,
               store, "p")
    ctx = Context(run_dir=run, stage="review", recipe_dir=tmp_path)
    (fig,) = ReviewStage(ReviewParams(decisions=str(tmp_path / "decisions"))).run(figs, ctx)
    assert "Peripapillary atrophy" in fig.panels[0].caption and "Lacquer" not in fig.panels[0].caption
    assert "Lacquer cracks" in fig.panels[1].caption and "Myopic fundus" in fig.panels[1].caption
