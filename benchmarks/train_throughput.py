"""Training throughput of the KeepFIT step: ours vs a loop written like the reference, on the same data.

One script, one device, one run (< 8 minutes on an H100/H200; seconds on a CPU with ``--smoke``):

1. loader: images/s of our decode path (PIL draft-mode JPEG decode to ``--image-size``, uint8 HWC batches,
   pinned, persistent workers) vs the reference-style path (full decode + resize, float CHW tensors), on
   the same JPEG files (fundus-like drawings at ``--source-px``);
2. the largest batch (per step, half public / half MM) our step fits, by trying increasing sizes;
3. compute-only samples/s with the data already on the device: ours (bf16 autocast, channels_last,
   tiled label-aware loss, fused AdamW, ``torch.compile``) vs baseline (fp16 autocast + GradScaler, naive
   N x N FLAIR loss, contiguous NCHW, eager, foreach AdamW); same model (RN50 + a BERT-base-sized text tower
   built from ``BertConfig``, no hub), same batch;
4. end-to-end samples/s, each loop fed by its own loader from the JPEG files;
5. a step-time breakdown (data, forward + loss, backward, optimizer; CUDA events, synchronised per phase; ours
   also times its two losses alone, forward + backward, on the same embeddings)
   and an MFU estimate (FLOPs per sample from ``torch.utils.flop_counter`` x samples/s / peak bf16).

Writes JSON (``--out``). Example: ``python benchmarks/train_throughput.py --out bench.json``;
CPU smoke test: ``python benchmarks/train_throughput.py --smoke --out /tmp/smoke.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keepfit.data import load_image  # noqa: E402
from keepfit.loss import contrastive_loss  # noqa: E402
from keepfit.model import KeepFIT, ModelConfig  # noqa: E402
from keepfit.train.augment import augment_batch  # noqa: E402
from keepfit.train.batches import collate, to_device_pixels  # noqa: E402
from keepfit.train.config import AugmentConfig, load_config  # noqa: E402
from keepfit.train.objective import Objective  # noqa: E402
from keepfit.train.synthetic import LESIONS, draw_fundus  # noqa: E402

BERT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "vocab_size": 30522,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
}
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}
CAPTION = (
    "Fundus photograph of the left eye showing many flame-shaped haemorrhages and cotton wool spots "
    "in the superior temporal arcade with venous dilation"
)


# ------------------------------------------------------------------------------------------------ data


def _one_jpeg(args: tuple[int, int, str]) -> None:
    seed, px, path = args
    rng = random.Random(seed)
    kind = LESIONS[sorted(LESIONS)[seed % len(LESIONS)]][1]
    img = draw_fundus(rng, kind, px, "superior", many=True)
    img.save(path, format="JPEG", quality=92)


def make_jpegs(folder: Path, n: int, px: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"img{i:04d}.jpg" for i in range(n)]
    todo = [(i, px, str(p)) for i, p in enumerate(paths) if not p.is_file()]
    if todo:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
            pool.map(_one_jpeg, todo)
    return paths


class OurImages(Dataset):
    """Our path: draft-mode decode, uint8 HWC (the trainer's keepfit.data.load_image)."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"pixels": load_image(self.paths[i], self.size), "text": CAPTION, "class_id": i, "index": i}


class ReferenceImages(Dataset):
    """Reference-style path: full decode, resize, pad, float32 CHW tensor built in the worker."""

    def __init__(self, paths: list[Path], size: int) -> None:
        self.paths, self.size = paths, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        img = Image.open(self.paths[i]).convert("RGB")
        w, h = img.size
        s = self.size / max(w, h)
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        arr = np.zeros((self.size, self.size, 3), np.float32)
        arr[: img.size[1], : img.size[0]] = np.asarray(img, dtype=np.float32) / 255.0
        return {"pixels": torch.from_numpy(arr).permute(2, 0, 1).contiguous(), "text": CAPTION, "class_id": i}


def reference_collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pixels": torch.stack([it["pixels"] for it in items]),
        "text": [it["text"] for it in items],
        "class_id": torch.tensor([it["class_id"] for it in items]),
    }


def endless(loader: DataLoader):
    while True:
        yield from loader


def loader_images_per_s(loader: DataLoader, batches: int) -> float:
    it = iter(loader)
    next(it)  # worker start-up excluded
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += next(it)["pixels"].shape[0]
    return n / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------- steps


