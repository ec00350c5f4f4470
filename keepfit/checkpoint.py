"""Self-describing, atomically written checkpoints.

Layout of ``OUT/checkpoints/step-0000123/``::

    model.safetensors      KeepFIT weights (incl. the revision attention)
    knowledge.safetensors  knowledge-bank buffers (when knowledge enhancement is on)
    state.pt               optimizer, scheduler, per-rank RNG states (python, numpy, torch, cuda, augment)
    meta.json              format, step, config, model config, dataset fingerprint, vocabulary,
                           sha256 of every file

A checkpoint is written to ``step-0000123.tmp-PID`` and renamed into place, then ``OUT/checkpoints/latest``
is replaced (write + ``os.replace``): a run killed at any moment leaves either the old or the new complete
checkpoint. Reading uses safetensors and ``torch.load(weights_only=True)`` only (no pickle of arbitrary
objects); sha256 checksums in ``meta.json`` turn a truncated or corrupt file into a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError

FORMAT = "keepfit-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE, BANK_FILE, STATE_FILE, META_FILE = (
    "model.safetensors",
    "knowledge.safetensors",
    "state.pt",
    "meta.json",
)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tensors_for_safetensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


# ------------------------------------------------------------------------------------------------ RNG


def rng_state(augment_generator: torch.Generator | None = None) -> dict[str, Any]:
    """This process' RNG states as tensors/ints only (loadable with weights_only=True)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if augment_generator is not None:
        state["augment"] = augment_generator.get_state()
    return state


def set_rng_state(state: dict[str, Any], augment_generator: torch.Generator | None = None) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if augment_generator is not None and "augment" in state:
        augment_generator.set_state(state["augment"])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


# ----------------------------------------------------------------------------------------------- write


def save_checkpoint(
    root: Path,
    step: int,
    *,
    model: nn.Module,
    bank: nn.Module | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rng_states: list[dict[str, Any]],
    meta: dict[str, Any],
    keep: int = 3,
) -> Path:
    """Write ``root/step-XXXXXXX`` atomically, point ``root/latest`` at it, prune to ``keep`` checkpoints."""
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f"{final.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file(_tensors_for_safetensors(model.state_dict()), str(tmp / MODEL_FILE))
    if bank is not None:
        save_file(_tensors_for_safetensors(bank.state_dict()), str(tmp / BANK_FILE))
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_states,
            "step": step,
        },
        tmp / STATE_FILE,
    )
    files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
    full_meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, **meta, "files": files}
    (tmp / META_FILE).write_text(json.dumps(full_meta, indent=1, sort_keys=True), encoding="utf-8")
    for p in tmp.iterdir():
        with p.open("rb") as f:
            os.fsync(f.fileno())
    if final.exists():  # a rerun of the same step (resumed after a crash that followed this save)
        shutil.rmtree(final)
    os.rename(tmp, final)
    pointer = root / f"latest.tmp-{os.getpid()}"
    pointer.write_text(final.name + "\n", encoding="utf-8")
    os.replace(pointer, root / "latest")
    _fsync_dir(root)
    for old in sorted(root.glob("step-*"))[:-keep] if keep > 0 else []:
        if old.is_dir() and ".tmp-" not in old.name:
            shutil.rmtree(old)
    return final


def remove_stale(root: Path) -> None:
    """Delete half-written ``*.tmp-PID`` checkpoints a killed run left in ``root``."""
    if not root.is_dir():
        return
    for stale in root.glob("*.tmp-*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


# ------------------------------------------------------------------------------------------------ read


def resolve(path: str | Path, run_dir: Path | None = None) -> Path:
    """A checkpoint directory from: 'latest' (in ``run_dir``), a run dir, a checkpoints dir, or itself."""
    if str(path) == "latest":
        if run_dir is None:
            raise CheckpointError("--resume latest needs the run's out_dir")
        path = run_dir
    p = Path(path)
    for candidate in (p, p / "checkpoints"):
        pointer = candidate / "latest"
        if pointer.is_file():
            target = candidate / pointer.read_text(encoding="utf-8").strip()
            if not (target / META_FILE).is_file():
                raise CheckpointError(f"{pointer}: points at {target.name}, which is missing or incomplete")
            return target
    if (p / META_FILE).is_file():
        return p
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint or run directory")
    raise CheckpointError(f"{p}: not a checkpoint (no {META_FILE}) and no 'latest' pointer inside")


def read_meta(ckpt: Path, verify: bool = True) -> dict[str, Any]:
    """meta.json, with every listed file checked against its sha256."""
    try:
        meta = json.loads((ckpt / META_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{ckpt / META_FILE}: unreadable ({e})") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{ckpt}: not a {FORMAT} (format={meta.get('format')!r})")
    if verify:
        for name, digest in meta.get("files", {}).items():
            f = ckpt / name
            if not f.is_file():
                raise CheckpointError(f"{f}: missing from the checkpoint")
            if _sha256(f) != digest:
                raise CheckpointError(f"{f}: corrupt or truncated (sha256 differs from meta.json)")
    return meta


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for a damaged file
        raise CheckpointError(f"{path}: cannot read safetensors ({type(e).__name__}: {e})") from e


def load_state(ckpt: Path) -> dict[str, Any]:
    try:
        return torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling failures have many types
        raise CheckpointError(f"{ckpt / STATE_FILE}: cannot read ({type(e).__name__}: {e})") from e


def load_into(module: nn.Module, path: Path) -> None:
    """Strictly load a safetensors file into ``module`` (shape/key mismatches are CheckpointErrors)."""
    state = load_tensors(path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: does not match the model ({str(e).splitlines()[0]} ...)") from e


def export_final(path: Path, model: nn.Module, meta: dict[str, Any], step: int) -> None:
    """OUT/final: model.safetensors + meta.json of the finished run (a checkpoint without optimizer state),
    written to a temporary directory and renamed into place."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(_tensors_for_safetensors(model.state_dict()), str(tmp / MODEL_FILE))
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, **meta,
            "files": {MODEL_FILE: _sha256(tmp / MODEL_FILE)}}
    (tmp / META_FILE).write_text(json.dumps(full, indent=1, sort_keys=True), encoding="utf-8")
    if path.exists():
        shutil.rmtree(path)
    os.rename(tmp, path)
