"""Evaluation tasks on a model and a labelled image set: zero-shot, linear probe, few-shot, retrieval.

Each runner returns a JSON-able dict with the task name, the metrics, the data description and every seed
and setting used; image features can be passed in so several tasks share one extraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from ..errors import KeepfitError
from .adapters import FewShotConfig, few_shot
from .datasets import LabeledImages, describe_sources, keep_classes_with
from .features import encode_images, encode_texts, logit_scale_value
from .linear_probe import ProbeConfig, linear_probe
from .retrieval import caption_groups, retrieval_metrics
from .zero_shot import DEFAULT_TEMPLATE, class_embeddings, class_prompts, zero_shot_evaluate


def image_features(model: Any, data: LabeledImages, batch_size: int = 32, space: str = "embedding") -> Tensor:
    """Embeddings (or ``space="backbone"``: the vision tower's pooled features) of every image of ``data``."""
    return encode_images(model, data.sources, batch_size=batch_size, space=space)


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, rest) indices: ``fraction`` of every class (at least one when the class has two or more)."""
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(idx)))
        n = min(max(n, 1 if len(idx) > 1 else 0), len(idx) - 1)
        held.append(idx[:n])
    h = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    return h, np.setdiff1d(np.arange(len(labels)), h)


def run_zero_shot(
    model: Any,
    data: LabeledImages,
    *,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    template: str = DEFAULT_TEMPLATE,
    include_class_name: bool = True,
    val_fraction: float = 0.0,
    seed: int = 42,
    batch_size: int = 32,
    image_emb: Tensor | None = None,
) -> dict[str, Any]:
    """Prompt-ensemble zero-shot classification; with ``val_fraction`` > 0 (binary tasks) the decision
    threshold is chosen on a stratified validation part and metrics are computed on the rest only."""
    prompts = class_prompts(data.class_names, descriptions, template, include_class_name)
    W = class_embeddings(model, prompts, batch_size=batch_size)
    x = image_emb if image_emb is not None else image_features(model, data, batch_size)
    val = test = None
    if val_fraction > 0:
        if len(data.class_names) != 2:
            raise KeepfitError("--val-fraction picks a binary decision threshold; this task has "
                               f"{len(data.class_names)} classes")
        val, test = stratified_holdout(data.labels, val_fraction, seed)
    r = zero_shot_evaluate(x, data.labels, W, logit_scale_value(model), data.class_names, val, test)
    r.update(prompts=prompts, template=template, seed=seed, val_fraction=val_fraction, data=describe_sources(data),
             logit_scale=logit_scale_value(model))
    return r


def run_linear_probe(model: Any, data: LabeledImages, cfg: ProbeConfig | None = None, *, batch_size: int = 32,
                     image_emb: Tensor | None = None) -> dict[str, Any]:
    """Logistic regression on frozen image features of ``cfg.features`` (``image_emb``: precomputed features
    of that kind); classes too small for the protocol are dropped."""
    cfg = cfg or ProbeConfig()
    x = image_emb if image_emb is not None else image_features(model, data, batch_size, cfg.features)
    minimum = cfg.folds if cfg.protocol == "kfold" else 2
    kept, dropped = keep_classes_with(data, minimum)
    if len(kept.class_names) < 2:
        raise KeepfitError(f"{data.name}: linear probe needs two classes with >= {minimum} images "
                           f"(counts: {data.counts()})")
    rows = [i for i, v in enumerate(data.labels) if data.class_names[int(v)] in kept.class_names]
    r = linear_probe(np.asarray(x)[rows], kept.labels, kept.class_names, cfg)
    r.update(data=describe_sources(kept), dropped_classes=dropped, seed=cfg.seed, features=cfg.features,
             feature_dim=int(np.asarray(x).shape[1]))
    return r


def run_few_shot(
    model: Any,
    data: LabeledImages,
    *,
    shots: Sequence[int] = (1, 5, 10),
    methods: Sequence[str] = ("clip-adapter", "tip-adapter", "tip-adapter-f"),
    cfg: FewShotConfig | None = None,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    template: str = DEFAULT_TEMPLATE,
    batch_size: int = 32,
    image_emb: Tensor | None = None,
) -> dict[str, Any]:
    """CLIP-Adapter / Tip-Adapter / Tip-Adapter-F at each shot count (N labelled images per class in total),
    starting from the zero-shot prompts; every seed of ``cfg`` draws its own test part and shots."""
    prompts = class_prompts(data.class_names, descriptions, template)
    W = class_embeddings(model, prompts, batch_size=batch_size)
    x = image_emb if image_emb is not None else image_features(model, data, batch_size)
    r = few_shot(x, data.labels, W, logit_scale_value(model), data.class_names, methods, shots, cfg)
    r.update(prompts=prompts, data=describe_sources(data))
    return r


def run_retrieval(model: Any, data: LabeledImages, *, batch_size: int = 32,
                  image_emb: Tensor | None = None, keep_ranks: bool = False) -> dict[str, Any]:
    """Image<->caption retrieval on pairs; pairs with the same (normalised) caption are correct matches."""
    if data.captions is None:
        raise KeepfitError(f"{data.name}: retrieval needs captions (an exported image-text dataset)")
    keep = [i for i, c in enumerate(data.captions) if c.strip()]
    if len(keep) < 2:
        raise KeepfitError(f"{data.name}: retrieval needs at least two captioned pairs")
    x = image_emb if image_emb is not None else image_features(model, data, batch_size)
    captions = [data.captions[i] for i in keep]
    t = encode_texts(model, captions, batch_size=batch_size)
    r = retrieval_metrics(np.asarray(x)[keep], t, groups=caption_groups(captions))
    if not keep_ranks:
        r.pop("ranks")
    r.update(task="retrieval", n_without_caption=len(data) - len(keep), data={"name": data.name, "n": len(keep)},
             matching="pairs whose captions are equal up to case and whitespace count as correct")
    return r


def probe_config_for(data: LabeledImages, seed: int, folds: int = 5) -> ProbeConfig | None:
    """k-fold settings that fit a small set (folds = min(folds, smallest usable class)); None if none fit."""
    counts = sorted(c for c in data.counts().values() if c >= 2)
    if len(counts) < 2:
        return None
    return ProbeConfig(protocol="kfold", folds=min(folds, counts[-2]), seed=seed)

