"""Linear probe: logistic regression on frozen image features.

Two protocols (:class:`ProbeConfig`, :meth:`ProbeConfig.paper`):

* ``paper`` (the MM-Retinal/FLAIR "FT" columns): features of the frozen **backbone** (ResNet-50's pooled
  2048-d output, before projection and normalisation), FLAIR's fixed ``LogisticRegression(C=0.316,
  max_iter=1000, class_weight="balanced", random_state=0)``, arg-max decisions, per class 20 % train /
  20 % test redrawn ``reshuffles`` times (reshuffles, not folds: test sets overlap across repeats).
* ``kfold`` (ours, "tuned"): true stratified k-fold, every sample tested exactly once, on the projected
  embeddings by default; inside each outer split only the TRAIN part is looked at to choose ``C`` (inner
  stratified k-fold, out-of-fold predictions) and, for binary problems, the decision threshold (on the same
  out-of-fold probabilities). The classifier is then refit on the whole train part and scored once on test.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from ..errors import KeepfitError
from ..settings import Settings
from .metrics import Objective, balanced_accuracy, choose_threshold, classification_metrics, summarise

Protocol = Literal["kfold", "paper"]
Split = tuple[np.ndarray, np.ndarray]


class ProbeConfig(Settings):
    """Linear-probe protocol and model-selection settings (all recorded in the report)."""

    section: ClassVar[str] = "linear_probe"

    protocol: Protocol = "kfold"
    #: embedding = the model's projected, normalised embeddings; backbone = the vision tower's pooled
    #: features before projection (the paper's)
    features: Literal["embedding", "backbone"] = "embedding"
    folds: int = Field(5, ge=2)
    reshuffles: int = Field(5, ge=1)
    train_fraction: float = Field(0.2, gt=0, lt=1)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    #: choose C (and a binary threshold) by inner cross-validation on each train part; False = default_C
    tune: bool = True
    Cs: list[float] = Field(default_factory=lambda: [1e-3, 1e-2, 1e-1, 0.316, 1.0, 10.0, 100.0, 1000.0])
    #: FLAIR's C; with tune=True used only when a class has < 2 train samples and nothing can be validated
    default_C: float = 0.316
    inner_folds: int = Field(3, ge=2)
    tune_threshold: bool = True
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = 2000
    seed: int = 42

    @classmethod
    def paper(cls, seed: int = 0, reshuffles: int = 5) -> ProbeConfig:
        """FLAIR's linear probe as the MM-Retinal paper ran it."""
        return cls(protocol="paper", features="backbone", tune=False, tune_threshold=False, default_C=0.316,
                   max_iter=1000, class_weight="balanced", seed=seed, reshuffles=reshuffles)


def make_splits(y: np.ndarray, cfg: ProbeConfig) -> list[Split]:
    """Outer (train, test) index splits for the configured protocol; deterministic in ``cfg.seed``."""
    y = np.asarray(y)
    counts = np.bincount(y)
    present = counts[counts > 0]
    if cfg.protocol == "kfold":
        if present.min() < cfg.folds:
            raise KeepfitError(
                f"{cfg.folds}-fold needs >= {cfg.folds} samples per class; smallest class has {present.min()}"
            )
        skf = StratifiedKFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
        return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]
    if cfg.protocol == "paper":
        if cfg.train_fraction + cfg.test_fraction > 1:
            raise ValueError("train_fraction + test_fraction must be <= 1")
        splits = []
        for r in range(cfg.reshuffles):
            rng = np.random.default_rng(cfg.seed + r)
            train, test = [], []
            for c in np.flatnonzero(counts):
                idx = rng.permutation(np.flatnonzero(y == c))
                n_tr = max(1, int(round(cfg.train_fraction * len(idx))))
                n_te = max(1, int(round(cfg.test_fraction * len(idx))))
                if n_tr + n_te > len(idx):
                    raise KeepfitError(f"class {c} has {len(idx)} samples: too few for a train/test split")
                train.append(idx[:n_tr])
                test.append(idx[n_tr : n_tr + n_te])
            splits.append((np.sort(np.concatenate(train)), np.sort(np.concatenate(test))))
        return splits
    raise ValueError(f"unknown linear-probe protocol {cfg.protocol!r} (use 'kfold' or 'paper')")


