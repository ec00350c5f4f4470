"""Linear probe: known answers, split protocols, and model selection that never sees test labels."""

from __future__ import annotations

import numpy as np
import pytest

from keepfit.errors import KeepfitError
from keepfit.evaluate import linear_probe as lp
from keepfit.evaluate.linear_probe import ProbeConfig, linear_probe, make_splits


def _blobs(n_per_class: int = 30, k: int = 3, dim: int = 8, sep: float = 6.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * sep
    X = np.concatenate([c + rng.normal(size=(n_per_class, dim)) for c in centers])
    y = np.repeat(np.arange(k), n_per_class)
    return X, y


def test_separable_features_give_accuracy_one():
    X, y = _blobs()
    r = linear_probe(X, y, ["a", "b", "c"], ProbeConfig(folds=3, Cs=(0.1, 1.0, 10.0)))
    assert r["summary"]["accuracy"]["mean"] == pytest.approx(1.0)
    assert r["summary"]["aca"]["mean"] == pytest.approx(1.0)
    assert len(r["runs"]) == 3


def test_kfold_tests_every_sample_exactly_once():
    _, y = _blobs(n_per_class=10)
    splits = make_splits(y, ProbeConfig(folds=5, seed=3))
    tested = np.concatenate([te for _, te in splits])
    assert sorted(tested.tolist()) == list(range(len(y)))
    again = make_splits(y, ProbeConfig(folds=5, seed=3))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))


def test_paper_protocol_is_20_20_per_class_reshuffled():
    y = np.repeat([0, 1], [40, 360])  # REFUGE-like imbalance
    splits = make_splits(y, ProbeConfig(protocol="paper", reshuffles=5, seed=0))
    assert len(splits) == 5
    for tr, te in splits:
        assert np.bincount(y[tr]).tolist() == [8, 72]
        assert np.bincount(y[te]).tolist() == [8, 72]
        assert not np.intersect1d(tr, te).size
    assert not np.array_equal(splits[0][1], splits[1][1])


def test_paper_probe_is_flairs_fixed_logistic_regression(monkeypatch):
    """Paper protocol: FLAIR's LogisticRegression(C=0.316, max_iter=1000, balanced, random_state=0) fitted once
    per reshuffle on the train part, arg-max decisions, nothing selected."""
    X, y = _blobs(n_per_class=20, k=2, sep=0.7, seed=1)
    cfg = ProbeConfig.paper(seed=0, reshuffles=3)
    assert cfg.features == "backbone" and not cfg.tune and not cfg.tune_threshold
    fits = []
    real = lp.LogisticRegression

    def spy(**kwargs):
        fits.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(lp, "LogisticRegression", spy)
    r = linear_probe(X, y, ["neg", "pos"], cfg)
    assert fits == [{"C": 0.316, "max_iter": 1000, "class_weight": "balanced", "random_state": 0}] * 3
    assert all(run["threshold"] is None and run["C"] == 0.316 for run in r["runs"])
    assert r["protocol"] == "paper" and r["config"]["features"] == "backbone"


def test_too_small_class_for_kfold_is_a_clear_error():
    y = np.array([0] * 10 + [1] * 2)
    with pytest.raises(KeepfitError, match="per class"):
        make_splits(y, ProbeConfig(folds=5))


def test_selection_never_depends_on_test_labels():
    """Flipping every test label must not change the chosen C or threshold in any split."""
    X, y = _blobs(n_per_class=20, k=2, sep=0.7, seed=1)
    cfg = ProbeConfig(folds=4, Cs=(0.01, 0.1, 1.0, 10.0))
    splits = make_splits(y, cfg)
    base = linear_probe(X, y, ["neg", "pos"], cfg, splits=splits)
    for i, (_, te) in enumerate(splits):
        y_flipped = y.copy()
        y_flipped[te] = 1 - y_flipped[te]
        flipped = linear_probe(X, y_flipped, ["neg", "pos"], cfg, splits=[splits[i]])
        assert flipped["runs"][0]["C"] == base["runs"][i]["C"]
        assert flipped["runs"][0]["threshold"] == base["runs"][i]["threshold"]
        assert base["runs"][i]["threshold"] is not None


def test_threshold_search_sees_only_train_samples(monkeypatch):
    X, y = _blobs(n_per_class=20, k=2, sep=0.7, seed=2)
    calls = []
    real = lp.choose_threshold

    def spy(y_val, scores, objective=None):
        calls.append(np.asarray(y_val).copy())
        return real(y_val, scores, objective)

    monkeypatch.setattr(lp, "choose_threshold", spy)
    cfg = ProbeConfig(folds=4, Cs=(0.1, 1.0))
    r = linear_probe(X, y, ["neg", "pos"], cfg)
    assert len(calls) == len(r["runs"]) == 4
    for seen, run in zip(calls, r["runs"], strict=True):
        train = np.asarray(run["train_indices"])
        assert len(seen) == len(train) != len(run["test_indices"])
        assert sorted(seen.tolist()) == sorted(y[train].tolist())


def test_objective_spy_only_gets_train_labels():
    X, y = _blobs(n_per_class=12, k=3, sep=1.0, seed=4)
    sizes = set()

    def spy(yt, yp):
        sizes.add(len(yt))
        return float((yt == yp).mean())

    cfg = ProbeConfig(folds=4, Cs=(0.1, 1.0))
    r = linear_probe(X, y, ["a", "b", "c"], cfg, objective=spy)
    assert sizes == {run["n_train"] for run in r["runs"]}


def test_overlapping_splits_are_rejected():
    X, y = _blobs(n_per_class=6, k=2)
    with pytest.raises(ValueError, match="overlap"):
        linear_probe(X, y, ["a", "b"], splits=[(np.arange(8), np.arange(6, 12))])
