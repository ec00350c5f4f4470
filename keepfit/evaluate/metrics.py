"""Classification metrics: accuracy, ACA, AUC, macro F1, Cohen's kappa, and validation-only thresholds.

Conventions: ``y_true`` holds integer class ids in ``[0, K)``; ``scores`` is an ``(N, K)`` array of class
scores (probabilities for AUC to be comparable across runs). Binary problems (``K == 2``) use column 1 as the
positive-class score; multiclass AUC is the macro mean of one-vs-rest AUCs over the classes that have both
positives and negatives in ``y_true`` (a class absent from the test set has no defined AUC, and silently
calling binary code on multiclass scores, as the reference did, gives wrong numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score

#: Objective for threshold search: (y_true, y_pred) -> score, higher is better.
Objective = Callable[[np.ndarray, np.ndarray], float]


def _as_arrays(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(np.int64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must be (N, K) with K >= 2, got shape {s.shape}")
    if s.shape[0] != y.shape[0]:
        raise ValueError(f"{y.shape[0]} labels but {s.shape[0]} score rows")
    if y.size and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(f"labels must lie in [0, {s.shape[1]}), got [{y.min()}, {y.max()}]")
    return y, s


def predict_labels(scores: Any, threshold: float | None = None) -> np.ndarray:
    """Arg-max prediction; for binary scores with a threshold, positive iff ``scores[:, 1] >= threshold``."""
    s = np.asarray(scores, dtype=np.float64)
    if threshold is not None:
        if s.shape[1] != 2:
            raise ValueError("a decision threshold only applies to binary (K == 2) scores")
        return (s[:, 1] >= threshold).astype(np.int64)
    return s.argmax(axis=1).astype(np.int64)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None) -> float:
    """ACA: mean recall over the classes present in ``y_true``."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true) if num_classes is None else [c for c in range(num_classes) if (y_true == c).any()]
    recalls = [float((y_pred[y_true == c] == c).mean()) for c in classes]
    return float(np.mean(recalls)) if recalls else float("nan")


def auc_score(y_true: Any, scores: Any) -> float | None:
    """Binary: ROC AUC of the positive-class score. Multiclass: one-vs-rest macro AUC. None if undefined."""
    y, s = _as_arrays(y_true, scores)
    if s.shape[1] == 2:
        if len(np.unique(y)) < 2:
            return None
        return float(roc_auc_score(y == 1, s[:, 1]))
    per_class = [
        float(roc_auc_score(y == k, s[:, k])) for k in range(s.shape[1]) if 0 < (y == k).sum() < len(y)
    ]
    return float(np.mean(per_class)) if per_class else None


def classification_metrics(
    y_true: Any,
    scores: Any,
    *,
    class_names: Sequence[str] | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """All reported metrics for one prediction set; ``threshold`` (binary only) must come from validation data."""
    y, s = _as_arrays(y_true, scores)
    k = s.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} score columns")
    pred = predict_labels(s, threshold)
    labels = list(range(k))
    cm = confusion_matrix(y, pred, labels=labels)
    recall = {names[c]: (float(cm[c, c] / cm[c].sum()) if cm[c].sum() else None) for c in labels}
    # kappa is undefined (nan from sklearn) when both raters use a single class; report None then
    kappa = float(cohen_kappa_score(y, pred, labels=labels)) if len(set(y) | set(pred)) > 1 else None
    if kappa is not None and not np.isfinite(kappa):
        kappa = None
    return {
        "n": int(len(y)),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "aca": balanced_accuracy(y, pred, k),
        "auc": auc_score(y, s),
        "f1": float(f1_score(y, pred, labels=[c for c in labels if (y == c).any() or (pred == c).any()],
                             average="macro", zero_division=0)),
        "kappa": kappa,
        "threshold": threshold,
        "per_class_recall": recall,
        "confusion_matrix": cm.tolist(),
        "class_names": names,
    }


def _default_objective(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return balanced_accuracy(y_true, y_pred)


def choose_threshold(y_val: Any, positive_scores: Any, objective: Objective | None = None) -> float:
    """Pick the binary decision threshold that maximises ``objective`` on VALIDATION scores only.

    Candidates are the midpoints between consecutive distinct scores (plus both ends); ties go to the
    candidate closest to 0.5 so an uninformative validation set keeps the usual threshold.
    """
    y = np.asarray(y_val).astype(np.int64).reshape(-1)
    p = np.asarray(positive_scores, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} validation labels but {p.size} scores")
    if y.size == 0:
        raise ValueError("threshold search needs validation data, got none")
    objective = objective or _default_objective
    u = np.unique(p)
    candidates = np.concatenate([[u[0] - 1e-6], (u[1:] + u[:-1]) / 2, [u[-1] + 1e-6]])
    best_t, best_v = 0.5, -np.inf
    for t in candidates:
        v = float(objective(y, (p >= t).astype(np.int64)))
        if v > best_v + 1e-12 or (abs(v - best_v) <= 1e-12 and abs(t - 0.5) < abs(best_t - 0.5)):
            best_t, best_v = float(t), v
    return best_t


def summarise(runs: Sequence[dict[str, Any]], keys: Sequence[str] = ("accuracy", "aca", "auc", "f1", "kappa")) -> dict:
    """Mean and standard deviation of each metric over folds/reshuffles (None values are skipped)."""
    out: dict[str, Any] = {}
    for key in keys:
        vals = [r[key] for r in runs if r.get(key) is not None and np.isfinite(r[key])]
        out[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)} if vals else None
    return out
