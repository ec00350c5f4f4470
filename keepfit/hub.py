"""Model interchange: a ``save_pretrained``-style directory, one-call loading, Hub upload, and import of the
original KeepFIT/FLAIR ``.pth`` state dicts.

Export layout (``keepfit export CKPT --out DIR``)::

    DIR/config.json          {"format": "keepfit-pretrained", "model": ModelConfig, "pixel_norm", "source"}
    DIR/model.safetensors    the KeepFIT state dict
    DIR/text_encoder/        the text tower's HF config.json + tokenizer files (self-contained: no hub needed)
    DIR/README.md            model card

Reference layout (FLAIR ``flair/modeling/model.py``, KeepFIT ``keepfit/modeling/model.py``)::

    vision_model.model.*                               torchvision ResNet (fc = Identity)  -> vision.*
    vision_model.projection_head_vision.projection.weight                                  -> image_projection.weight
    text_model.model.*                                 HF BERT (+ pooler, unused)          -> text.*
    text_model.projection_head_text.projection.weight                                      -> text_projection.weight
    logit_scale                                                                            -> logit_scale
    attention.W_{q,k,v,o}.weight                       KeepFIT revision attention, no bias -> revision.{q,k,v,out}

The reference feeds raw [0, 1] pixels to its ResNet (no ImageNet normalisation) and averages BERT layers 1,
2 and last over every token position, padding included. The released weights were trained and evaluated that
way, so an imported model reproduces all three (``pixel_norm="none"``, ``pooling="mean-1-2-last-padded"``):
its text embeddings of a padded batch equal the reference's. Set ``model.pooling`` to ``mean-1-2-last``
(masked) when training on from such weights (``model.init_from``) with the fixed pooling.

:func:`load_model` is the one way to load any KeepFIT model from disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from . import checkpoint
from .errors import CheckpointError
from .weights import (
    CARD_FILE,
    CONFIG_FILE,
    REFERENCE_SUFFIXES,
    TEXT_DIR,
    WEIGHTS_FILE,
    is_pretrained_dir,
    is_reference_layout,
    map_reference_keys,
    read_state_dict,
)

FORMAT = "keepfit-pretrained"
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------- pixel norm


def pixel_norm_of(model: Any) -> str:
    """How ``model`` normalises pixels: "imagenet" or "none" (imported reference weights)."""
    return model.config.pixel_norm


# ------------------------------------------------------------------------------------------- export


def save_pretrained(model: Any, out_dir: str | Path, *, source: Mapping[str, Any] | None = None,
                    evaluation: Mapping[str, Any] | None = None) -> Path:
    """Write the export directory atomically (temp dir + rename); returns its path."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / TEXT_DIR).mkdir(parents=True)
    cfg = model.config.to_dict()
    original_text_model = cfg["text_model"]
    # the text tower is rebuilt from text_encoder/ at load time; pretrained vision weights are in the file
    cfg.update(text_model=TEXT_DIR, text_config=None, vision_weights=None, init_from=None)
    model.text.config.save_pretrained(tmp / TEXT_DIR)
    model.tokenizer.save_pretrained(tmp / TEXT_DIR)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": "keepfit",
        "model": cfg,
        "pixel_norm": pixel_norm_of(model),
        "source": {"text_model": original_text_model, **dict(source or {})},
    }
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (tmp / CARD_FILE).write_text(model_card(config, evaluation), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tmp, out)
    return out


def model_card(config: Mapping[str, Any], evaluation: Mapping[str, Any] | None = None) -> str:
    """A Hub model card (YAML front matter + markdown) generated from the export config."""
    m, src = config["model"], config.get("source", {})
    lines = [
        "---",
        "library_name: keepfit",
        "license: other",
        "pipeline_tag: zero-shot-image-classification",
        "tags: [keepfit, clip, fundus, ophthalmology, medical-imaging]",
        "---",
        "",
        "# KeepFIT fundus image-text model",
        "",
        "A CLIP-style dual encoder for colour fundus photographs and ophthalmic text, trained with",
        "KeepFIT's knowledge-enhanced recipe (label-aware contrastive loss on public categorical data mixed",
        "with expert image-caption pairs, plus image-similarity-guided text revision).",
        "",
        "## Use",
        "",
        "```python",
        "from keepfit.hub import from_pretrained",
        "from keepfit.evaluate.features import encode_images, encode_texts",
        "",
        'model = from_pretrained("THIS_DIRECTORY_OR_REPO")',
        'img = encode_images(model, ["fundus.jpg"])          # (1, embed_dim), L2-normalised',
        'txt = encode_texts(model, ["A fundus photograph of glaucoma"])',
        "print(model.logit_scale.exp() * img @ txt.T)",
        "```",
        "",
        f"Images: RGB, long side resized to {m['image_size']} px, zero-padded right/bottom to a square, pixels",
        "in [0, 1]; the model applies "
        + ("ImageNet mean/std normalisation itself." if config.get("pixel_norm") == "imagenet"
           else "no further normalisation (reference-compatible weights)."),
        "",
        "## Architecture",
        "",
        "| field | value |",
        "|---|---|",
    ]
    for key in ("vision", "pooling", "max_length", "embed_dim", "image_size", "revision_heads"):
        lines.append(f"| {key} | {m.get(key)} |")
    lines.append(f"| text tower (source) | {src.get('text_model')} |")
    lines += ["", "## Provenance", ""]
    for key, value in sorted(src.items()):
        if key != "text_model":
            lines.append(f"* {key}: {value}")
    if evaluation:
        lines += ["", "## Evaluation", "", "| task | metric | value |", "|---|---|---|"]
        for task, metrics in evaluation.items():
            for name, value in metrics.items():
                shown = f"{value:.3f}" if isinstance(value, float) else value
                lines.append(f"| {task} | {name} | {shown} |")
    lines += [
        "",
        "## Limitations",
        "",
        "Research model, not a medical device. Atlas figures and public datasets differ from clinical",
        "images; evaluate on your own data before relying on any prediction.",
        "",
    ]
    return "\n".join(lines)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path / CONFIG_FILE}: unreadable ({e})") from e
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a {FORMAT} directory (format={config.get('format')!r})")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {config['format_version']} is newer than this keepfit")
    return config


