"""What a run reports besides its losses: held-out retrieval (with chance level), the knowledge bank's
refresh, metrics.jsonl / TensorBoard, and the loss curve."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mmretinal_builder.io import atomic_write_bytes, atomic_write_text

from ..data import MMPairs
from ..errors import KeepfitError
from ..knowledge import KnowledgeBank, gather_for_bank
from ..model import KeepFIT
from .batches import ordered_batches, to_device_pixels
from .config import Config
from .runtime import Runtime, autocast


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
        with autocast(rt.device, precision):
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
    from ..evaluate.retrieval import caption_groups, retrieval_metrics

    img, txt = encode_dataset(model, dataset, rt, batch_size, precision)
    m = retrieval_metrics(img.cpu(), txt.cpu(), groups=caption_groups(dataset.captions))
    m.pop("ranks", None)
    m.update(chance_recall(caption_groups(dataset.captions)))
    return m


def chance_recall(groups: list[str], ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Expected i2t R@k of a random ranking: a query with g correct texts among n hits top-k with
    probability 1 - C(n - g, k) / C(n, k)."""
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
