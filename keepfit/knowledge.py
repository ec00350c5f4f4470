"""Knowledge enhancement: an expert-knowledge bank of MM-Retinal embeddings and the image-similarity-guided
text revision of KeepFIT, done as the paper describes it (not as the reference code computes it).

Revision: each public image embedding (query) attends over MM-Retinal *image* embeddings (keys) and mixes
the matching MM-Retinal *text* embeddings (values), "borrowing the descriptions of the most similar expert
images". The result is an expert-informed text embedding; an auxiliary loss pulls the public sample's text
embedding towards it. Differences from the reference, on purpose:

* softmax over the keys (the reference's ``softmax`` without ``dim`` normalised over heads);
* keys/values come from a bank over the whole MM set (optionally top-k per query), not just the 24 samples
  of the current batch (``bank="batch"`` keeps that behaviour for comparison);
* bank entries and (by default) queries carry no gradient: the expert side is the teacher;
* attention dropout defaults to 0 (reference 0.5) and the loss weight is a config value, the loss a
  cosine distance ``mean(1 - cos(t, r))``. For unit vectors ``MSE = |t - r|^2 / D = 2 (1 - cos) / D``, so the
  reference's ``100 * MSE`` over D = 512 dims is ``200 / D = 0.39`` times the cosine distance (its revised
  embedding is not normalised, so the real ratio varies with the attention output's norm).

The reference's behaviour stays reachable, each as a named option: ``attention_softmax="heads"``,
``loss="mse"`` with ``weight=100``, ``bank="batch"``, ``topk=None``, ``model.revision_dropout=0.5``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from .distributed import all_gather_no_grad
from .errors import KeepfitError
from .settings import Settings


class KnowledgeConfig(Settings):
    """Knowledge-enhancement options (the ``knowledge`` section of a training config)."""

    section: ClassVar[str] = "knowledge"

    #: attention = the paper's multi-head attention (learned); retrieval = parameter-free softmax
    #: over cosine similarities; off = no revision loss
    mode: Literal["attention", "retrieval", "off"] = "attention"
    #: momentum = bank rows updated from each MM batch; refresh = whole MM set re-encoded every
    #: refresh_every steps; batch = only the current MM batch (the reference's behaviour)
    bank: Literal["momentum", "refresh", "batch"] = "momentum"
    momentum: float = Field(0.5, ge=0.0, lt=1.0)
    refresh_every: int = Field(500, ge=1)
    #: keys per query (None = the whole bank)
    topk: int | None = Field(32, ge=1)
    weight: float = 1.0
    #: cosine = weight * mean(1 - cos(text, revised)); mse = weight * MSE(text, raw attention output), the
    #: reference's loss (with weight 100)
    loss: Literal["cosine", "mse"] = "cosine"
    #: keys = softmax over the keys of each head (the method); heads = the reference's dim-less softmax, which
    #: normalises over the heads axis and lets every key contribute unnormalised
    attention_softmax: Literal["keys", "heads"] = "keys"
    #: let the revision loss move the image tower through the queries
    query_grad: bool = False
    #: treat the revised embedding as a fixed target (attention mode then has nothing to learn from it)
    detach_target: bool = False
    #: retrieval mode: softmax temperature over cosine similarities
    temperature: float = Field(0.05, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> KnowledgeConfig:
        if self.mode == "attention" and self.detach_target:
            raise ValueError("detach_target=true leaves the attention untrained; use mode=retrieval")
        return self


class RevisionAttention(nn.Module):
    """Multi-head attention (paper: 2 heads, 512-d) from query embeddings to (key, value) embedding sets.

    Keys/values are either shared by all queries, (K, D), or per query, (B, K, D) (top-k retrieval).
    The softmax runs over the K keys of each head.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, softmax_over: str = "keys") -> None:
        super().__init__()
        if dim % heads:
            raise KeepfitError(f"revision attention: {heads} heads do not divide dim {dim}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        #: "keys" (the method) or "heads" (the reference's bug, kept to reproduce its weights' behaviour)
        self.softmax_over = softmax_over
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        for lin in (self.q, self.k, self.v):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        nn.init.zeros_(self.out.bias)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """query (B, D); keys/values (K, D) or (B, K, D); key_mask (K,) or (B, K) True = usable -> (B, D)."""
        b, h, dh = query.shape[0], self.heads, self.head_dim
        q = self.q(query).view(b, h, 1, dh)
        if keys.dim() == 2:
            k = self.k(keys).view(-1, h, dh).transpose(0, 1).unsqueeze(0)  # (1, H, K, dh)
            v = self.v(values).view(-1, h, dh).transpose(0, 1).unsqueeze(0)
        else:
            k = self.k(keys).view(b, -1, h, dh).transpose(1, 2)  # (B, H, K, dh)
            v = self.v(values).view(b, -1, h, dh).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(dh)  # (B, H, 1, K)
        if key_mask is not None:
            mask = key_mask.view(1, 1, 1, -1) if key_mask.dim() == 1 else key_mask.view(b, 1, 1, -1)
            scores = scores.masked_fill(~mask, float("-inf"))
        if self.softmax_over == "heads":  # the reference: F.softmax(scores) on (heads, Q, K) picks dim 0
            attn = torch.softmax(scores.float(), dim=1)
        else:
            attn = torch.softmax(scores.float(), dim=-1)  # over the keys of each head
        attn = self.dropout(attn.to(v.dtype))
        mixed = (attn @ v).reshape(b, h * dh)
        return self.out(mixed)


class KnowledgeBank(nn.Module):
    """Image and text embeddings of the MM-Retinal training pairs (row = dataset index), no gradient.

    Buffers, so they travel with ``state_dict`` into checkpoints and resume exactly.
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1:
            raise KeepfitError("knowledge bank: the MM-Retinal training set is empty")
        self.register_buffer("image", torch.zeros(size, dim))
        self.register_buffer("text", torch.zeros(size, dim))
        self.register_buffer("filled", torch.zeros(size, dtype=torch.bool))

    @torch.no_grad()
    def update(self, index: Tensor, image: Tensor, text: Tensor, momentum: float) -> None:
        """Blend new embeddings of rows ``index`` in (first sight: copy), re-normalise. Same on every rank
        when called with gathered (global) tensors."""
        index = index.to(self.image.device)
        image, text = image.detach().to(self.image.dtype), text.detach().to(self.text.dtype)
        # A row seen twice in one (gathered) batch: keep the last occurrence, deterministically.
        order = torch.arange(index.shape[0], device=index.device)
        last = torch.zeros(self.image.shape[0], dtype=torch.long, device=index.device).scatter_reduce(
            0, index, order, reduce="amax", include_self=False
        )
        keep = last[index] == order
        index, image, text = index[keep], image[keep], text[keep]
        seen = self.filled[index].unsqueeze(-1)
        m = torch.where(seen, torch.full_like(image[:, :1], momentum), torch.zeros_like(image[:, :1]))
        self.image[index] = F.normalize(m * self.image[index] + (1 - m) * image, dim=-1)
        self.text[index] = F.normalize(m * self.text[index] + (1 - m) * text, dim=-1)
        self.filled[index] = True

    @torch.no_grad()
    def replace(self, image: Tensor, text: Tensor) -> None:
        """Overwrite the whole bank (a scheduled refresh)."""
        if image.shape != self.image.shape or text.shape != self.text.shape:
            raise KeepfitError(
                f"knowledge bank refresh: expected {tuple(self.image.shape)}, got "
                f"{tuple(image.shape)} / {tuple(text.shape)}"
            )
        self.image.copy_(F.normalize(image.float(), dim=-1))
        self.text.copy_(F.normalize(text.float(), dim=-1))
        self.filled.fill_(True)

    def entries(self) -> tuple[Tensor, Tensor]:
        """(image, text) embeddings of the filled rows."""
        if bool(self.filled.all()):
            return self.image, self.text
        return self.image[self.filled], self.text[self.filled]


def gather_for_bank(index: Tensor, image: Tensor, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """All ranks' (index, image, text) of an MM batch, detached, in rank order (identity on one process)."""
    return (
        all_gather_no_grad(index)[0],
        all_gather_no_grad(image.detach())[0],
        all_gather_no_grad(text.detach())[0],
    )


def revise(
    query: Tensor, keys: Tensor, values: Tensor, cfg: KnowledgeConfig, attention: nn.Module | None
) -> Tensor:
    """Expert-informed text embeddings (B, D) for public image embeddings ``query``: L2-normalised, except
    the raw attention output when ``cfg.loss == "mse"`` (the reference's target)."""
    q = query if cfg.query_grad else query.detach()
    keys, values = keys.detach().to(q.dtype), values.detach().to(q.dtype)
    sims = None
    if cfg.topk is not None and cfg.topk < keys.shape[0]:
        sims = F.normalize(q.detach(), dim=-1) @ keys.t()  # cosine: bank rows are unit vectors
        top = sims.topk(cfg.topk, dim=-1)
        keys, values, sims = keys[top.indices], values[top.indices], top.values  # (B, k, D), (B, k)
    if cfg.mode == "attention":
        if attention is None:
            raise KeepfitError("knowledge.mode=attention needs model.revision_heads > 0")
        attention.softmax_over = cfg.attention_softmax
        out = attention(q, keys, values)
        if cfg.loss == "mse":  # the reference compares the raw attention output
            return out
    else:  # parameter-free retrieval: softmax over cosine similarities
        if sims is None:
            sims = F.normalize(q, dim=-1) @ keys.t()
        weights = torch.softmax(sims.float() / cfg.temperature, dim=-1).to(values.dtype)
        out = (weights.unsqueeze(-1) * values).sum(-2) if values.dim() == 3 else weights @ values
    return F.normalize(out, dim=-1)


def revision_loss(public_text: Tensor, revised: Tensor, cfg: KnowledgeConfig) -> Tensor:
    """Unweighted revision loss: mean(1 - cos(public text, revised)), or the reference's MSE (``loss="mse"``);
    the target is detached when chosen (or parameter-free). The caller multiplies by ``cfg.weight``."""
    target = revised.detach() if (cfg.detach_target or cfg.mode == "retrieval") else revised
    if cfg.loss == "mse":
        return F.mse_loss(public_text.float(), target.float())
    cos = (F.normalize(public_text.float(), dim=-1) * F.normalize(target.float(), dim=-1)).sum(-1)
    return (1.0 - cos).mean()
