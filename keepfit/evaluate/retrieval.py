"""Image-text retrieval metrics: Recall@k in both directions and median rank.

Pairs that share a caption (panels of one figure often do; the released MM-Retinal CSV has 80 such rows)
count as correct matches for each other: retrieving any text with the same caption for an image is a hit,
and for a text every image whose caption is that text is a hit. Pass ``groups`` (one hashable key per pair,
e.g. the whitespace-normalised caption) to say which pairs are interchangeable; without it only the pair's
own partner is correct. Ties are counted pessimistically (a wrong item scored equal to the best right one
ranks ahead of it), so a constant model gets the worst rank, not the best.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


def caption_groups(captions: Sequence[str]) -> list[str]:
    """Group key per caption: whitespace collapsed and case folded, so trivially different copies match."""
    return [" ".join(str(c).split()).casefold() for c in captions]


def _normalise(x: Any) -> np.ndarray:
    a = np.asarray(x.detach().cpu().float().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {a.shape}")
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.clip(norms, 1e-12, None)


def _ranks(sim: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """1-based rank of the best-scored correct column in each row (ties counted against the query)."""
    best = np.where(correct, sim, -np.inf).max(axis=1, keepdims=True)
    wrong_ahead = ((sim >= best) & ~correct).sum(axis=1)
    return wrong_ahead + 1


def retrieval_metrics(
    image_emb: Any,
    text_emb: Any,
    groups: Sequence[Hashable] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    chunk: int = 1024,
) -> dict[str, Any]:
    """R@k (fractions in [0, 1]) for image->text and text->image, median and mean rank (1-based).

    Row ``i`` of ``image_emb`` and of ``text_emb`` form pair ``i``; similarity is cosine.
    """
    img = _normalise(image_emb)
    txt = _normalise(text_emb)
    if img.shape != txt.shape:
        raise ValueError(f"image embeddings {img.shape} and text embeddings {txt.shape} must match")
    n = img.shape[0]
    if n == 0:
        raise ValueError("retrieval needs at least one pair")
    keys = list(range(n)) if groups is None else list(groups)
    if len(keys) != n:
        raise ValueError(f"{len(keys)} group keys for {n} pairs")
    index: dict[Hashable, int] = {}
    codes = np.asarray([index.setdefault(k, len(index)) for k in keys])

    i2t = np.empty(n, dtype=np.int64)
    t2i = np.empty(n, dtype=np.int64)
    for s in range(0, n, chunk):
        rows = slice(s, min(s + chunk, n))
        correct = codes[rows, None] == codes[None, :]
        i2t[rows] = _ranks(img[rows] @ txt.T, correct)
        t2i[rows] = _ranks(txt[rows] @ img.T, correct)

    out: dict[str, Any] = {"n": n, "n_caption_groups": int(codes.max() + 1)}
    for name, ranks in (("i2t", i2t), ("t2i", t2i)):
        for k in ks:
            out[f"{name}_R@{k}"] = float((ranks <= k).mean())
        out[f"{name}_median_rank"] = float(np.median(ranks))
        out[f"{name}_mean_rank"] = float(ranks.mean())
    out["ranks"] = {"i2t": i2t.tolist(), "t2i": t2i.tolist()}
    return out
