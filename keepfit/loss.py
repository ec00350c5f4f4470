"""Label-aware (FLAIR) CLIP loss, tiled so the N x N logit matrix is never materialised.

Conventions. Image features I and text features T are (N, D), expected L2-normalised; `s` is the logit
scale as a multiplier (already exp'd). Logits are X = s * I @ T.T: row i is image i scored against every
text, column j is text j scored against every image. Class ids c give soft targets
Y_ij = [c_i == c_j] / n_{c_i} (identity ids give plain CLIP; Y is symmetric). The two named terms are

    loss_img = mean_i CE(X[i, :], Y[i, :])   (rows: image -> text)
    loss_txt = mean_j CE(X[:, j], Y[:, j])   (columns: text -> image)
    loss     = (loss_img + loss_txt) / 2

FLAIR's reference writes X' = s * T @ I.T = X.T, so its "row" term CE(X', Y) is our `loss_txt` and its
"column" term CE(X'.T, Y) our `loss_img`; the total is identical.

Because sum_j Y_ij X_ij = s * I_i . Tbar_{c_i} (Tbar_c: mean text feature of class c) and the column
target sum equals the row one, each term is mean(LSE) - (s/N) * sum_i I_i . Tbar_{c_i}: the target part is
O(N*D) and left to autograd; only the log-sum-exps need the N x N logits. `_TiledLogSumExp` computes them
row chunk by row chunk (fp32 accumulation, online column log-sum-exp, running max per row and column) and
recomputes each chunk in backward. The per-chunk elementwise work is one fused function, compiled with
`torch.compile` on CUDA when available, plain eager PyTorch otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor
from torch.autograd.function import once_differentiable

from keepfit.distributed import (
    all_gather_no_grad,
    all_gather_with_grad,
    all_reduce_logsumexp,
    all_reduce_sum,
    get_rank,
    get_world_size,
)

Backend = Literal["auto", "compile", "eager"]
BACKENDS: tuple[str, ...] = ("auto", "compile", "eager")

# Chunk-sized (rows x N) fp32 buffers alive at once in the eager backward (raw, x, g, g in the matmul
# dtype) plus slack; used to turn a memory budget into a chunk size.
_TILE_BUFFERS = 5
_CPU_TILE_BUDGET = 128 * 2**20
_CUDA_TILE_BUDGET_MAX = 2 * 2**30
_CUDA_TILE_BUDGET_MIN = 64 * 2**20


def choose_chunk_size(
    n_rows: int, n_cols: int, device: torch.device, acc_bytes: int = 4, budget_bytes: int | None = None
) -> int:
    """Rows per chunk so that a chunk's tile buffers fit the budget (a quarter of free GPU memory, capped).

    Chunks are equalised (ceil(n_rows / n_chunks)) so the last one is not a tiny ragged remainder.
    """
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"choose_chunk_size needs n_rows, n_cols >= 1, got {n_rows}, {n_cols}")
    if budget_bytes is None:
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            # Memory cached by PyTorch's allocator is reusable by us even though the driver calls it used.
            free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
            budget_bytes = min(max(free // 4, _CUDA_TILE_BUDGET_MIN), _CUDA_TILE_BUDGET_MAX)
        else:
            budget_bytes = _CPU_TILE_BUDGET
    rows = max(1, budget_bytes // (n_cols * acc_bytes * _TILE_BUFFERS))
    if rows >= n_rows:
        return n_rows
    n_chunks = math.ceil(n_rows / rows)
    return math.ceil(n_rows / n_chunks)


# ----------------------------------------------------------------------------------------------------
# Per-chunk elementwise kernels. The eager versions work in place to keep temporaries down; the
# functional versions are what torch.compile fuses (one pass over the tile each).


def _fwd_tile_eager(raw: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column log-sum-exp of scale * raw (raw is consumed)."""
    x = raw.mul_(scale)
    return torch.logsumexp(x, dim=1), torch.logsumexp(x, dim=0)