def naive_flair_loss(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, ids: torch.Tensor
) -> torch.Tensor:
    """The reference's loss: the N x N logits materialised, soft targets, two cross-entropies."""
    logits = scale * txt @ img.t()
    same = (ids[:, None] == ids[None, :]).to(logits.dtype)
    targets = same / same.sum(1, keepdim=True)
    return 0.5 * (
        -(targets * F.log_softmax(logits, 1)).sum(1).mean()
        - (targets * F.log_softmax(logits.t(), 1)).sum(1).mean()
    )


class Sync:
    """Wall time of a phase; on CUDA synchronises so the phase's kernels are included."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def make_model(args: argparse.Namespace, device: torch.device) -> KeepFIT:
    torch.manual_seed(0)
    cfg = ModelConfig(
        vision=args.vision,
        text_model="tiny-bert",
        text_config=args.text_config,
        pooling="mean-1-2-last",
        max_length=args.text_len,
        embed_dim=512,
        image_size=args.image_size,
        revision_heads=0,
    )
    return KeepFIT.from_config(cfg).to(device)


class OursStep:
    """The trainer's step: the loop's Objective (encoders + tiled label-aware losses), bf16, channels_last,
    towers compiled in place as the loop does, fused AdamW."""

    def __init__(self, args: argparse.Namespace, device: torch.device, compile_: bool) -> None:
        self.device, self.args = device, args
        self.model = make_model(args, device)
        self.model.vision.to(memory_format=torch.channels_last)
        if compile_:
            self.model.vision.compile()
            self.model.text.compile()
        cfg = load_config(None, ["knowledge.mode=off", "train.loss_mode=separate", "model.revision_heads=0"])
        self.objective = Objective(self.model, cfg, distributed=False, revision=False)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=1e-4, weight_decay=1e-5, fused=device.type == "cuda"
        )
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.aug = AugmentConfig()
        self.amp = (
            torch.autocast(device.type, dtype=torch.bfloat16)
            if device.type == "cuda"
            else contextlib.nullcontext()
        )

    def prepare(self, batch: dict[str, Any]) -> dict[str, Any]:
        x = to_device_pixels(batch["pixels"], self.device, channels_last=True)
        x = augment_batch(x, self.aug, self.gen)
        tok = self.model.tokenize(batch["text"], padding="max_length")
        return {
            "pixels": x,
            "input_ids": tok["input_ids"].to(self.device, non_blocking=True),
            "attention_mask": tok["attention_mask"].to(self.device, non_blocking=True),
            "class_ids": batch["class_id"].to(self.device, non_blocking=True),
            "n_public": x.shape[0] // 2,
        }

    def step(self, prepared: dict[str, Any], clock: Sync | None = None) -> dict[str, float]:
        t = {}
        t0 = clock.now() if clock else 0.0
        with self.amp:
            losses, report = self.objective(prepared)
        t1 = clock.now() if clock else 0.0
        losses["loss"].backward()
        t2 = clock.now() if clock else 0.0
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.model.clamp_logit_scale()
        t3 = clock.now() if clock else 0.0
        if clock:
            # the losses' own share: the same two losses, forward + backward, on this step's embeddings
            img = report["image"].clone().requires_grad_()
            txt = report["text"].clone().requires_grad_()
            n, ids = prepared["n_public"], prepared["class_ids"]
            t4 = clock.now()
            total = sum(contrastive_loss(img[rows], txt[rows], report["scale"], ids[rows])["loss"]
                        for rows in (slice(0, n), slice(n, None)))
            total.backward()
            t5 = clock.now()
            t = {"forward+loss": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2, "loss_alone_fwd+bwd": t5 - t4}
        return t


class BaselineStep:
    """Written like the reference: fp16 autocast + GradScaler, naive loss, NCHW, eager, foreach AdamW."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.device = device
        self.model = make_model(args, device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, weight_decay=1e-5)
        self.scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.aug = AugmentConfig()
        self.amp = (
            torch.autocast(device.type, dtype=torch.float16)
            if device.type == "cuda"
            else contextlib.nullcontext()
        )

    def prepare(self, batch: dict[str, Any]) -> tuple:
        px = batch["pixels"]
        if px.dtype == torch.uint8:  # compute-only runs share our uint8 tensors
            px = px.permute(0, 3, 1, 2).float().div(255)
        x = augment_batch(px.to(self.device).contiguous(), self.aug, self.gen)
        tok = self.model.tokenize(batch["text"], padding="max_length")
        return (
            x,
            tok["input_ids"].to(self.device),
            tok["attention_mask"].to(self.device),
            batch["class_id"].to(self.device),
        )

    def step(self, prepared: tuple, clock: Sync | None = None) -> dict[str, float]:
        x, ids_, mask, cls = prepared
        n = x.shape[0] // 2
        t0 = clock.now() if clock else 0.0
        with self.amp:
            img, txt, scale = self.model(x, ids_, mask)
        t1 = clock.now() if clock else 0.0
        with self.amp:
            loss = naive_flair_loss(img[:n], txt[:n], scale, cls[:n]) + naive_flair_loss(
                img[n:], txt[n:], scale, cls[n:]
            )
        t2 = clock.now() if clock else 0.0
        self.scaler.scale(loss).backward()
        t3 = clock.now() if clock else 0.0
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.model.clamp_logit_scale()
        t4 = clock.now() if clock else 0.0
        return (
            {"forward": t1 - t0, "loss": t2 - t1, "backward": t3 - t2, "optimizer": t4 - t3} if clock else {}
        )


