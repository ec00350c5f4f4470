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
from mmretinal_builder.schema import Figure, Pair, Panel, Provenance, figure_id, figures_of, pairs_of
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
                           panels=panels,
                           provenance=Provenance(book="b.pdf", page=1, bbox=bbox, page_size=[600, 800], rule="t")))
    pairs = classified(figs)
    write_jsonl(run / "pairs.jsonl", pairs)
    write_jsonl(run / "figures.jsonl", figures_of(pairs))
    return figs


def classified(figs: list[Figure]) -> list[Pair]:
    """The figures' pairs as the classify stage left them."""
    pairs = [p for f in figs for p in pairs_of(f)]
    for p in pairs:
        p.modality = "CFP"
    return pairs


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
    pairs = classified(figs)
    out = ReviewStage(ReviewParams(decisions=str(tmp_path / "decisions"))).run(pairs, ctx)
    assert [p.id for p in out] == [figs[0].id, f"{figs[0].id}-p0", f"{figs[0].id}-p1", figs[1].id]
    # the reviewer's boxes replaced the panels: the old panel pairs went, the figure's pair is kept as the new ones
    assert ctx.dropped == {"review": 1, "review:panels-replaced": 2} and ctx.considered == 5 + 2  # 2 pairs made
    assert out[3].caption == out[3].figure.caption == "Fig. 1 fixed caption" and out[3].modality == "FFA"
    assert out[2].panel.bbox_px == [100, 0, 160, 100] and out[2].panel.label == "b" and out[2].modality == "CFP"
    assert out[2].panel.image and (run / out[2].panel.image).exists()
    assert all(p.review["decision"] == "accept" for p in out) and out[0].review["edited"] == ["panels"]
    assert {r["item"]["id"] for r in ctx.rejects if r["reason"] == "review"} == {figs[2].id}


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
    whole, a, b = ReviewStage(ReviewParams(decisions=str(tmp_path / "decisions"))).run(pairs_of(figs[0]), ctx)
    assert whole.caption.startswith("Fig. 0 Myopic fundus.") and a.figure_caption == whole.caption
    assert "Peripapillary atrophy" in a.caption and "Lacquer" not in a.caption and a.panel.caption == a.caption
    assert "Lacquer cracks" in b.caption and "Myopic fundus" in b.caption


def test_tasks_prefill_the_modality_classify_gave_the_whole_figure(tmp_path):
    from mmretinal_builder.review.labelstudio import figure_modalities

    run = tmp_path / "run"
    figs = make_run(run)
    mods = figure_modalities(run)
    assert set(mods) == {f.id for f in figs} and all(m == ("CFP", None) for m in mods.values())
    data = task_data(figs[0], "/data/local-files/?d=x", mods[figs[0].id][0])
    assert data["modality"] == "CFP" and data["panels_px"] == [[0, 0, 100, 100], [100, 0, 200, 100]]
    assert prediction(figs[0], "CFP", 0.9)["result"][-1]["value"]["choices"] == ["CFP"]
