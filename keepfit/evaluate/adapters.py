"""Few-shot adapters on frozen CLIP-style features: CLIP-Adapter, Tip-Adapter and Tip-Adapter-F.

All three start from the zero-shot classifier (class text embeddings ``W`` (K, D) and the model's
``scale = exp(logit_scale)``) and learn from the N labelled shots of each class. **N-shot means N labelled
images per class in total**: nothing else is ever labelled, and the test images never inform any choice.

* CLIP-Adapter (Gao et al. 2021): ``f' = norm(r * MLP(f) + (1 - r) * f)``, logits ``scale * f' W^T``.
* Tip-Adapter (Zhang et al. 2022): ``scale * f W^T + alpha * exp(-beta (1 - f F^T)) L`` with the shot
  features ``F`` as cache keys and their one-hot labels ``L`` as values; no training.
* Tip-Adapter-F: the cache keys are fine-tuned with cross-entropy on the shots.

Two protocols (:class:`FewShotConfig`):

* ``paper`` (FLAIR's ``adapters.py``, used by the MM-Retinal paper): fixed hyper-parameters (residual ratio
  0.2, reduction 4; alpha 1, beta 5; 40 epochs of AdamW lr 1e-3, batch 1), per class 20 % of the images as
  the test set and N shots from the rest, redrawn for every seed; mean and spread over the seeds. One fix:
  the reference trains Tip-Adapter-F on ``scale * f W^T + alpha * scale * cache / N`` but predicts with
  ``100 * f W^T + alpha * cache``; here training and prediction use the same logits.
* ``tuned``: the residual ratio / alpha / beta are chosen by stratified cross-validation *within the N
  shots* (folds = min(N, ``cv_folds``)); with one shot per class nothing can be validated and the paper's
  fixed values are used (the report says so).

Everything runs on pre-extracted, L2-normalised features, is seeded and CPU-cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ..errors import KeepfitError
from ..settings import Settings
from .metrics import Objective, balanced_accuracy, classification_metrics, summarise

METHODS: tuple[str, ...] = ("zero-shot", "clip-adapter", "tip-adapter", "tip-adapter-f")
Method = Literal["zero-shot", "clip-adapter", "tip-adapter", "tip-adapter-f"]


class FewShotConfig(Settings):
    """Protocol, seeds, training schedule and hyper-parameters (all recorded in the report)."""

    section: ClassVar[str] = "few_shot"

    protocol: Literal["paper", "tuned"] = "tuned"
    #: per class, drawn first for each seed (the paper's test split: 20 %)
    test_fraction: float = Field(0.2, gt=0, lt=1)
    #: one split (test part + shots) per seed; results are averaged over the seeds
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1)
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(1, ge=1)
    lr: float = Field(1e-3, gt=0)
    # fixed values (paper protocol; also the tuned protocol's fallback at one shot)
    clip_ratio: float = 0.2
    clip_reduction: int = Field(4, ge=1)
    tip_alpha: float = 1.0
    tip_beta: float = 5.0
    # grids searched by cross-validation within the shots (tuned protocol)
    cv_folds: int = Field(5, ge=2)
    clip_ratios: list[float] = Field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8])
    tip_alphas: list[float] = Field(default_factory=lambda: [0.1, 0.5, 1.0, 2.0, 3.0])
    tip_betas: list[float] = Field(default_factory=lambda: [1.0, 3.0, 5.0, 7.0])


# ----------------------------------------------------------------------------------------- sampling


def few_shot_split(y: Any, shots: int, seed: int, test_fraction: float) -> dict[str, np.ndarray]:
    """Disjoint ``test`` (``test_fraction`` of each class) and ``train`` (``shots`` per class) indices.

    The test part is drawn first, so for one seed it is the same for every shot count; the shots come
    from the rest with their own stream, so 1/5/10-shot sets are independent samples."""
    y = np.asarray(y).astype(np.int64)
    test_rng = np.random.default_rng(seed)
    shot_rng = np.random.default_rng([seed, shots])
    train, test = [], []
    for c in np.unique(y):
        idx = test_rng.permutation(np.flatnonzero(y == c))
        n_test = max(1, int(round(test_fraction * len(idx))))
        pool = shot_rng.permutation(idx[n_test:])
        if len(pool) < shots:
            raise KeepfitError(f"class {c}: {len(idx)} images leave {len(pool)} outside the test part, "
                               f"fewer than {shots} shots")
        test.append(idx[:n_test])
        train.append(pool[:shots])
    return {"train": np.sort(np.concatenate(train)), "test": np.sort(np.concatenate(test))}


# ------------------------------------------------------------------------------------------- models


def _t(x: Any) -> Tensor:
    return x.detach().cpu().float() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _norm(x: Tensor) -> Tensor:
    return F.normalize(x, dim=-1)


class ClipAdapter(nn.Module):
    """Residual bottleneck MLP on image features (CLIP-Adapter's visual adapter)."""

    def __init__(self, dim: int, reduction: int = 4, ratio: float = 0.2) -> None:
        super().__init__()
        self.ratio = ratio
        self.mlp = nn.Sequential(
            nn.Linear(dim, max(1, dim // reduction), bias=False), nn.ReLU(),
            nn.Linear(max(1, dim // reduction), dim, bias=False), nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return _norm(self.ratio * self.mlp(x) + (1 - self.ratio) * x)


def tip_logits(x: Tensor, W: Tensor, scale: float, keys: Tensor, values: Tensor, alpha: float, beta: float) -> Tensor:
    """Tip-Adapter logits: zero-shot logits plus ``alpha`` times the cache's affinity-weighted labels."""
    return scale * x @ W.T + alpha * torch.exp(-beta * (1 - x @ keys.T)) @ values


def _train(params: Sequence[Tensor], loss_fn: Callable[[Tensor], Tensor], n: int, cfg: FewShotConfig,
           seed: int, cosine: bool) -> None:
    """AdamW (eps 1e-4) for ``cfg.epochs`` seeded passes over the ``n`` shots in batches of ``cfg.batch_size``
    (FLAIR: 40 epochs of single samples), with cosine decay over all steps when ``cosine``."""
    opt = torch.optim.AdamW(params, lr=cfg.lr, eps=1e-4)
    steps = cfg.epochs * -(-n // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.epochs):
        for idx in torch.randperm(n, generator=g).split(cfg.batch_size):
            opt.zero_grad()
            loss_fn(idx).backward()
            opt.step()
            if sched is not None:
                sched.step()


class _Fitted:
    """An adapter fitted on (x, y) shots with given hyper-parameters; ``logits(x)`` for new features."""

    def __init__(self, method: str, xt: Tensor, yt: Tensor, W: Tensor, scale: float, hp: dict[str, float],
                 cfg: FewShotConfig, seed: int) -> None:
        self.method, self.W, self.scale, self.hp = method, W, scale, hp
        k = W.shape[0]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if method == "clip-adapter":
                self.adapter = ClipAdapter(xt.shape[1], cfg.clip_reduction, hp["ratio"])
                _train(list(self.adapter.parameters()),
                       lambda i: F.cross_entropy(scale * self.adapter(xt[i]) @ W.T, yt[i]),
                       len(yt), cfg, seed, cosine=True)
            elif method in ("tip-adapter", "tip-adapter-f"):
                self.values = F.one_hot(yt, k).float()
                self.keys = xt.clone()
                if method == "tip-adapter-f":
                    keys = nn.Parameter(xt.clone())
                    _train([keys], lambda i: F.cross_entropy(
                        tip_logits(xt[i], W, scale, keys, self.values, hp["alpha"], hp["beta"]), yt[i]),
                        len(yt), cfg, seed, cosine=False)
                    self.keys = keys.detach()
            elif method != "zero-shot":
                raise ValueError(f"unknown few-shot method {method!r}; choose from {', '.join(METHODS)}")

    @torch.no_grad()
    def logits(self, x: Tensor) -> Tensor:
        if self.method == "zero-shot":
            return self.scale * x @ self.W.T
        if self.method == "clip-adapter":
            return self.scale * self.adapter(x) @ self.W.T
        return tip_logits(x, self.W, self.scale, self.keys, self.values, self.hp["alpha"], self.hp["beta"])


def _grid(method: str, cfg: FewShotConfig) -> list[dict[str, float]]:
    if method == "clip-adapter":
        return [{"ratio": r} for r in cfg.clip_ratios]
    if method in ("tip-adapter", "tip-adapter-f"):
        return [{"alpha": a, "beta": b} for a in cfg.tip_alphas for b in cfg.tip_betas]
    return [{}]


def _fixed(method: str, cfg: FewShotConfig) -> dict[str, float]:
    if method == "clip-adapter":
        return {"ratio": cfg.clip_ratio}
    if method in ("tip-adapter", "tip-adapter-f"):
        return {"alpha": cfg.tip_alpha, "beta": cfg.tip_beta}
    return {}


def choose_hyperparameters(method: str, xt: Tensor, yt: Tensor, W: Tensor, scale: float, cfg: FewShotConfig,
                           seed: int, objective: Objective) -> tuple[dict[str, float], dict[str, Any]]:
    """(hyper-parameters, how they were chosen). Paper protocol: fixed. Tuned: the grid point with the best
    ``objective`` on out-of-fold predictions of a stratified k-fold over the shots themselves."""
    shots = int(np.bincount(yt.numpy()).min())
    if cfg.protocol == "paper" or method == "zero-shot":
        return _fixed(method, cfg), {"how": "fixed" if method != "zero-shot" else "none"}
    if shots < 2:
        return _fixed(method, cfg), {"how": "fixed", "why": "one shot per class: nothing to validate on"}
    from sklearn.model_selection import StratifiedKFold

    folds = min(shots, cfg.cv_folds)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(yt)), yt.numpy()))
    best, scores = None, {}
    for hp in _grid(method, cfg):
        pred = np.zeros(len(yt), dtype=np.int64)
        for a, b in splits:
            fitted = _Fitted(method, xt[a], yt[a], W, scale, hp, cfg, seed)
            pred[b] = fitted.logits(xt[b]).argmax(1).numpy()
        score = float(objective(yt.numpy(), pred))
        scores[repr(hp)] = score
        if best is None or score > best[1] + 1e-12:
            best = (hp, score)
    assert best is not None
    return best[0], {"how": f"{folds}-fold cross-validation within the shots", "cv_score": best[1],
                     "grid_scores": scores}


def fit_predict(method: str, train_x: Any, train_y: Any, test_x: Any, class_emb: Any, scale: float,
                cfg: FewShotConfig, seed: int = 0, objective: Objective | None = None
                ) -> tuple[Tensor, dict[str, Any]]:
    """Choose hyper-parameters from the shots only, fit ``method`` on all shots; (test logits, choice)."""
    objective = objective or (lambda yt, yp: balanced_accuracy(yt, yp))
    xt, xs = _norm(_t(train_x)), _norm(_t(test_x))
    yt = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    W = _norm(_t(class_emb))
    if method not in METHODS:
        raise ValueError(f"unknown few-shot method {method!r}; choose from {', '.join(METHODS)}")
    hp, how = choose_hyperparameters(method, xt, yt, W, scale, cfg, seed, objective)
    fitted = _Fitted(method, xt, yt, W, scale, hp, cfg, seed)
    return fitted.logits(xs), {**hp, **how}


def few_shot(
    features: Any,
    labels: Any,
    class_emb: Any,
    scale: float,
    class_names: Sequence[str],
    methods: Sequence[str] = ("clip-adapter", "tip-adapter", "tip-adapter-f"),
    shots: Sequence[int] = (1, 5, 10),
    cfg: FewShotConfig | None = None,
    objective: Objective | None = None,
) -> dict[str, Any]:
    """Every method at every shot count for every seed; per-run metrics and per (method, shots) mean / std."""
    cfg = cfg or FewShotConfig()
    X = np.asarray(_t(features))
    y = np.asarray(labels).astype(np.int64)
    runs, summary = [], []
    for n in shots:
        for method in methods:
            group = []
            for seed in cfg.seeds:
                split = few_shot_split(y, int(n), seed, cfg.test_fraction)
                logits, chosen = fit_predict(method, X[split["train"]], y[split["train"]], X[split["test"]],
                                             class_emb, scale, cfg, seed, objective)
                m = classification_metrics(y[split["test"]], logits.softmax(1).numpy(), class_names=class_names)
                m.update(method=method, shots=int(n), seed=seed, chosen=chosen,
                         indices={k: v.tolist() for k, v in split.items()})
                group.append(m)
            runs += group
            summary.append({"method": method, "shots": int(n), "n": group[0]["n"], "seeds": list(cfg.seeds),
                            **summarise(group)})
    return {"task": "few-shot", "protocol": cfg.protocol, "config": cfg.to_dict(),
            "class_names": list(class_names), "runs": runs, "summary": summary}
