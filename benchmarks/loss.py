"""Benchmark the tiled label-aware contrastive loss against naive N x N losses (forward + backward).

Protocol (docs/benchmarks.md, "Contrastive loss"): an N sweep at D = 512; methods interleaved within each
N: naive FLAIR loss under bf16 autocast, open_clip's ClipLoss under bf16 autocast if importable (else a
naive CLIP loss), ours eager and ours compiled on bf16 features; sizes in --tiled-only-sizes run only ours.
Per method and N: warm-ups (the first call timed apart: it includes compilation), timed repetitions
(CUDA events on GPU), median / p10 / p90, peak memory above the inputs, TFLOP/s = 8 N^2 D / t, and OOM
recorded as a result. Also the loss alone at the real global batch (--real-batch).

    python benchmarks/loss.py --out loss_bench.json                       # GPU, full protocol
    python benchmarks/loss.py --device cpu --sizes 256,512 --out cpu.json  # CPU smoke test
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "keepfit"))
from naive_loss import naive_clip_loss, naive_flair_loss  # noqa: E402

from keepfit.loss import _supports_mm_out_dtype, contrastive_loss  # noqa: E402

DEFAULT_SIZES = "4096,8192,16384,32768,65536"
DEFAULT_TILED_ONLY = "131072,262144"
TILED = ("ours_eager", "ours_compiled")


@dataclass
class Result:
    """One (method, N) cell; times in milliseconds, memory in bytes above the inputs."""

    method: str
    n: int
    status: str  # "ok", "OOM", or "skipped: <why>"
    reps: int = 0
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    tflops: float | None = None
    peak_mem_bytes: int | None = None
    first_call_s: float | None = None
    loss: float | None = None
    loss_rel_err: float | None = None  # against the fp32 tiled loss on the fp32 features
    times_ms: list[float] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100])."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _open_clip_loss() -> Callable | None:
    """open_clip's ClipLoss (single process), or None when open_clip is not installed."""
    try:
        from open_clip.loss import ClipLoss
    except ImportError:
        return None
    loss = ClipLoss()
    return lambda img, txt, scale: loss(img, txt, scale)


