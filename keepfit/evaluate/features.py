"""Batched feature extraction with a KeepFIT model (eval mode, no gradients, results on CPU in float32).

Images are letterboxed like the reference: resized so the long side equals ``image_size`` (aspect kept) and
zero-padded at the right/bottom to a square, pixels in [0, 1]. The model normalises pixels itself.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

ImageLike = Image.Image | str | Path | bytes | dict | np.ndarray | Tensor


def load_image(item: ImageLike) -> Image.Image:
    """An RGB PIL image from a PIL image, a path, encoded bytes, an HF ``{'bytes', 'path'}`` dict or an array."""
    if isinstance(item, Image.Image):
        img = item
    elif isinstance(item, str | Path):
        try:
            img = Image.open(item)
            img.load()
        except (OSError, ValueError) as e:
            raise ValueError(f"{item}: cannot read image ({e})") from e
    elif isinstance(item, bytes | bytearray):
        img = Image.open(io.BytesIO(item))
    elif isinstance(item, dict):
        if item.get("bytes"):
            img = Image.open(io.BytesIO(item["bytes"]))
        elif item.get("path"):
            return load_image(item["path"])
        else:
            raise ValueError("image dict has neither 'bytes' nor 'path'")
    elif isinstance(item, np.ndarray | Tensor):
        arr = item.detach().cpu().numpy() if isinstance(item, Tensor) else item
        if arr.dtype != np.uint8:
            arr = (np.clip(arr, 0, 1) * 255).round().astype(np.uint8)
        img = Image.fromarray(arr)
    else:
        raise TypeError(f"cannot make an image from {type(item).__name__}")
    return img.convert("RGB")


def letterbox(img: Image.Image, size: int) -> Tensor:
    """(3, size, size) float tensor in [0, 1]: long side resized to ``size``, zero padding right/bottom."""
    w, h = img.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)
    return F.pad(x, (0, size - nw, 0, size - nh))


def to_pixels(item: ImageLike, size: int) -> Tensor:
    """(3, size, size) in [0, 1]. Encoded bytes and files go through :func:`keepfit.data.load_image`, the
    training decoder, so evaluation sees exactly the pixels training saw."""
    from ..data import load_image as decode

    if isinstance(item, dict) and item.get("bytes"):
        item = item["bytes"]
    elif isinstance(item, dict) and item.get("path"):
        item = Path(item["path"])
    if isinstance(item, bytes | bytearray | str | Path):
        arr = decode(bytes(item) if isinstance(item, bytearray) else item, size)
        return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255)
    return letterbox(load_image(item), size)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Temporarily switch to eval mode (dropout and batch-norm statistics frozen)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for it in items:
        batch.append(it)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@torch.no_grad()
def encode_images(
    model: Any,
    images: Iterable[ImageLike],
    batch_size: int = 32,
    image_size: int | None = None,
    transform: Callable[[Image.Image], Tensor] | None = None,
    space: str = "embedding",
) -> Tensor:
    """(N, D) image embeddings, or with ``space="backbone"`` the vision tower's pooled features (N, vision_dim)
    before projection and normalisation; ``transform`` overrides the default letterbox preprocessing."""
    if space not in ("embedding", "backbone"):
        raise ValueError(f"space must be 'embedding' or 'backbone', got {space!r}")
    size = int(image_size or model.config.image_size)
    device = model_device(model)
    encode = model.encode_image if space == "embedding" else model.image_features
    out = []
    with eval_mode(model):
        for batch in _batches(images, batch_size):
            pixels = torch.stack([transform(load_image(b)) if transform else to_pixels(b, size) for b in batch])
            out.append(encode(pixels.to(device)).float().cpu())
    width = model.config.embed_dim if space == "embedding" else model.vision_dim
    return torch.cat(out) if out else torch.zeros(0, width)


@torch.no_grad()
def encode_pixels(model: Any, pixels: Tensor, batch_size: int = 32) -> Tensor:
    """(N, D) embeddings of an already preprocessed (N, 3, H, W) pixel tensor in [0, 1]."""
    device = model_device(model)
    with eval_mode(model):
        return torch.cat([model.encode_image(p.to(device)).float().cpu() for p in pixels.split(batch_size)]) \
            if len(pixels) else torch.zeros(0, model.config.embed_dim)


@torch.no_grad()
def encode_texts(model: Any, texts: Sequence[str], batch_size: int = 64) -> Tensor:
    """(N, D) text embeddings (tokenised with the model's tokenizer, truncated to its ``max_length``)."""
    device = model_device(model)
    out = []
    with eval_mode(model):
        for batch in _batches(texts, batch_size):
            tok = model.tokenize(list(batch))
            out.append(model.encode_text(tok["input_ids"].to(device), tok["attention_mask"].to(device)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, model.config.embed_dim)


def logit_scale_value(model: Any) -> float:
    """``exp(logit_scale)`` clamped like training (at most ``exp(logit_scale_max)``) as a float."""
    cap = float(getattr(model.config, "logit_scale_max", np.log(100.0)))
    return float(np.exp(min(float(model.logit_scale.detach().cpu()), cap)))
