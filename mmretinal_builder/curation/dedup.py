"""Near-duplicate groups across all books of a run (the logic behind the ``dedup`` stage).

Input: one :class:`~.phash.Fingerprint` per picture, plus its size, caption hash and group (the figure it
belongs to). Steps (see :mod:`.phash` for why three):

1. candidates: pHash of any crop variant within ``phash_max_dist`` of the other's whole-picture pHash
   (multi-index hashing, no all-pairs loop);
2. filter: structure hash within ``structure_max_dist`` (same variant rule), aspect ratios within
   ``max_aspect_diff`` (log ratio), never two panels of one figure (a figure that shows an image and its
   annotated copy means both);
3. verify: pixel similarity of the thumbnails >= ``min_similarity``, or >= ``caption_min_similarity``
   when both captions hash alike (the same figure reprinted);
4. group verified pairs (union-find); in each group keep the best copy: a born-digital page's before a
   scanned or broken one (its picture is the publisher's, not a photograph of paper, and its caption was
   read from the text layer, not by OCR), then the largest picture (ties: first in run order); the others
   are its duplicates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict

from .phash import Fingerprint, near_pairs, popcount64, similarity


class DedupThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phash_max_dist: int = 10
    structure_max_dist: int = 14
    min_similarity: float = 0.80
    caption_min_similarity: float = 0.70
    max_aspect_diff: float = 0.10


@dataclass
class Item:
    """One picture taking part in dedup."""

    key: str
    group: str  # figure id: pictures of one group are never merged
    area: int
    caption_hash: str | None
    fp: Fingerprint
    born_digital: bool = True  # from a page with a usable text layer (a scan's copy loses to it)


@dataclass
class DedupResult:
    keepers: dict[int, list[int]] = field(default_factory=dict)  # kept index -> duplicate indices
    dropped: dict[int, int] = field(default_factory=dict)  # duplicate index -> kept index
    candidates: int = 0
    filtered: int = 0
    verified: int = 0
    similarities: dict[tuple[int, int], float] = field(default_factory=dict)


def caption_hash(text: str | None) -> str | None:
    """Hash of a caption's letters and digits (case, spacing and punctuation ignored)."""
    if not text:
        return None
    norm = re.sub(r"[\W_]+", "", text.lower())
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16] if norm else None


def _min_variant_dist(a: np.ndarray, b: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """For pairs (i, j): min over variants v of d(a[i, v], a[j, 0]) and d(a[j, v], a[i, 0])."""
    i, j = pairs[:, 0], pairs[:, 1]
    d1 = popcount64(a[i] ^ b[j][:, :1]).min(axis=1)
    d2 = popcount64(a[j] ^ b[i][:, :1]).min(axis=1)
    return np.minimum(d1, d2)


def find_duplicates(items: list[Item], thumb: Callable[[int], np.ndarray],
                    t: DedupThresholds | None = None) -> DedupResult:
    """Group near-duplicates; ``thumb(i)`` returns item i's thumbnail (loaded only for candidates)."""
    t = t or DedupThresholds()
    res = DedupResult()
    n = len(items)
    if n < 2:
        return res
    P = np.array([it.fp.phashes for it in items], dtype=np.uint64)  # (n, variants)
    S = np.array([it.fp.shashes for it in items], dtype=np.uint64)
    nv = P.shape[1]
    pairs = near_pairs(P[:, 0], P.reshape(-1), np.repeat(np.arange(n), nv), t.phash_max_dist)
    res.candidates = len(pairs)
    if len(pairs):
        sd = _min_variant_dist(S, S, pairs)
        asp = np.log(np.array([it.fp.aspect for it in items]))
        ok = (sd <= t.structure_max_dist) & (np.abs(asp[pairs[:, 0]] - asp[pairs[:, 1]]) <= t.max_aspect_diff)
        groups = [it.group for it in items]
        ok &= np.array([groups[a] != groups[b] for a, b in pairs], dtype=bool)
        pairs = pairs[ok]
    res.filtered = len(pairs)

    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    cache: dict[int, np.ndarray] = {}

    def get(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = thumb(i)
        return cache[i]

    for a, b in (tuple(map(int, p)) for p in pairs):
        sim = similarity(get(a), get(b))
        res.similarities[(a, b)] = sim
        same_caption = items[a].caption_hash is not None and items[a].caption_hash == items[b].caption_hash
        if sim >= t.min_similarity or (same_caption and sim >= t.caption_min_similarity):
            res.verified += 1
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

    clusters: dict[int, list[int]] = {}
    for i in range(n):
        clusters.setdefault(find(i), []).append(i)
    for members in clusters.values():
        if len(members) < 2:
            continue
        keep = max(members, key=lambda i: (items[i].born_digital, items[i].area, -i))
        res.keepers[keep] = sorted(m for m in members if m != keep)
        for m in res.keepers[keep]:
            res.dropped[m] = keep
    return res

