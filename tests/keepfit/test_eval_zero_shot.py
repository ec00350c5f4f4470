"""Zero-shot: prompt ensembles, known answers through the whole pipeline, chance level for random models."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from keepfit.errors import ConfigError
from keepfit.evaluate.datasets import from_flair_csv, from_image_folder
from keepfit.evaluate.tasks import run_zero_shot
from keepfit.evaluate.zero_shot import (
    class_prompts,
    default_descriptions,
    fill_template,
    load_class_descriptions,
    zero_shot_evaluate,
)
from keepfit.model import KeepFIT, ModelConfig
from keepfit.train.synthetic import LESIONS, draw_fundus

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


class ColourWordModel(nn.Module):
    """Images embed as the one-hot of their brightest channel, texts as the one-hot of the colour word in
    them: a model whose zero-shot answer is known."""

    words = ("red", "green", "blue")

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(image_size=16, embed_dim=3, logit_scale_max=math.log(100))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(50.0)))

    def encode_image(self, pixels):
        return F.one_hot(pixels.mean(dim=(2, 3)).argmax(1), 3).float()

    def tokenize(self, texts):
        ids = [[next(i for i, w in enumerate(self.words) if w in t.lower())] for t in texts]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), 1, dtype=torch.long)}

    def encode_text(self, input_ids, attention_mask):
        return F.one_hot(input_ids[:, 0], 3).float()


def _colour_folder(root, n=4):
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (20 + i, 16), rgb).save(root / name / f"{i}.png")
    return root


def test_prompt_ensemble_from_descriptions_and_template():
    prompts = class_prompts(["glaucoma"], {"glaucoma": ["an enlarged optic cup", "glaucoma"]})
    assert prompts == {"glaucoma": ["A fundus photograph of an enlarged optic cup", "A fundus photograph of glaucoma"]}
    assert fill_template("A fundus photograph of [CLS]", "drusen") == "A fundus photograph of drusen"
    with pytest.raises(ConfigError, match="placeholder"):
        fill_template("no slot", "x")
    with pytest.raises(ConfigError, match="no descriptions"):
        class_prompts(["cataract"], {"glaucoma": ["x"]})


def test_default_descriptions_come_from_the_domain_knowledge_dictionary():
    d = default_descriptions(["glaucoma", "Age-related macular degeneration", "AMD", "an unknown finding"])
    assert d["glaucoma"][0] == "glaucoma" and "a thin neuroretinal rim" in d["glaucoma"]
    # FLAIR's class "age related macular degeneration", found up to spelling; the class keeps its own name
    assert d["Age-related macular degeneration"][0] == "Age-related macular degeneration"
    assert "drusen clustered at the macula" in d["Age-related macular degeneration"]
    assert d["AMD"] == ["AMD"]  # no abbreviation aliases: an unknown class keeps its name only, as in FLAIR
    assert d["an unknown finding"] == ["an unknown finding"]


def test_class_description_files(tmp_path):
    y = tmp_path / "classes.yaml"
    y.write_text("glaucoma: an enlarged optic cup\nnormal:\n  - a healthy retina\n  - no lesions\n")
    assert load_class_descriptions(y) == {"glaucoma": ["an enlarged optic cup"],
                                          "normal": ["a healthy retina", "no lesions"]}
    j = tmp_path / "classes.json"
    j.write_text('{"cataract": []}')
    with pytest.raises(ConfigError, match="cataract"):
        load_class_descriptions(j)
    with pytest.raises(ConfigError, match="not found"):
        load_class_descriptions(tmp_path / "missing.yaml")


def test_known_answer_through_the_whole_pipeline(tmp_path):
    data = from_image_folder(_colour_folder(tmp_path / "folder"))
    assert data.class_names == ["blue", "green", "red"]
    descriptions = {c: [f"a {c} image", f"something {c}"] for c in data.class_names}
    r = run_zero_shot(ColourWordModel(), data, descriptions=descriptions, template="{}")
    assert r["accuracy"] == 1.0 and r["aca"] == 1.0 and r["auc"] == 1.0
    assert r["prompts"]["red"] == ["a red image", "something red", "red"]
    assert r["logit_scale"] == pytest.approx(50.0)


def test_flair_csv_gives_the_same_dataset(tmp_path):
    _colour_folder(tmp_path)
    rows = ["image,atributes,categories"] + [
        f"{c}/{i}.png,[],['{c}']" for c in COLOURS for i in range(4)]
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    data = from_flair_csv(tmp_path / "set.csv")
    assert data.class_names == ["blue", "green", "red"] and data.counts() == {"blue": 4, "green": 4, "red": 4}
    r = run_zero_shot(ColourWordModel(), data, descriptions={c: [c] for c in COLOURS}, template="{}")
    assert r["aca"] == 1.0


def test_random_model_is_near_chance(tmp_path):
    rng = random.Random(0)
    cats = ["normal", "glaucoma", "cataract"]
    for c in cats:
        (tmp_path / c).mkdir()
        for i in range(10):
            draw_fundus(rng, LESIONS[c][1], size=32).save(tmp_path / c / f"{i}.png")
    data = from_image_folder(tmp_path)
    acas, aucs = [], []
    for seed in range(4):
        torch.manual_seed(seed)
        model = KeepFIT.from_config(ModelConfig(vision="tiny-cnn", text_model="tiny-bert", embed_dim=16, image_size=32))
        r = run_zero_shot(model, data)
        acas.append(r["aca"])
        aucs.append(r["auc"])
    assert abs(np.mean(acas) - 1 / 3) < 0.15
    assert abs(np.mean(aucs) - 0.5) < 0.2


def test_binary_threshold_uses_only_the_validation_part():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    W = np.eye(2)
    x = np.stack([1 - y + 0.3 * rng.random(40), y + 0.3 * rng.random(40)], 1)
    val, test = np.arange(0, 40, 4), np.setdiff1d(np.arange(40), np.arange(0, 40, 4))
    a = zero_shot_evaluate(x, y, W, 10.0, ["neg", "pos"], val_idx=val, test_idx=test)
    y_flipped = y.copy()
    y_flipped[test] = 1 - y_flipped[test]
    b = zero_shot_evaluate(x, y_flipped, W, 10.0, ["neg", "pos"], val_idx=val, test_idx=test)
    assert a["threshold"] == b["threshold"] and a["n"] == len(test)
    with pytest.raises(ValueError, match="overlap"):
        zero_shot_evaluate(x, y, W, 10.0, ["neg", "pos"], val_idx=val, test_idx=np.arange(40))
