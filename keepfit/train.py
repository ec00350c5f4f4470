"""The KeepFIT training loop: mixed public + MM-Retinal batches, label-aware contrastive losses, knowledge
revision; DDP (torchrun), bf16 autocast, channels_last, optional torch.compile, gradient accumulation,
clipping, AdamW + warm-up/cosine, atomic resumable checkpoints, JSONL/TensorBoard metrics, NaN guard.

Read :func:`train` top to bottom. Design points (each fixes a defect of the reference code):

* The DDP-wrapped :class:`TrainStep` computes every tensor that carries gradients in its ``forward``, so
  DDP's hooks really synchronise gradients.
* Losses use ``distributed=True``: negatives cross GPUs, and their gradient is scaled so DDP's averaging
  gives exactly the single-process full-batch gradient (tested with two gloo processes).
* The LR horizon is the real number of optimizer steps; a checkpoint holds optimizer, scheduler, RNG
  states, step, config and a dataset fingerprint; ``--resume latest`` continues bit-for-bit in
  deterministic mode (batches are a pure function of seed and step, see :mod:`keepfit.data`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from torch import Tensor, nn

from mmretinal_builder.io import atomic_write_bytes, atomic_write_text

from . import checkpoint as ckpt_io
from .augment import augment_batch
from .config import Config, ConfigError
from .data import MMPairs, PublicImages, has_split, ordered_batches, stream, to_device_pixels
from .distributed import all_gather_no_grad
from .errors import KeepfitError
from .knowledge import KnowledgeBank, KnowledgeConfig, gather_for_bank, revise, revision_loss
from .loss import contrastive_loss
from .model import KeepFIT


@dataclass
class Runtime:
    """Where this process runs: device and its place in the process group."""

    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def setup_runtime(device: str) -> Runtime:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on CUDA, gloo on CPU)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise KeepfitError("train.device=cuda but no CUDA device is available")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        owns = True
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    return Runtime(dev, rank, world, local_rank, owns)


def seed_everything(seed: int, deterministic: bool) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: a CUDA op without a deterministic kernel warns instead of stopping the run
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


# --------------------------------------------------------------------------------------------- modules


class TrainStep(nn.Module):
    """What DDP wraps: encodes the concatenated (public + MM) batch and runs the knowledge revision."""

    def __init__(self, model: KeepFIT, knowledge: KnowledgeConfig, use_revision: bool) -> None:
        super().__init__()
        self.model, self.knowledge, self.use_revision = model, knowledge, use_revision

    def forward(
        self,
        pixels: Tensor,
        input_ids: Tensor,
        attention_mask: Tensor,
        n_public: int,
        bank_image: Tensor | None = None,
        bank_text: Tensor | None = None,
    ) -> dict[str, Tensor]:
        image = self.model.encode_image(pixels)
        text = self.model.encode_text(input_ids, attention_mask)
        out = {"image": image, "text": text, "scale": self.model.scale()}
        if self.use_revision and n_public > 0:
            if bank_image is None:  # bank="batch": the current MM batch of every rank, as in the reference
                bank_image = all_gather_no_grad(image[n_public:].detach())[0]
                bank_text = all_gather_no_grad(text[n_public:].detach())[0]
            out["revised"] = revise(
                image[:n_public], bank_image, bank_text, self.knowledge, self.model.revision
            )
        return out


def compute_losses(
    out: dict[str, Tensor], class_ids: Tensor, n_public: int, cfg: Config, distributed: bool
) -> dict[str, Tensor]:
    """Named loss terms and their sum under 'loss' (all fp32 scalars)."""
    img, txt, scale = out["image"], out["text"], out["scale"]
    opts = {"chunk_size": cfg.train.loss_chunk_size, "distributed": distributed}
    terms: dict[str, Tensor] = {}
    if cfg.train.loss_mode == "joint":
        terms["loss_contrastive"] = contrastive_loss(img, txt, scale, class_ids, **opts)["loss"]
    else:
        if n_public > 0:
            terms["loss_public"] = contrastive_loss(
                img[:n_public], txt[:n_public], scale, class_ids[:n_public], **opts
            )["loss"]
        if img.shape[0] > n_public:
            terms["loss_mm"] = contrastive_loss(
                img[n_public:], txt[n_public:], scale, class_ids[n_public:], **opts
            )["loss"]
    if "revised" in out:
        terms["loss_revision"] = revision_loss(txt[:n_public], out["revised"], cfg.knowledge)
    total = torch.stack([t.float() for t in terms.values()]).sum()
    return {"loss": total, **terms}


def param_groups(model: nn.Module, weight_decay: float, lr: float, text_lr_scale: float = 1.0
                 ) -> list[dict[str, Any]]:
    """AdamW groups: matrices/kernels decayed, biases, norm weights and the logit scale not; the text encoder
    (``text.*``, not its projection) at ``lr * text_lr_scale``. Empty groups are left out."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = p.ndim >= 2 and "logit_scale" not in name
        groups.setdefault((decay, name.startswith("text.")), []).append(p)
    return [{"params": ps, "weight_decay": weight_decay if decay else 0.0,
             "lr": lr * (text_lr_scale if text else 1.0)}
            for (decay, text), ps in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))]


