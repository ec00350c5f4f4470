"""AdamW parameter groups and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float, lr: float, text_lr_scale: float = 1.0,
                 decay_on: str = "matrices") -> list[dict[str, Any]]:
    """AdamW groups. ``decay_on="matrices"``: weight matrices and kernels decayed, biases, norm weights and
    the logit scale not; ``"all"``: everything decayed (the reference). The text encoder (``text.*``, not its
    projection) learns at ``lr * text_lr_scale``. Empty groups are left out."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = decay_on == "all" or (p.ndim >= 2 and "logit_scale" not in name)
        groups.setdefault((decay, name.startswith("text.")), []).append(p)
    return [{"params": ps, "weight_decay": weight_decay if decay else 0.0,
             "lr": lr * (text_lr_scale if text else 1.0)}
            for (decay, text), ps in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))]


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float,
                  horizon: int | None = None) -> Callable[[int], float]:
    """LR multiplier: linear warm-up over ``warmup_steps``, then cosine to ``min_ratio`` at ``horizon`` steps
    (default ``total_steps``: the real run length; the reference's horizon was a fixed 100 epochs)."""
    end = horizon or total_steps

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, end - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def build_optimizer(model: nn.Module, tc: TrainConfig, device: torch.device, total_steps: int, warmup: int,
                    steps_per_epoch: int) -> tuple[torch.optim.Optimizer, Any]:
    """(AdamW, LambdaLR) for ``model``'s trainable parameters."""
    optimizer = torch.optim.AdamW(
        param_groups(model, tc.weight_decay, tc.lr, tc.text_lr_scale, tc.weight_decay_on),
        lr=tc.lr, betas=(tc.betas[0], tc.betas[1]), eps=tc.eps, fused=device.type == "cuda",
    )
    horizon = round(tc.cosine_epochs * steps_per_epoch) if tc.cosine_epochs else None
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, warmup, tc.min_lr_ratio, horizon))
    return optimizer, scheduler
