"""Category labels of public fundus datasets as text, the FLAIR way: a template, the sample's attribute, and
an expert-knowledge dictionary of category descriptions.

FLAIR (and KeepFIT after it) turns a sample labelled ``glaucoma`` with attribute ``left eye`` into
"A left eye fundus photograph of glaucoma" through the template ``"A [ATR] fundus photograph of [CLS]"``,
then, for most datasets, replaces the category by one of ``[category] + descriptions[category]`` drawn at
random ("A left eye fundus photograph of an enlarged cup relative to the disc").

What is FLAIR's here and what is ours:

* the template and the class set are FLAIR's: :data:`DESCRIPTIONS` has one entry per category of FLAIR's
  expert-knowledge dictionary (class names are facts); the description texts are written for this project;
* a category not in the dictionary keeps its own name only, as in FLAIR;
* class identity is the name up to case, spacing, hyphens and British/American spelling
  (:func:`category_key`): "Age-related macular degeneration" and "age related macular degeneration" are one
  class, "myopia" and "pathologic myopia" stay two (no merging beyond spelling variants);
* :data:`PAPER_BANNED` is the reference's list of categories left out of pretraining, so that zero-shot on
  ODIR200x3 (normal / pathologic myopia / cataract) and 20x3 tests classes the model never saw; matching is
  exact on the key, like the reference's ``category in banned`` test;
* the dictionary can be replaced from a file (:func:`load_knowledge`): YAML/JSON ``category -> description
  | [descriptions]`` or FLAIR's own ``dictionary.py`` (its ``definitions = {...}`` literal is read with
  ``ast.literal_eval``, nothing is executed).
"""

from __future__ import annotations

import ast
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import ConfigError

#: FLAIR's pretraining template: [ATR] = one of the sample's attributes (or nothing), [CLS] = category text.
FLAIR_TEMPLATE = "A [ATR] fundus photograph of [CLS]"

#: Categories the reference removes from pretraining (``main_pretrain.py --banned_categories``).
PAPER_BANNED: tuple[str, ...] = (
    "myopia", "cataract", "macular hole", "retinitis pigmentosa", "myopic", "myope", "myop", "retinitis",
)

#: Datasets whose labels the reference never replaces by descriptions (their categories are already
#: free text; ``AugmentDescription`` skips them by the first folder of the image path).
PAPER_PLAIN_DATASETS: tuple[str, ...] = ("06_EYENET", "11_STARE", "08_ODIR-5K", "31_JICHI")

