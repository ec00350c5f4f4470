"""Quality checks: size, blank, blur (normalised for size and contrast), aspect; the quality stage."""

from __future__ import annotations

import json

import cv2
import numpy as np

from mmretinal_builder.curation.imagefeatures import read_image
from mmretinal_builder.curation.quality import measure, quality_flags
from mmretinal_builder.stages.quality import QualityParams, QualityStage

from .conftest import MODALITY_DIR, FakeRun

DEFAULTS = {"min_side": 96, "min_std": 4.0, "min_sharpness": 0.15, "max_aspect": 6.0}


def flags(img: np.ndarray) -> list[str]:
    return quality_flags(measure(img), **DEFAULTS)


def test_sharp_retinal_images_pass_and_blurred_copies_fail(labelled_set: list[dict[str, str]]) -> None:
    retinal = [r for r in labelled_set if r["retinal"] == "1"]
    for row in retinal:
        img = read_image(MODALITY_DIR / row["file"])
        assert "blurry" not in flags(img), row["file"]
        # a blur of ~10 px at 448 px (an upscaled thumbnail, a defocused scan), kept 8-bit like a real file
        sigma = 10 * max(img.shape[:2]) / 448
        assert "blurry" in flags(cv2.GaussianBlur(img, (0, 0), sigma)), row["file"]


def test_blur_measure_does_not_depend_on_size_or_contrast(fundus_images: dict[str, list[np.ndarray]]) -> None:
    img = fundus_images["CFP"][0]
    base = measure(img).sharpness
    big = measure(cv2.resize(img, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)).sharpness
    dim = measure((img.astype(np.float32) * 0.5).astype(np.uint8)).sharpness
    assert abs(big - base) / base < 0.5  # upscaling blurs a little, but not to "blurry"
    assert abs(dim - base) / base < 0.15


def test_size_blank_and_aspect() -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    assert flags(texture) == []
    assert flags(texture[:64, :64]) == ["too-small"]
    assert flags(np.full((300, 300, 3), 255, np.uint8)) == ["blank"]
    assert flags(np.full((300, 300), 128, np.uint8) + rng.integers(0, 2, (300, 300), dtype=np.uint8)) == ["blank"]
    assert flags(rng.integers(0, 255, (100, 700), dtype=np.uint8)) == ["extreme-aspect"]


def test_quality_stage_drops_with_reasons_and_counts(fake_run: FakeRun,
                                                     fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp, ffa = fundus_images["CFP"][0], fundus_images["FFA"][0]
    good = fake_run.figure(cfp)
    tiny = fake_run.figure(cv2.resize(cfp, (60, 60), interpolation=cv2.INTER_AREA))
    blank = fake_run.figure(np.full((300, 300, 3), 250, np.uint8))
    blurred = fake_run.figure(cv2.GaussianBlur(cfp, (0, 0), 9))
    mixed = fake_run.figure(cfp, panels=[(ffa, "A. FFA"), (np.full((200, 200), 0, np.uint8), "B. black")])
    ctx = fake_run.ctx("quality")
    out = QualityStage().run(fake_run.pairs(good, tiny, blank, blurred, mixed), ctx)
    assert [p.id for p in out] == [good.id, mixed.id, f"{mixed.id}-p0"]
    assert ctx.dropped == {"quality:too-small": 1, "quality:blank": 2, "quality:blurry": 1}
    assert ctx.counters["quality:blank"] == 2 and ctx.counters["keep:ok"] == 3
    rejects = {r["item"]["id"]: r for r in ctx.rejects}
    assert rejects[tiny.id]["item"]["quality_flags"] == ["too-small"]
    assert rejects[f"{mixed.id}-p1"]["reason"] == "quality:blank"
    assert json.loads(rejects[tiny.id]["detail"])["size"] == [60, 60]


def test_quality_flags_can_be_recorded_without_dropping(fake_run: FakeRun,
                                                        fundus_images: dict[str, list[np.ndarray]]) -> None:
    blurred = fake_run.figure(cv2.GaussianBlur(fundus_images["CFP"][0], (0, 0), 9))
    pairs = fake_run.pairs(blurred)
    ctx = fake_run.ctx("quality")
    out = QualityStage(QualityParams(drop=["too-small"])).run(pairs, ctx)
    assert out == pairs and pairs[0].quality_flags == ["blurry"]
    assert ctx.counters["quality:blurry"] == 1 and ctx.counters["mark:quality:blurry"] == 1 and not ctx.dropped