def random_batch(n: int, size: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(n)
    return {
        "pixels": torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g),
        "text": [CAPTION] * n,
        "class_id": torch.arange(n) % max(1, n // 3),
    }


def timed_steps(stepper: Any, batch: dict[str, Any], steps: int, warmup: int, device: torch.device) -> dict:
    """Compute-only: one prepared batch reused (data already on the device)."""
    prepared = stepper.prepare(batch)
    clock = Sync(device)
    for _ in range(warmup):
        stepper.step(prepared)
    t0 = clock.now()
    for _ in range(steps):
        stepper.step(prepared)
    dt = clock.now() - t0
    n = batch["pixels"].shape[0]
    return {"samples_per_s": n * steps / dt, "step_ms": 1000 * dt / steps, "batch": n}


def end_to_end(stepper: Any, loader: DataLoader, steps: int, warmup: int, device: torch.device) -> dict:
    it = endless(loader)
    clock = Sync(device)
    for _ in range(warmup):
        stepper.step(stepper.prepare(next(it)))
    t0 = clock.now()
    n = 0
    for _ in range(steps):
        batch = next(it)
        n += batch["pixels"].shape[0]
        stepper.step(stepper.prepare(batch))
    dt = clock.now() - t0
    return {"samples_per_s": n / dt, "step_ms": 1000 * dt / steps}


def breakdown(stepper: Any, loader: DataLoader, steps: int, device: torch.device) -> dict[str, float]:
    """Mean ms per phase over ``steps`` synchronised steps fed by ``loader``."""
    it = endless(loader)
    clock = Sync(device)
    stepper.step(stepper.prepare(next(it)))
    acc: dict[str, float] = {}
    for _ in range(steps):
        t0 = clock.now()
        prepared = stepper.prepare(next(it))
        t1 = clock.now()
        phases = {"data": t1 - t0, **stepper.step(prepared, clock)}
        for k, v in phases.items():
            acc[k] = acc.get(k, 0.0) + 1000 * v / steps
    return acc


def fits(args: argparse.Namespace, device: torch.device, n: int) -> bool:
    """Does one eager step of ours fit at batch n (half public, half MM)?"""
    if device.type != "cuda":
        return True
    stepper = None
    try:
        stepper = OursStep(args, device, compile_=False)
        stepper.step(stepper.prepare(random_batch(n, args.image_size)))
        torch.cuda.synchronize()
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        del stepper
        torch.cuda.empty_cache()


def flops_per_sample(args: argparse.Namespace, device: torch.device) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    stepper = OursStep(args, device, compile_=False)
    prepared = stepper.prepare(random_batch(4, args.image_size))
    with FlopCounterMode(display=False) as counter:
        stepper.step(prepared)
    total = counter.get_total_flops()
    del stepper
    return total / 4


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--smoke", action="store_true", help="tiny sizes (CPU smoke test)")
    p.add_argument("--image-size", type=int, default=512)
    p.add_argument("--source-px", type=int, default=2048, help="side of the JPEG files the loaders decode")
    p.add_argument("--n-images", type=int, default=512)
    p.add_argument("--vision", default="resnet50")
    p.add_argument("--text-len", type=int, default=64)
    p.add_argument(
        "--batches", default="64,96,128,160,192,256", help="batch sizes to try (largest that fits)"
    )
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--workdir", type=Path, default=Path("runs/bench-train"))
    args = p.parse_args()
    args.text_config = BERT_BASE
    if args.smoke:
        args.image_size, args.source_px, args.n_images, args.vision = 64, 256, 16, "tiny-cnn"
        args.text_config, args.text_len, args.batches, args.steps, args.warmup = None, 16, "8", 2, 1
        args.workers, args.no_compile = 1, True
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t_start = time.perf_counter()
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "image_size": args.image_size,
        "vision": args.vision,
        "text_tower": "BERT-base-sized (BertConfig, random)" if args.text_config else "tiny-bert",
        "text_len": args.text_len,
        "source_px": args.source_px,
        "workers": args.workers,
    }

    # 1. loaders on the same JPEG files
    paths = make_jpegs(args.workdir / f"jpeg{args.source_px}", args.n_images, args.source_px)
    lb = 32 if not args.smoke else 4
    ours_loader = DataLoader(
        OurImages(paths, args.image_size),
        batch_size=lb,
        shuffle=True,
        collate_fn=collate,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=True,
        prefetch_factor=4,
        drop_last=True,
    )
    ref_loader = DataLoader(
        ReferenceImages(paths, args.image_size),
        batch_size=lb,
        shuffle=True,
        collate_fn=reference_collate,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    n_batches = max(2, min(len(paths) // lb - 1, 12))
    result["loader_images_per_s"] = {
        "ours_draft_uint8": loader_images_per_s(ours_loader, n_batches),
        "reference_full_decode_float": loader_images_per_s(ref_loader, n_batches),
    }
    del ours_loader, ref_loader

    # 2. largest batch that fits our eager step
    tried = {}
    batch = None
    for n in sorted(int(b) for b in args.batches.split(",")):
        tried[n] = fits(args, device, n)
        if not tried[n]:
            break
        batch = n
    if batch is None:
        raise SystemExit(f"no batch size in {args.batches} fits")
    result["batch_search"] = {"tried": tried, "chosen": batch}
    data = random_batch(batch, args.image_size)

    # 3. compute-only
    ours = OursStep(args, device, compile_=not args.no_compile)
    t0 = time.perf_counter()
    ours.step(ours.prepare(data))
    result["ours_first_step_s(incl_compile)"] = time.perf_counter() - t0
    result["compute_only"] = {"ours": timed_steps(ours, data, args.steps, args.warmup, device)}
    base = BaselineStep(args, device)
    try:
        result["compute_only"]["baseline"] = timed_steps(base, data, args.steps, args.warmup, device)
    except torch.OutOfMemoryError:
        del base
        torch.cuda.empty_cache()
        half = random_batch(batch // 2, args.image_size)
        base = BaselineStep(args, device)
        result["compute_only"]["baseline"] = {
            **timed_steps(base, half, args.steps, args.warmup, device),
            "note": "OOM at the chosen batch; half batch",
        }
    co = result["compute_only"]
    co["speedup"] = co["ours"]["samples_per_s"] / co["baseline"]["samples_per_s"]

    # 4. end-to-end from the JPEG files, each loop with its own loader
    bl = co["baseline"]["batch"]
    ours_loader = DataLoader(
        OurImages(paths, args.image_size),
        batch_size=batch,
        shuffle=True,
        collate_fn=collate,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=True,
        prefetch_factor=4,
        drop_last=True,
    )
    ref_loader = DataLoader(
        ReferenceImages(paths, args.image_size),
        batch_size=bl,
        shuffle=True,
        collate_fn=reference_collate,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )
    e2e_steps = max(2, min(args.steps, 3 * len(paths) // batch))
    result["end_to_end"] = {
        "ours": end_to_end(ours, ours_loader, e2e_steps, 2, device),
        "baseline": end_to_end(base, ref_loader, e2e_steps, 2, device),
    }
    e2e = result["end_to_end"]
    e2e["speedup"] = e2e["ours"]["samples_per_s"] / e2e["baseline"]["samples_per_s"]

    # 5. breakdown (synchronised per phase, so slightly slower than the free-running numbers) and MFU
    result["breakdown_ms"] = {
        "ours": breakdown(ours, ours_loader, max(3, args.steps // 2), device),
        "baseline": breakdown(base, ref_loader, max(3, args.steps // 2), device),
    }
    del ours_loader, ref_loader, base
    fps = flops_per_sample(args, device)
    result["flops_per_sample"] = fps
    achieved = fps * co["ours"]["samples_per_s"] / 1e12
    result["achieved_tflops_ours"] = achieved
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in result["device"]), None)
    result["mfu_ours"] = achieved / peak if peak else None
    result["peak_bf16_tflops_assumed"] = peak
    result["wall_s"] = time.perf_counter() - t_start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
