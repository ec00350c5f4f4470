"""Modality cues in every language, and image evidence and caption disagreeing in the open."""

from __future__ import annotations

import numpy as np
import pytest

from mmretinal_builder.curation.imagefeatures import read_image
from mmretinal_builder.curation.lexicon import MODALITY
from mmretinal_builder.curation.modality import accuracy, caption_cues, classify_image, modality_mentions
from mmretinal_builder.curation.terms import find_terms, fold
from mmretinal_builder.stages.classify import ClassifyStage
from mmretinal_builder.stages.clean import CleanTextStage

from .conftest import DATA, MODALITY_DIR, FakeRun

# (language, caption, the modality it names); accents dropped on purpose in some
CAPTIONS = [
    ("es", "Figura 2.10: Imagen OCT y capas interiores de la retina", "OCT"),
    ("es", "Figura 3.1. Retinografía en color del ojo derecho", "CFP"),
    ("es", "Figura 4. Angiografia fluoresceinica, tiempos tardios", "FFA"),
    ("es", "Fig. 5 Tomografía de coherencia óptica de dominio espectral", "OCT"),
    ("pt", "Figura 2 - Retinografia colorida do olho esquerdo", "CFP"),
    ("pt", "Figura 7: Angiofluoresceinografia em fase tardia", "FFA"),
    ("pt", "Figura 3: Tomografia de coerência óptica da mácula", "OCT"),
    ("fr", "Figure 4 : Rétinographie couleur de l'œil droit", "CFP"),
    ("fr", "Figure 5 : Angiographie à la fluorescéine au temps précoce", "FFA"),
    ("fr", "Figure 6 : Tomographie par cohérence optique maculaire", "OCT"),
    ("de", "Abb. 2: Farbfundusfoto des rechten Auges", "CFP"),
    ("de", "Abb. 3: Fluoreszenzangiographie in der Spätphase", "FFA"),
    ("de", "Abb. 4: Optische Kohärenztomographie (SD-OCT) der Makula", "OCT"),
    ("it", "Figura 1. Retinografia a colori dell'occhio destro", "CFP"),
    ("it", "Figura 2. Fluorangiografia retinica, fase tardiva", "FFA"),
    ("it", "Figura 3. Tomografia a coerenza ottica della macula", "OCT"),
    ("zh", "图 3-1 彩色眼底照相示视盘水肿", "CFP"),
    ("zh", "图 3-2 荧光素眼底血管造影晚期", "FFA"),
    ("zh", "图 3-3 光学相干断层扫描示黄斑裂孔", "OCT"),
    ("zh", "图 3-4 OCT图像示视网膜下液", "OCT"),
    ("zh-Hant", "圖 2-1 眼底攝影顯示視盤水腫", "CFP"),
    ("zh-Hant", "圖 2-2 螢光素眼底血管攝影晚期", "FFA"),
    ("zh-Hant", "圖 2-3 光學相干斷層掃描顯示黃斑裂孔", "OCT"),
    ("fa", "شکل ۳: تصویر OCT از ماکولا", "OCT"),
    ("fa", "شكل ٤: آنژیوگرافی فلورسئین چشم راست", "FFA"),
    ("fa", "شکل ۵: عکس رنگی فوندوس", "CFP"),
]


@pytest.mark.parametrize(("lang", "caption", "modality"), CAPTIONS)
def test_caption_names_its_modality_in_every_language(lang: str, caption: str, modality: str) -> None:
    assert caption_cues(caption) == {modality: 1.0}, (lang, modality_mentions(caption))


def test_abbreviations_are_cues_in_any_script_but_not_inside_words() -> None:
    assert caption_cues("Imagen OCT") == caption_cues("OCT图像") == caption_cues("تصویر OCT") == {"OCT": 1.0}
    assert caption_cues("ＯＣＴ") == {"OCT": 1.0}  # full-width letters of a CJK font
    assert caption_cues("SD-OCT and OCTA") == {"OCT": 1.0}
    assert caption_cues("FAF of the macula") == {}  # autofluorescence has no class of its own; not "FA"
    assert caption_cues("Facial, OCTOBER, Informe FAVORABLE") == {}
    # "Dr." is not DR; DRUSEN is the word drusen, not DR inside it
    assert [(m.concept, m.text) for m in find_terms("Dr. Smith, DR and DRUSEN")] == [
        ("diabetic retinopathy", "DR"), ("drusen", "DRUSEN")]