def _fit(X: np.ndarray, y: np.ndarray, C: float, cfg: ProbeConfig) -> LogisticRegression:
    # FLAIR's probe uses random_state=0 whatever the split seed
    clf = LogisticRegression(C=C, max_iter=cfg.max_iter, class_weight=cfg.class_weight,
                             random_state=0 if cfg.protocol == "paper" else cfg.seed)
    with warnings.catch_warnings():
        # tiny inner folds with large C may stop early; the selection step judges the result anyway
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def _proba(clf: LogisticRegression, X: np.ndarray, num_classes: int) -> np.ndarray:
    """Class probabilities in all ``num_classes`` columns (a class missing from a fit gets probability 0)."""
    out = np.zeros((X.shape[0], num_classes))
    out[:, clf.classes_] = clf.predict_proba(X)
    return out


@dataclass
class FittedProbe:
    """A probe fitted on one train part: the classifier plus what was selected and on which indices."""

    classifier: LogisticRegression
    C: float
    threshold: float | None
    selection: dict[str, Any]
    num_classes: int

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _proba(self.classifier, X, self.num_classes)


def fit_probe(
    X: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    cfg: ProbeConfig,
    num_classes: int,
    objective: Objective | None = None,
) -> FittedProbe:
    """Choose C (and a binary threshold) by inner CV on ``train_idx`` only, then refit on all of it."""
    objective = objective or (lambda yt, yp: balanced_accuracy(yt, yp))
    Xtr, ytr = X[train_idx], y[train_idx]
    if not cfg.tune:
        sel = {"C": cfg.default_C, "reason": "fixed (no selection)"}
        return FittedProbe(_fit(Xtr, ytr, cfg.default_C, cfg), cfg.default_C, None, sel, num_classes)
    smallest = np.bincount(ytr)[np.unique(ytr)].min()
    inner = min(cfg.inner_folds, int(smallest))
    if inner < 2 or len(np.unique(ytr)) < 2:
        clf = _fit(Xtr, ytr, cfg.default_C, cfg)
        sel = {"C": cfg.default_C, "reason": f"no validation possible (smallest train class: {smallest})"}
        return FittedProbe(clf, cfg.default_C, None, sel, num_classes)

    skf = StratifiedKFold(n_splits=inner, shuffle=True, random_state=cfg.seed)
    inner_splits = list(skf.split(np.zeros(len(ytr)), ytr))
    best: tuple[float, tuple[float, float], np.ndarray] | None = None
    scores_by_C: dict[str, dict[str, float]] = {}
    for C in cfg.Cs:
        oof = np.zeros((len(ytr), num_classes))
        for a, b in inner_splits:
            oof[b] = _proba(_fit(Xtr[a], ytr[a], C, cfg), Xtr[b], num_classes)
        score = float(objective(ytr, oof.argmax(1)))
        # ties on the objective (common: several C separate the train part perfectly) go to the C with the
        # better out-of-fold log-loss, i.e. the better calibrated probabilities
        nll = float(-np.log(np.clip(oof[np.arange(len(ytr)), ytr], 1e-12, None)).mean())
        scores_by_C[repr(C)] = {"objective": score, "log_loss": nll}
        key = (round(score, 12), -nll)
        if best is None or key > best[1]:
            best = (C, key, oof)
    assert best is not None
    C, _, oof = best
    threshold = None
    if num_classes == 2 and cfg.tune_threshold:
        threshold = choose_threshold(ytr, oof[:, 1], objective)
    sel = {"C": C, "inner_folds": inner, "validation_scores": scores_by_C, "threshold_from": "train out-of-fold"}
    return FittedProbe(_fit(Xtr, ytr, C, cfg), C, threshold, sel, num_classes)


def linear_probe(
    features: Any,
    labels: Any,
    class_names: Sequence[str],
    cfg: ProbeConfig | None = None,
    splits: Sequence[Split] | None = None,
    objective: Objective | None = None,
) -> dict[str, Any]:
    """Run the probe over all outer splits; returns per-split metrics, selections, indices and a summary."""
    cfg = cfg or ProbeConfig()
    X = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    k = len(class_names)
    splits = list(splits) if splits is not None else make_splits(y, cfg)
    runs = []
    for i, (train_idx, test_idx) in enumerate(splits):
        train_idx, test_idx = np.asarray(train_idx), np.asarray(test_idx)
        if np.intersect1d(train_idx, test_idx).size:
            raise ValueError(f"split {i}: train and test indices overlap")
        probe = fit_probe(X, y, train_idx, cfg, k, objective)
        m = classification_metrics(y[test_idx], probe.predict_proba(X[test_idx]), class_names=class_names,
                                   threshold=probe.threshold)
        m.update(split=i, C=probe.C, selection=probe.selection, n_train=int(len(train_idx)),
                 train_indices=train_idx.tolist(), test_indices=test_idx.tolist())
        runs.append(m)
    return {"task": "linear-probe", "protocol": cfg.protocol, "config": cfg.to_dict(),
            "class_names": list(class_names), "runs": runs, "summary": summarise(runs)}
