"""Knowledge enhancement: softmax over keys, top-k retrieval over the bank, stop-gradients, bank updates."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from keepfit.errors import KeepfitError
from keepfit.knowledge import KnowledgeBank, KnowledgeConfig, RevisionAttention, revise, revision_loss


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(
        torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), dim=-1
    )


def test_attention_is_a_softmax_over_keys_per_head() -> None:
    torch.manual_seed(0)
    att = RevisionAttention(8, heads=2).double()
    q, keys, values = _unit(3, 8, seed=1), _unit(5, 8, seed=2), _unit(5, 8, seed=3)
    out = att(q, keys, values)
    # written out: per head h, softmax_k(q_h . k_h / sqrt(d_h)) @ v_h, heads concatenated, output projection
    qh = att.q(q).view(3, 2, 4)
    kh, vh = att.k(keys).view(5, 2, 4), att.v(values).view(5, 2, 4)
    mixed = []
    for h in range(2):
        w = torch.softmax(qh[:, h] @ kh[:, h].T / 2.0, dim=-1)  # sums to 1 over the 5 keys
        assert torch.allclose(w.sum(-1), torch.ones(3, dtype=torch.float64))
        mixed.append(w @ vh[:, h])
    torch.testing.assert_close(out, att.out(torch.cat(mixed, dim=-1)))
    # per-query key sets (top-k) give the same result when every query gets the full set
    torch.testing.assert_close(att(q, keys.expand(3, 5, 8), values.expand(3, 5, 8)), out)


def test_retrieval_mode_borrows_the_text_of_the_most_similar_expert_image() -> None:
    keys, values = _unit(50, 16, seed=4), _unit(50, 16, seed=5)
    query = F.normalize(keys[[7, 31]] + 0.05 * _unit(2, 16, seed=6), dim=-1)
    cfg = KnowledgeConfig(mode="retrieval", topk=3, temperature=0.01)
    revised = revise(query, keys, values, cfg, attention=None)
    assert torch.allclose(revised, values[[7, 31]], atol=1e-3)


def test_topk_restricts_attention_to_the_nearest_keys() -> None:
    torch.manual_seed(0)
    att = RevisionAttention(16, heads=2).double()
    keys, values = _unit(40, 16, seed=7), _unit(40, 16, seed=8)
    query = _unit(4, 16, seed=9)
    cfg = KnowledgeConfig(mode="attention", topk=5)
    top = (query @ keys.T).topk(5, dim=-1).indices
    want = torch.stack(
        [F.normalize(att(query[i : i + 1], keys[top[i]], values[top[i]]), dim=-1)[0] for i in range(4)]
    )
    torch.testing.assert_close(revise(query, keys, values, cfg, att), want)
    assert not torch.allclose(revise(query, keys, values, KnowledgeConfig(topk=None), att), want)


def test_gradients_follow_the_chosen_stop_gradients() -> None:
    torch.manual_seed(0)
    att = RevisionAttention(16, heads=2).double()
    keys, values = _unit(20, 16, seed=10).requires_grad_(), _unit(20, 16, seed=11).requires_grad_()
    query, text = _unit(4, 16, seed=12).requires_grad_(), _unit(4, 16, seed=13).requires_grad_()
    cfg = KnowledgeConfig(topk=8)
    revision_loss(text, revise(query, keys, values, cfg, att), cfg).backward()
    assert query.grad is None and keys.grad is None and values.grad is None  # teacher side: no gradient
    assert text.grad is not None and att.q.weight.grad is not None
    query.grad = None
    revision_loss(
        text, revise(query, keys, values, KnowledgeConfig(topk=8, query_grad=True), att), cfg
    ).backward()
    assert query.grad is not None
    frozen = KnowledgeConfig(mode="retrieval")
    att.zero_grad()
    revision_loss(text, revise(query, keys, values, frozen, None), frozen).backward()
    assert all(p.grad is None or not p.grad.any() for p in att.parameters())


def test_revision_loss_is_cosine_distance_or_the_reference_mse() -> None:
    a, b = _unit(6, 8, seed=14), _unit(6, 8, seed=15)
    cfg = KnowledgeConfig(weight=2.5)  # the objective applies the weight; the term itself is unweighted
    want = (1 - (a * b).sum(-1)).mean()
    assert math.isclose(float(revision_loss(a, b, cfg)), float(want), rel_tol=1e-6)
    assert math.isclose(float(revision_loss(a, 3 * b, cfg)), float(want), rel_tol=1e-6)  # scale-free
    assert float(revision_loss(a, a, cfg)) == pytest.approx(0.0, abs=1e-6)
    # for unit vectors MSE = 2 (1 - cos) / D, so the reference's 100 x MSE is 200 / D = 0.39 x at D = 512
    mse = KnowledgeConfig(loss="mse", weight=100)
    assert math.isclose(float(revision_loss(a, b, mse)), float(2 * want / 8), rel_tol=1e-6)
    raw = 3 * b  # the reference's target is the raw attention output, not normalised
    assert math.isclose(float(revision_loss(a, raw, mse)), float(((a - raw) ** 2).mean()), rel_tol=1e-6)


def test_reference_softmax_over_heads_is_a_named_option() -> None:
    torch.manual_seed(0)
    att = RevisionAttention(8, heads=2, softmax_over="heads").double()
    q, keys, values = _unit(3, 8, seed=1), _unit(5, 8, seed=2), _unit(5, 8, seed=3)
    out = att(q, keys, values)
    # the reference: scores (heads, Q, K); F.softmax without dim normalises over dim 0 = the two heads,
    # then every key's value is summed with those weights
    qh = att.q(q).view(3, 2, 4).transpose(0, 1)
    kh, vh = att.k(keys).view(5, 2, 4).transpose(0, 1), att.v(values).view(5, 2, 4).transpose(0, 1)
    scores = qh @ kh.transpose(1, 2) / 2.0  # (2, 3, 5)
    w = torch.softmax(scores, dim=0)
    assert torch.allclose(w.sum(0), torch.ones(3, 5, dtype=torch.float64))
    want = att.out((w @ vh).transpose(0, 1).reshape(3, 8))
    torch.testing.assert_close(out, want)
    cfg = KnowledgeConfig(attention_softmax="heads", loss="mse", topk=None)
    torch.testing.assert_close(revise(q, keys, values, cfg, att), want)  # raw output for the MSE loss


def test_bank_momentum_update() -> None:
    bank = KnowledgeBank(6, 4).double()
    img, txt = _unit(3, 4, seed=16), _unit(3, 4, seed=17)
    bank.update(torch.tensor([0, 2, 4]), img, txt, momentum=0.9)
    torch.testing.assert_close(bank.image[[0, 2, 4]], img)  # first sight: copied, not blended with zeros
    assert bank.filled.tolist() == [True, False, True, False, True, False]
    new = _unit(1, 4, seed=18)
    bank.update(torch.tensor([2]), new, new, momentum=0.9)
    torch.testing.assert_close(bank.image[2], F.normalize(0.9 * img[1] + 0.1 * new[0], dim=0))
    # a row twice in one gathered batch: the last occurrence wins, deterministically
    two = _unit(2, 4, seed=19)
    bank.update(torch.tensor([5, 5]), two, two, momentum=0.5)
    torch.testing.assert_close(bank.image[5], two[1])
    image, _ = bank.entries()
    assert image.shape == (4, 4)


def test_bank_replace_and_config_validation() -> None:
    bank = KnowledgeBank(3, 4)
    with pytest.raises(KeepfitError, match="expected"):
        bank.replace(torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(KeepfitError, match="empty"):
        KnowledgeBank(0, 4)
    with pytest.raises(KeepfitError, match="knowledge.mode"):
        KnowledgeConfig.from_dict({"mode": "magic"})
    with pytest.raises(KeepfitError, match="knowledge.topk"):
        KnowledgeConfig.from_dict({"topk": 0})
    with pytest.raises(KeepfitError, match="detach_target"):
        KnowledgeConfig.from_dict({"mode": "attention", "detach_target": True})
