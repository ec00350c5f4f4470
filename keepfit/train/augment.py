"""Batched, per-sample image augmentation on the device (the paper's recipe: flip, small affine, jitter).

Why not ``torchvision.transforms.v2`` on the batch: v2 samples one set of random parameters per call, so
every image of a batch would get the same flip/rotation/jitter. Here each sample draws its own parameters
from a dedicated ``torch.Generator`` (its state is checkpointed, so a resumed run augments identically),
and the work is a handful of vectorised ops: ``torch.where`` for flips, one ``affine_grid``/``grid_sample``
for the rotated/scaled subset, per-sample brightness/contrast factors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import AugmentConfig


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def augment_batch(x: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    """(B, 3, H, W) float in [0, 1] -> augmented copy in [0, 1]; parameters drawn per sample from ``gen``."""
    b, device = x.shape[0], x.device
    if b == 0 or not cfg.enabled:
        return x
    # Draw every random number up front, in a fixed order, so the stream does not depend on the data.
    flip = torch.rand(b, generator=gen, device=device) < cfg.hflip
    do_affine = torch.rand(b, generator=gen, device=device) < cfg.affine_p
    angle = _uniform(b, -cfg.degrees, cfg.degrees, gen, device) * (math.pi / 180)
    scale = _uniform(b, cfg.scale_min, cfg.scale_max, gen, device)
    do_jitter = torch.rand(b, generator=gen, device=device) < cfg.jitter_p
    bright = _uniform(b, 1 - cfg.brightness, 1 + cfg.brightness, gen, device)
    contrast = _uniform(b, 1 - cfg.contrast, 1 + cfg.contrast, gen, device)

    x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    if bool(do_affine.any()):
        idx = do_affine.nonzero().squeeze(1)
        cos, sin = torch.cos(angle[idx]) / scale[idx], torch.sin(angle[idx]) / scale[idx]
        zeros = torch.zeros_like(cos)
        # Output->input sampling matrix of a rotation by `angle` and zoom-out by `scale` about the centre.
        theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
        sub = x[idx]
        grid = F.affine_grid(theta.to(sub.dtype), list(sub.shape), align_corners=False)
        x = x.index_copy(
            0, idx, F.grid_sample(sub, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        )
    if bool(do_jitter.any()):
        one = torch.ones_like(bright)
        bright = torch.where(do_jitter, bright, one).view(b, 1, 1, 1).to(x.dtype)
        contrast = torch.where(do_jitter, contrast, one).view(b, 1, 1, 1).to(x.dtype)
        x = (x * bright).clamp(0, 1)
        gray_mean = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(dim=(1, 2)).view(b, 1, 1, 1)
        x = ((x - gray_mean) * contrast + gray_mean).clamp(0, 1)
    return x
