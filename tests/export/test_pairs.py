"""Pairs -> rows: one row per pair, cells read off the pair as the stages left it, licences, crops."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mmretinal_builder.errors import BuilderError
from mmretinal_builder.export.pairs import ImageRef, build_rows, licence_of, pair_row, read_image_bytes
from mmretinal_builder.schema import (
    COLUMN_NAMES,
    MODALITIES,
    CaptionText,
    Figure,
    Provenance,
    figure_id,
    pairs_of,
)

from .conftest import BOOKS, make_pairs


def _recipe() -> dict:
    return {"license": "unknown", "books": {b: m for b, m in BOOKS.items() if m}}


def test_one_row_per_pair_whole_figure_first(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path)
    rows = build_rows(pairs, _recipe())
    assert len(rows) == len(pairs) == 24
    assert all(set(r.values) == set(COLUMN_NAMES) - {"image"} for r in rows)
    compound = next(r for r in rows if r.values["pair_type"] == "compound")
    panel_rows = [r for r in rows if r.figure_id == compound.figure_id][1:]
    assert [r.values["panel_label"] for r in panel_rows] == ["A", "B"]  # reading order, not list order
    assert [r.values["pair_type"] for r in panel_rows] == ["panel", "panel"]
    assert panel_rows[0].pair_id.endswith("-p0") and panel_rows[1].pair_id.endswith("-p1")
    assert compound.pair_id == compound.figure_id and compound.values["panel_label"] == ""
    # the sub-caption describes the panel; the full caption is kept alongside and is the whole figure's
    assert panel_rows[1].caption == "Fluorescein angiogram. B: late leakage from the optic disc."
    assert panel_rows[1].values["figure_caption"] == compound.caption
    assert panel_rows[0].modality == "FFA" and panel_rows[0].values["modality"] == MODALITIES.index("FFA")
    assert json.loads(panel_rows[1].values["provenance"])["panel"]["bbox_px"] == [24, 0, 48, 32]
    assert [r.pair_id for r in rows] == [r.pair_id for r in build_rows(list(reversed(pairs)), _recipe())]


def test_cells_are_what_the_stages_decided(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path)
    by_id = {r.pair_id: r for r in build_rows(pairs, _recipe())}
    cleaned = next(p for p in pairs if p.text is not None and p.figure.book == "atlas_b.pdf")
    row = by_id[cleaned.id]
    assert row.caption == cleaned.text.en and row.values["figure_caption"] == cleaned.text.en
    assert row.values["caption_zh"] == "视盘水肿"
    assert row.values["entities"] == ["optic disc oedema", "drusen"]
    assert row.modality == "OCT" and json.loads(row.values["provenance"])["review"]["decision"] == "accept"
    # no stage classified this one: the export does not invent a modality
    plain = next(p for p in pairs if p.text is None and p.role == "figure" and p.modality is None)
    assert by_id[plain.id].caption == plain.figure.caption and by_id[plain.id].values["caption_zh"] == ""
    assert by_id[plain.id].values["modality"] is None and by_id[plain.id].values["modality_confidence"] is None


def test_lineage_cell_is_every_step(tmp_path: Path) -> None:
    pair = next(p for p in make_pairs(tmp_path) if p.role == "panel")
    cell = pair_row(pair, "MIT").values["lineage"]
    assert [s["stage"] for s in cell] == ["extract", "panels"]  # the figure's steps, then the pair's
    assert cell[1]["rule"] == "panel" and json.loads(cell[0]["detail"]) == {"bbox": pair.figure.bbox}


def test_licence_from_book_then_recipe() -> None:
    recipe = {"license": "CC0", "books": {"a.pdf": {"license": "MIT"}, "b.pdf": {"lang": "zh"}}}
    assert licence_of("a.pdf", recipe) == "MIT"
    assert licence_of("b.pdf", recipe) == "CC0"
    assert licence_of("c.pdf", {}) == "unknown"


def test_entities_use_lexicon_ids_across_languages(tmp_path: Path) -> None:
    pair = next(p for p in make_pairs(tmp_path) if p.role == "figure")
    pair.text = CaptionText(en="Hard exudates and macular oedema.", zh="硬性渗出", keywords=["hard exudate"],
                            entities=[{"text": "Hard exudates", "id": "hard exudate", "lang": "en"},
                                      {"text": "macular oedema", "id": "macular edema", "lang": "en"},
                                      {"text": "硬性渗出", "id": "hard exudate", "lang": "zh"}])
    assert pair_row(pair, "MIT").values["entities"] == ["hard exudate", "macular edema"]


def test_a_pair_without_an_image_is_an_error_not_a_skip() -> None:
    bbox = [0.0, 0.0, 10.0, 10.0]
    fig = Figure(id=figure_id("x.pdf", 1, bbox), book="x.pdf", page=1, bbox=bbox, page_size=[100.0, 100.0],
                 caption="vector figure", provenance=Provenance(book="x.pdf", page=1, bbox=bbox,
                                                                page_size=[100.0, 100.0], rule="vector-cluster"))
    with pytest.raises(BuilderError, match="no image"):
        build_rows(pairs_of(fig), {})


def test_a_non_retinal_pair_that_reaches_the_export_is_written(tmp_path: Path) -> None:
    """Keeping or dropping a non-retinal panel is the classify stage's decision, not the export's."""
    pairs = make_pairs(tmp_path)
    panel = next(p for p in pairs if p.role == "panel")
    panel.retinal, panel.modality = False, "other"
    rows = build_rows(pairs, _recipe())
    assert len(rows) == len(pairs) and next(r for r in rows if r.pair_id == panel.id).modality == "other"


def test_crop_reads_a_png_of_the_panel_box(tmp_path: Path) -> None:
    pairs = make_pairs(tmp_path)
    row = next(r for r in build_rows(pairs, _recipe()) if r.values["panel_label"] == "B")
    assert row.image.crop_px == (24, 0, 48, 32) and row.image.ext == "png"
    with Image.open(io.BytesIO(read_image_bytes(tmp_path, row.image))) as im:
        assert im.format == "PNG" and im.size == (24, 32)


def test_missing_file_and_bad_crop_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BuilderError, match="image file missing"):
        read_image_bytes(tmp_path, ImageRef("images/ab/nothing.png"))
    pairs = make_pairs(tmp_path)
    with pytest.raises(BuilderError, match="outside"):
        read_image_bytes(tmp_path, ImageRef(pairs[0].figure.image, (500, 500, 600, 600)))


def test_duplicate_pair_ids_are_an_error(tmp_path: Path) -> None:
    pair = make_pairs(tmp_path)[0]
    with pytest.raises(BuilderError, match="appears twice"):
        build_rows([pair, pair], _recipe())
