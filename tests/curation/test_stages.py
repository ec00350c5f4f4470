"""The clean and classify stages on fake records, and the curation stages in a real run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner
from mmretinal_builder.schema import MODALITIES
from mmretinal_builder.stage import stage_class
from mmretinal_builder.stages.classify import ClassifyParams, ClassifyStage
from mmretinal_builder.stages.clean import CleanParams, CleanTextStage

from .conftest import FakeRun

BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def test_stages_are_registered() -> None:
    assert stage_class("clean") is CleanTextStage
    assert stage_class("classify") is ClassifyStage
    assert stage_class("quality").scope == "book" and stage_class("dedup").scope == "run"


def test_clean_stage_fills_text_for_figures_and_panels(fake_run: FakeRun,
                                                       fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp = fundus_images["CFP"][0]
    fig = fake_run.figure(cfp, "图 2-1 糖尿病视网膜病变。Fig. 2-1 Diabetic retinopathy with hard exudates [4].",
                          panels=[(cfp, "Fig. 2-1 A. Hard exudates around the fovea."), (cfp, "B.")])
    noisy = fake_run.figure(cfp, "Fig. 9 ~~ l1|i #@ ^^ rnmw ||")
    ctx = fake_run.ctx("clean")
    out = CleanTextStage().run([fig, noisy], ctx)
    assert out == [fig, noisy]
    assert fig.text.en == "Diabetic retinopathy with hard exudates." and fig.text.zh == "糖尿病视网膜病变。"
    assert fig.text.label == "Fig. 1"  # the figure's label from extraction wins
    assert fig.panels[0].text.keywords == ["hard exudate", "fovea"]
    assert fig.panels[1].text.flags == ["too-short"]
    assert noisy.text.flags == ["ocr-noise"]
    assert ctx.counters["caption:ocr-noise"] == 1 and ctx.counters["panel-caption:too-short"] == 1
    assert ctx.counters["lang:en+zh"] == 1 and not ctx.dropped


def test_clean_stage_drops_flagged_captions_when_asked(fake_run: FakeRun,
                                                       fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp = fundus_images["CFP"][0]
    fig = fake_run.figure(cfp, "Fig. 3 Drusen in the macula of a 72-year-old woman.",
                          panels=[(cfp, "A. Drusen in the macula."), (cfp, "B.")])
    noisy = fake_run.figure(cfp, "Fig. 9 ~~ l1|i #@ ^^ rnmw ||")
    ctx = fake_run.ctx("clean")
    out = CleanTextStage(CleanParams(drop_flags=["ocr-noise", "too-short"])).run([fig, noisy], ctx)
    assert out == [fig]
    assert [p.label for p in fig.panels] == ["a"]
    assert ctx.dropped == {"caption:ocr-noise": 1}
    assert ctx.counters["panels-dropped:caption:too-short"] == 1


def test_classify_stage_keeps_retinal_units_and_drops_the_rest(fake_run: FakeRun,
                                                               fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp, ffa, oct_ = fundus_images["CFP"][0], fundus_images["FFA"][0], fundus_images["OCT"][0]
    chart, device = fundus_images["chart"][0], fundus_images["device"][0]
    single = fake_run.figure(cfp, "Fig. 1 Colour fundus photograph.")
    plot = fake_run.figure(chart, "Fig. 2 Visual acuity over time.")
    compound = fake_run.figure(None, "Fig. 3", panels=[(ffa, "A. FFA, late phase."), (chart, "B. Chart."),
                                                       (ffa, "B. Fluorescein angiogram."), (oct_, "C. OCT.")])
    devices = fake_run.figure(None, "Fig. 4 Cameras", panels=[(device, "A. camera"), (chart, "B. sales")])
    missing = fake_run.figure(fundus_images["CFP"][2], "Fig. 5")  # its own file (the store is by content)
    (fake_run.root / missing.image).unlink()
    ctx = fake_run.ctx("classify")
    out = ClassifyStage().run([single, plot, compound, devices, missing], ctx)
    assert out == [single, compound]
    assert single.modality == "CFP" and single.retinal and single.modality_confidence > 0.5
    assert [p.modality for p in compound.panels] == ["FFA", "FFA", "OCT"]
    assert compound.modality == "FFA" and compound.retinal
    assert ctx.dropped == {"non-retinal:chart": 1, "non-retinal:photo": 1, "image-unreadable": 1}
    assert ctx.counters["panels-dropped:non-retinal:chart"] == 1
    assert ctx.counters["cue:agree"] >= 4 and ctx.counters["modality:FFA"] == 2
    assert any("cannot read image" in w for w in ctx.warnings)
    assert sum(ctx.dropped.values()) + len(out) == 5


def test_classify_stage_can_keep_non_retinal(fake_run: FakeRun, fundus_images: dict[str, list[np.ndarray]]) -> None:
    plot = fake_run.figure(fundus_images["chart"][0], "Fig. 2 A chart.")
    out = ClassifyStage(ClassifyParams(drop_non_retinal=False)).run([plot], fake_run.ctx("classify"))
    assert out == [plot] and plot.modality == "other" and plot.retinal is False


@pytest.mark.slow
def test_curation_stages_in_a_run(tmp_path: Path) -> None:
    recipe = recipe_from_dict({"stages": ["pages", "pair", "crop", "panels", "clean", "classify", "quality", "dedup"]})
    res = Runner(recipe, tmp_path / "run", show_progress=False).build([BUNDLE / "sample_zh.pdf"])
    assert not res.failed
    stats = {s["stage"]: s for s in res.stats["stages"]}
    for name in ("clean", "classify", "quality", "dedup"):
        s = stats[name]
        assert s["in"] == s["kept"] + sum(s["dropped"].values()), s
    assert any(k.startswith("non-retinal:") for k in stats["classify"]["dropped"])
    figs = [json.loads(line) for line in (tmp_path / "run" / "figures.jsonl").read_text().splitlines()]
    assert figs
    gt = json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8"))
    zh = next(d for d in gt if d["id"] == "sample_zh.pdf")
    # borderline diagrams with fundus thumbnails may be kept through their thumbnail panels (see retinal.py)
    negatives = {f["label"] for f in zh["figures"] if f["retinal"] == "no"}
    for f in figs:
        assert f["retinal"] is True and f["modality"] in MODALITIES[:3]
        assert f["text"]["zh"] and f["phash"] or f["panels"]
        assert f["label"] not in negatives
