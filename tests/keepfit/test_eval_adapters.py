"""Few-shot adapters: sampling, learning from shots, hyper-parameters chosen on validation shots only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from keepfit.errors import KeepfitError
from keepfit.evaluate import adapters as ad
from keepfit.evaluate.adapters import FewShotConfig, few_shot, few_shot_split, fit_predict


def _task(seed: int = 0, n: int = 30, k: int = 3, dim: int = 16, text_quality: float = 0.0):
    """Class-clustered unit features and CLIP-like class text embeddings: all close to one shared direction
    (cosines differ by a few hundredths), pointing towards the true class centres by ``text_quality``."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.nn.functional.normalize(torch.randn(k, dim, generator=g), dim=-1)
    y = torch.arange(k).repeat_interleave(n)
    X = torch.nn.functional.normalize(centers[y] + 0.1 * torch.randn(len(y), dim, generator=g), dim=-1)
    base = torch.nn.functional.normalize(torch.randn(dim, generator=g), dim=-1)
    noise = torch.nn.functional.normalize(torch.randn(k, dim, generator=g), dim=-1)
    W = base + 0.1 * (text_quality * centers + (1 - text_quality) * noise)
    return X.numpy(), y.numpy(), W.numpy()


def test_split_is_disjoint_stratified_and_seeded():
    _, y, _ = _task()
    cfg = FewShotConfig(shots=4, seed=7)
    s = few_shot_split(y, cfg)
    assert np.bincount(y[s["train"]]).tolist() == [4, 4, 4]
    assert np.bincount(y[s["val"]]).tolist() == [4, 4, 4]
    parts = [set(v.tolist()) for v in s.values()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    again = few_shot_split(y, cfg)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    # the test part does not move with the shot count
    assert np.array_equal(s["test"], few_shot_split(y, FewShotConfig(shots=1, seed=7))["test"])


def test_too_few_samples_is_an_error():
    y = np.array([0] * 20 + [1] * 3)
    with pytest.raises(KeepfitError, match="class 1"):
        few_shot_split(y, FewShotConfig(shots=2))


@pytest.mark.parametrize("method", ["clip-adapter", "tip-adapter", "tip-adapter-f"])
def test_adapters_fix_a_useless_zero_shot_classifier(method):
    X, y, W = _task(text_quality=0.0)  # text embeddings carry no class information
    cfg = FewShotConfig(shots=5, clip_steps=100, tip_f_steps=50, clip_ratios=(0.2, 0.8))
    r = few_shot(X, y, W, 50.0, ["a", "b", "c"], methods=["zero-shot", method], shots=[5], cfg=cfg)
    zs, adapted = r["runs"]
    assert adapted["aca"] > 0.9
    assert adapted["aca"] > zs["aca"] + 0.2


def test_hyperparameters_never_depend_on_test_labels():
    X, y, W = _task(seed=3, text_quality=1.0)
    cfg = FewShotConfig(shots=3, clip_steps=20, tip_f_steps=10)
    s = few_shot_split(y, cfg)
    for method in ("clip-adapter", "tip-adapter", "tip-adapter-f"):
        args = (X[s["train"]], y[s["train"]], X[s["val"]], y[s["val"]], X[s["test"]], W, 30.0, cfg)
        _, test_a, chosen_a = fit_predict(method, *args)
        # the function never receives test labels; shuffling test rows only permutes the test logits
        perm = np.random.default_rng(0).permutation(len(s["test"]))
        args_p = (*args[:4], X[s["test"]][perm], *args[5:])
        _, test_b, chosen_b = fit_predict(method, *args_p)
        assert chosen_a == chosen_b
        torch.testing.assert_close(test_a[perm], test_b)


def test_search_objective_sees_only_validation_labels():
    X, y, W = _task(seed=5, text_quality=0.5)
    cfg = FewShotConfig(shots=2, val_shots=3, clip_steps=5, tip_f_steps=5, tip_alphas=(0.5, 1.0),
                        tip_betas=(1.0, 5.0), clip_ratios=(0.2, 0.6))
    split = few_shot_split(y, cfg)
    seen = []

    def spy(yt, yp):
        seen.append(np.asarray(yt).copy())
        return float((yt == yp).mean())

    few_shot(X, y, W, 30.0, ["a", "b", "c"], methods=["clip-adapter", "tip-adapter", "tip-adapter-f"],
             shots=[2], cfg=cfg, objective=spy)
    assert seen
    for s in seen:
        assert np.array_equal(s, y[split["val"]])


def test_binary_threshold_comes_from_validation(monkeypatch):
    X, y, W = _task(seed=6, k=2, text_quality=1.0)
    calls = []
    real = ad.choose_threshold

    def spy(y_val, scores, objective=None):
        calls.append(np.asarray(y_val).copy())
        return real(y_val, scores, objective)

    monkeypatch.setattr(ad, "choose_threshold", spy)
    cfg = FewShotConfig(shots=3, clip_steps=5, tip_f_steps=5)
    r = few_shot(X, y, W, 30.0, ["neg", "pos"], methods=["tip-adapter"], shots=[3], cfg=cfg)
    val = np.asarray(r["runs"][0]["indices"]["val"])
    assert len(calls) == 1 and np.array_equal(calls[0], y[val])
    assert r["runs"][0]["threshold"] is not None


def test_unknown_method_is_an_error():
    X, y, W = _task()
    with pytest.raises(ValueError, match="unknown few-shot method"):
        fit_predict("tip-adaptor", X[:3], y[:3], X[3:6], y[3:6], X[6:9], W, 1.0, FewShotConfig())
