"""evaluate_panels: counts, boxes, labels and sub-caption assignment against a ground-truth file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.evaluation.panels import caption_words, evaluate_panels
from mmretinal_builder.io import write_jsonl
from mmretinal_builder.schema import Figure, Panel, Provenance

PS = [100.0, 200.0]


def _panel(i: int, box: list[float], label: str | None, caption: str | None) -> Panel:
    return Panel(index=i, label=label, bbox=box, bbox_px=[0, 0, 1, 1], caption=caption)


def _fig(page: int, box: list[float], panels: list[Panel], caption: str | None = None) -> Figure:
    return Figure(id=f"f{page}", book="b.pdf", page=page, bbox=box, page_size=PS, panels=panels, caption=caption,
                  provenance=Provenance(book="b.pdf", page=page, bbox=box, page_size=PS, rule="test"))


def test_scores(tmp_path: Path) -> None:
    cap = "Fig. 1 Patient. (a) Fundus photograph. (b) FFA."
    gt = [{"id": "b.pdf", "figures": [
        {"label": "Fig. 1", "page": 1, "bbox": [0.1, 0.1, 0.9, 0.3], "panels": 2, "retinal": "yes",
         "kind": "compound-single", "caption": cap, "panel_boxes": [
             {"label": "a", "bbox": [0.1, 0.1, 0.5, 0.3], "caption": "Fig. 1 Patient. (a) Fundus photograph."},
             {"label": "b", "bbox": [0.5, 0.1, 0.9, 0.3], "caption": "Fig. 1 Patient. (b) FFA."}]},
        {"label": "Fig. 2", "page": 2, "bbox": [0.1, 0.1, 0.9, 0.3], "panels": 1, "retinal": "yes", "kind": "raster"},
        {"label": "Fig. 3", "page": 3, "bbox": [0.1, 0.1, 0.9, 0.3], "panels": 1, "retinal": "yes", "kind": "raster"},
        {"label": "Fig. 4", "page": 4, "bbox": [0.1, 0.1, 0.9, 0.3], "panels": 1, "retinal": "no"},
    ]}]
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt), encoding="utf-8")
    run = tmp_path / "run"
    figs = [
        _fig(1, [10, 20, 90, 60], [_panel(0, [10, 20, 50, 60], "a", "Patient. Fundus photograph."),
                                   _panel(1, [52, 20, 90, 60], "b", "Patient. Fundus photograph.")], cap),
        _fig(2, [10, 20, 90, 60], [_panel(0, [10, 20, 50, 60], None, None), _panel(1, [50, 20, 90, 60], None, None)]),
    ]
    write_jsonl(run / "figures.jsonl", figs)
    res = evaluate_panels(gt_path, run)
    assert res["figures"] == 3 and res["figures_matched"] == 2
    assert res["panel_count_accuracy"] == 0.5
    assert res["compound_count_accuracy"] == 1.0
    assert res["single_false_splits"] == 1 and res["single_figures"] == 1
    assert res["panels"] == 2 and res["panel_iou_ok_rate"] == 1.0
    assert res["label_accuracy"] == 1.0
    assert res["subcaption_accuracy"] == 0.5 == res["subcaption_accuracy_end_to_end"]
    assert res["subcaptions_figure_caption_wrong"] == 0
    assert res["by_kind"]["compound-single"]["subcaption_accuracy"] == 0.5
    problems = sorted(f["problem"] for f in res["failures"])
    assert problems == ["figure not found", "panel count", "sub-caption"]


def test_wrong_figure_caption_is_counted_apart(tmp_path: Path) -> None:
    gt = [{"id": "b.pdf", "figures": [
        {"label": "Fig. 1", "page": 1, "bbox": [0.1, 0.1, 0.9, 0.3], "panels": 2, "retinal": "yes",
         "caption": "Fig. 1 (a) Drusen. (b) Haemorrhage.", "panel_boxes": [
             {"label": "a", "bbox": [0.1, 0.1, 0.5, 0.3], "caption": "Fig. 1 (a) Drusen."},
             {"label": "b", "bbox": [0.5, 0.1, 0.9, 0.3], "caption": "Fig. 1 (b) Haemorrhage."}]}]}]
    (tmp_path / "gt.json").write_text(json.dumps(gt), encoding="utf-8")
    fig = _fig(1, [10, 20, 90, 60], [_panel(0, [10, 20, 50, 60], "a", "Exudates."),
                                     _panel(1, [50, 20, 90, 60], "b", "Oedema.")], "Fig. 7 (a) Exudates. (b) Oedema.")
    write_jsonl(tmp_path / "run" / "figures.jsonl", [fig])
    res = evaluate_panels(tmp_path / "gt.json", tmp_path / "run")
    assert res["subcaption_accuracy"] is None and res["subcaption_accuracy_end_to_end"] == 0.0
    assert res["subcaptions_figure_caption_wrong"] == 2


def test_caption_words_ignore_label_and_panel_names() -> None:
    assert caption_words("Fig. 2-2 Patient. (A) Fundus photograph.") == caption_words("Patient: Fundus photograph")
    assert caption_words("图3 A．眼底") == ["眼", "底"]
    assert caption_words(None) == []


def test_bad_ground_truth_file(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="not found"):
        evaluate_panels(tmp_path / "nope.json", tmp_path)
    (tmp_path / "gt.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(BuilderError, match="list of documents"):
        evaluate_panels(tmp_path / "gt.json", tmp_path)
