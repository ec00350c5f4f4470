"""Modality accuracy on the labelled set (generated + real images), caption cues, confusion matrix, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.curation.imagefeatures import read_image
from mmretinal_builder.curation.modality import (
    ModalityThresholds,
    accuracy,
    caption_cues,
    classify_image,
    confusion_matrix,
    gutter_cells,
)
from mmretinal_builder.errors import BuilderError

from .conftest import MODALITY_DIR


@pytest.fixture(scope="module")
def predictions(labelled_set: list[dict[str, str]]) -> list[tuple[dict[str, str], str, str]]:
    """(row, image-only prediction, prediction with the printed caption) for every labelled image."""
    out = []
    for row in labelled_set:
        img = read_image(MODALITY_DIR / row["file"])
        alone = classify_image(img)
        with_caption = classify_image(img, row["caption"] or None, features=alone.features)
        out.append((row, alone.modality, with_caption.modality))
    return out


def test_labelled_set_covers_all_classes_and_real_material(labelled_set: list[dict[str, str]]) -> None:
    classes = {r["modality"] for r in labelled_set}
    assert classes == {"CFP", "FFA", "OCT", "other"}
    kinds = {r["kind"] for r in labelled_set if r["modality"] == "other"}
    assert {"chart", "table", "diagram", "photo-device", "illustration"} <= kinds
    real = [r for r in labelled_set if r["file"].startswith("real_")]
    assert {r["modality"] for r in real} == {"CFP", "OCT", "other"}
    assert sum(r["file"].startswith("real_palm_fig") for r in real) >= 20
    assert sum((MODALITY_DIR / r["file"]).stat().st_size for r in labelled_set) < 3_000_000


def test_modality_accuracy_at_least_95_percent(predictions: list[tuple[dict[str, str], str, str]]) -> None:
    truth = [r["modality"] for r, _, _ in predictions]
    image_only = [p for _, p, _ in predictions]
    with_caption = [p for _, _, p in predictions]
    cm = confusion_matrix(truth, image_only)
    wrong = [(r["file"], r["modality"], p) for r, p, _ in predictions if p != r["modality"]]
    assert accuracy(truth, image_only) >= 0.95, (cm, wrong)
    assert accuracy(truth, with_caption) >= 0.95
    # every class on its own, not only the total
    for cls, row in cm.items():
        assert row[cls] / sum(row.values()) >= 0.9, (cls, row)


def test_real_images_alone(predictions: list[tuple[dict[str, str], str, str]]) -> None:
    real = [(r["modality"], p) for r, p, _ in predictions if r["file"].startswith("real_")]
    assert accuracy([t for t, _ in real], [p for _, p in real]) >= 0.95


def test_caption_cues_in_english_and_chinese() -> None:
    assert caption_cues("Fundus fluorescein angiography, late phase") == {"FFA": 1.0}
    assert caption_cues("FA of the right eye") == {"FFA": 1.0}
    assert caption_cues("OCT B-scan through the fovea") == {"OCT": 1.0}
    assert caption_cues("荧光素眼底血管造影示渗漏") == {"FFA": 1.0}
    assert caption_cues("光学相干断层扫描") == {"OCT": 1.0}
    assert caption_cues("彩色眼底照相示出血") == {"CFP": 1.0}
    assert caption_cues("(a) Colour fundus photograph; (b) FFA") == {"CFP": 0.5, "FFA": 0.5}
    assert caption_cues("Drusen in the macula") == {}
    assert caption_cues(None) == {}


def test_caption_cue_decides_ambiguous_images_not_clear_ones(fundus_images: dict[str, list[np.ndarray]]) -> None:
    ffa = fundus_images["FFA"][0]
    assert classify_image(ffa).modality == "FFA"
    # a caption saying CFP does not turn a clear angiogram into a photograph ...
    assert classify_image(ffa, "Colour fundus photograph").modality == "FFA"
    # ... nor a chart into a retina
    chart = fundus_images["chart"][0]
    res = classify_image(chart, "OCT B-scan")
    assert res.modality == "other" and res.cue_modality == "OCT" and res.image_modality == "other"
    # an image the image model finds borderline follows the caption
    t = ModalityThresholds(cue_weight=2.0)
    grey = fundus_images["FFA"][1]
    res_plain = classify_image(grey, None, t)
    res_cue = classify_image(grey, "fluorescein angiography", t)
    assert res_cue.probabilities["FFA"] >= res_plain.probabilities["FFA"]


def test_confidence_and_probabilities_are_consistent(fundus_images: dict[str, list[np.ndarray]]) -> None:
    for kind in ("CFP", "FFA", "OCT"):
        for img in fundus_images[kind]:
            r = classify_image(img)
            assert r.modality == kind and r.retinal
            assert 0.5 < r.confidence <= 1.0
            assert abs(sum(r.probabilities.values()) - 1.0) < 1e-3
            assert r.confidence == max(r.probabilities.values())
    # deterministic
    img = fundus_images["OCT"][0]
    assert classify_image(img) == classify_image(img.copy())


def test_compound_figure_left_whole_is_judged_by_its_cells(fundus_images: dict[str, list[np.ndarray]]) -> None:
    cfp = fundus_images["CFP"][0]
    ffa = np.dstack([fundus_images["FFA"][0]] * 3)
    gutter = np.full((400, 12, 3), 255, np.uint8)
    strip = np.hstack([cfp, gutter, ffa, gutter, cfp])
    assert len(gutter_cells(strip)) == 3
    res = classify_image(strip)
    assert res.retinal and res.modality == "CFP"  # two of three cells
    assert gutter_cells(cfp) == []


def test_confusion_matrix_counts() -> None:
    cm = confusion_matrix(["CFP", "CFP", "OCT", "other"], ["CFP", "FFA", "OCT", "CFP"])
    assert cm["CFP"] == {"CFP": 1, "FFA": 1, "OCT": 0, "other": 0}
    assert cm["other"]["CFP"] == 1 and cm["OCT"]["OCT"] == 1


def test_cli_classify_prints_one_json_line_per_image() -> None:
    runner = CliRunner()
    oct_path = MODALITY_DIR / "real_oct_kermany_NORMAL-1017237-1.jpeg"
    chart_path = MODALITY_DIR / "chart_bar.png"
    res = runner.invoke(app, ["classify", str(oct_path), str(chart_path), "--caption", "OCT B-scan"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(oct_path), str(chart_path)]
    assert rows[0]["modality"] == "OCT" and rows[0]["retinal"] is True and rows[0]["reason"] is None
    assert rows[1]["retinal"] is False and rows[1]["reason"] == "non-retinal:chart"
    assert 0 <= rows[0]["confidence"] <= 1


def test_cli_classify_bad_file_is_a_clear_error(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    res = CliRunner().invoke(app, ["classify", str(bad)])
    assert res.exit_code == 2
    assert "broken.jpg" in res.output and "not a readable image" in res.output
    with pytest.raises(BuilderError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_scanned_angiogram_panels_with_a_frame_line_are_ffa() -> None:
    """Panels cut from a scanned page carry the crop's frame line and JPEG blocks: axis-aligned edges that must
    not make an angiogram look like a graphic (the crop's margin is left out of ``axis_energy``)."""
    for name in ("scan_ffa_fullframe_00.jpg", "scan_ffa_fov_00.jpg"):
        res = classify_image(read_image(MODALITY_DIR / name))
        assert res.modality == "FFA", (name, res.probabilities)
