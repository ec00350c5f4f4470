"""Extraction metrics: matching, caption accuracy and CER, pair F1, retinal subset, tables as figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.evaluation.extraction import (
    cer,
    evaluate,
    levenshtein,
    load_ground_truth,
    load_predictions,
)


def naive(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab c图", max_size=12), st.text(alphabet="ab c图", max_size=12))
def test_levenshtein_matches_the_textbook_definition(a, b):
    assert levenshtein(a, b) == naive(a, b)


def test_cer():
    assert cer("Fig. 1 Optic disc", "Fig. 1 Optic disc") == 0.0
    assert cer("Fig. 1 Optic dsc", "Fig. 1 Optic disc") == pytest.approx(1 / 17)


def pred(page, bbox, caption, label="Fig. 1", size=(100.0, 100.0), book="a.pdf"):
    return {"book": book, "page": page, "bbox": bbox, "page_size": list(size), "caption": caption, "label": label}


GT = [{
    "id": "a.pdf",
    "figures": [
        {"label": "Fig. 1", "page": 1, "bbox": [0.1, 0.1, 0.5, 0.5], "caption": "Fig. 1 Drusen.", "retinal": "yes"},
        {"label": "Fig. 2", "page": 2, "bbox": [0.1, 0.1, 0.9, 0.4], "caption": "Fig. 2 A diagram.", "retinal": "no"},
        {"label": "Fig. 3", "page": 3, "bbox": [0.2, 0.2, 0.8, 0.8], "caption": "Fig. 3 OCT.", "retinal": "yes"},
    ],
    "tables": [{"label": "Table 1", "page": 4, "bbox": [0.1, 0.1, 0.9, 0.5]}],
}]


def test_evaluate_counts_and_rates():
    preds = {"a.pdf": [
        pred(1, [10, 10, 50, 51], "Fig. 1  Drusen."),  # match, caption exact after whitespace normalisation
        pred(2, [10, 10, 90, 40], "Fig. 2 A diagam.", "Fig. 2"),  # match, caption wrong by one character
        pred(3, [20, 20, 50, 50], "Fig. 3 OCT.", "Fig. 3"),  # IoU 0.25: not a match
        pred(4, [10, 10, 90, 50], "Table 1 ...", "Table 1"),  # a table taken as a figure
    ], "other.pdf": [pred(1, [0, 0, 1, 1], "x", book="other.pdf")]}
    r = evaluate(GT, preds)
    o = r["overall"]
    assert o["counts"]["tp"] == 2 and o["figure"]["precision"] == 0.5 and o["figure"]["recall"] == pytest.approx(2 / 3,
                                                                                                            abs=1e-4)
    assert o["caption_exact"] == 0.5
    assert o["caption_cer"] == pytest.approx((0 + 1 / 17) / 2, abs=1e-4)
    assert o["pair"]["precision"] == 0.25 and o["pair"]["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert o["tables_as_figures"] == 1
    # retinal: two GT figures, one matched with an exact caption; the prediction matched to Fig. 2 is left out
    assert o["retinal"]["figure"]["recall"] == 0.5 and o["retinal"]["pair"]["precision"] == pytest.approx(1 / 3,
                                                                                                         abs=1e-4)
    assert r["unknown_books"] == ["other.pdf"]
    doc = r["documents"][0]
    assert [m["label"] for m in doc["missed"]] == ["Fig. 3"]
    assert {m["gt"]: m["caption_exact"] for m in doc["matches"]} == {"Fig. 1": True, "Fig. 2": False}


def test_a_book_without_predictions_scores_zero():
    r = evaluate(GT, {})
    assert r["overall"]["figure"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_loaders_give_clear_errors(tmp_path):
    bad = tmp_path / "gt.json"
    bad.write_text(json.dumps({"figures": []}))
    with pytest.raises(BuilderError, match="list of documents"):
        load_ground_truth(bad)
    bad.write_text(json.dumps([{"id": "a.pdf", "figures": [{"page": 1}]}]))
    with pytest.raises(BuilderError, match="needs 'page' and 'bbox'"):
        load_ground_truth(bad)
    with pytest.raises(BuilderError, match="no figures.jsonl"):
        load_predictions(tmp_path)
    (tmp_path / "figures.jsonl").write_text(json.dumps({"book": "a.pdf", "page": 1}) + "\n")
    with pytest.raises(BuilderError, match="without 'bbox'"):
        load_predictions(tmp_path)


def test_documents_key_is_accepted(tmp_path):
    p = Path(tmp_path) / "gt.json"
    p.write_text(json.dumps({"documents": GT}))
    assert load_ground_truth(p)[0]["id"] == "a.pdf"