def test_longest_mention_wins_and_plurals_count() -> None:
    assert [(m.concept, m.text) for m in find_terms("OCT angiography", MODALITY)] == [
        ("OCT angiography", "OCT angiography")]
    assert caption_cues("Angiografías con fluoresceína") == {"FFA": 1.0}
    assert caption_cues("fluorangiografie e retinografie") == {"CFP": 0.5, "FFA": 0.5}
    assert fold("Kohärenz œil ي ك") == "Koharenz oeil ی ک"


def _band_cropped_oct() -> np.ndarray:
    """A real B-scan cut tight around the retina (no dark band above it): the image model calls it an
    angiogram."""
    img = read_image(DATA / "oct" / "oct_kermany_DME-1081406-1.jpeg")
    h = img.shape[0]
    return img[int(0.3 * h):int(0.7 * h)]


def test_spanish_oct_caption_overrules_an_image_that_looks_like_an_angiogram() -> None:
    img = _band_cropped_oct()
    alone = classify_image(img)
    assert alone.modality == "FFA"  # what went wrong on the real thesis
    res = classify_image(img, "Figura 2.10: Imagen OCT y capas interiores de la retina")
    assert res.modality == "OCT" and res.rule == "caption"
    ev = res.evidence()
    assert ev["image"] == "FFA" and ev["caption"] == "OCT" and ev["caption_terms"] == ["OCT"]


def test_image_overrules_a_caption_that_names_another_colour_class(fundus_images: dict[str, list[np.ndarray]]) -> None:
    res = classify_image(fundus_images["CFP"][0], "Figura 1. Angiografía fluoresceínica")
    assert res.modality == "CFP" and res.rule == "image-over-caption" and res.cue_modality == "FFA"
    assert classify_image(fundus_images["CFP"][0]).rule == "image"


def test_labelled_images_with_captions_in_every_language(labelled_set: list[dict[str, str]]) -> None:
    """Every retinal image of the labelled set, captioned in each language with its modality's name."""
    by_mod: dict[str, list[str]] = {}
    for _, cap, mod in CAPTIONS:
        by_mod.setdefault(mod, []).append(cap)
    truth, pred = [], []
    for row in labelled_set:
        if row["modality"] not in by_mod:
            continue
        img = read_image(MODALITY_DIR / row["file"])
        alone = classify_image(img)
        for cap in by_mod[row["modality"]]:
            truth.append(row["modality"])
            pred.append(classify_image(img, cap, features=alone.features).modality)
    assert len(truth) >= 500
    assert accuracy(truth, pred) >= 0.97


def test_classify_stage_records_both_verdicts(fake_run: FakeRun, fundus_images: dict[str, list[np.ndarray]]) -> None:
    oct_fig = fake_run.figure(_band_cropped_oct(), "Figura 2.10: Imagen OCT y capas interiores de la retina")
    cfp_fig = fake_run.figure(fundus_images["CFP"][0], "Figura 3. Retinografía")
    items = CleanTextStage().run([oct_fig, cfp_fig], fake_run.ctx("clean"))
    ctx = fake_run.ctx("classify")
    out = ClassifyStage().run(items, ctx)
    assert [f.modality for f in out] == ["OCT", "CFP"]
    ev = out[0].modality_evidence
    assert ev is not None and (ev.image, ev.caption, ev.rule) == ("FFA", "OCT", "caption")
    assert out[1].modality_evidence is not None and out[1].modality_evidence.rule == "agree"
    assert ctx.counters["modality-rule:caption"] == 1 and ctx.counters["modality-rule:agree"] == 1
