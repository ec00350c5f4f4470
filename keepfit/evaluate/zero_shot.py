"""Zero-shot classification with prompt ensembles.

Each class has a list of descriptions (from the domain-knowledge dictionary in :mod:`keepfit.prompts`, or a
YAML/JSON file mapping class -> descriptions, or FLAIR's ``dictionary.py``). Every description becomes a prompt through a template
("A fundus photograph of {}", the paper's), the prompts are encoded, their embeddings averaged and the mean
re-normalised, so the score ``exp(logit_scale) * cos(image, class)`` is a true cosine similarity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from .metrics import choose_threshold, classification_metrics

#: The paper's prompt template; ``{}`` (or FLAIR's ``[CLS]``) is replaced by each description.
DEFAULT_TEMPLATE = "A fundus photograph of {}"

#: Modality prompts for figures of the exported MM-Retinal-style dataset (schema.MODALITIES order).
#: Used with the template "{}" since "A fundus photograph of an OCT scan" would contradict itself.
MODALITY_DESCRIPTIONS: dict[str, list[str]] = {
    "CFP": [
        "a colour fundus photograph of the retina",
        "a fundus photograph showing the optic disc, macula and retinal vessels",
        "a color fundus image",
    ],
    "FFA": [
        "a fluorescein angiography image of the retina",
        "a fundus fluorescein angiogram with bright vessels on a dark background",
        "a grayscale angiogram showing dye leakage",
    ],
    "OCT": [
        "an optical coherence tomography scan",
        "an OCT B-scan showing retinal layers in cross section",
        "a grayscale cross-sectional image of the retina",
    ],
    "other": [
        "a diagram or a photograph that is not a retinal image",
        "an illustration, a chart or a photograph of the eye exterior",
    ],
}


def fill_template(template: str, description: str) -> str:
    """Insert a description into a template with ``{}`` or the reference's ``[CLS]`` placeholder."""
    if "{}" in template:
        return template.replace("{}", description)
    if "[CLS]" in template:
        return template.replace("[CLS]", description)
    raise ConfigError(f"prompt template {template!r} has no '{{}}' or '[CLS]' placeholder")


def load_class_descriptions(path: str | Path) -> dict[str, list[str]]:
    """Read ``class -> description | [descriptions]`` from YAML, JSON or FLAIR's ``dictionary.py`` (order of
    keys = class order); see :func:`keepfit.prompts.read_descriptions`."""
    from ..prompts import read_descriptions

    return read_descriptions(path)


def default_descriptions(classes: Sequence[str]) -> dict[str, list[str]]:
    """Per class: its name and the expert-knowledge descriptions of :mod:`keepfit.prompts` (FLAIR's class set;
    a class the dictionary does not know gets just its name, as in FLAIR)."""
    from ..prompts import DEFAULT_KNOWLEDGE

    return {c: list(DEFAULT_KNOWLEDGE.descriptions(c)) for c in classes}


def class_prompts(
    classes: Sequence[str],
    descriptions: Mapping[str, Sequence[str]] | None = None,
    template: str = DEFAULT_TEMPLATE,
    include_class_name: bool = True,
) -> dict[str, list[str]]:
    """Prompt list per class: template x (descriptions [+ the class name itself]), duplicates removed."""
    descriptions = descriptions if descriptions is not None else default_descriptions(classes)
    missing = [c for c in classes if c not in descriptions]
    if missing:
        raise ConfigError(f"no descriptions for class(es) {missing}; give them in the class-description file")
    out = {}
    for c in classes:
        items = list(descriptions[c]) + ([c] if include_class_name else [])
        items = list(dict.fromkeys(d.strip() for d in items if d.strip()))
        if not items:
            raise ConfigError(f"class {c!r} has no description and include_class_name is off")
        out[c] = [fill_template(template, d) for d in items]
    return out


@torch.no_grad()
def class_embeddings(model: Any, prompts: Mapping[str, Sequence[str]], batch_size: int = 64) -> Tensor:
    """(K, D) re-normalised mean prompt embedding per class, in ``prompts`` key order (float32, CPU)."""
    from .features import encode_texts

    rows = []
    for c, texts in prompts.items():
        emb = encode_texts(model, list(texts), batch_size=batch_size)
        if emb.shape[0] == 0:
            raise ConfigError(f"class {c!r} has no prompts")
        rows.append(F.normalize(emb.mean(0), dim=-1))
    return torch.stack(rows)


def zero_shot_logits(image_emb: Any, class_emb: Any, scale: float) -> Tensor:
    """``scale * cos(image, class)`` for every image and class, (N, K)."""
    x = F.normalize(torch.as_tensor(np.asarray(image_emb), dtype=torch.float32), dim=-1)
    w = F.normalize(torch.as_tensor(np.asarray(class_emb), dtype=torch.float32), dim=-1)
    return scale * x @ w.T


def zero_shot_evaluate(
    image_emb: Any,
    labels: Any,
    class_emb: Any,
    scale: float,
    class_names: Sequence[str],
    val_idx: Sequence[int] | None = None,
    test_idx: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Metrics of zero-shot predictions on ``test_idx`` (default: all).

    Nothing is fitted; for binary tasks with ``val_idx`` the decision threshold is chosen on those samples
    only (which must not overlap the test samples). AUC never needs a threshold.
    """
    y = np.asarray(labels).astype(np.int64)
    probs = zero_shot_logits(image_emb, class_emb, scale).softmax(1).numpy()
    test = np.arange(len(y)) if test_idx is None else np.asarray(test_idx)
    threshold = None
    if val_idx is not None and len(class_names) == 2:
        val = np.asarray(val_idx)
        if np.intersect1d(val, test).size:
            raise ValueError("validation and test indices overlap")
        threshold = choose_threshold(y[val], probs[val, 1])
    m = classification_metrics(y[test], probs[test], class_names=class_names, threshold=threshold)
    m["task"] = "zero-shot"
    return m