def warmup_cosine(total_steps: int, warmup_steps: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warm-up over ``warmup_steps`` then cosine to ``min_ratio`` at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


# ------------------------------------------------------------------------------------------------ data


@dataclass
class TrainData:
    public: PublicImages | None
    mm: MMPairs | None
    mm_test: MMPairs | None
    vocabulary: list[str]
    fingerprint: str


def load_data(cfg: Config, rt: Runtime, out_dir: Path) -> TrainData:
    """Public categorical data (or the synthetic demo set), MM pairs (train + held-out test)."""
    size, dc = cfg.model.image_size, cfg.data
    public = None
    if dc.public:
        public = PublicImages.from_sources(dc.public, size, cfg.train.seed)
    elif dc.synthetic_public > 0:
        from .synthetic import write_public_csv

        syn_dir = out_dir / "synthetic-public"
        if rt.is_main and not (syn_dir / "public.csv").is_file():
            write_public_csv(syn_dir, dc.synthetic_public, seed=cfg.train.seed)
        rt.barrier()
        from .data import read_flair_csv

        public = PublicImages(read_flair_csv(syn_dir / "public.csv"), size, cfg.train.seed)
    vocabulary = public.vocabulary if public is not None else []
    mm = mm_test = None
    if dc.mm_dir:
        opts = {
            "caption_field": dc.caption_field,
            "class_offset": len(vocabulary),
            "modalities": dc.modalities,
        }
        mm = MMPairs.load(dc.mm_dir, dc.mm_split, size, **opts)
        if dc.mm_test_split and cfg.train.eval_retrieval:
            if has_split(dc.mm_dir, dc.mm_test_split):
                mm_test = MMPairs.load(dc.mm_dir, dc.mm_test_split, size, **opts)
            elif rt.is_main:
                warnings.warn(
                    f"{dc.mm_dir}: no {dc.mm_test_split!r} split, held-out retrieval skipped", stacklevel=2
                )
    if public is None and mm is None:
        raise ConfigError("no training data: set data.mm_dir and/or data.public (or data.synthetic_public)")
    parts = [
        f"public:{public.fingerprint()}" if public is not None else "",
        f"mm:{mm.fingerprint()}" if mm is not None else "",
    ]
    return TrainData(public, mm, mm_test, vocabulary, "+".join(p for p in parts if p))


# ------------------------------------------------------------------------------------------ evaluation


@torch.no_grad()
def encode_dataset(
    model: KeepFIT,
    dataset: MMPairs,
    rt: Runtime,
    batch_size: int,
    precision: str,
    indices: list[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Image and text embeddings (fp32, on the device) of ``dataset`` rows (all or ``indices``), eval mode."""
    was_training = model.training
    model.eval()
    subset = dataset if indices is None else torch.utils.data.Subset(dataset, indices)
    imgs, txts = [], []
    for batch in ordered_batches(subset, batch_size):
        x = to_device_pixels(batch["pixels"], rt.device, channels_last=True)
        tok = {k: v.to(rt.device) for k, v in model.tokenize(batch["text"]).items()}
        with _autocast(rt.device, precision):
            imgs.append(model.encode_image(x).float())
            txts.append(model.encode_text(**tok).float())
    model.train(was_training)
    dim = model.config.embed_dim
    if not imgs:
        return torch.zeros(0, dim, device=rt.device), torch.zeros(0, dim, device=rt.device)
    return torch.cat(imgs), torch.cat(txts)


def retrieval(
    model: KeepFIT, dataset: MMPairs, rt: Runtime, batch_size: int, precision: str
) -> dict[str, Any]:
    """Held-out image->text and text->image R@1/5/10 (pairs sharing a caption count as matches)."""
    from .evaluate.retrieval import caption_groups, retrieval_metrics

    img, txt = encode_dataset(model, dataset, rt, batch_size, precision)
    m = retrieval_metrics(img.cpu(), txt.cpu(), groups=caption_groups(dataset.captions))
    m.pop("ranks", None)
    m.update(chance_recall(caption_groups(dataset.captions)))
    return m


def chance_recall(groups: list[str], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Expected i2t R@k of a random ranking: a query with g correct texts among n hits top-k with
    probability 1 - C(n - g, k) / C(n, k)."""
    from collections import Counter

    n, count = len(groups), Counter(groups)
    sizes = [count[g] for g in groups]
    return {
        f"i2t_chance_R@{k}": sum(1 - math.comb(n - g, k) / math.comb(n, k) for g in sizes) / n
        for k in ks
        if k <= n
    }


@torch.no_grad()
def refresh_bank(bank: KnowledgeBank, model: KeepFIT, dataset: MMPairs, rt: Runtime, cfg: Config) -> None:
    """Re-encode the whole MM training set into the bank (each rank a shard, then gathered)."""
    mine = list(range(rt.rank, len(dataset), rt.world))
    img, txt = encode_dataset(model, dataset, rt, cfg.train.eval_batch_size, cfg.train.precision, mine)
    index = torch.tensor(mine, dtype=torch.int64, device=rt.device)
    index, img, txt = gather_for_bank(index, img, txt)
    full_img, full_txt = torch.zeros_like(bank.image), torch.zeros_like(bank.text)
    full_img[index], full_txt[index] = img.to(full_img.dtype), txt.to(full_txt.dtype)
    bank.replace(full_img, full_txt)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ------------------------------------------------------------------------------------------------ logs


class MetricsLog:
    """metrics.jsonl (+ TensorBoard) on the main rank; on resume, records after the resumed step are cut."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool, resume_step: int | None) -> None:
        self.path = out_dir / "metrics.jsonl"
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        if resume_step is not None and self.path.is_file():
            kept = [
                ln
                for ln in self.path.read_text(encoding="utf-8").splitlines()
                if ln.strip() and json.loads(ln).get("step", 0) <= resume_step
            ]
            atomic_write_text(self.path, "".join(k + "\n" for k in kept))
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise KeepfitError("train.tensorboard=true needs the 'tensorboard' package") from e
            self.writer = SummaryWriter(str(out_dir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, int | float):
                    self.writer.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def plot_curve(metrics_path: Path, out_png: Path) -> Path | None:
    """Loss terms vs step as a PNG (matplotlib, headless)."""
    if not metrics_path.is_file():
        return None
    rows = [json.loads(ln) for ln in metrics_path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    rows = [r for r in rows if "loss" in r]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for key in sorted({k for r in rows for k in r if k.startswith("loss")}):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, lw=1.2 if key == "loss" else 0.8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title("KeepFIT training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(out_png, buf.getvalue())
    return out_png


# ----------------------------------------------------------------------------------------------- train


def _next_batches(public: Iterator | None, mm: Iterator | None) -> tuple[dict | None, dict | None]:
    return (next(public) if public is not None else None, next(mm) if mm is not None else None)


def _assemble(
    pub: dict | None, mm: dict | None, model: KeepFIT, cfg: Config, rt: Runtime, gen: torch.Generator
) -> tuple[Tensor, dict[str, Tensor], Tensor, int]:
    """(augmented pixels, tokens, class ids, n_public) for the concatenated public + MM micro-batch."""
    parts = [b for b in (pub, mm) if b is not None]
    n_public = pub["pixels"].shape[0] if pub else 0
    pixels = torch.cat([b["pixels"] for b in parts]) if len(parts) > 1 else parts[0]["pixels"]
    x = to_device_pixels(pixels, rt.device, cfg.train.channels_last)
    n_aug = x.shape[0] if cfg.augment.mm else n_public
    if n_aug:
        x = (
            torch.cat([augment_batch(x[:n_aug], cfg.augment, gen), x[n_aug:]])
            if n_aug < x.shape[0]
            else augment_batch(x, cfg.augment, gen)
        )
    texts = [t for b in parts for t in b["text"]]
    tokens = model.tokenize(texts, pad_to_multiple_of=8)
    tokens = {k: v.to(rt.device, non_blocking=True) for k, v in tokens.items()}
    ids = torch.cat([b["class_id"] for b in parts]).to(rt.device, non_blocking=True)
    return x, tokens, ids, n_public


def train(cfg: Config, resume: str | None = None, stop_at_step: int | None = None) -> dict[str, Any]:
    """Run (or resume) training; returns a summary (steps, final losses, retrieval before/after)."""
    tc = cfg.train
    rt = setup_runtime(tc.device)
    try:
        return _train(cfg, rt, resume, stop_at_step)
    finally:
        if rt.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        if tc.deterministic:
            torch.use_deterministic_algorithms(False)


def _train(cfg: Config, rt: Runtime, resume: str | None, stop_at_step: int | None) -> dict[str, Any]:
    tc, kc = cfg.train, cfg.knowledge
    out_dir = Path(tc.out_dir)
    if rt.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    rt.barrier()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the tokenizer also runs in forked workers
    seed_everything(tc.seed, tc.deterministic)

    # ---- data and step budget
    data = load_data(cfg, rt, out_dir)
    pub_bs = tc.batch_size if data.public is not None else 0
    mm_bs = (
        (tc.mm_batch_size if tc.mm_batch_size is not None else tc.batch_size) if data.mm is not None else 0
    )
    if data.public is None and mm_bs == 0:
        raise ConfigError("train.mm_batch_size=0 but there is no public data to train on")
    driver, driver_bs = (data.public, pub_bs) if data.public is not None else (data.mm, mm_bs)
    batches_per_epoch = (len(driver) // rt.world) // driver_bs
    steps_per_epoch = max(1, batches_per_epoch // tc.accum_steps)
    total_steps = tc.max_steps or max(1, math.ceil(tc.epochs * steps_per_epoch))
    warmup = tc.warmup_steps if tc.warmup_steps is not None else round(tc.warmup_epochs * steps_per_epoch)
    warmup = min(warmup, max(0, total_steps - 1))

    # ---- model, knowledge bank, optimizer
    model = KeepFIT.from_config(cfg.model).to(rt.device)
    if tc.channels_last:
        model.vision.to(memory_format=torch.channels_last)
    if tc.sync_batchnorm and rt.world > 1:
        model.vision = nn.SyncBatchNorm.convert_sync_batchnorm(model.vision)
    use_revision = kc.mode != "off" and data.public is not None and data.mm is not None and mm_bs > 0
    if model.revision is not None and not (use_revision and kc.mode == "attention"):
        model.revision.requires_grad_(False)  # unused this run: DDP must not wait for its gradients
    if tc.text_lr_scale == 0:
        model.text.requires_grad_(False)  # frozen encoder: no gradients to compute, sync or store
    bank = None
    if use_revision and kc.bank != "batch":
        bank = KnowledgeBank(len(data.mm), cfg.model.embed_dim).to(rt.device)
    step_module = TrainStep(model, kc, use_revision)
    runner: nn.Module = step_module
    if rt.world > 1:
        runner = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[rt.local_rank] if rt.device.type == "cuda" else None
        )
    if tc.compile:
        runner = torch.compile(runner)
    optimizer = torch.optim.AdamW(
        param_groups(model, tc.weight_decay, tc.lr, tc.text_lr_scale),
        lr=tc.lr,
        betas=tuple(tc.betas),
        eps=tc.eps,
        fused=rt.device.type == "cuda",
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, warmup, tc.min_lr_ratio)
    )
    aug_gen = torch.Generator(device=rt.device).manual_seed(tc.seed * 7919 + rt.rank)
    # Same initial weights everywhere (seeded above); from here on each rank draws its own dropout masks.
    torch.manual_seed(tc.seed + 1000 * rt.rank + 1)

    # ---- resume
    start_step, rng_to_restore = 0, None
    ckpt_root = out_dir / "checkpoints"
    if resume:
        ckpt_dir = ckpt_io.resolve(resume, out_dir)
        meta = ckpt_io.read_meta(ckpt_dir)
        if meta.get("dataset_fingerprint") != data.fingerprint and not tc.allow_data_change:
            raise KeepfitError(
                f"{ckpt_dir}: trained on dataset {meta.get('dataset_fingerprint')}, this run has "
                f"{data.fingerprint}; set train.allow_data_change=true to resume anyway"
            )
        ckpt_io.load_into(model, ckpt_dir / ckpt_io.MODEL_FILE)
        if bank is not None:
            ckpt_io.load_into(bank, ckpt_dir / ckpt_io.BANK_FILE)
        state = ckpt_io.load_state(ckpt_dir)
        try:
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except (KeyError, ValueError) as e:
            raise ckpt_io.CheckpointError(f"{ckpt_dir}: optimizer/scheduler state does not fit ({e})") from e
        start_step = int(state["step"])
        rngs = state["rng"]
        rng_to_restore = rngs[rt.rank % len(rngs)]

    if rt.is_main and ckpt_root.is_dir():  # half-written checkpoints of a killed run
        import shutil

        for stale in ckpt_root.glob("*.tmp-*"):
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()

    # ---- batch streams (created before the RNG restore; their own generators never touch it)
    loader_opts = {
        "rank": rt.rank,
        "world": rt.world,
        "num_workers": cfg.data.num_workers,
        "pin_memory": rt.device.type == "cuda",
        "prefetch_factor": cfg.data.prefetch_factor,
    }
    first_batch = start_step * tc.accum_steps
    pub_iter = (
        stream(data.public, pub_bs, tc.seed, start=first_batch, **loader_opts)
        if data.public is not None
        else None
    )
    mm_iter = (
        stream(data.mm, mm_bs, tc.seed + 1, start=first_batch, **loader_opts)
        if data.mm is not None and mm_bs
        else None
    )
    if rng_to_restore is not None:
        ckpt_io.set_rng_state(rng_to_restore, aug_gen)

    log = MetricsLog(out_dir, rt.is_main, tc.tensorboard, start_step if resume else None)
    summary: dict[str, Any] = {
        "out_dir": str(out_dir),
        "world_size": rt.world,
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "warmup_steps": warmup,
        "start_step": start_step,
        "dataset_fingerprint": data.fingerprint,
    }
    if start_step == 0:
        if bank is not None:
            refresh_bank(bank, model, data.mm, rt, cfg)
        if data.mm_test is not None and tc.eval_before and rt.is_main:
            summary["retrieval_before"] = retrieval(model, data.mm_test, rt, tc.eval_batch_size, tc.precision)
        rt.barrier()

    meta_base = {
        "config": cfg.to_dict(),
        "model_config": cfg.model.to_dict(),
        "dataset_fingerprint": data.fingerprint,
        "vocabulary": data.vocabulary,
        "world_size": rt.world,
        "total_steps": total_steps,
        "torch_version": torch.__version__,
    }

    def save(step: int) -> None:
        states = [ckpt_io.rng_state(aug_gen)]
        if rt.world > 1:
            gathered: list[Any] = [None] * rt.world
            dist.all_gather_object(gathered, states[0])
            states = gathered
        if rt.is_main:
            ckpt_io.save_checkpoint(
                ckpt_root,
                step,
                model=model,
                bank=bank,
                optimizer=optimizer,
                scheduler=scheduler,
                rng_states=states,
                meta=meta_base,
                keep=tc.keep_checkpoints,
            )
        rt.barrier()

    # ---- the loop
    from tqdm.auto import tqdm

    samples_per_step = (pub_bs + mm_bs) * tc.accum_steps * rt.world
    bar = tqdm(
        total=total_steps,
        initial=start_step,
        disable=not (rt.is_main and tc.progress),
        unit="step",
        dynamic_ncols=True,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    step, last = start_step, {}
    t_window, n_window, data_time = time.perf_counter(), 0, 0.0
    while step < total_steps:
        mm_seen: list[tuple[Tensor, Tensor, Tensor]] = []
        totals: dict[str, Tensor] = {}
        for micro in range(tc.accum_steps):
            t0 = time.perf_counter()
            pub, mm = _next_batches(pub_iter, mm_iter)
            data_time += time.perf_counter() - t0
            x, tokens, ids, n_public = _assemble(pub, mm, model, cfg, rt, aug_gen)
            sync = (
                runner.no_sync()
                if rt.world > 1 and micro < tc.accum_steps - 1 and hasattr(runner, "no_sync")
                else contextlib.nullcontext()
            )
            with sync:
                with _autocast(rt.device, tc.precision):
                    out = runner(
                        x,
                        tokens["input_ids"],
                        tokens["attention_mask"],
                        n_public,
                        bank.image if bank is not None else None,
                        bank.text if bank is not None else None,
                    )
                terms = compute_losses(out, ids, n_public, cfg, distributed=rt.world > 1)
                (terms["loss"] / tc.accum_steps).backward()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + v.detach().float() / tc.accum_steps
            if mm is not None and bank is not None:
                mm_seen.append((mm["index"].to(rt.device), out["image"][n_public:], out["text"][n_public:]))
        if tc.grad_clip:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        else:
            grad_norm = torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in params if p.grad is not None])
            )
        names = list(totals)
        stats = torch.stack([totals[k] for k in names] + [grad_norm.float(), model.scale().detach().float()])
        if rt.world > 1:  # revision terms are per rank; contrastive ones are already global
            dist.all_reduce(stats)
            stats /= rt.world
        values = stats.tolist()
        bad = [n for n, v in zip([*names, "grad_norm"], values, strict=False) if not math.isfinite(v)]
        if bad:
            done = sorted(ckpt_root.glob("step-*"))
            shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, values, strict=False))
            raise KeepfitError(
                f"non-finite {', '.join(bad)} at step {step + 1} ({shown}); weights were not updated. "
                f"Last checkpoint: {done[-1] if done else 'none'}. Try a lower train.lr, "
                "train.precision=fp32, or check the data."
            )
        lr_used = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        model.clamp_logit_scale()
        if bank is not None and kc.bank == "momentum":
            for index, img, txt in mm_seen:
                bank.update(*gather_for_bank(index, img, txt), momentum=kc.momentum)
        step += 1
        if bank is not None and kc.bank == "refresh" and step % kc.refresh_every == 0:
            refresh_bank(bank, model, data.mm, rt, cfg)

        n_window += 1
        last = {k: v for k, v in zip(names, values, strict=False)}
        last.update({"grad_norm": values[-2], "logit_scale": values[-1]})
        if step % tc.log_every == 0 or step in (total_steps, stop_at_step):
            elapsed = time.perf_counter() - t_window
            record = {
                "step": step,
                "epoch": step / steps_per_epoch,
                "lr": lr_used,
                **last,
                "samples_per_s": samples_per_step * n_window / max(elapsed, 1e-9),
                "data_wait_s": data_time / n_window,
            }
            log.write(record)
            bar.set_postfix(loss=f"{last['loss']:.4f}", samples_s=f"{record['samples_per_s']:.1f}")
            t_window, n_window, data_time = time.perf_counter(), 0, 0.0
        bar.update(1)
        if step % tc.checkpoint_every == 0 or step in (total_steps, stop_at_step):
            save(step)
        if stop_at_step is not None and step >= stop_at_step:
            break
    bar.close()
    log.close()
    del pub_iter, mm_iter  # stop the loader workers now, not at garbage collection
    summary.update({"end_step": step, "final": last})

    # ---- final export, held-out retrieval, curve
    if step == total_steps:
        if rt.is_main:
            _export_final(out_dir / "final", model, meta_base, step)
            if data.mm_test is not None:
                summary["retrieval_after"] = retrieval(
                    model, data.mm_test, rt, tc.eval_batch_size, tc.precision
                )
            if tc.plot:
                png = plot_curve(log.path, out_dir / "loss_curve.png")
                summary["loss_curve"] = str(png) if png else None
        rt.barrier()
    if rt.is_main:
        prev = {}
        path = out_dir / "summary.json"
        if path.is_file():  # keep the 'before' numbers of the first segment of a resumed run
            prev = json.loads(path.read_text(encoding="utf-8"))
        merged = {**{k: v for k, v in prev.items() if k == "retrieval_before"}, **summary}
        atomic_write_text(path, json.dumps(merged, indent=1, sort_keys=True))
        summary = merged
    return summary


def _export_final(path: Path, model: KeepFIT, meta: dict[str, Any], step: int) -> None:
    """OUT/final: model.safetensors + meta.json, loadable with :func:`keepfit.checkpoint.load_model`."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        str(tmp / ckpt_io.MODEL_FILE),
    )
    files = {ckpt_io.MODEL_FILE: ckpt_io._sha256(tmp / ckpt_io.MODEL_FILE)}
    full = {
        "format": ckpt_io.FORMAT,
        "format_version": ckpt_io.FORMAT_VERSION,
        "step": step,
        **meta,
        "files": files,
    }
    (tmp / ckpt_io.META_FILE).write_text(json.dumps(full, indent=1, sort_keys=True), encoding="utf-8")
    if path.exists():
        import shutil

        shutil.rmtree(path)
    os.rename(tmp, path)


def config_summary(cfg: Config) -> str:
    """One line per section for the CLI banner."""
    return "\n".join(f"{f.name}: {getattr(cfg, f.name)}" for f in dataclasses.fields(cfg))
