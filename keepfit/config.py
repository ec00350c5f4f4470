"""Typed training config: YAML file + ``--set section.key=value`` overrides, validated against dataclasses.

Unknown keys are errors naming the key (a misspelled flag must never be silently ignored), values are
coerced to the field's type (``--set train.lr=3e-4`` is a float, ``--set knowledge.topk=null`` is None).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, KeepfitError
from .knowledge import KnowledgeConfig
from .model import ModelConfig


@dataclass
class PublicSource:
    """One public categorical dataset: a FLAIR-style CSV (image, atributes, categories) or an ImageFolder."""

    kind: str = "csv"
    path: str = ""
    #: image paths in the CSV are relative to this folder (default: the CSV's folder)
    root: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("csv", "imagefolder"):
            raise ConfigError(f"data.public[].kind: must be csv or imagefolder, got {self.kind!r}")
        if not self.path:
            raise ConfigError("data.public[].path: required")


@dataclass
class DataConfig:
    """Where the MM-Retinal-style pairs and the public categorical data come from."""

    #: exported dataset directory (DATASET_DIR/data/{split}-*.parquet) or a `datasets.save_to_disk` folder
    mm_dir: str | None = None
    mm_split: str = "train"
    #: held-out split for image-to-text retrieval after training (None = skip)
    mm_test_split: str | None = "test"
    #: keep only these modalities of the MM data (None = all)
    modalities: list[str] | None = None
    caption_field: str = "caption"
    public: list[PublicSource] = field(default_factory=list)
    #: with no public source: generate this many SYNTHETIC fundus images as a FLAIR-style CSV (demo only)
    synthetic_public: int = 0
    num_workers: int = 4
    prefetch_factor: int = 4


@dataclass
class AugmentConfig:
    """Per-sample GPU augmentation (paper: on public images; here also on MM images by default)."""

    enabled: bool = True
    mm: bool = True
    hflip: float = 0.5
    affine_p: float = 0.25
    degrees: float = 5.0
    scale_min: float = 0.9
    scale_max: float = 1.0
    jitter_p: float = 0.25
    brightness: float = 0.2
    contrast: float = 0.2


@dataclass
class TrainConfig:
    """Optimisation, precision, logging and checkpointing."""

    out_dir: str = "runs/keepfit"
    seed: int = 42
    epochs: float = 1.0
    #: overrides epochs when set; the LR horizon is always the real number of optimizer steps
    max_steps: int | None = None
    batch_size: int = 24
    #: MM-Retinal pairs per step and GPU (None = batch_size: the paper's 1:1 mix)
    mm_batch_size: int | None = None
    accum_steps: int = 1
    lr: float = 1e-4
    #: LR of the pretrained text encoder = lr * text_lr_scale (projections excluded); 0 freezes it. Small
    #: datasets keep the encoder's language knowledge with a low scale instead of overfitting it.
    text_lr_scale: float = 1.0
    weight_decay: float = 1e-5
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup_epochs: float = 1.0
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0
    #: separate = paper (public loss + MM loss); joint = one loss over both (more negatives)
    loss_mode: str = "separate"
    loss_chunk_size: int | None = None
    precision: str = "bf16"
    channels_last: bool = True
    compile: bool = False
    sync_batchnorm: bool = False
    deterministic: bool = False
    device: str = "auto"
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    eval_retrieval: bool = True
    eval_before: bool = True
    eval_batch_size: int = 64
    tensorboard: bool = True
    progress: bool = True
    plot: bool = True
    #: resuming on a dataset with another fingerprint is an error unless this is set
    allow_data_change: bool = False

    def __post_init__(self) -> None:
        if self.loss_mode not in ("separate", "joint"):
            raise ConfigError(f"train.loss_mode: must be separate or joint, got {self.loss_mode!r}")
        if self.precision not in ("bf16", "fp32"):
            raise ConfigError(f"train.precision: must be bf16 or fp32, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"train.device: must be auto, cpu or cuda, got {self.device!r}")
        if (
            self.batch_size < 1
            or self.accum_steps < 1
            or (self.mm_batch_size is not None and self.mm_batch_size < 0)
        ):
            raise ConfigError("train: batch_size >= 1, accum_steps >= 1 and mm_batch_size >= 0 are required")
        if not 0.0 <= self.text_lr_scale <= 10.0:
            raise ConfigError(f"train.text_lr_scale: must be in [0, 10], got {self.text_lr_scale}")
        if len(self.betas) != 2:
            raise ConfigError(f"train.betas: two numbers expected, got {self.betas}")


@dataclass
class Config:
    """A whole training setup (one YAML file)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------------------- coercion


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (``mode: off`` stays the string 'off') and
    ``1e-4`` is a float."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [
        (tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # safe: a SafeLoader subclass


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert ``value`` to the annotated type ``tp``; errors name the key ``where``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {args}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return build(tp, value, where)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" as a string
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported config type {tp}")


def build(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Instantiate dataclass ``cls`` from a mapping: unknown keys are errors, values coerced by type."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in names:
            raise ConfigError(
                f"unknown config key '{prefix}{key}' (valid keys in {where or 'top level'}: "
                f"{', '.join(sorted(names))})"
            )
    kwargs = {k: _coerce(v, hints[k], f"{prefix}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except KeepfitError as e:
        raise ConfigError(str(e)) from e


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` to a nested mapping (value parsed as YAML: numbers, true, null, lists)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {assignment!r}: empty key part")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r} ({e})") from e
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (None = defaults), apply ``--set`` overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            loaded = yaml_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded or {}
    for assignment in overrides or []:
        apply_override(data, assignment)
    return build(Config, data)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict` (e.g. from a checkpoint)."""
    return build(Config, data)
