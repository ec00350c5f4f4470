"""The KeepFIT training objective: one module whose ``forward(batch) -> (losses, report)`` computes every loss
term of a micro-batch. The loop backpropagates ``losses["loss"]`` and logs every entry; DDP wraps this
module, so every tensor that carries gradients is computed inside the wrapped ``forward`` and DDP's hooks
really synchronise the gradients (the reference called its loss outside the wrapper and never synced).

Leaf terms (each a float32 scalar, unweighted):

=====================  =========================================================================  ==========
term                   what                                                                       weight
=====================  =========================================================================  ==========
``loss_public_img``    label-aware CLIP loss over the public batch, rows (image -> text)          1/2
``loss_public_txt``    ... columns (text -> image)                                                1/2
``loss_mm_img``        the same over the MM-Retinal batch (class id = caption, so pairs sharing   1/2
``loss_mm_txt``        a caption are not each other's negatives)                                  1/2
``loss_joint_img/txt`` with ``train.loss_mode=joint``: one loss over public + MM rows together     1/2
``loss_revision``      image-similarity-guided text revision (:mod:`keepfit.knowledge`)           knowledge.weight
=====================  =========================================================================  ==========

``losses["loss"]`` is the weighted sum: the paper's ``L_public + L_MM + w * L_revision`` with each
contrastive loss the mean of its two directions. With ``distributed=True`` and several ranks, the
contrastive terms use every rank's rows as negatives and their values are the global (full-batch) values on
every rank; their gradient is scaled so that DDP's averaging yields the single-process gradient
(:func:`keepfit.loss.contrastive_loss`). The revision term is this rank's mean.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..distributed import all_gather_no_grad
from ..knowledge import revise, revision_loss
from ..loss import contrastive_loss
from ..model import KeepFIT
from .config import Config


class Objective(nn.Module):
    """Encoders + knowledge revision + every loss term for one public + MM micro-batch."""

    def __init__(self, model: KeepFIT, cfg: Config, *, distributed: bool, revision: bool) -> None:
        super().__init__()
        self.model = model
        self.knowledge = cfg.knowledge
        self.loss_mode = cfg.train.loss_mode
        self.chunk_size = cfg.train.loss_chunk_size
        #: negatives (and the loss value) span every rank; False = this rank's rows only
        self.distributed = distributed
        self.revision = revision

    def weight(self, term: str) -> float:
        """Weight of a leaf term in ``losses["loss"]``."""
        return self.knowledge.weight if term == "loss_revision" else 0.5

    def forward(self, batch: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """``batch``: pixels (B, 3, H, W) in [0, 1], input_ids / attention_mask (B, L), class_ids (B,),
        n_public (public rows come first), optional bank_image / bank_text (K, D) revision keys / values.

        Returns (losses, report): ``losses`` = every leaf term and their weighted sum ``loss`` (with graph);
        ``report`` = detached image / text embeddings and the logit-scale multiplier."""
        model, n = self.model, int(batch["n_public"])
        image = model.encode_image(batch["pixels"])
        text = model.encode_text(batch["input_ids"], batch["attention_mask"])
        scale = model.scale()
        ids = batch["class_ids"]
        losses: dict[str, Tensor] = {}

        def contrastive(name: str, rows: slice) -> None:
            out = contrastive_loss(image[rows], text[rows], scale, ids[rows], chunk_size=self.chunk_size,
                                   distributed=self.distributed)
            losses[f"loss_{name}_img"], losses[f"loss_{name}_txt"] = out["loss_img"], out["loss_txt"]

        if self.loss_mode == "joint":
            contrastive("joint", slice(None))
        else:
            if n > 0:
                contrastive("public", slice(0, n))
            if image.shape[0] > n:
                contrastive("mm", slice(n, None))
        if self.revision and n > 0:
            keys, values = batch.get("bank_image"), batch.get("bank_text")
            if keys is None:  # knowledge.bank="batch": the current MM batch of every rank, as the reference
                keys = all_gather_no_grad(image[n:].detach())[0]
                values = all_gather_no_grad(text[n:].detach())[0]
            revised = revise(image[:n], keys, values, self.knowledge, model.revision)
            losses["loss_revision"] = revision_loss(text[:n], revised, self.knowledge)
        losses = {k: v.float() for k, v in losses.items()}
        total = torch.stack([self.weight(k) * v for k, v in losses.items()]).sum()
        report = {"image": image.detach(), "text": text.detach(), "scale": scale.detach()}
        return {"loss": total, **losses}, report
