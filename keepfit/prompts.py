"""Turning category labels of public fundus datasets into text (FLAIR-style): templates plus a
domain-knowledge dictionary of category descriptions.

A public sample labelled ``glaucoma`` becomes e.g. "A fundus photograph of an enlarged optic cup": the
template's ``[CLS]`` is filled with the category name or one of its expert descriptions. Class ids for
the label-aware loss come from the sorted category vocabulary (:func:`category_vocabulary`), so two
samples of one category are never each other's negatives.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

TEMPLATES: tuple[str, ...] = ("A fundus photograph of [CLS]",)

#: canonical category -> descriptions (the category name itself is always a candidate too).
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "normal": ("a healthy retina", "a normal optic disc and macula", "no retinal lesions"),
    "no diabetic retinopathy": (
        "no diabetic retinopathy",
        "no microaneurysms",
        "no haemorrhages or exudates",
    ),
    "mild diabetic retinopathy": ("only a few microaneurysms", "mild non-proliferative diabetic retinopathy"),
    "moderate diabetic retinopathy": (
        "microaneurysms and dot-blot haemorrhages",
        "hard exudates near the macula",
        "cotton wool spots",
        "moderate non-proliferative diabetic retinopathy",
    ),
    "severe diabetic retinopathy": (
        "many intraretinal haemorrhages in four quadrants",
        "venous beading",
        "intraretinal microvascular abnormalities",
        "severe non-proliferative diabetic retinopathy",
    ),
    "proliferative diabetic retinopathy": (
        "neovascularization of the disc",
        "neovascularization elsewhere",
        "preretinal or vitreous haemorrhage",
        "fibrovascular proliferation",
    ),
    "diabetic retinopathy": (
        "microaneurysms",
        "retinal haemorrhages",
        "hard exudates",
        "cotton wool spots",
    ),
    "diabetic macular edema": (
        "hard exudates at the macula",
        "retinal thickening at the macula",
        "macular edema",
    ),
    "glaucoma": (
        "an enlarged optic cup",
        "a high cup-to-disc ratio",
        "thinning of the neuroretinal rim",
        "glaucomatous optic neuropathy",
    ),
    "age-related macular degeneration": (
        "drusen at the macula",
        "macular pigment changes",
        "geographic atrophy of the macula",
        "choroidal neovascularization at the macula",
    ),
    "drusen": ("yellow deposits under the retina", "multiple small yellow spots at the macula"),
    "choroidal neovascularization": ("a grey-green subretinal membrane", "subretinal haemorrhage and fluid"),
    "cataract": ("a hazy and blurred view of the retina", "lens opacity obscuring retinal details"),
    "pathologic myopia": (
        "a tessellated fundus",
        "peripapillary atrophy",
        "a tilted optic disc",
        "myopic macular degeneration",
    ),
    "hypertensive retinopathy": (
        "arteriovenous nicking",
        "narrowed retinal arterioles",
        "flame-shaped haemorrhages",
        "cotton wool spots and hypertensive changes",
    ),
    "retinal vein occlusion": (
        "dilated tortuous veins with haemorrhages",
        "flame-shaped haemorrhages in one quadrant",
        "haemorrhages in all four quadrants",
    ),
    "branch retinal vein occlusion": ("haemorrhages in the sector drained by one vein",),
    "central retinal vein occlusion": ("haemorrhages in all four quadrants with a swollen disc",),
    "retinal artery occlusion": ("a pale retina with a cherry-red spot", "whitening of the retina"),
    "optic disc edema": ("a swollen optic disc with blurred margins", "papilledema"),
    "retinal detachment": ("an elevated detached retina", "retinal folds"),
    "retinitis pigmentosa": ("bone-spicule pigmentation", "attenuated vessels and a waxy disc"),
    "macular hole": ("a round full-thickness defect at the fovea",),
    "epiretinal membrane": ("a glistening membrane over the macula", "macular pucker"),
    "laser scars": ("round pigmented laser photocoagulation scars",),
}

#: other spellings -> canonical category (matching is case- and whitespace-insensitive).
ALIASES: dict[str, str] = {
    "healthy": "normal",
    "no dr": "no diabetic retinopathy",
    "dr": "diabetic retinopathy",
    "mild dr": "mild diabetic retinopathy",
    "moderate dr": "moderate diabetic retinopathy",
    "severe dr": "severe diabetic retinopathy",
    "pdr": "proliferative diabetic retinopathy",
    "npdr": "moderate diabetic retinopathy",
    "dme": "diabetic macular edema",
    "diabetic macular oedema": "diabetic macular edema",
    "macular edema": "diabetic macular edema",
    "amd": "age-related macular degeneration",
    "armd": "age-related macular degeneration",
    "age related macular degeneration": "age-related macular degeneration",
    "cnv": "choroidal neovascularization",
    "myopia": "pathologic myopia",
    "pathological myopia": "pathologic myopia",
    "high myopia": "pathologic myopia",
    "rvo": "retinal vein occlusion",
    "brvo": "branch retinal vein occlusion",
    "crvo": "central retinal vein occlusion",
    "hypertension": "hypertensive retinopathy",
    "papilledema": "optic disc edema",
    "rp": "retinitis pigmentosa",
    "erm": "epiretinal membrane",
}


def canonical_category(name: str) -> str:
    """Lower-case, collapse whitespace and underscores, resolve aliases."""
    key = re.sub(r"[\s_]+", " ", name.strip().lower())
    return ALIASES.get(key, key)


def category_vocabulary(categories: Iterable[str]) -> list[str]:
    """Sorted canonical categories: index = class id of the public data in the label-aware loss."""
    return sorted({canonical_category(c) for c in categories if c.strip()})


def descriptions(category: str) -> tuple[str, ...]:
    """The category name followed by its dictionary descriptions (no duplicates)."""
    cat = canonical_category(category)
    return tuple(dict.fromkeys((cat, *DESCRIPTIONS.get(cat, ()))))


def fill(template: str, text: str) -> str:
    if "[CLS]" not in template:
        raise ValueError(f"prompt template {template!r} has no [CLS] placeholder")
    return template.replace("[CLS]", text)


def describe(category: str, rng: random.Random, templates: tuple[str, ...] = TEMPLATES) -> str:
    """One training text for a sample of ``category``: a random template with a random description."""
    return fill(rng.choice(templates), rng.choice(descriptions(category)))


def class_prompts(category: str, templates: tuple[str, ...] = TEMPLATES) -> list[str]:
    """Every template x description for ``category`` (a zero-shot prompt ensemble)."""
    return [fill(t, d) for t in templates for d in descriptions(category)]