def from_pretrained(path: str | Path, device: str | torch.device = "cpu", revision: str | None = None) -> Any:
    """Load an exported directory, or download a Hub repo (``owner/name``) and load that; eval mode."""
    from .checkpoint import load_into
    from .model import KeepFIT, ModelConfig

    p = Path(path)
    if not p.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)):
        from huggingface_hub import snapshot_download

        p = Path(snapshot_download(repo_id=str(path), revision=revision))
    if not is_pretrained_dir(p):
        raise CheckpointError(f"{p}: not an exported KeepFIT directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    config = _read_config(p)
    try:
        # exports written before ModelConfig had pixel_norm kept it beside the model config
        cfg = ModelConfig.from_dict({"pixel_norm": config.get("pixel_norm", "imagenet"), **config["model"],
                                     "text_model": str(p / config["model"]["text_model"])})
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{p / CONFIG_FILE}: bad model config ({e})") from e
    model = KeepFIT.from_config(cfg, load_pretrained=False)
    load_into(model, p / WEIGHTS_FILE)
    return model.to(device).eval()


def push_to_hub(folder: str | Path, repo_id: str, *, token: str | None = None, private: bool = False,
                commit_message: str = "Upload KeepFIT model") -> str:
    """Create (or reuse) the model repo and upload the export directory; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                             commit_message=commit_message)
    return str(getattr(info, "commit_url", None) or info)


# ------------------------------------------------------------------------------------ reference import


def _infer_vision(state: Mapping[str, torch.Tensor], where: str) -> str:
    """torchvision ResNet depth from block counts and block type."""
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"vision\.layer3\.(\d+)\.", k))}
    bottleneck = any(k.startswith("vision.layer1.0.conv3.") for k in state)
    n3 = len(blocks)
    table = {(False, 2): "resnet18", (False, 6): "resnet34", (True, 6): "resnet50", (True, 23): "resnet101"}
    name = table.get((bottleneck, n3))
    if name is None:
        raise CheckpointError(f"{where}: unsupported vision tower (layer3 has {n3} "
                              f"{'bottleneck' if bottleneck else 'basic'} blocks; only torchvision-layout ResNets)")
    return name


def _infer_bert_config(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """BertConfig fields readable from tensor shapes (attention heads are not; they come from the caller)."""
    word = state["text.embeddings.word_embeddings.weight"]
    layers = {int(m.group(1)) for k in state if (m := re.match(r"text\.encoder\.layer\.(\d+)\.", k))}
    return {
        "vocab_size": int(word.shape[0]),
        "hidden_size": int(word.shape[1]),
        "num_hidden_layers": len(layers),
        "intermediate_size": int(state["text.encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "max_position_embeddings": int(state["text.embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(state["text.embeddings.token_type_embeddings.weight"].shape[0]),
    }


def import_reference(
    path: str | Path,
    *,
    text_model: str | None = None,
    text_config: Mapping[str, Any] | None = None,
    image_size: int = 512,
    max_length: int = 256,
    revision_heads: int = 2,
) -> Any:
    """A KeepFIT model holding the weights of an original KeepFIT/FLAIR ``.pth`` (eval mode, CPU).

    ``text_model`` names the text tower the checkpoint was trained with (its tokenizer and architecture;
    default Bio_ClinicalBERT, the paper's). ``"tiny-bert"`` reads the architecture from the tensors and
    takes what shapes cannot tell (``num_attention_heads``) from ``text_config``.
    """
    from .model import PAPER_TEXT_MODEL, KeepFIT, ModelConfig

    where = str(path)
    raw = read_state_dict(path)
    if not is_reference_layout(raw):
        raise CheckpointError(
            f"{where}: unknown layout: expected FLAIR/KeepFIT reference keys (vision_model.model.*, "
            f"text_model.model.*, logit_scale), found e.g. {list(raw)[:5]}")
    state = map_reference_keys(raw, where)
    embed_dim = int(state["image_projection.weight"].shape[0])
    has_revision = "revision.q.weight" in state
    text_model = text_model or PAPER_TEXT_MODEL
    tc = None
    if text_model == "tiny-bert":
        tc = {**_infer_bert_config(state), **dict(text_config or {})}
    cfg = ModelConfig(
        vision=_infer_vision(state, where), vision_weights=None, text_model=text_model, text_config=tc,
        pooling="mean-1-2-last-padded", max_length=max_length, embed_dim=embed_dim, image_size=image_size,
        revision_heads=revision_heads if has_revision else 0, pixel_norm="none",
    )
    model = KeepFIT.from_config(cfg, load_pretrained=False)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{where}: weights do not fit the inferred model ({str(e).splitlines()[0]}; "
                              f"text tower {text_model!r}: is it the one the checkpoint was trained with?)") from e
    return model.eval()


# ----------------------------------------------------------------------------------------- dispatch


def build_from_checkpoint(ckpt: Path) -> Any:
    """The KeepFIT model saved in checkpoint directory ``ckpt`` (CPU, train mode); use
    :func:`load_model` to load any model from disk."""
    from .model import KeepFIT, ModelConfig

    meta = checkpoint.read_meta(ckpt)
    cfg = ModelConfig.from_dict(meta["model_config"], str(ckpt / checkpoint.META_FILE))
    model = KeepFIT.from_config(cfg, load_pretrained=False)
    checkpoint.load_into(model, ckpt / checkpoint.MODEL_FILE)
    return model



def load_model(path: str | Path, device: str | torch.device = "cpu", **import_options: Any) -> Any:
    """Any KeepFIT model on disk, in eval mode: an export dir, a training run / checkpoint / final dir, a
    reference FLAIR/KeepFIT ``.pth`` (``import_options`` go to :func:`import_reference`), or a Hub repo id."""
    p = Path(path)
    if p.is_dir():
        if is_pretrained_dir(p):
            return from_pretrained(p, device)
        return build_from_checkpoint(checkpoint.resolve(p)).to(device).eval()
    if p.is_file():
        if p.suffix in (*REFERENCE_SUFFIXES, ".safetensors"):
            return import_reference(p, **import_options).to(device)
        raise CheckpointError(f"{p}: unknown checkpoint file type (expected a directory, .pth, .pt, .bin or "
                              ".safetensors)")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)) and not str(path).startswith("."):
        return from_pretrained(str(path), device)
    raise CheckpointError(f"{p}: no such checkpoint, export directory or file")


def card_evaluation(report_files: list[str | Path]) -> dict[str, dict[str, Any]]:
    """Headline numbers for the model card from ``keepfit eval --out`` JSON reports (task -> metric -> value)."""
    from .evaluate.report import result_rows

    table: dict[str, dict[str, Any]] = {}
    for f in report_files:
        try:
            result = json.loads(Path(f).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{f}: unreadable evaluation report ({e})") from e
        source = result.get("data", {}).get("name", "")
        for row in result_rows(result):
            name = f"{row.pop('task')} ({Path(str(source)).name})" if source else row.pop("task")
            row.pop("n", None)
            table[name] = {k: (v["mean"] if isinstance(v, dict) else v) for k, v in row.items() if v is not None}
    return table


def export(checkpoint_path: str | Path, out_dir: str | Path, *, push_to: str | None = None,
           token: str | None = None, private: bool = False, eval_reports: list[str | Path] | None = None,
           **import_options: Any) -> dict[str, Any]:
    """``keepfit export``: load any checkpoint, write the export dir, optionally push it; returns a summary."""
    src = Path(checkpoint_path)
    model = load_model(src, "cpu", **import_options)
    source: dict[str, Any] = {"checkpoint": src.name}
    if src.is_dir() and not is_pretrained_dir(src):
        meta = checkpoint.read_meta(checkpoint.resolve(src), verify=False)
        for key in ("step", "total_steps", "dataset_fingerprint", "torch_version"):
            if key in meta:
                source[key] = meta[key]
    elif src.is_file():
        source["imported_from"] = "reference state dict (FLAIR/KeepFIT layout)"
    elif is_pretrained_dir(src):  # re-export: keep where it came from (and not this machine's text_encoder path)
        previous = _read_config(src).get("source", {})
        source = {**previous, **{k: v for k, v in source.items() if k not in previous}}
    evaluation = card_evaluation(list(eval_reports)) if eval_reports else None
    out = save_pretrained(model, out_dir, source=source, evaluation=evaluation)
    summary: dict[str, Any] = {"out": str(out), "files": sorted(f.name for f in out.iterdir())}
    if push_to:
        summary["pushed"] = push_to_hub(out, push_to, token=token, private=private)
    return summary

