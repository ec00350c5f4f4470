"""Batches for the training loop: an endless, resumable, rank-sharded sampler, the loader around it, and the
assembly of one public + MM micro-batch on the device (pixels, augmentation, tokens, class ids).

Sampling is a pure function of (seed, epoch, batch number), so a resumed run sees the same batches: the
batch sampler is infinite and starts at any batch number. Batches hold uint8 HWC pixels: 4x less to pin and
copy than float, and the HWC layout *is* channels_last once permuted on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import KeepfitError
from .augment import augment_batch
from .config import Config


class InfiniteBatchSampler(Sampler[list[tuple[int, int]]]):
    """Endless batches of (index, epoch) keys for one rank, from batch number ``start`` on.

    Epoch e is a permutation seeded by (seed, e), dealt round-robin to ranks, trimmed so every rank has
    the same number of full batches (drop_last). Batch b of this rank is a pure function of (seed, b).
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        start: int = 0,
        shuffle: bool = True,
    ) -> None:
        self.batches_per_epoch = (n // world) // batch_size if batch_size else 0
        if self.batches_per_epoch < 1:
            raise KeepfitError(
                f"{n} samples cannot fill one batch of {batch_size} on each of {world} rank(s)"
            )
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.start, self.shuffle = start, shuffle
        self._cache: tuple[int, list[int]] | None = None

    def _rank_order(self, epoch: int) -> list[int]:
        if self._cache is None or self._cache[0] != epoch:
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                perm = torch.randperm(self.n, generator=g).tolist()
            else:
                perm = list(range(self.n))
            self._cache = (epoch, perm[self.rank :: self.world][: self.batches_per_epoch * self.batch_size])
        return self._cache[1]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.start
        while True:
            epoch, pos = divmod(b, self.batches_per_epoch)
            order = self._rank_order(epoch)
            yield [(i, epoch) for i in order[pos * self.batch_size : (pos + 1) * self.batch_size]]
            b += 1


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack items: pixels (B, H, W, 3) uint8, text list, class_id (B,), index (B,)."""
    return {
        "pixels": torch.from_numpy(np.stack([it["pixels"] for it in items])),
        "text": [it["text"] for it in items],
        "class_id": torch.tensor([it["class_id"] for it in items], dtype=torch.int64),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.int64),
    }


def stream(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    *,
    rank: int = 0,
    world: int = 1,
    start: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int = 4,
) -> Iterator[dict[str, Any]]:
    """An endless iterator of batches starting at batch number ``start`` (workers stay alive throughout)."""
    n = len(dataset)  # type: ignore[arg-type]
    try:
        sampler = InfiniteBatchSampler(n, batch_size, seed, rank, world, start)
    except KeepfitError as e:
        name = getattr(dataset, "name", "public data")
        raise KeepfitError(f"{name}: {e}; lower train.batch_size / train.mm_batch_size") from None
    # Own generator: worker seeding must not consume the global torch RNG (resumed runs restore it).
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
    )
    return iter(loader)


def ordered_batches(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """All items once, in order (evaluation)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )


def to_device_pixels(pixels: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1] on ``device`` (HWC storage = channels_last)."""
    x = pixels.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    return x if channels_last else x.contiguous()


def assemble(pub: dict | None, mm: dict | None, model: Any, cfg: Config, device: torch.device,
             gen: torch.Generator) -> dict[str, Any]:
    """The objective's input for one micro-batch: public rows first, then MM rows, augmented on the device."""
    parts = [b for b in (pub, mm) if b is not None]
    n_public = pub["pixels"].shape[0] if pub else 0
    pixels = torch.cat([b["pixels"] for b in parts]) if len(parts) > 1 else parts[0]["pixels"]
    x = to_device_pixels(pixels, device, cfg.train.channels_last)
    n_aug = x.shape[0] if cfg.augment.mm else n_public
    if n_aug:
        head = augment_batch(x[:n_aug], cfg.augment, gen)
        x = torch.cat([head, x[n_aug:]]) if n_aug < x.shape[0] else head
    # padded pooling averages the padding in, so pad exactly as the reference did (to the longest text)
    multiple = None if cfg.model.pooling.endswith("-padded") else 8
    tokens = model.tokenize([t for b in parts for t in b["text"]], pad_to_multiple_of=multiple)
    return {
        "pixels": x,
        "input_ids": tokens["input_ids"].to(device, non_blocking=True),
        "attention_mask": tokens["attention_mask"].to(device, non_blocking=True),
        "class_ids": torch.cat([b["class_id"] for b in parts]).to(device, non_blocking=True),
        "n_public": n_public,
        "mm_index": mm["index"].to(device) if mm is not None else None,
    }