#: FLAIR's category set with this project's descriptions (the category name is always a candidate too).
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "no diabetic retinopathy": ("a retina without diabetic lesions", "no microaneurysms or haemorrhages"),
    "mild diabetic retinopathy": ("a few isolated microaneurysms",),
    "moderate diabetic retinopathy": (
        "microaneurysms with dot and blot haemorrhages", "hard exudates close to the fovea",
        "scattered cotton wool spots", "intraretinal haemorrhages in fewer than four quadrants",
    ),
    "severe diabetic retinopathy": (
        "intraretinal haemorrhages in all four quadrants", "beaded retinal veins",
        "intraretinal microvascular abnormalities without new vessels",
    ),
    "proliferative diabetic retinopathy": (
        "new vessels on the disc or elsewhere", "bleeding into the vitreous or in front of the retina",
    ),
    "no referable diabetic macular edema": ("a macula free of exudates",),
    "hard exudates": ("sharply outlined waxy yellow deposits", "bright yellow lipid deposits"),
    "soft exudates": ("fluffy pale patches with blurred borders", "cotton wool spots",
                      "whitish cloud-like lesions of the nerve fibre layer"),
    "microaneurysms": ("tiny round red dots",),
    "haemorrhages": ("dark red well-defined bleeding spots",),
    "non clinically significant diabetic macular edema": (
        "exudates more than one disc diameter away from the fovea", "exudates away from the macular centre",
    ),
    "age related macular degeneration": (
        "drusen clustered at the macula", "pigment mottling of the macula", "degeneration of the central retina",
    ),
    "media haze": ("a blurred view through cloudy ocular media", "a hazy image of the fundus"),
    "drusens": ("round yellow-white deposits beneath the retina", "many small yellowish dots at the macula"),
    "pathologic myopia": ("a tilted disc with peripapillary atrophy and a tessellated fundus",
                          "myopic atrophy of the macula"),
    "branch retinal vein occlusion": ("haemorrhages confined to the territory of one retinal vein",),
    "tessellation": ("choroidal vessels visible through a thin retina",),
    "epiretinal membrane": ("a glistening translucent sheet over the macula", "wrinkling of the macular surface"),
    "laser scar": ("rows of round pigmented photocoagulation marks", "small yellow-white scars with dark centres"),
    "no laser scar": ("no photocoagulation marks",),
    "macular scar": ("a fibrous scar at the macula",),
    "central serous retinopathy": ("a round blister of fluid under the fovea", "serous detachment at the macula"),
    "optic disc cupping": ("a deep excavated optic cup",),
    "central retinal vein occlusion": ("haemorrhages in every quadrant with swollen tortuous veins",),
    "tortuous vessels": ("markedly winding retinal vessels",),
    "asteroid hyalosis": ("many small bright floating particles in the vitreous",),
    "optic disc pallor": ("a pale optic disc",),
    "optic disc edema": ("a swollen optic disc with blurred margins",),
    "shunt": ("vessels bypassing an occlusion between retina and choroid",),
    "anterior ischemic optic neuropathy": ("a swollen pale disc after loss of its blood supply",),
    "parafoveal telangiectasia": ("dilated capillaries around the fovea",),
    "retinal traction": ("retina pulled by fibrous tissue",),
    "retinitis": ("inflamed whitened retina",),
    "chorioretinitis": ("inflammation of the choroid and retina with whitish patches",),
    "exudates": ("yellow-white deposits with crisp edges", "bright lesions"),
    "retinal pigment epithelium changes": ("mottled pigmentation of the outer retina",),
    "macular hole": ("a round full-thickness defect at the fovea", "a dark red spot at the centre of the macula"),
    "retinitis pigmentosa": ("bone-spicule pigment in the peripheral retina",
                             "narrow vessels and a waxy pale disc"),
    "cotton wool spots": ("small fluffy white patches", "soft exudates"),
    "colobomas": ("a sharply bordered white gap in the retina and choroid",),
    "optic disc pit maculopathy": ("a small grey pit in the disc with fluid at the macula",),
    "preretinal haemorrhage": ("a boat-shaped pool of blood in front of the retina",),
    "myelinated nerve fibers": ("feathery white opaque streaks next to the disc",),
    "haemorrhagic retinopathy": ("widespread retinal bleeding",),
    "central retinal artery occlusion": ("a pale swollen retina with a cherry-red spot",),
    "tilted disc": ("an oval obliquely inserted optic disc",),
    "cystoid macular edema": ("petal-shaped fluid cysts at the macula",),
    "post traumatic choroidal rupture": ("a crescent-shaped streak around the disc after injury",),
    "choroidal folds": ("parallel light and dark stripes across the posterior pole",),
    "vitreous haemorrhage": ("blood clouding the vitreous",),
    "macroaneurysm": ("a round dilation of a retinal arteriole",),
    "vasculitis": ("sheathed inflamed retinal vessels",),
    "branch retinal artery occlusion": ("whitened retina along one arterial branch",),
    "plaque": ("a bright embolus inside a retinal artery",),
    "haemorrhagic pigment epithelial detachment": ("a dark dome of blood under the pigment epithelium",),
    "collaterals": ("new vessel loops bridging an obstruction",),
    "normal": ("a healthy retina", "no visible lesions", "a normal disc, macula and vessels"),
    "large optic cup": ("a cup that fills much of the optic disc",),
    "retina detachment": ("a grey elevated retina lifted off its bed",),
    "Vogt-Koyanagi syndrome": ("serous detachments from uveitis", "a sunset-glow fundus"),
    "maculopathy": ("disease of the macula",),
    "glaucoma": ("an enlarged cup relative to the disc", "a thin neuroretinal rim",
                 "damage of the optic nerve head"),
    "optic atrophy": ("a pale flat optic disc",),
    "severe hypertensive retinopathy": (
        "flame haemorrhages and cotton wool spots with a swollen disc",
        "a star of exudates at the macula with narrow arteries",
    ),
    "disc swelling and elevation": ("a raised optic disc with blurred edges",),
    "dragged disk": ("a disc pulled to one side with straightened vessels",),
    "congenital disk abnormality": ("an optic disc malformed from birth",),
    "Bietti crystalline dystrophy": ("glittering crystals scattered in the retina",),
    "peripheral retinal degeneration and break": ("thinning and a tear in the peripheral retina",),
    "neoplasm": ("a tumour of the fundus",),
    "yellow-white spots flecks": ("scattered pale yellow flecks",),
    "fibrosis": ("white fibrous tissue on the retina",),
    "silicon oil": ("a glossy reflective vitreous filled with oil",),
    "no proliferative diabetic retinopathy": ("diabetic changes without new vessels",),
    "no glaucoma": ("a normal optic cup", "a healthy neuroretinal rim"),
    "cataract": ("a blurred washed-out view of the retina through a cloudy lens",),
    "hypertensive retinopathy": (
        "narrowed arterioles with arteriovenous nicking", "flame haemorrhages and cotton wool spots",
        "copper-wired arteries",
    ),
    "neovascular age related macular degeneration": ("a grey-green membrane with fluid and blood at the macula",),
    "geographical age related macular degeneration": ("a sharply outlined patch of atrophy at the macula",),
    "acute central serous retinopathy": ("a fresh serous blister under the fovea",),
    "chronic central serous retinopathy": ("long-standing fluid with pigment changes at the macula",),
    "no cataract": ("a clear sharp view of the retina",),
    "abnormal optic disc": ("an optic disc that looks abnormal",),
    "abnormal vessels": ("retinal vessels that look abnormal",),
    "abnormal macula": ("a macula that looks abnormal",),
    "macular edema": ("a thickened macula with fluid",),
    "scar": ("a healed retinal scar",),
    "nevus": ("a flat slate-grey choroidal spot",),
    "increased cup disc": ("a high cup-to-disc ratio",),
    "intraretinal microvascular abnormalities": (
        "abnormal branching capillaries inside the retina", "dilated shunt vessels within the retina",
    ),
    "red small dots": ("small red dots",),
    "neovascularisation": ("fine new blood vessels",),
    "a disease": ("an abnormal retina", "lesions of the fundus"),
    "superficial haemorrhages": ("flame-shaped bleeding in the nerve fibre layer",),
    "deep haemorrhages": ("round dot and blot bleeding deep in the retina",),
    "ungradable": ("an image too poor to grade", "no visible fundus"),
    "noisy": ("a noisy low-quality image",),
    "normal macula": ("a healthy macula",),
    "macular degeneration": ("degeneration of the macula",),
    "diabetic retinopathy": ("microaneurysms, haemorrhages and exudates",),
    "no hypertensive retinopathy": ("normal calibre arteries and veins",),
    "mild hypertensive retinopathy": ("mildly narrowed arterioles", "arteriovenous crossing changes"),
    "moderate hypertensive retinopathy": ("flame haemorrhages and cotton wool spots", "tortuous narrowed arteries"),
    "malignant hypertensive retinopathy": ("a swollen optic disc with flame haemorrhages and severe narrowing",),
}

