"""The spaCy pipelines: built once, sentence splitting that respects abbreviations and numbers."""

from __future__ import annotations

from mmretinal_builder.curation import nlp


def _sents(text: str, lang: str = "en") -> list[str]:
    return [text[s:e] for s, e in nlp.sentences(text, lang)]


def test_pipeline_is_built_once_per_process() -> None:
    assert nlp.get_nlp("en") is nlp.get_nlp("en")
    assert nlp.get_nlp("zh") is nlp.get_nlp("zh")
    assert nlp.get_nlp("en").pipe_names == ["ophtho_sentence_guard", "sentencizer", "entity_ruler"]


def test_sentencizer_keeps_abbreviations_and_numbers_together() -> None:
    text = ("See Fig. 3 and Figs. 4-5, e.g. drusen (Smith et al. 2003) at 3.5 mm from the fovea. "
            "Photograph by Dr. Lee, i.e. the author. Second case in 2003. Next.")
    assert _sents(text) == [
        "See Fig. 3 and Figs. 4-5, e.g. drusen (Smith et al. 2003) at 3.5 mm from the fovea.",
        "Photograph by Dr. Lee, i.e. the author.",
        "Second case in 2003.",
        "Next.",
    ]


def test_chinese_sentences_and_decimal_numbers() -> None:
    assert _sents("视网膜出血。黄斑水肿3.5mm。FFA示强荧光！", "zh") == ["视网膜出血。", "黄斑水肿3.5mm。", "FFA示强荧光！"]


def test_ascii_terms_in_chinese_do_not_match_inside_words() -> None:
    ents = nlp.entities("DRUSEN 与 DR 不同", "zh")
    assert [(e["text"], e["start"]) for e in ents] == [("DR", 9)]


def test_plural_terms_are_entities_and_modality_cues():
    from mmretinal_builder.curation.modality import caption_cues
    from mmretinal_builder.curation.nlp import english_plural

    assert english_plural("fluorescein angiography") == "fluorescein angiographies"
    assert english_plural("cotton-wool spot") == "cotton-wool spots"
    assert english_plural("fundus") == "fundus"
    assert caption_cues("C and D. Fundus fluorescein angiographies of both eyes.") == {"FFA": 1.0}
    assert caption_cues("(a-c) Optical coherence tomographies at baseline and 1 month.") == {"OCT": 1.0}
    ids = {e["id"] for e in nlp.entities("Multiple haemorrhages and cotton-wool spots. Retinal vessels.")}
    assert {"hemorrhage", "cotton wool spot"} <= ids
