"""A book's OCR languages (recipe, else script detection), missing packs, and Persian read right to left."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from mmretinal_builder.evaluation.extraction import evaluate
from mmretinal_builder.pdf.scan.languages import (
    apt_package,
    choose_languages,
    detect_scripts,
    han_variant,
    installed_languages,
    latin_language,
    tesseract_codes,
)
from mmretinal_builder.pdf.scan.ocr import render_gray
from mmretinal_builder.pdf.scan.tesseract import OcrError
from mmretinal_builder.samples.atlas import BOOKS
from mmretinal_builder.samples.generate import write_books
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.extract import ExtractStage

ALL = frozenset({"eng", "chi_sim", "chi_tra", "fas", "spa", "osd"})


def _no_samples() -> list[np.ndarray]:
    raise AssertionError("detection must not run when the recipe names the languages")


def test_codes_from_recipe_forms() -> None:
    assert tesseract_codes(["fas"]) == ["fas"]
    assert tesseract_codes("eng+chi_sim") == ["eng", "chi_sim"]
    assert tesseract_codes("es, en") == ["spa", "eng"]
    assert tesseract_codes("zh-Hant") == ["chi_tra"]
    assert tesseract_codes(None) == []
    with pytest.raises(ValueError, match="unknown OCR language 'klingon'"):
        tesseract_codes("klingon")
    assert apt_package("chi_sim") == "tesseract-ocr-chi-sim" and apt_package("fas") == "tesseract-ocr-fas"


def test_recipe_wins_and_a_missing_pack_is_a_warning_naming_the_package() -> None:
    c = choose_languages(["fas", "ara"], "eng", _no_samples, installed=ALL)
    assert c.lang == "fas" and c.source == "recipe"
    assert len(c.warnings) == 1 and "apt-get install tesseract-ocr-ara" in c.warnings[0]
    assert choose_languages(None, "spa+eng", _no_samples, installed=ALL).lang == "spa+eng"
    with pytest.raises(OcrError, match="tesseract-ocr-ara"):
        choose_languages("ar", None, _no_samples, installed=ALL)


def test_without_osd_the_default_is_used_with_a_warning() -> None:
    c = choose_languages(None, "auto", _no_samples, installed=frozenset({"eng", "chi_sim"}))
    assert c.lang == "eng+chi_sim" and c.source == "default"
    assert "tesseract-ocr-osd" in c.warnings[0]


def test_language_of_latin_text_and_chinese_variant() -> None:
    assert latin_language("La retinografía muestra las lesiones en el polo posterior y una hemorragia "
                          "con exudados que se extienden por la mácula del ojo") == "spa"
    assert latin_language("The fundus photograph of the right eye shows haemorrhages in the macula and "
                          "exudates that are arranged in a ring") == "eng"
    assert latin_language("OCT FFA") is None
    assert han_variant("螢光素眼底血管攝影顯示視網膜") == "chi_tra"
    assert han_variant("荧光素眼底血管造影显示视网膜") == "chi_sim"


def _persian_book(out: Path, figures: int) -> Path:
    book = next(b for b in BOOKS if b.name == "maghaleh_fa_scan")
    write_books(out, [book], seed=0, figures_per_book=figures)
    return out / "maghaleh_fa_scan.pdf"


@pytest.mark.skipif(not {"osd", "fas"} <= installed_languages(), reason="needs tesseract-ocr-osd and -fas")
def test_script_detection_reads_a_persian_scan_in_persian(tmp_path: Path) -> None:
    pdf = _persian_book(tmp_path, 2)
    with pymupdf.open(pdf) as doc:
        assert detect_scripts([render_gray(doc[0], 150)]) == ["Arabic"]
    ctx = Context(run_dir=tmp_path / "run", stage="extract", book=pdf.name, book_path=pdf)
    figs = ExtractStage(ExtractStage.Params(ocr_workers=1)).run([], ctx)
    assert ctx.counters["pages:ocr-lang:eng+fas"] == 2
    gt = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    res = evaluate(gt, {pdf.name: [f.model_dump(mode="json") for f in figs]})["overall"]
    assert res["pair"]["f1"] == 1.0, res
    # the caption starts with its label, the chapter-figure number in Persian digits the right way round
    assert [f.number for f in figs] == [g["label"].split()[1].translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
                                        for g in gt[0]["figures"]]
    assert sum(f.caption == g["caption"] for f, g in zip(figs, gt[0]["figures"], strict=True)) >= 1
    assert all(f.caption.startswith(g["label"]) for f, g in zip(figs, gt[0]["figures"], strict=True))


def test_recipe_language_reaches_tesseract(tmp_path: Path) -> None:
    """A recipe language that is not installed: a warning naming the package, the rest read as asked."""
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    rng = random.Random(0)
    page.insert_text((30, 60), "Fig. 1. " + " ".join(rng.choice(["retina", "macula", "disc"]) for _ in range(5)),
                     fontsize=10)
    pix = page.get_pixmap(dpi=150)
    scan = pymupdf.open()
    scan.new_page(width=300, height=200).insert_image(pymupdf.Rect(0, 0, 300, 200), stream=pix.tobytes("png"))
    pdf = tmp_path / "one.pdf"
    scan.save(pdf)
    ctx = Context(run_dir=tmp_path / "run", stage="extract", book=pdf.name, book_path=pdf,
                  book_meta={"lang": ["eng", "xyz"]})
    ExtractStage(ExtractStage.Params(ocr_workers=1)).run([], ctx)
    assert ctx.counters["pages:ocr-lang:eng"] == 1
    assert any("apt-get install tesseract-ocr-xyz" in w for w in ctx.warnings)
