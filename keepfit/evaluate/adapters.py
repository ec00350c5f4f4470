"""Few-shot adapters on frozen CLIP-style features: CLIP-Adapter, Tip-Adapter and Tip-Adapter-F.

All three start from the zero-shot classifier (class text embeddings ``W`` (K, D) and the model's
``scale = exp(logit_scale)``) and use ``N`` labelled shots per class. Their hyper-parameters (CLIP-Adapter's
residual ratio; Tip-Adapter's ``alpha``, ``beta``) are searched on a separate VALIDATION set of shots, never
on test labels. Everything runs on pre-extracted, L2-normalised features, is seeded and CPU-cheap.

* CLIP-Adapter (Gao et al. 2021): ``f' = norm(r * MLP(f) + (1 - r) * f)``, logits ``scale * f' W^T``.
* Tip-Adapter (Zhang et al. 2022): ``scale * f W^T + alpha * exp(-beta (1 - f F^T)) L`` with the shot
  features ``F`` as cache keys and their one-hot labels ``L`` as values; no training.
* Tip-Adapter-F: the cache keys are fine-tuned with cross-entropy on the train shots, then alpha/beta are
  searched again on validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import KeepfitError
from .metrics import Objective, balanced_accuracy, choose_threshold, classification_metrics

Method = Literal["zero-shot", "clip-adapter", "tip-adapter", "tip-adapter-f"]
METHODS: tuple[str, ...] = ("zero-shot", "clip-adapter", "tip-adapter", "tip-adapter-f")


@dataclass
class FewShotConfig:
    """Shots, seeds and hyper-parameter grids (recorded in the report)."""

    shots: int = 5
    val_shots: int | None = None  # validation shots per class; default: same as ``shots``
    test_fraction: float = 0.5  # per class, fixed by ``seed`` and independent of ``shots``
    seed: int = 42
    clip_ratios: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)
    clip_reduction: int = 4
    clip_steps: int = 200
    clip_lr: float = 1e-2  # the small bottleneck MLP barely moves at Tip-Adapter-F's 1e-3 in 200 steps
    tip_alphas: tuple[float, ...] = tuple(float(a) for a in np.linspace(0.1, 3.0, 10))
    tip_betas: tuple[float, ...] = tuple(float(b) for b in np.linspace(0.5, 7.0, 14))
    tip_f_steps: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    tune_threshold: bool = True


# ----------------------------------------------------------------------------------------- sampling


def few_shot_split(y: Any, cfg: FewShotConfig) -> dict[str, np.ndarray]:
    """Disjoint ``train`` (N shots/class), ``val`` (N' shots/class) and ``test`` indices.

    The test part is drawn first with ``cfg.seed`` alone, so it is the same for every shot count; shots are
    drawn from the rest with ``seed + shots`` so 1/5/10-shot runs are independent samples.
    """
    y = np.asarray(y).astype(np.int64)
    val_shots = cfg.shots if cfg.val_shots is None else cfg.val_shots
    test_rng = np.random.default_rng(cfg.seed)
    shot_rng = np.random.default_rng(cfg.seed + 1000 * cfg.shots)
    train, val, test = [], [], []
    for c in np.unique(y):
        idx = test_rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(cfg.test_fraction * len(idx)))
        pool = shot_rng.permutation(idx[n_test:])
        if len(pool) < cfg.shots + val_shots:
            raise KeepfitError(
                f"class {c}: {len(pool)} non-test samples, need {cfg.shots} train + {val_shots} validation shots"
            )
        test.append(idx[:n_test])
        train.append(pool[: cfg.shots])
        val.append(pool[cfg.shots : cfg.shots + val_shots])
    return {k: np.sort(np.concatenate(v)) for k, v in (("train", train), ("val", val), ("test", test))}


# ----------------------------------------------------------------------------------------- models


def _t(x: Any) -> Tensor:
    t = x.detach().cpu().float() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x), dtype=torch.float32)
    return t


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
    affinity = x @ keys.T
    return scale * x @ W.T + alpha * torch.exp(-beta * (1 - affinity)) @ values


def _train(params: Sequence[Tensor], loss_fn: Any, n: int, cfg: FewShotConfig, steps: int, lr: float) -> None:
    """AdamW with cosine decay over ``steps`` seeded mini-batches of the ``n`` train shots.

    Steps rather than epochs: 1-shot sets hold a handful of samples, so an epoch count would mean almost no
    training there and a lot at 10 shots.
    """
    opt = torch.optim.AdamW(params, lr=lr, eps=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    g = torch.Generator().manual_seed(cfg.seed)
    for _ in range(steps):
        idx = torch.randperm(n, generator=g)[: cfg.batch_size]
        opt.zero_grad()
        loss_fn(idx).backward()
        opt.step()
        sched.step()


# ----------------------------------------------------------------------------------------- search


def _score(objective: Objective, y: Tensor, logits: Tensor) -> float:
    return float(objective(y.numpy(), logits.argmax(1).numpy()))


def _search_tip(objective: Objective, xv: Tensor, yv: Tensor, W: Tensor, scale: float, keys: Tensor,
                values: Tensor, cfg: FewShotConfig) -> tuple[float, float, float]:
    best = (cfg.tip_alphas[0], cfg.tip_betas[0], -np.inf)
    with torch.no_grad():
        for beta in cfg.tip_betas:
            for alpha in cfg.tip_alphas:
                s = _score(objective, yv, tip_logits(xv, W, scale, keys, values, alpha, beta))
                if s > best[2] + 1e-12:
                    best = (alpha, beta, s)
    return best


def fit_predict(
    method: Method,
    train_x: Any, train_y: Any, val_x: Any, val_y: Any, test_x: Any,
    class_emb: Any, scale: float, cfg: FewShotConfig, objective: Objective | None = None,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Fit ``method`` on train shots, tune on validation shots; return (val_logits, test_logits, chosen)."""
    objective = objective or (lambda yt, yp: balanced_accuracy(yt, yp))
    xt, xv, xs = _norm(_t(train_x)), _norm(_t(val_x)), _norm(_t(test_x))
    yt, yv = torch.as_tensor(np.asarray(train_y), dtype=torch.long), torch.as_tensor(np.asarray(val_y), dtype=torch.long)
    W = _norm(_t(class_emb))
    k = W.shape[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if method == "zero-shot":
            return scale * xv @ W.T, scale * xs @ W.T, {}
        if method == "clip-adapter":
            best: tuple[float, ClipAdapter | None, float] = (cfg.clip_ratios[0], None, -np.inf)
            for ratio in cfg.clip_ratios:
                torch.manual_seed(cfg.seed)
                ad = ClipAdapter(xt.shape[1], cfg.clip_reduction, ratio)
                _train(list(ad.parameters()), lambda i, ad=ad: F.cross_entropy(scale * ad(xt[i]) @ W.T, yt[i]),
                       len(yt), cfg, cfg.clip_steps, cfg.clip_lr)
                with torch.no_grad():
                    s = _score(objective, yv, scale * ad(xv) @ W.T)
                if s > best[2] + 1e-12:
                    best = (ratio, ad, s)
            ad = best[1]
            assert ad is not None
            with torch.no_grad():
                return scale * ad(xv) @ W.T, scale * ad(xs) @ W.T, {"ratio": best[0], "val_score": best[2]}
        values = F.one_hot(yt, k).float()
        keys = xt.clone()
        chosen: dict[str, Any] = {}
        if method == "tip-adapter-f":
            a0, b0, _ = _search_tip(objective, xv, yv, W, scale, keys, values, cfg)
            keys = nn.Parameter(xt.clone())
            _train([keys], lambda i: F.cross_entropy(tip_logits(xt[i], W, scale, keys, values, a0, b0), yt[i]),
                   len(yt), cfg, cfg.tip_f_steps, cfg.lr)
            keys = keys.detach()
            chosen["init_alpha_beta"] = [a0, b0]
        elif method != "tip-adapter":
            raise ValueError(f"unknown few-shot method {method!r}; choose from {', '.join(METHODS)}")
        alpha, beta, s = _search_tip(objective, xv, yv, W, scale, keys, values, cfg)
        chosen.update(alpha=alpha, beta=beta, val_score=s)
        with torch.no_grad():
            return (tip_logits(xv, W, scale, keys, values, alpha, beta),
                    tip_logits(xs, W, scale, keys, values, alpha, beta), chosen)


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
    """Every method at every shot count on the same seeded test split; metrics per (method, shots)."""
    base = cfg or FewShotConfig()
    X = np.asarray(_t(features))
    y = np.asarray(labels).astype(np.int64)
    runs = []
    for n in shots:
        c = FewShotConfig(**{**asdict(base), "shots": int(n)})
        split = few_shot_split(y, c)
        for method in methods:
            val_logits, test_logits, chosen = fit_predict(
                method, X[split["train"]], y[split["train"]], X[split["val"]], y[split["val"]], X[split["test"]],
                class_emb, scale, c, objective)
            threshold = None
            if len(class_names) == 2 and c.tune_threshold:
                threshold = choose_threshold(y[split["val"]], val_logits.softmax(1)[:, 1].numpy(), objective)
            m = classification_metrics(y[split["test"]], test_logits.softmax(1).numpy(), class_names=class_names,
                                       threshold=threshold)
            m.update(method=method, shots=int(n), seed=c.seed, chosen=chosen,
                     indices={k: v.tolist() for k, v in split.items()})
            runs.append(m)
    return {"task": "few-shot", "config": asdict(base), "class_names": list(class_names), "runs": runs}