class Bench:
    """Inputs and timed closures for one N."""

    def __init__(self, n: int, dim: int, device: torch.device, seed: int = 0) -> None:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        img = F.normalize(torch.randn(n, dim, generator=gen), dim=1)
        txt = F.normalize(img + 0.8 * torch.randn(n, dim, generator=gen), dim=1)
        self.device = device
        self.n, self.dim = n, dim
        # FLAIR-style labels: many repeated categories (about 4 pairs per class).
        self.class_ids = torch.randint(0, max(1, n // 4), (n,), generator=gen).to(device)
        self.f32 = [t.to(device).requires_grad_() for t in (img, txt)]
        self.bf16 = [t.to(device=device, dtype=torch.bfloat16).requires_grad_() for t in (img, txt)]
        self.scale = torch.tensor(1 / 0.07, device=device, requires_grad=True)

    def reference_loss(self) -> float:
        """The loss on the fp32 features in fp32 (tiled, so it fits at every N): the accuracy yardstick."""
        with torch.no_grad():
            return float(contrastive_loss(*self.f32, self.scale, self.class_ids, backend="eager")["loss"])

    def leaves(self) -> list[torch.Tensor]:
        return [*self.f32, *self.bf16, self.scale]

    def clear_grads(self) -> None:
        for t in self.leaves():
            t.grad = None

    def step(self, method: str, clip_impl: Callable | None) -> torch.Tensor:
        """Forward + backward of one method; returns the detached loss."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16)
        img, txt = self.f32
        if method == "naive_flair_bf16":
            with autocast:
                loss = naive_flair_loss(img, txt, self.scale, self.class_ids)["loss"]
        elif method in ("open_clip_bf16", "naive_clip_bf16"):
            with autocast:
                loss = (clip_impl or naive_clip_loss)(img, txt, self.scale)
        elif method in TILED:
            backend = "eager" if method == "ours_eager" else "compile"
            loss = contrastive_loss(*self.bf16, self.scale, self.class_ids, backend=backend)["loss"]
        else:
            raise ValueError(f"unknown method {method!r}")
        loss.backward()
        return loss.detach()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(bench: Bench, method: str, clip_impl: Callable | None) -> tuple[float, torch.Tensor]:
    """Milliseconds of one forward + backward (CUDA events on GPU, wall clock on CPU)."""
    bench.clear_grads()
    if bench.device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        _sync(bench.device)
        start.record()
        loss = bench.step(method, clip_impl)
        end.record()
        end.synchronize()
        return start.elapsed_time(end), loss
    t0 = time.perf_counter()
    loss = bench.step(method, clip_impl)
    return (time.perf_counter() - t0) * 1e3, loss


def _peak_memory(bench: Bench, method: str, clip_impl: Callable | None) -> int | None:
    """Peak allocated bytes above what was allocated before the call (inputs), on CUDA only."""
    if bench.device.type != "cuda":
        return None
    bench.clear_grads()
    _sync(bench.device)
    base = torch.cuda.memory_allocated(bench.device)
    torch.cuda.reset_peak_memory_stats(bench.device)
    bench.step(method, clip_impl)
    _sync(bench.device)
    return torch.cuda.max_memory_allocated(bench.device) - base


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_size(
    n: int, methods: list[str], args: argparse.Namespace, device: torch.device, clip_impl: Callable | None
) -> list[Result]:
    """All methods at one N: warm-ups and memory per method, then timed repetitions interleaved."""
    bench = Bench(n, args.dim, device)
    results = {m: Result(m, n, "ok") for m in methods}
    reps: dict[str, int] = {}
    for method in methods:
        res = results[method]
        try:
            t0 = time.perf_counter()
            ms, loss = _timed(bench, method, clip_impl)
            res.first_call_s = time.perf_counter() - t0
            res.loss = float(loss)
            warm = [_timed(bench, method, clip_impl)[0] for _ in range(args.warmup)]
            res.peak_mem_bytes = _peak_memory(bench, method, clip_impl)
        except torch.OutOfMemoryError:
            res.status = "OOM"
            bench.clear_grads()
            _free(device)
            continue
        except Exception as err:  # noqa: BLE001 -- e.g. no compiler toolchain: record it, bench the others
            res.status = f"error: {type(err).__name__}: {str(err)[:300]}"
            print(f"  {method} at N={n}: {res.status}", flush=True)
            bench.clear_grads()
            _free(device)
            continue
        # Cap a cell's timed time at --cell-seconds (at least --min-reps repetitions).
        typical = statistics.median(warm) if warm else ms
        reps[method] = max(args.min_reps, min(args.reps, int(args.cell_seconds * 1e3 / max(typical, 1e-3))))
    for rep in range(max(reps.values(), default=0)):
        for method in methods:
            if rep < reps.get(method, 0) and results[method].status == "ok":
                try:
                    results[method].times_ms.append(_timed(bench, method, clip_impl)[0])
                except torch.OutOfMemoryError:
                    results[method].status = "OOM"
                    bench.clear_grads()
                    _free(device)
    reference = bench.reference_loss() if any(r.loss is not None for r in results.values()) else None
    for res in results.values():
        if res.loss is not None and reference is not None:
            # CLIP methods use identity labels: compare only the label-aware ones to the reference.
            res.loss_rel_err = abs(res.loss / reference - 1) if "clip" not in res.method else None
        if res.status == "ok" and res.times_ms:
            res.reps = len(res.times_ms)
            res.median_ms = statistics.median(res.times_ms)
            res.p10_ms, res.p90_ms = _percentile(res.times_ms, 10), _percentile(res.times_ms, 90)
            res.tflops = 8 * n * n * args.dim / (res.median_ms * 1e-3) / 1e12
    del bench
    _free(device)
    return list(results.values())


def _cpu_name() -> str:
    """CPU model from /proc/cpuinfo where there is one (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[Result]) -> None:
    header = (
        f"{'N':>7} {'method':<17} {'status':<8} {'median ms':>10} {'p10':>9} {'p90':>9} {'TFLOP/s':>8} "
        f"{'peak MiB':>9} {'1st call s':>10} {'reps':>4} {'loss':>9} {'loss err':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        mem = None if r.peak_mem_bytes is None else r.peak_mem_bytes / 2**20
        print(
            f"{r.n:>7} {r.method:<17} {r.status[:8]:<8} {_fmt(r.median_ms, '10.3f')} {_fmt(r.p10_ms, '9.3f')} "
            f"{_fmt(r.p90_ms, '9.3f')} {_fmt(r.tflops, '8.2f')} {_fmt(mem, '9.1f')} "
            f"{_fmt(r.first_call_s, '10.2f')} {r.reps:>4} {_fmt(r.loss, '9.4f')} {_fmt(r.loss_rel_err, '8.1e')}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", default=None, help=f"N for all methods (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--tiled-only-sizes",
        default=None,
        help=f"N for ours only (default on CUDA: {DEFAULT_TILED_ONLY}; on CPU: none)",
    )
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--min-reps", type=int, default=5)
    parser.add_argument(
        "--cell-seconds",
        type=float,
        default=20.0,
        help="cap on timed seconds per (method, N); reps drop towards --min-reps beyond it",
    )
    parser.add_argument(
        "--real-batch", type=int, default=96, help="global batch of the real run (4 GPUs x 24); 0 to skip"
    )
    parser.add_argument(
        "--methods",
        default="naive_flair_bf16,clip_bf16,ours_eager,ours_compiled",
        help="comma list; clip_bf16 = open_clip ClipLoss if importable, else naive CLIP",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave the default)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    return parser.parse_args(argv)


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/loss.py: --device cuda but CUDA is not available; use --device cpu")
    sizes = _sizes(args.sizes or DEFAULT_SIZES)
    tiled_only = _sizes(
        args.tiled_only_sizes
        if args.tiled_only_sizes is not None
        else (DEFAULT_TILED_ONLY if device.type == "cuda" else "")
    )
    clip_impl = _open_clip_loss()
    clip_name = "open_clip_bf16" if clip_impl is not None else "naive_clip_bf16"
    methods = [clip_name if m == "clip_bf16" else m for m in args.methods.split(",") if m]
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    # False on CUDA means the bf16 matmuls fall back to upcast fp32 operands: a much slower path.
    fp32_out_mm = _supports_mm_out_dtype(device, torch.bfloat16)
    print(
        f"device: {device_name} ({device}), torch {torch.__version__}, D = {args.dim}, "
        f"threads {torch.get_num_threads()}, bf16 mm with fp32 output: {fp32_out_mm}, methods {methods}",
        flush=True,
    )

    started = time.perf_counter()
    results: list[Result] = []
    gave_up: dict[str, str] = {}  # method -> why larger N are skipped
    plan = [(n, methods) for n in sizes] + [(n, [m for m in methods if m in TILED]) for n in tiled_only]
    for n, wanted in plan:
        active, skipped = [], []
        for m in wanted:
            if m in gave_up:
                skipped.append(Result(m, n, f"skipped: {gave_up[m]}"))
            elif device.type == "cpu" and m not in TILED and 24 * n * n > _host_memory_bytes() // 2:
                skipped.append(Result(m, n, "skipped: N x N would not fit in host memory"))
            else:
                active.append(m)
        cell = run_size(n, active, args, device, clip_impl) + skipped
        for r in cell:
            if r.status == "OOM" or r.status.startswith("error"):
                gave_up[r.method] = f"{r.status.split(':')[0]} at N={n}"
        results.extend(sorted(cell, key=lambda r: wanted.index(r.method)))
        print_table(cell)
        print(f"  (N={n} done, {time.perf_counter() - started:.0f} s elapsed)", flush=True)

    real: list[Result] = []
    if args.real_batch > 0:
        real = run_size(args.real_batch, methods, args, device, clip_impl)
    print("\n== N sweep ==")
    print_table(results)
    if real:
        print(f"\n== loss alone at the real global batch N={args.real_batch} ==")
        print_table(real)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.out is not None:
        report = {
            "device": device_name,
            "device_type": device.type,
            "torch": torch.__version__,
            "dim": args.dim,
            "warmup": args.warmup,
            "reps": args.reps,
            "cell_seconds": args.cell_seconds,
            "threads": torch.get_num_threads(),
            "methods": methods,
            "bf16_mm_fp32_out": fp32_out_mm,
            "flops_per_step": "8 * N^2 * D",
            "results": [asdict(r) for r in results],
            "real_batch": [asdict(r) for r in real],
            "total_s": time.perf_counter() - started,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
