"""torch.distributed helpers: rank/world queries, gathers that keep autograd, log-sum-exp all-reduce.

Every helper also works when torch.distributed is unavailable or not initialised (world size 1).
Gathers accept a different number of rows on each rank (the last, smaller batch of an epoch).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def is_initialized() -> bool:
    """True when torch.distributed is built in and a default process group exists."""
    return dist.is_available() and dist.is_initialized()


def get_world_size(group: dist.ProcessGroup | None = None) -> int:
    """World size of `group` (default group when None); 1 when not initialised."""
    return dist.get_world_size(group) if is_initialized() else 1


def get_rank(group: dist.ProcessGroup | None = None) -> int:
    """This process' rank in `group`; 0 when not initialised."""
    return dist.get_rank(group) if is_initialized() else 0


def gather_sizes(n: int, device: torch.device, group: dist.ProcessGroup | None = None) -> list[int]:
    """Every rank's leading-dimension size, in rank order."""
    world = get_world_size(group)
    if world == 1:
        return [n]
    mine = torch.tensor([n], dtype=torch.int64, device=device)
    parts = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(parts, mine, group=group)
    return [int(p.item()) for p in parts]


def _gather_padded(tensor: Tensor, sizes: list[int], group: dist.ProcessGroup | None) -> Tensor:
    """Concatenate every rank's `tensor` along dim 0; ranks may hold different numbers of rows."""
    tensor = tensor.contiguous()
    longest = max(sizes)
    if tensor.shape[0] < longest:
        pad = tensor.new_zeros((longest - tensor.shape[0], *tensor.shape[1:]))
        tensor = torch.cat([tensor, pad])
    parts = [torch.empty_like(tensor) for _ in sizes]
    dist.all_gather(parts, tensor, group=group)
    return torch.cat([part[:size] for part, size in zip(parts, sizes, strict=True)])


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums every rank's gradient for this rank's slice (a reduce-scatter)."""

    @staticmethod
    def forward(ctx, tensor: Tensor, sizes: list[int], rank: int, group: dist.ProcessGroup | None) -> Tensor:
        ctx.sizes, ctx.rank, ctx.group = sizes, rank, group
        return _gather_padded(tensor.detach(), sizes, group)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        # Every rank's loss depends on every gathered row, so this rank's rows get the sum over ranks.
        # all_reduce + slice instead of reduce_scatter: gloo has no reduce_scatter, and it is O(N*D) anyway.
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=ctx.group)
        start = sum(ctx.sizes[: ctx.rank])
        return total[start : start + ctx.sizes[ctx.rank]], None, None, None


def all_gather_with_grad(tensor: Tensor, group: dist.ProcessGroup | None = None) -> tuple[Tensor, list[int]]:
    """Gather `tensor` (rows on dim 0) from all ranks, differentiably; returns (gathered, per-rank sizes)."""
    sizes = gather_sizes(tensor.shape[0], tensor.device, group)
    if len(sizes) == 1:
        return tensor, sizes
    return _AllGatherWithGrad.apply(tensor, sizes, get_rank(group), group), sizes


def all_gather_no_grad(tensor: Tensor, group: dist.ProcessGroup | None = None) -> tuple[Tensor, list[int]]:
    """Gather `tensor` (rows on dim 0) from all ranks without autograd (e.g. class ids)."""
    sizes = gather_sizes(tensor.shape[0], tensor.device, group)
    if len(sizes) == 1:
        return tensor, sizes
    return _gather_padded(tensor.detach(), sizes, group), sizes


def all_reduce_sum(tensor: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """Sum of `tensor` over ranks, as a new tensor (the input is left untouched)."""
    total = tensor.detach().contiguous().clone()
    if get_world_size(group) > 1:
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return total


def all_reduce_logsumexp(lse: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """Combine per-rank partial log-sum-exps elementwise: log(sum_r exp(lse_r)), stable via a global max."""
    if get_world_size(group) == 1:
        return lse
    peak = lse.detach().contiguous().clone()
    dist.all_reduce(peak, op=dist.ReduceOp.MAX, group=group)
    # A column with no entries anywhere stays at -inf; shift by 0 there to avoid inf - inf.
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    total = torch.exp(lse - peak)
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
    return peak + torch.log(total)
