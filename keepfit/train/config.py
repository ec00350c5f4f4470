"""A training run as one YAML file (``pipelines/keepfit_*.yaml``): five sections validated by pydantic models
that forbid unknown keys, plus ``--set section.key=value`` overrides (see :mod:`keepfit.settings`).

``model`` and ``knowledge`` are the library's own configs (:class:`keepfit.model.ModelConfig`,
:class:`keepfit.knowledge.KnowledgeConfig`); ``data``, ``augment`` and ``train`` belong to the program.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..knowledge import KnowledgeConfig
from ..model import ModelConfig
from ..prompts import FLAIR_TEMPLATE, PAPER_BANNED, PAPER_PLAIN_DATASETS
from ..settings import Settings, load_settings


class PublicSource(Settings):
    """One public categorical dataset: a FLAIR-style CSV (image, atributes, categories) or an ImageFolder."""

    section: ClassVar[str] = "data.public[]"

    kind: Literal["csv", "imagefolder"] = "csv"
    path: str = Field(min_length=1)
    #: image paths in the CSV are relative to this folder (default: the CSV's folder)
    root: str | None = None


class DataConfig(Settings):
    """Where the MM-Retinal-style pairs and the public categorical data come from, and how labels become text."""

    section: ClassVar[str] = "data"

    #: exported dataset directory (DATASET_DIR/data/{split}-*.parquet) or a `datasets.save_to_disk` folder
    mm_dir: str | None = None
    mm_split: str = "train"
    #: held-out split for image-to-text retrieval after training (None = skip)
    mm_test_split: str | None = "test"
    #: books (the exported ``book`` column) taken out of mm_split as a validation set: training never sees
    #: them and the held-out retrieval is measured on them instead of mm_test_split. Choose settings this
    #: way, never on the test books.
    mm_val_books: list[str] = Field(default_factory=list)
    #: keep only these modalities of the MM data (None = all; the paper's KeepFIT-CFP: [CFP])
    modalities: list[str] | None = None
    caption_field: str = "caption"
    public: list[PublicSource] = Field(default_factory=list)
    #: FLAIR's prompt: [ATR] = a random attribute of the sample (or nothing), [CLS] = the category text
    template: str = FLAIR_TEMPLATE
    #: replace the category by a random one of [category] + its dictionary descriptions (FLAIR's
    #: augment_description)
    describe: bool = True
    #: datasets (first folder of the image path) whose categories are never replaced by descriptions
    plain_datasets: list[str] = Field(default_factory=lambda: list(PAPER_PLAIN_DATASETS))
    #: expert-knowledge dictionary file (YAML/JSON category -> descriptions, or FLAIR's dictionary.py);
    #: None = the built-in dictionary over FLAIR's class set
    knowledge_file: str | None = None
    #: public samples with any of these categories are left out of training (exact match up to spelling);
    #: the default is the paper's, which keeps ODIR200x3's and 20x3's classes unseen for zero-shot
    banned_categories: list[str] = Field(default_factory=lambda: list(PAPER_BANNED))
    #: with no public source: generate this many SYNTHETIC fundus images as a FLAIR-style CSV (demo only)
    synthetic_public: int = Field(0, ge=0)
    num_workers: int = Field(4, ge=0)
    prefetch_factor: int = Field(4, ge=1)


class AugmentConfig(Settings):
    """Per-sample GPU augmentation (the paper's recipe on public images; here also on MM images by default)."""

    section: ClassVar[str] = "augment"

    enabled: bool = True
    #: augment MM-Retinal images too (the reference left them un-augmented: mm=false reproduces that)
    mm: bool = True
    hflip: float = Field(0.5, ge=0, le=1)
    affine_p: float = Field(0.25, ge=0, le=1)
    degrees: float = 5.0
    scale_min: float = 0.9
    scale_max: float = 1.0
    jitter_p: float = Field(0.25, ge=0, le=1)
    brightness: float = 0.2
    contrast: float = 0.2


class TrainConfig(Settings):
    """Optimisation, precision, logging and checkpointing."""

    section: ClassVar[str] = "train"

    out_dir: str = "runs/keepfit"
    seed: int = 42
    epochs: float = Field(1.0, gt=0)
    #: overrides epochs when set; the LR horizon is always the real number of optimizer steps
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(24, ge=1)
    #: MM-Retinal pairs per step and GPU (None = batch_size: the paper's 1:1 mix)
    mm_batch_size: int | None = Field(None, ge=0)
    accum_steps: int = Field(1, ge=1)
    lr: float = Field(1e-4, gt=0)
    #: LR of the pretrained text encoder = lr * text_lr_scale (projections excluded); 0 freezes it. Small
    #: datasets keep the encoder's language knowledge with a low scale instead of overfitting it.
    text_lr_scale: float = Field(1.0, ge=0.0, le=10.0)
    weight_decay: float = Field(1e-5, ge=0)
    #: matrices = decay weight matrices and kernels only (biases, norm weights and the logit scale not);
    #: all = every parameter, as the reference's AdamW(model.parameters())
    weight_decay_on: Literal["matrices", "all"] = "matrices"
    betas: list[float] = Field(default_factory=lambda: [0.9, 0.999], min_length=2, max_length=2)
    eps: float = 1e-8
    warmup_epochs: float = Field(1.0, ge=0)
    warmup_steps: int | None = Field(None, ge=0)
    #: cosine decay horizon in epochs (None = the run's real length); the reference hard-codes 100 epochs
    cosine_epochs: float | None = Field(None, gt=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    grad_clip: float | None = 1.0
    #: separate = paper (public loss + MM loss); joint = one loss over both (more negatives)
    loss_mode: Literal["separate", "joint"] = "separate"
    loss_chunk_size: int | None = Field(None, ge=1)
    precision: Literal["bf16", "fp32"] = "bf16"
    channels_last: bool = True
    #: torch.compile the two towers (the loss compiles its own tile kernels on CUDA)
    compile: bool = False
    sync_batchnorm: bool = False
    deterministic: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(3, ge=0)
    eval_retrieval: bool = True
    eval_before: bool = True
    eval_batch_size: int = Field(64, ge=1)
    tensorboard: bool = True
    progress: bool = True
    plot: bool = True
    #: resuming on a dataset with another fingerprint is an error unless this is set
    allow_data_change: bool = False


class Config(Settings):
    """A whole training setup (one YAML file)."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)

    @model_validator(mode="after")
    def _knowledge_needs_heads(self) -> Config:
        if self.knowledge.mode == "attention" and self.model.revision_heads == 0:
            raise ValueError("knowledge.mode=attention needs model.revision_heads > 0 (or knowledge.mode=retrieval"
                             " / off)")
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (None = defaults), apply ``--set`` overrides, validate."""
    return load_settings(Config, path, overrides)


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict` (e.g. from a checkpoint)."""
    return Config.from_dict(data, "saved config")