#: British/American and hyphenation variants folded by :func:`category_key` (spelling only, no synonyms).
_SPELLING: tuple[tuple[str, str], ...] = (
    (r"aem", "em"),                 # haemorrhage, ischaemic
    (r"oedem", "edem"),             # oedema
    (r"isation\b", "ization"),      # neovascularisation
    (r"\bfibre(s?)\b", r"fiber\1"),
    (r"\bcolou?r", "color"),
    (r"\bgrey\b", "gray"),
    (r"\btumour", "tumor"),
    (r"\bdisk\b", "disc"),
    (r"\bpathological\b", "pathologic"),
)


def category_key(name: str) -> str:
    """Identity of a category name: lower case, ``_``/``-`` as spaces, spacing collapsed, spelling folded."""
    key = re.sub(r"[\s_\-]+", " ", name.strip().lower()).strip()
    for pattern, repl in _SPELLING:
        key = re.sub(pattern, repl, key)
    return key


def category_vocabulary(categories: Iterable[str]) -> list[str]:
    """Sorted category keys: index = class id of the public data in the label-aware loss."""
    return sorted({category_key(c) for c in categories if c.strip()})


class Knowledge:
    """The expert-knowledge dictionary: category key -> descriptions (FLAIR's, or one from a file)."""

    def __init__(self, descriptions: Mapping[str, Sequence[str]]) -> None:
        self.by_key: dict[str, tuple[str, ...]] = {}
        for name, items in descriptions.items():  # spelling variants of one class pool their descriptions
            key = category_key(name)
            self.by_key[key] = tuple(dict.fromkeys((*self.by_key.get(key, ()), *items)))

    def descriptions(self, category: str) -> tuple[str, ...]:
        """The category as written, then its dictionary descriptions (none when the dictionary lacks it)."""
        return tuple(dict.fromkeys((category.strip(), *self.by_key.get(category_key(category), ()))))

    def __contains__(self, category: str) -> bool:
        return category_key(category) in self.by_key


