"""Weights on disk, below the model: reading a state dict from any file the project meets (a reference
FLAIR/KeepFIT ``.pth``, a keepfit checkpoint or export directory) in our key names, and starting a model from
one (``model.init_from``).

Layering (no import cycles, tests/foundation/test_layout.py): ``model`` -> ``weights`` -> ``checkpoint``; the
module that builds a model from a file (``hub``) sits above all three.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from . import checkpoint
from .errors import CheckpointError

# the export directory's files (keepfit.hub writes them)
CONFIG_FILE, WEIGHTS_FILE, TEXT_DIR, CARD_FILE = "config.json", "model.safetensors", "text_encoder", "README.md"
REFERENCE_SUFFIXES = (".pth", ".pt", ".bin")

# reference prefix -> ours (longest first when matching)
_REFERENCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("vision_model.projection_head_vision.projection.", "image_projection."),
    ("text_model.projection_head_text.projection.", "text_projection."),
    ("vision_model.model.", "vision."),
    ("text_model.model.", "text."),
    ("attention.W_q.", "revision.q."),
    ("attention.W_k.", "revision.k."),
    ("attention.W_v.", "revision.v."),
    ("attention.W_o.", "revision.out."),
)
# reference keys with no counterpart that carry nothing we use
_REFERENCE_IGNORED = re.compile(r"^text_model\.model\.(pooler\.|embeddings\.position_ids$)")



def is_pretrained_dir(path: str | Path) -> bool:
    p = Path(path)
    return (p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat tensor dict from a ``.pth``/``.pt``/``.bin`` (``torch.load(weights_only=True)``) or
    ``.safetensors`` file; wrappers ``{"state_dict"|"model": ...}`` and a DDP ``module.`` prefix removed."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle/zip/safetensors failures come in many types
        raise CheckpointError(f"{p}: corrupt or not a PyTorch state dict ({type(e).__name__}: {e})") from e
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{p}: expected a dict of tensors (a model state dict), got {type(state).__name__}")
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def is_reference_layout(state: Mapping[str, Any]) -> bool:
    return "logit_scale" in state and any(k.startswith("vision_model.model.") for k in state) and any(
        k.startswith("text_model.model.") for k in state)


def map_reference_keys(state: Mapping[str, torch.Tensor], where: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Rename reference keys to ours; reference attention (bias-free) gets zero biases. Unknown keys: error."""
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if key == "logit_scale":
            out[key] = value.reshape(())
            continue
        if _REFERENCE_IGNORED.match(key):
            continue
        for ref, ours in _REFERENCE_PREFIXES:
            if key.startswith(ref):
                out[ours + key[len(ref):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{where}: unknown layout, {len(unknown)} key(s) with no KeepFIT counterpart "
                              f"(e.g. {unknown[:5]})")
    for name in ("q", "k", "v", "out"):
        w = out.get(f"revision.{name}.weight")
        if w is not None and f"revision.{name}.bias" not in out:
            out[f"revision.{name}.bias"] = torch.zeros(w.shape[0], dtype=w.dtype)
    return out


def weights_of(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict (our key names) held by a reference ``.pth`` or any keepfit checkpoint / export dir."""
    p = Path(path)
    if p.is_dir():
        if is_pretrained_dir(p):
            return checkpoint.load_tensors(p / WEIGHTS_FILE)
        return checkpoint.load_tensors(checkpoint.resolve(p) / checkpoint.MODEL_FILE)
    raw = read_state_dict(p)
    return map_reference_keys(raw, str(p)) if is_reference_layout(raw) else raw


def init_weights(model: Any, path: str | Path) -> None:
    """Start ``model`` from the weights in ``path`` (``model.init_from``): every tensor must fit; modules the
    file lacks may only be the revision attention (FLAIR's checkpoints have none), which keeps its fresh
    initialisation."""
    state = weights_of(path)
    ours = model.state_dict()
    unexpected = sorted(set(state) - set(ours))
    missing = sorted(k for k in set(ours) - set(state) if not k.startswith("revision."))
    wrong = sorted(k for k in set(state) & set(ours) if state[k].shape != ours[k].shape)
    if unexpected or missing or wrong:
        raise CheckpointError(
            f"{path}: model.init_from does not fit the configured model (missing {missing[:4]}, unexpected "
            f"{unexpected[:4]}, other shapes {wrong[:4]}); model.text_model and model.vision must be the "
            "architecture the weights were trained with")
    model.load_state_dict(state, strict=False)
