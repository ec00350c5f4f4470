"""The curation stages on pairs built in the test, and the curation stages in a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.curation.filter import Filter, Verdict, drop, keep, mark
from mmretinal_builder.errors import BuilderError
from mmretinal_builder.recipe import recipe_from_dict
from mmretinal_builder.runner import Runner
from mmretinal_builder.schema import MODALITIES, Pair
from mmretinal_builder.stage import Context, stage_class
from mmretinal_builder.stages.classify import ClassifyParams, ClassifyStage
from mmretinal_builder.stages.clean import CleanParams, CleanTextStage
from mmretinal_builder.stages.pairs import PanelPairStage
from mmretinal_builder.stages.quality import QualityStage

from . import mixed
from .conftest import FakeRun

BUNDLE = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"


def _by_id(pairs: list[Pair]) -> dict[str, Pair]:
    return {p.id: p for p in pairs}


def test_stages_are_registered() -> None:
    assert stage_class("panels") is PanelPairStage  # the panels stage hands on pairs
    assert stage_class("clean") is CleanTextStage and issubclass(CleanTextStage, Filter)
    assert stage_class("classify") is ClassifyStage
    assert stage_class("quality").scope == "book" and stage_class("dedup").scope == "run"
    assert all(issubclass(stage_class(n), Filter) for n in ("clean", "classify", "quality", "dedup", "review"))


def test_a_filter_keeps_marks_drops_and_counts(fake_run: FakeRun, fundus_images: dict) -> None:
    class Odd(Filter):
        name = "odd"

        def judge(self, pair: Pair, ctx: Context) -> Verdict:
            k = int(pair.figure.caption.split()[-1])
            return (keep("even", k=k), mark("odd", k=k), drop("three", k=k))[k % 2 if k != 3 else 2]

    figs = [fake_run.figure(fundus_images["CFP"][0], f"Fig. {k}") for k in range(4)]
    ctx = fake_run.ctx("odd")
    out = Odd().run(fake_run.pairs(*figs), ctx)
    assert [p.figure.caption for p in out] == ["Fig. 0", "Fig. 1", "Fig. 2"]
    assert ctx.counters == {"keep:even": 2, "mark:odd": 1} and ctx.dropped == {"three": 1}
    assert ctx.notes[id(out[1])] == ("odd", {"k": 1})
    (reject,) = ctx.rejects
    assert reject["reason"] == "three" and reject["item"]["lineage"][-1] == {
        "stage": "odd", "version": "1", "rule": "three", "detail": {"k": 3, "dropped": True}}
    with pytest.raises(BuilderError, match="put 'panels' before it"):
        Odd().run(figs, ctx)


def test_clean_stage_decides_the_caption_texts(fake_run: FakeRun, fundus_images: dict) -> None:
    cfp = fundus_images["CFP"][0]
    fig = fake_run.figure(cfp, "图 2-1 糖尿病视网膜病变。Fig. 2-1 Diabetic retinopathy with hard exudates [4].",
                          panels=[(cfp, "Fig. 2-1 A. Hard exudates around the fovea."), (cfp, "B.")])
    noisy = fake_run.figure(cfp, "Fig. 9 ~~ l1|i #@ ^^ rnmw ||")
    pairs = fake_run.pairs(fig, noisy)
    ctx = fake_run.ctx("clean")
    out = CleanTextStage().run(pairs, ctx)
    assert out == pairs
    whole, a, b, bad = out
    assert whole.role == "compound" and whole.text.en == "Diabetic retinopathy with hard exudates."
    assert whole.text.zh == "糖尿病视网膜病变。" and whole.text.label == "Fig. 1"  # extraction's label wins
    assert whole.caption == whole.figure_caption == a.figure_caption == "Diabetic retinopathy with hard exudates."
    assert a.text.keywords == ["hard exudate", "fovea"] and a.caption == "A. Hard exudates around the fovea."
    assert b.text.flags == ["too-short"] and b.caption == "B." and b.caption_zh == "糖尿病视网膜病变。"
    assert bad.text.flags == ["ocr-noise"]
    assert ctx.counters["caption:ocr-noise"] == 1 and ctx.counters["panel-caption:too-short"] == 1
    assert ctx.counters["lang:en+zh"] == 1 and not ctx.dropped  # the figure's caption is counted once
    assert ctx.counters["mark:caption:too-short"] == 1 and ctx.counters["keep:english"] == 2
    rule, detail = ctx.notes[id(a)]
    assert rule == "english" and detail["before"] == "Fig. 2-1 A. Hard exudates around the fovea."
    assert detail["after"] == "A. Hard exudates around the fovea."  # the figure label went


def test_clean_stage_drops_flagged_captions_when_asked(fake_run: FakeRun, fundus_images: dict) -> None:
    cfp = fundus_images["CFP"][0]
    fig = fake_run.figure(cfp, "Fig. 3 Drusen in the macula of a 72-year-old woman.",
                          panels=[(cfp, "A. Drusen in the macula."), (cfp, "B.")])
    noisy = fake_run.figure(cfp, "Fig. 9 ~~ l1|i #@ ^^ rnmw ||")
    ctx = fake_run.ctx("clean")
    out = CleanTextStage(CleanParams(drop_flags=["ocr-noise", "too-short"])).run(fake_run.pairs(fig, noisy), ctx)
    assert [(p.role, p.panel.label if p.panel else None) for p in out] == [("compound", None), ("panel", "a")]
    assert ctx.dropped == {"caption:ocr-noise": 1, "caption:too-short": 1}


def test_classify_decides_each_pair(fake_run: FakeRun, fundus_images: dict) -> None:
    cfp, ffa, oct_ = fundus_images["CFP"][0], fundus_images["FFA"][0], fundus_images["OCT"][0]
    chart, device = fundus_images["chart"][0], fundus_images["device"][0]
    single = fake_run.figure(cfp, "Fig. 1 Colour fundus photograph.")
    plot = fake_run.figure(chart, "Fig. 2 Visual acuity over time.")
    compound = fake_run.figure(None, "Fig. 3", panels=[(ffa, "A. FFA, late phase."), (chart, "B. Chart."),
                                                       (ffa, "B. Fluorescein angiogram."), (oct_, "C. OCT.")])
    devices = fake_run.figure(None, "Fig. 4 Cameras", panels=[(device, "A. camera"), (chart, "B. sales")])
    missing = fake_run.figure(fundus_images["CFP"][2], "Fig. 5")  # its own file (the store is by content)
    (fake_run.root / missing.image).unlink()
    pairs = fake_run.pairs(single, plot, compound, devices, missing)
    ctx = fake_run.ctx("classify")
    out = _by_id(ClassifyStage().run(pairs, ctx))
    assert list(out) == [single.id, compound.id, f"{compound.id}-p0", f"{compound.id}-p2", f"{compound.id}-p3"]
    assert out[single.id].modality == "CFP" and out[single.id].retinal and out[single.id].modality_confidence > 0.5
    assert [out[f"{compound.id}-p{i}"].modality for i in (0, 2, 3)] == ["FFA", "FFA", "OCT"]
    # the whole figure: retinal because panels are; its modality theirs
    assert out[compound.id].modality == "FFA" and out[compound.id].retinal
    assert ctx.notes[id(out[compound.id])][0] == "retinal-panels"
    assert ctx.notes[id(out[compound.id])][1]["retinal_panels"] == 3
    assert ctx.dropped == {"non-retinal:chart": 3, "non-retinal:photo": 2, "image-unreadable": 1}
    assert ctx.counters["cue:agree"] >= 4 and ctx.counters["modality:FFA"] == 3
    assert any("cannot read image" in w for w in ctx.warnings)
    assert sum(ctx.dropped.values()) + len(out) == len(pairs)
    # the figure with no retinal panel went whole, with its panels' reason
    whole = next(r for r in ctx.rejects if r["item"]["id"] == devices.id)
    assert whole["reason"] == "non-retinal:photo" and json.loads(whole["detail"])["retinal_panels"] == 0


@pytest.mark.parametrize("kinds", [["photo", "vessels", "heatmap", "lesions"],
                                   ["vessels", "photo", "vessels", "vessels", "vessels"],
                                   ["photo", "vessels", "photo", "vessels", "heatmap", "heatmap", "lesions", "overlay"]])
def test_a_fundus_photograph_beside_maps_keeps_its_figure(fake_run: FakeRun, kinds: list[str]) -> None:
    """Issue 16.1: decide per panel; the maps go, the photographs and the whole figure stay."""
    images = mixed.mixed_panels(kinds)
    split = fake_run.figure(None, "Fig. 7 Fundus photograph and its vessel segmentation, heat map and lesion map.",
                            panels=[(im, f"({'abcdefgh'[i]}) {k}") for i, (im, k) in enumerate(zip(images, kinds, strict=True))])
    whole = fake_run.figure(mixed.tile(images, cols=len(kinds) if len(kinds) < 6 else 4),
                            "Fig. 8 The same, as one picture the panels stage left whole.")
    ctx = fake_run.ctx("classify")
    out = _by_id(ClassifyStage().run(fake_run.pairs(split, whole), ctx))
    kept_panels = sorted(int(k.rsplit("-p", 1)[1]) for k in out if "-p" in k)
    assert kept_panels == [i for i, k in enumerate(kinds) if mixed.RETINAL[k]]
    assert all(out[f"{split.id}-p{i}"].modality == "CFP" for i in kept_panels)
    assert out[split.id].retinal and out[split.id].modality == "CFP"  # the whole figure is kept
    assert out[whole.id].modality == "CFP" and ctx.notes[id(out[whole.id])][0] == "tiles"
    reasons = {r["item"]["id"]: r["reason"] for r in ctx.rejects}
    for i, k in enumerate(kinds):
        if not mixed.RETINAL[k]:
            assert reasons[f"{split.id}-p{i}"] == f"non-retinal:{'heatmap' if k == 'heatmap' else 'map'}"


def test_a_figure_of_maps_only_is_dropped(fake_run: FakeRun) -> None:
    images = mixed.mixed_panels(["vessels", "lesions", "heatmap"])
    fig = fake_run.figure(None, "Fig. 9 Segmentation results.", panels=[(im, None) for im in images])
    ctx = fake_run.ctx("classify")
    assert ClassifyStage().run(fake_run.pairs(fig), ctx) == []
    assert ctx.dropped == {"non-retinal:map": 3, "non-retinal:heatmap": 1}


def test_classify_stage_can_keep_non_retinal(fake_run: FakeRun, fundus_images: dict) -> None:
    plot = fake_run.figure(fundus_images["chart"][0], "Fig. 2 A chart.")
    (pair,) = fake_run.pairs(plot)
    ctx = fake_run.ctx("classify")
    out = ClassifyStage(ClassifyParams(drop_non_retinal=False)).run([pair], ctx)
    assert out == [pair] and pair.modality == "other" and pair.retinal is False
    assert ctx.counters["mark:non-retinal:chart"] == 1


def test_quality_judges_the_whole_figure_on_its_own(fake_run: FakeRun, fundus_images: dict) -> None:
    cfp = fundus_images["CFP"][0]
    strip = fake_run.figure(None, "Fig. 1", panels=[(cfp, "a"), (cfp, "b"), (cfp, "c"), (cfp, "d"), (cfp, "e"),
                                                    (cfp, "f"), (cfp, "g")])
    ctx = fake_run.ctx("quality")
    out = QualityStage().run(fake_run.pairs(strip), ctx)
    assert [p.role for p in out] == ["panel"] * 7  # a 1x7 strip is too long a picture; its panels are fine
    assert ctx.dropped == {"quality:extreme-aspect": 1} and ctx.counters["keep:ok"] == 7


def _all_steps(p: dict) -> list[str]:
    return [s["stage"] for s in p["figure"]["lineage"] + p["lineage"]]


@pytest.mark.slow
def test_curation_stages_in_a_run(tmp_path: Path) -> None:
    recipe = recipe_from_dict({"stages": ["pages", "pair", "crop", "panels", "clean", "classify", "quality", "dedup"]})
    res = Runner(recipe, tmp_path / "run", show_progress=False).build([BUNDLE / "sample_zh.pdf"])
    assert not res.failed
    stats = {s["stage"]: s for s in res.stats["stages"]}
    assert stats["panels"]["kept"] == stats["clean"]["in"] > stats["panels"]["items_in"]  # figures became pairs
    for name in ("panels", "clean", "classify", "quality", "dedup"):
        s = stats[name]
        assert s["in"] == s["kept"] + sum(s["dropped"].values()), s
    assert any(k.startswith("non-retinal:") for k in stats["classify"]["dropped"])
    pairs = [json.loads(line) for line in (tmp_path / "run" / "pairs.jsonl").read_text().splitlines()]
    figs = [json.loads(line) for line in (tmp_path / "run" / "figures.jsonl").read_text().splitlines()]
    assert pairs and sorted(i for f in figs for i in f["pairs"]) == sorted(p["id"] for p in pairs)
    gt = json.loads((BUNDLE / "ground_truth.json").read_text(encoding="utf-8"))
    zh = next(d for d in gt if d["id"] == "sample_zh.pdf")
    # borderline diagrams with fundus thumbnails may be kept through their thumbnail panels (see retinal.py)
    negatives = {f["label"] for f in zh["figures"] if f["retinal"] == "no"}
    for p in pairs:
        assert p["retinal"] is True and p["modality"] in MODALITIES[:3]
        assert p["text"]["zh"] and p["phash"] and p["caption"]
        assert p["figure"]["label"] not in negatives
        assert _all_steps(p) == ["pages", "pair", "crop", "panels", "clean", "classify", "quality", "dedup"]
    assert not any("modality" in f or "text" in f for f in figs)  # decisions live on the pairs only
    rejects = [json.loads(line) for line in (tmp_path / "run" / "rejects.jsonl").read_text().splitlines()]
    dropped = next(r for r in rejects if r["stage"] == "classify")
    assert _all_steps(dropped["item"])[-1] == "classify" and dropped["item"]["lineage"][-1]["rule"] == dropped["reason"]
    # the trace command tells both stories from the run's files
    res = CliRunner().invoke(app, ["trace", str(tmp_path / "run"), pairs[0]["id"]])
    assert res.exit_code == 0 and all(f"│ {st}" in res.output for st in ("crop", "clean", "classify", "dedup"))
    res = CliRunner().invoke(app, ["trace", str(tmp_path / "run"), dropped["item"]["id"]])
    assert res.exit_code == 0 and f"dropped by classify: {dropped['reason']}" in res.output