DEFAULT_KNOWLEDGE = Knowledge(DESCRIPTIONS)


def load_knowledge(path: str | Path) -> Knowledge:
    """A dictionary file: YAML/JSON ``category -> description | [descriptions]`` or FLAIR's ``dictionary.py``."""
    return Knowledge(read_descriptions(path))


def read_descriptions(path: str | Path) -> dict[str, list[str]]:
    """The raw ``category -> [descriptions]`` mapping of a YAML, JSON or FLAIR ``dictionary.py`` file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: class-description file not found")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".py":
            data = _flair_definitions(text, p)
        elif p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (json.JSONDecodeError, ValueError, SyntaxError) as e:
        raise ConfigError(f"{p}: cannot parse class descriptions ({e})") from e
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"{p}: expected a non-empty mapping class -> descriptions")
    out: dict[str, list[str]] = {}
    for cls, desc in data.items():
        items = [desc] if isinstance(desc, str) else desc
        if not isinstance(items, list) or not items or not all(isinstance(d, str) and d.strip() for d in items):
            raise ConfigError(f"{p}: class {cls!r} needs a non-empty string or list of non-empty strings")
        out[str(cls)] = list(items)
    return out


def _flair_definitions(text: str, path: Path) -> object:
    """The literal assigned to ``definitions`` in FLAIR's ``flair/modeling/dictionary.py``."""
    for node in ast.parse(text, filename=str(path)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "definitions"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise ConfigError(f"{path}: no 'definitions = {{...}}' assignment (FLAIR's dictionary.py format)")


def fill(template: str, category: str, attribute: str = "") -> str:
    """Insert the category text (and attribute) into a FLAIR template; ``{}`` works as ``[CLS]`` too."""
    if "[CLS]" not in template and "{}" not in template:
        raise ValueError(f"prompt template {template!r} has no [CLS] or {{}} placeholder")
    text = template.replace("[ATR]", attribute).replace("[CLS]", category).replace("{}", category)
    return re.sub(r"\s{2,}", " ", text).strip()


def describe(
    category: str,
    rng: random.Random,
    *,
    attributes: Sequence[str] = (),
    template: str = FLAIR_TEMPLATE,
    knowledge: Knowledge = DEFAULT_KNOWLEDGE,
    augment: bool = True,
) -> str:
    """One training text for a sample: a random attribute, and (``augment``) a random choice among the
    category and its descriptions, as FLAIR's ``ProduceDescription`` + ``AugmentDescription``."""
    attribute = rng.choice(list(attributes)) if attributes else ""
    text = rng.choice(knowledge.descriptions(category)) if augment else category.strip()
    return fill(template, text, attribute)


def is_banned(categories: Iterable[str], banned: Iterable[str]) -> str | None:
    """The first of ``categories`` whose key is in ``banned`` (None when the sample may be used)."""
    keys = {category_key(b) for b in banned}
    return next((c for c in categories if category_key(c) in keys), None)
