"""Metrics: known answers, binary vs multiclass AUC, threshold search on validation data only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keepfit.evaluate.metrics import (
    auc_score,
    balanced_accuracy,
    choose_threshold,
    classification_metrics,
    predict_labels,
    summarise,
)


def test_perfect_multiclass_predictions():
    y = np.array([0, 1, 2, 2, 1, 0])
    scores = np.eye(3)[y] * 0.8 + 0.1
    m = classification_metrics(y, scores, class_names=["a", "b", "c"])
    assert m["accuracy"] == m["aca"] == m["f1"] == m["kappa"] == m["auc"] == 1.0
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_aca_is_mean_per_class_recall_not_accuracy():
    y = np.array([0] * 9 + [1])
    pred = np.zeros(10, dtype=int)  # always predicts the majority class
    assert balanced_accuracy(y, pred) == pytest.approx(0.5)
    m = classification_metrics(y, np.eye(2)[pred])
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["aca"] == pytest.approx(0.5)
    assert m["kappa"] == pytest.approx(0.0)


def test_binary_auc_uses_positive_class_score():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    p = rng.random(50)
    scores = np.stack([1 - p, p], 1)
    assert auc_score(y, scores) == pytest.approx(roc_auc_score(y, p))


def test_multiclass_auc_is_one_vs_rest_macro_and_skips_absent_classes():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    s = rng.dirichlet(np.ones(3), 60)
    assert auc_score(y, s) == pytest.approx(roc_auc_score(y, s, multi_class="ovr", average="macro"))
    # class 2 absent from y: its OvR AUC is undefined and left out
    y2 = np.where(y == 2, 0, y)
    expected = np.mean([roc_auc_score(y2 == k, s[:, k]) for k in (0, 1)])
    assert auc_score(y2, s) == pytest.approx(expected)


def test_threshold_applies_only_to_binary():
    s = np.array([[0.7, 0.3], [0.4, 0.6]])
    assert predict_labels(s, threshold=0.2).tolist() == [1, 1]
    assert predict_labels(s).tolist() == [0, 1]
    with pytest.raises(ValueError, match="binary"):
        predict_labels(np.ones((2, 3)) / 3, threshold=0.5)


def test_choose_threshold_separates_validation_scores_and_calls_objective_with_them():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.9])
    seen = []

    def spy(yt, yp):
        seen.append(yt.copy())
        return balanced_accuracy(yt, yp)

    t = choose_threshold(y, p, spy)
    assert 0.3 < t < 0.35
    assert seen and all(np.array_equal(s, y) for s in seen)


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError, match="labels"):
        classification_metrics([0, 1, 1], np.ones((2, 2)) / 2)
    with pytest.raises(ValueError, match="validation"):
        choose_threshold([], [])


def test_summarise_mean_std():
    s = summarise([{"aca": 0.5, "auc": None}, {"aca": 1.0, "auc": None}], keys=("aca", "auc"))
    assert s["aca"]["mean"] == pytest.approx(0.75) and s["aca"]["std"] == pytest.approx(0.25)
    assert s["auc"] is None
