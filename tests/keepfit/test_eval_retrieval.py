"""Retrieval metrics: identical embeddings, shared captions, pessimistic ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from keepfit.evaluate.retrieval import caption_groups, retrieval_metrics


def test_identical_embeddings_give_perfect_recall():
    emb = torch.randn(40, 16)
    m = retrieval_metrics(emb, emb.clone())
    for d in ("i2t", "t2i"):
        assert m[f"{d}_R@1"] == 1.0 and m[f"{d}_R@10"] == 1.0
        assert m[f"{d}_median_rank"] == 1.0


def test_known_ranks():
    # image i is most similar to text (i + 1) % 3, then to its own text
    img = np.eye(3)
    txt = np.array([[0.9, 0, 1.0], [1.0, 0.9, 0], [0, 1.0, 0.9]])
    m = retrieval_metrics(img, txt, ks=(1, 2))
    assert m["ranks"]["i2t"] == [2, 2, 2]
    assert m["i2t_R@1"] == 0.0 and m["i2t_R@2"] == 1.0
    assert m["i2t_median_rank"] == 2.0


def test_pairs_sharing_a_caption_count_as_correct():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(4, 8))
    img[1] = img[0] + 0.01 * rng.normal(size=8)  # two panels of one figure
    # pairs 0 and 1 share a caption, so their text embeddings are the same vector
    txt = img.copy()
    txt[1] = txt[0]
    captions = ["Fig 1. Drusen.", "Fig 1.  drusen.", "Fig 2.", "Fig 3."]
    without = retrieval_metrics(img, txt)
    shared = retrieval_metrics(img, txt, groups=caption_groups(captions))
    assert shared["n_caption_groups"] == 3
    assert shared["i2t_R@1"] == 1.0 and shared["t2i_R@1"] == 1.0
    assert without["t2i_R@1"] < 1.0  # text 1 == text 0: one of the two images is ranked second


def test_ties_are_counted_against_the_query():
    m = retrieval_metrics(np.ones((5, 3)), np.ones((5, 3)))
    assert m["i2t_median_rank"] == 5.0 and m["i2t_R@1"] == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="must match"):
        retrieval_metrics(np.ones((3, 4)), np.ones((2, 4)))
