"""Figure records -> rows: one per panel or figure, caption mapping, licences, crops."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.export.pairs import ImageRef, build_rows, figure_rows, licence_of, read_image_bytes
from mmretinal_builder.schema import CaptionText, Figure, Provenance, figure_id

from .conftest import BOOKS, make_figures


def _recipe() -> dict:
    return {"license": "unknown", "books": {b: m for b, m in BOOKS.items() if m}}


def test_one_row_per_panel_else_per_figure(tmp_path: Path) -> None:
    figs = make_figures(tmp_path)
    rows = build_rows(figs, _recipe())
    assert len(rows) == sum(max(1, len(f.panels)) for f in figs) == 20
    panel_rows = [r for r in rows if r.panel_label]
    assert [r.panel_label for r in panel_rows[:2]] == ["A", "B"]  # reading order, not list order
    assert panel_rows[0].pair_id.endswith("-p0") and panel_rows[1].pair_id.endswith("-p1")
    # the sub-caption describes the panel; the full caption is kept alongside
    assert panel_rows[1].caption == "Fluorescein angiogram. B: late leakage from the optic disc."
    assert panel_rows[1].figure_caption.startswith("Fluorescein angiogram. A:")
    assert panel_rows[0].modality == "FFA"
    assert json.loads(panel_rows[1].provenance)["panel"]["bbox_px"] == [24, 0, 48, 32]
    assert [r.pair_id for r in rows] == [r.pair_id for r in build_rows(list(reversed(figs)), _recipe())]


def test_cleaned_text_wins_and_fallbacks(tmp_path: Path) -> None:
    figs = make_figures(tmp_path)
    by_id = {r.figure_id: r for r in build_rows(figs, _recipe())}
    cleaned = next(f for f in figs if f.text is not None and f.book == "atlas_b.pdf")
    row = by_id[cleaned.id]
    assert row.caption == cleaned.text.en and row.figure_caption == cleaned.text.en
    assert row.caption_zh == "视盘水肿"
    assert row.entities == ["optic disc oedema", "drusen"]
    assert row.modality == "OCT" and json.loads(row.provenance)["review"]["decision"] == "accept"
    plain = next(f for f in figs if f.text is None and not f.panels and f.modality is None)
    assert by_id[plain.id].caption == plain.caption and by_id[plain.id].caption_zh == ""
    assert by_id[plain.id].modality == "other"  # no modality -> other
    assert by_id[plain.id].modality_confidence is None


def test_licence_from_book_then_recipe() -> None:
    recipe = {"license": "CC0", "books": {"a.pdf": {"license": "MIT"}, "b.pdf": {"lang": "zh"}}}
    assert licence_of("a.pdf", recipe) == "MIT"
    assert licence_of("b.pdf", recipe) == "CC0"
    assert licence_of("c.pdf", {}) == "unknown"


def test_panel_entities_are_those_in_its_caption(tmp_path: Path) -> None:
    fig = next(f for f in make_figures(tmp_path) if f.panels)
    fig.text = CaptionText(en=fig.caption, entities=[{"text": "optic disc"}, {"text": "drusen"}])
    rows = figure_rows(fig, "MIT")
    assert [r.entities for r in rows] == [["drusen"], ["optic disc"]]


def test_entities_use_lexicon_ids_across_languages(tmp_path: Path) -> None:
    fig = next(f for f in make_figures(tmp_path) if not f.panels)
    fig.text = CaptionText(en="Hard exudates and macular oedema.", zh="硬性渗出", keywords=["hard exudate"],
                           entities=[{"text": "Hard exudates", "id": "hard exudate", "lang": "en"},
                                     {"text": "macular oedema", "id": "macular edema", "lang": "en"},
                                     {"text": "硬性渗出", "id": "hard exudate", "lang": "zh"}])
    assert figure_rows(fig, "MIT")[0].entities == ["hard exudate", "macular edema"]


def test_missing_image_is_skipped_and_counted() -> None:
    bbox = [0.0, 0.0, 10.0, 10.0]
    fig = Figure(id=figure_id("x.pdf", 1, bbox), book="x.pdf", page=1, bbox=bbox, page_size=[100.0, 100.0],
                 caption="vector figure", provenance=Provenance(book="x.pdf", page=1, bbox=bbox,
                                                                page_size=[100.0, 100.0], rule="vector-cluster"))
    skipped: Counter = Counter()
    assert figure_rows(fig, "MIT", skipped) == []
    assert skipped == {"no-image": 1}


def test_non_retinal_panel_is_left_out(tmp_path: Path) -> None:
    fig = next(f for f in make_figures(tmp_path) if f.panels)
    fig.panels[0].retinal = False
    skipped: Counter = Counter()
    rows = figure_rows(fig, "MIT", skipped)
    assert [r.pair_id for r in rows] == [f"{fig.id}-p0"] and skipped == {"non-retinal-panel": 1}


def test_crop_reads_a_png_of_the_panel_box(tmp_path: Path) -> None:
    figs = make_figures(tmp_path)
    fig = next(f for f in figs if f.panels)
    row = next(r for r in figure_rows(fig, "MIT") if r.panel_label == "B")
    assert row.image.crop_px == (24, 0, 48, 32) and row.image.ext == "png"
    with Image.open(io.BytesIO(read_image_bytes(tmp_path, row.image))) as im:
        assert im.format == "PNG" and im.size == (24, 32)


def test_missing_file_and_bad_crop_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="image file missing"):
        read_image_bytes(tmp_path, ImageRef("images/ab/nothing.png"))
    figs = make_figures(tmp_path)
    with pytest.raises(BuilderError, match="outside"):
        read_image_bytes(tmp_path, ImageRef(figs[0].image, (500, 500, 600, 600)))


def test_duplicate_pair_ids_are_an_error(tmp_path: Path) -> None:
    fig = make_figures(tmp_path)[0]
    with pytest.raises(BuilderError, match="appears twice"):
        build_rows([fig, fig], _recipe())
