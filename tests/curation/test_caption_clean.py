"""Caption cleaning: label, citations, source lines, bilingual split, entities, caption flags."""

from __future__ import annotations

import pytest

from mmretinal_builder.curation.caption_checks import caption_flags, noise_ratio_en
from mmretinal_builder.curation.caption_clean import clean_caption, split_label
from mmretinal_builder.curation.language import detect_language, split_bilingual


@pytest.mark.parametrize(
    ("raw", "label", "rest"),
    [
        ("Fig. 3-12 Drusen in the macula.", "Fig. 3-12", "Drusen in the macula."),
        ("FIGURE 2.5. OCT of the macula", "FIGURE 2.5", "OCT of the macula"),
        ("Figure 4: Fundus", "Figure 4", "Fundus"),
        ("图 3-12 视网膜出血", "图 3-12", "视网膜出血"),
        ("图3．5　黄斑水肿", "图3．5", "黄斑水肿"),
        ("Figura 2.5 Retinopatía", "Figura 2.5", "Retinopatía"),
        ("The fundus shows drusen.", None, "The fundus shows drusen."),
    ],
)
def test_split_label(raw: str, label: str | None, rest: str) -> None:
    got_label, got_rest = split_label(raw)
    assert got_label == label
    assert got_rest.strip() == rest


def test_citations_and_source_lines_are_removed() -> None:
    t = clean_caption(
        "Fig. 1 Peripapillary atrophy near the optic disc [12]; tessellated retina (Smith et al., 2003) "
        "and drusen [3, 5-7] (Smith and Jones 1999; Lee 2001). Courtesy of Dr. J. Smith. "
        "Source: Atlas of Fundus Diseases. Reproduced from Lee (2001) with permission."
    )
    assert t.label == "Fig. 1"
    assert t.en == "Peripapillary atrophy near the optic disc; tessellated retina and drusen."
    assert t.zh is None and t.lang == "en"
    for gone in ("[12]", "Smith", "Courtesy", "Source", "Reproduced", "2003"):
        assert gone not in t.en


def test_parenthesised_courtesy_and_chinese_sources() -> None:
    assert clean_caption("Macular hole (courtesy of J. Doe). Arrow: the hole.").en == "Macular hole. Arrow: the hole."
    t = clean_caption("图 5 黄斑裂孔（引自张三，2005）。OCT 示全层裂孔。由北京同仁医院提供。")
    assert t.zh == "黄斑裂孔。OCT 示全层裂孔。"


def test_bilingual_caption_goes_to_separate_fields() -> None:
    t = clean_caption("图3-12 糖尿病视网膜病变，FFA示强荧光渗漏。Fig. 3-12 Diabetic retinopathy, FFA shows "
                      "hyperfluorescent leakage.")
    assert t.label == "图3-12"
    assert t.zh == "糖尿病视网膜病变，FFA示强荧光渗漏。"
    assert t.en == "Diabetic retinopathy, FFA shows hyperfluorescent leakage."
    assert t.lang == "en+zh"
    # entities from both languages, offsets into their own field
    for e in t.entities:
        field = t.en if e["lang"] == "en" else t.zh
        assert field[e["start"]:e["end"]] == e["text"]
    assert {"diabetic retinopathy", "fluorescein angiography", "hyperfluorescence", "leakage"} <= set(t.keywords)


def test_language_from_script_statistics_not_assumed() -> None:
    assert detect_language("Color fundus photograph of the right eye") == "en"
    assert detect_language("右眼彩色眼底照相") == "zh"
    assert detect_language("右眼 OCT 检查示黄斑水肿") == "zh"  # a short Latin term stays in the Chinese text
    assert detect_language("视网膜色素上皮 (retinal pigment epithelium, RPE) 脱离") == "zh"  # a gloss too
    assert detect_language("正常眼底。Normal fundus of the left eye.") == "en+zh"
    assert detect_language("  ") is None
    en, zh = split_bilingual("Normal fundus of the left eye. 正常眼底")
    assert (en, zh) == ("Normal fundus of the left eye.", "正常眼底")


def test_entities_cover_the_four_kinds_in_both_languages() -> None:
    en = clean_caption("Fluorescein angiography of central serous chorioretinopathy with leakage at the fovea.")
    assert {e["label"] for e in en.entities} == {"MODALITY", "DISEASE", "LESION", "ANATOMY"}
    zh = clean_caption("光学相干断层扫描示中心性浆液性脉络膜视网膜病变，黄斑区视网膜下液。")
    assert {e["label"] for e in zh.entities} >= {"MODALITY", "DISEASE", "LESION", "ANATOMY"}
    assert "optical coherence tomography" in zh.keywords
    # abbreviations are case-sensitive: "Dr." is a doctor, not diabetic retinopathy
    t = clean_caption("Photograph by Dr. Lee of an eye with DR.")
    assert [e["text"] for e in t.entities if e["id"] == "diabetic retinopathy"] == ["DR"]


def test_single_word_and_ocr_noise_are_flagged_not_silently_kept() -> None:
    assert clean_caption("Drusen.").flags == ["too-short"]
    assert clean_caption("图 2 视网膜").flags == ["too-short"]
    noisy = clean_caption("Fig. 7 l1|i #@~ rnmw tHe ~~ ^^ || vvl ;;: ro0t")
    assert "ocr-noise" in noisy.flags
    assert noisy.en  # flagged, the text is still there for a reviewer
    assert clean_caption("Fig. 4").flags == ["empty"]
    assert clean_caption(None).flags == ["empty"]
    assert clean_caption("Fig. 2 Drusen and pigment clumping in the macula of a 70-year-old woman.").flags == []


def test_noise_ratio_tolerates_units_numbers_and_labels() -> None:
    assert noise_ratio_en("(a) CNV at 3.5 mm, 250 μm thick; (b) 12% of eyes; a1 and b2 in OS.") == 0.0
    assert noise_ratio_en("xq#z rnmwp ~~~ l|l| 0O0o") > 0.5
    assert caption_flags("A normal fundus", None) == []