def _fwd_tile_functional(raw: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
    """Same as `_fwd_tile_eager` without mutation (for torch.compile)."""
    x = raw * scale
    return torch.logsumexp(x, dim=1), torch.logsumexp(x, dim=0)


def _bwd_tile_eager(
    raw: Tensor,
    scale: Tensor,
    lse_row: Tensor,
    lse_col: Tensor,
    g_row: Tensor,
    g_col: Tensor,
    out_dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    """G = g_row * softmax_rows(X) + g_col * softmax_cols(X) for X = scale * raw, and sum(G * raw)."""
    x = raw * scale
    g = torch.sub(x, lse_row[:, None]).exp_().mul_(g_row[:, None])
    g.add_(x.sub_(lse_col[None, :]).exp_().mul_(g_col[None, :]))
    ds = torch.dot(g.view(-1), raw.view(-1))
    return g.to(out_dtype), ds


def _bwd_tile_functional(
    raw: Tensor,
    scale: Tensor,
    lse_row: Tensor,
    lse_col: Tensor,
    g_row: Tensor,
    g_col: Tensor,
    out_dtype: torch.dtype,
) -> tuple[Tensor, Tensor]:
    """Same as `_bwd_tile_eager` without mutation (for torch.compile)."""
    x = raw * scale
    g = g_row[:, None] * torch.exp(x - lse_row[:, None]) + g_col[None, :] * torch.exp(x - lse_col[None, :])
    return g.to(out_dtype), (g * raw).sum()


_KERNELS: dict[str, tuple[Callable, Callable]] = {
    "fwd": (_fwd_tile_eager, _fwd_tile_functional),
    "bwd": (_bwd_tile_eager, _bwd_tile_functional),
}
_compiled: dict[str, Callable] = {}
_compile_failed = False


def _compile_available(device: torch.device) -> bool:
    """'auto' compiles only on CUDA with Triton present (CPU inductor would need a C++ toolchain)."""
    if device.type != "cuda" or _compile_failed:
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _run_tile(name: str, backend: str, device: torch.device, *args):
    """Run a tile kernel with the chosen backend; 'auto' falls back to eager (with a warning) on failure."""
    global _compile_failed
    eager, functional = _KERNELS[name]
    if backend == "eager" or (backend == "auto" and not _compile_available(device)):
        return eager(*args)
    fn = _compiled.get(name)
    if fn is None:
        fn = _compiled[name] = torch.compile(functional, fullgraph=True)
    if backend == "compile":
        return fn(*args)
    try:
        return fn(*args)
    except torch.OutOfMemoryError:
        raise
    except Exception as err:  # noqa: BLE001 -- any compiler/toolchain failure: use the eager kernels
        _compile_failed = True
        warnings.warn(
            f"contrastive_loss: torch.compile of the '{name}' tile failed ({type(err).__name__}: "
            f"{err}); using the eager kernels from now on",
            RuntimeWarning,
            stacklevel=2,
        )
        return eager(*args)


# ----------------------------------------------------------------------------------------------------
# Matmuls with fp32 accumulation/output for low-precision inputs.

_mm_out_dtype_ok: dict[tuple[str, torch.dtype], bool] = {}


def _supports_mm_out_dtype(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether torch.mm(a, b, out_dtype=float32) runs for `dtype` inputs on `device` (CUDA only today)."""
    key = (device.type, dtype)
    if key not in _mm_out_dtype_ok:
        ok = False
        if device.type == "cuda":
            probe = torch.zeros(16, 16, dtype=dtype, device=device)
            try:
                ok = torch.mm(probe, probe, out_dtype=torch.float32).dtype == torch.float32
            except (RuntimeError, TypeError):
                ok = False
        _mm_out_dtype_ok[key] = ok
    return _mm_out_dtype_ok[key]


def _compute_dtypes(dtype: torch.dtype) -> tuple[torch.dtype, torch.dtype]:
    """(matmul operand dtype, accumulation dtype): bf16 operands with fp32 accumulation and output; fp16 is
    upcast to fp32 (the backward tile G ~ 1/N would underflow fp16's range); fp32/fp64 compute as is."""
    if dtype == torch.bfloat16:
        return dtype, torch.float32
    if dtype == torch.float16:
        return torch.float32, torch.float32
    return dtype, dtype


def _mm(a: Tensor, b: Tensor, acc: torch.dtype) -> Tensor:
    """a @ b with an `acc`-dtype result. Low-precision operands use CUDA's fp32-output matmul; elsewhere
    they are upcast, which gives the same numbers (bf16/fp16 products are exact in fp32)."""
    if a.dtype == acc and b.dtype == acc:
        return torch.mm(a, b)
    if a.dtype == b.dtype and _supports_mm_out_dtype(a.device, a.dtype):
        return torch.mm(a, b, out_dtype=acc)
    return torch.mm(a.to(acc), b.to(acc))


def _operands(img: Tensor, txt: Tensor, work: torch.dtype, acc: torch.dtype) -> tuple[Tensor, Tensor]:
    """Matmul operands; upcast once up front where no fp32-output matmul exists for `work`."""
    if work != acc and not _supports_mm_out_dtype(img.device, work):
        return img.to(acc), txt.to(acc)
    return img.to(work), txt.to(work)


# ----------------------------------------------------------------------------------------------------


class _TiledLogSumExp(torch.autograd.Function):
    """Row LSE (this rank's rows) and column LSE (all columns) of X = s * I @ T.T, chunk by chunk.

    With `multi_rank`, I holds this rank's rows, T all ranks' texts; the column statistics are combined
    over the ranks of `group` (None: the default group), and the column gradient is summed over ranks in
    backward (every rank's rows feed every column's LSE).
    """

    @staticmethod
    def forward(
        ctx,
        img: Tensor,
        txt: Tensor,
        scale: Tensor,
        chunk_size: int,
        backend: str,
        multi_rank: bool,
        group: dist.ProcessGroup | None,
    ) -> tuple[Tensor, Tensor]:
        work, acc = _compute_dtypes(img.dtype)
        # Autocast would run the matmuls in bf16 with a bf16 result: the precision we are avoiding.
        with torch.autocast(device_type=img.device.type, enabled=False):
            (i_w, t_w), s = _operands(img, txt, work, acc), scale.to(acc)
            n = img.shape[0]
            lse_row = torch.empty(n, dtype=acc, device=img.device)
            lse_col = torch.full((txt.shape[0],), -math.inf, dtype=acc, device=img.device)
            t_w_t = t_w.t()
            for start in range(0, n, chunk_size):
                stop = min(start + chunk_size, n)
                raw = _mm(i_w[start:stop], t_w_t, acc)
                row, col = _run_tile("fwd", backend, img.device, raw, s)
                lse_row[start:stop] = row
                lse_col = torch.logaddexp(lse_col, col)
            if multi_rank:
                lse_col = all_reduce_logsumexp(lse_col, group)
        ctx.save_for_backward(img, txt, scale, lse_row, lse_col)
        ctx.chunk_size, ctx.backend, ctx.multi_rank, ctx.group = chunk_size, backend, multi_rank, group
        return lse_row, lse_col

    @staticmethod
    @once_differentiable
    def backward(ctx, g_row: Tensor, g_col: Tensor):
        img, txt, scale, lse_row, lse_col = ctx.saved_tensors
        if ctx.multi_rank:
            g_col = all_reduce_sum(g_col, ctx.group)
        work, acc = _compute_dtypes(img.dtype)
        need_img, need_txt, need_scale = ctx.needs_input_grad[:3]
        with torch.autocast(device_type=img.device.type, enabled=False):
            (i_w, t_w), s = _operands(img, txt, work, acc), scale.to(acc)
            g_row, g_col = g_row.to(acc), g_col.to(acc)
            n = img.shape[0]
            d_img = torch.empty(img.shape, dtype=acc, device=img.device) if need_img else None
            d_txt = torch.zeros(txt.shape, dtype=acc, device=img.device) if need_txt else None
            d_scale = torch.zeros((), dtype=acc, device=img.device)
            t_w_t = t_w.t()
            for start in range(0, n, ctx.chunk_size):
                stop = min(start + ctx.chunk_size, n)
                i_chunk = i_w[start:stop]
                raw = _mm(i_chunk, t_w_t, acc)
                g, ds = _run_tile(
                    "bwd",
                    ctx.backend,
                    img.device,
                    raw,
                    s,
                    lse_row[start:stop],
                    lse_col,
                    g_row[start:stop],
                    g_col,
                    work,
                )
                del raw
                d_scale += ds
                if need_img:
                    d_img[start:stop] = _mm(g, t_w, acc)
                if need_txt:
                    d_txt += _mm(g.t(), i_chunk, acc)
        # dX/dI = s * T etc.: the scale is applied once to the O(N*D) results, not to every tile.
        return (
            (d_img * s).to(img.dtype) if need_img else None,
            (d_txt * s).to(txt.dtype) if need_txt else None,
            d_scale.to(scale.dtype).reshape(scale.shape) if need_scale else None,
            None,
            None,
            None,
            None,
        )


def _check_inputs(img: Tensor, txt: Tensor, scale: Tensor, class_ids: Tensor | None) -> None:
    """Shapes, dtypes, devices and finiteness; raises ValueError naming the offending input."""
    if img.ndim != 2 or txt.ndim != 2 or img.shape != txt.shape:
        raise ValueError(
            "contrastive_loss: image_features and text_features must both be (N, D) with the "
            f"same shape, got {tuple(img.shape)} and {tuple(txt.shape)}"
        )
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(
            f"contrastive_loss: need N >= 1 and D >= 1, got features of shape {tuple(img.shape)}"
        )
    for name, t in (("image_features", img), ("text_features", txt), ("logit_scale", scale)):
        if not t.is_floating_point():
            raise ValueError(f"contrastive_loss: {name} must be a floating-point tensor, got {t.dtype}")
    if img.device != txt.device:
        raise ValueError(f"contrastive_loss: features on different devices ({img.device} vs {txt.device})")
    if scale.numel() != 1:
        raise ValueError(f"contrastive_loss: logit_scale must hold one value, got shape {tuple(scale.shape)}")
    if class_ids is not None:
        if class_ids.shape != (img.shape[0],):
            raise ValueError(
                f"contrastive_loss: class_ids must have shape ({img.shape[0]},), got {tuple(class_ids.shape)}"
            )
        if class_ids.is_floating_point() or class_ids.is_complex() or class_ids.dtype == torch.bool:
            raise ValueError(f"contrastive_loss: class_ids must be an integer tensor, got {class_ids.dtype}")
    # One host sync for all three checks.
    finite = torch.stack(
        [torch.isfinite(img).all(), torch.isfinite(txt).all(), torch.isfinite(scale).all().to(img.device)]
    )
    if not bool(finite.all()):
        bad = [
            name
            for name, ok in zip(
                ("image_features", "text_features", "logit_scale"), finite.tolist(), strict=True
            )
            if not ok
        ]
        raise ValueError(f"contrastive_loss: {', '.join(bad)} contain NaN or Inf values")


def _target_dot(
    img: Tensor, txt_local: Tensor, txt_all: Tensor, ids_all: Tensor | None, offset: int, acc: torch.dtype
) -> Tensor:
    """sum_i I_i . Tbar_{c_i} over this rank's rows, with class means over the global batch (O(N*D))."""
    img_acc = img.to(acc)
    if ids_all is None:
        return (img_acc * txt_local.to(acc)).sum()
    _, inverse = torch.unique(ids_all, return_inverse=True)
    counts = torch.bincount(inverse).to(acc)
    sums = torch.zeros((counts.shape[0], txt_all.shape[1]), dtype=acc, device=txt_all.device)
    sums = sums.index_add(0, inverse, txt_all.to(acc))
    means = sums / counts[:, None]
    return (img_acc * means[inverse[offset : offset + img.shape[0]]]).sum()


def contrastive_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor,
    class_ids: Tensor | None = None,
    *,
    chunk_size: int | None = None,
    distributed: bool = False,
    process_group: dist.ProcessGroup | None = None,
    backend: Backend = "auto",
) -> dict[str, Tensor]:
    """Label-aware CLIP loss of (N, D) image/text features (expected L2-normalised) at logit scale s.

    logit_scale is the multiplier s (already exp'd); class_ids are (N,) int64 global ids, None = identity
    (plain CLIP). Returns {'loss', 'loss_img' (rows: image -> text), 'loss_txt' (columns: text -> image)},
    fp32 scalars for bf16/fp16/fp32 input (fp64 for fp64). chunk_size: rows per tile (default: from N and
    free memory). backend: 'compile' | 'eager' | 'auto' (compile on CUDA, eager elsewhere or on failure).

    distributed=True with an initialised process group of W > 1 ranks: each rank passes its own rows; text
    features and class ids are gathered (texts with autograd), this rank computes its row block of the
    global N x N problem, column statistics are combined across ranks. Every rank returns the full-batch
    loss values, while the gradient that flows back is W times this rank's share, so that DDP's averaging
    over W ranks yields exactly the single-process full-batch gradient (for the model and for s). Every
    rank must call it (collectives), with at least one row, and either all ranks pass class ids or none.

    Pairs that share a caption must share a class id, or they become false negatives. Call it outside
    torch.compile'd code (an outer compile graph-breaks around it; the tile kernels compile on their own).
    """
    if backend not in BACKENDS:
        raise ValueError(f"contrastive_loss: backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(logit_scale, Tensor):
        logit_scale = torch.tensor(float(logit_scale), device=image_features.device)
    _check_inputs(image_features, text_features, logit_scale, class_ids)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"contrastive_loss: chunk_size must be >= 1, got {chunk_size}")
    dtype = torch.promote_types(image_features.dtype, text_features.dtype)
    img, txt = image_features.to(dtype), text_features.to(dtype)
    ids = None if class_ids is None else class_ids.to(img.device)

    world = get_world_size(process_group) if distributed else 1
    group = process_group
    if world > 1:
        txt_all, sizes = all_gather_with_grad(txt, group)
        ids_all = None if ids is None else all_gather_no_grad(ids, group)[0]
        offset = sum(sizes[: get_rank(group)])
    else:
        txt_all, ids_all, offset = txt, ids, 0
    n_local, n_total = img.shape[0], txt_all.shape[0]

    _, acc = _compute_dtypes(dtype)
    if chunk_size is None:
        chunk_size = choose_chunk_size(n_local, n_total, img.device, torch.finfo(acc).bits // 8)
    lse_row, lse_col = _TiledLogSumExp.apply(
        img, txt_all, logit_scale.reshape(()), chunk_size, backend, world > 1, group
    )
    target = logit_scale.reshape(()).to(acc) * _target_dot(img, txt, txt_all, ids_all, offset, acc) / n_total
    loss_img = lse_row.sum() / n_total - target
    loss_txt = lse_col[offset : offset + n_local].sum() / n_total - target
    if world > 1:
        loss_img, loss_txt = _ddp_consistent(loss_img, loss_txt, world=world, group=group)
    return {"loss": 0.5 * (loss_img + loss_txt), "loss_img": loss_img, "loss_txt": loss_txt}


def _ddp_consistent(*shares: Tensor, world: int, group: dist.ProcessGroup | None) -> list[Tensor]:
    """Value: the sum of the shares over ranks (the full-batch term). Gradient: world * this rank's share,
    because DDP divides the summed gradients by the world size."""
    totals = all_reduce_sum(torch.stack([share.detach() for share in shares]), group)
    return [world * share + (totals[k] - world * share).detach() for k, share in enumerate(shares)]


class LabelAwareContrastiveLoss(torch.nn.Module):
    """Module wrapper around `contrastive_loss` (same keyword options, fixed at construction)."""

    def __init__(
        self,
        *,
        chunk_size: int | None = None,
        distributed: bool = False,
        process_group: dist.ProcessGroup | None = None,
        backend: Backend = "auto",
    ) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"LabelAwareContrastiveLoss: backend must be one of {BACKENDS}, got {backend!r}")
        self.chunk_size, self.distributed, self.process_group, self.backend = (
            chunk_size,
            distributed,
            process_group,
            backend,
        )

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        class_ids: Tensor | None = None,
    ) -> dict[str, Tensor]:
        return contrastive_loss(
            image_features,
            text_features,
            logit_scale,
            class_ids,
            chunk_size=self.chunk_size,
            distributed=self.distributed,
            process_group=self.process_group,
            backend=self.backend,
        )
