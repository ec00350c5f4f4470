"""The extraction stages (pages -> pair -> crop) end to end on small synthetic books: what becomes a figure, with
which image."""

from __future__ import annotations

import io

import pymupdf
import pytest
from PIL import Image

from mmretinal_builder.geometry import iou
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.crop import CropStage
from mmretinal_builder.stages.pages import PagesStage
from mmretinal_builder.stages.pair import PairStage

from .pdfs import A4, BODY, body, caption, extract, picture, reports, save, vector_chart


def new_page(doc):
    return doc.new_page(width=A4[0], height=A4[1])


def test_figure_caption_and_body_references(tmp_path):
    jpg = picture(400, 300, fmt="JPEG")
    doc = pymupdf.open()
    page = new_page(doc)
    body(page, (72, 60, 520, 160), "As shown in Figure 1, the lesions are concentrated at the posterior pole. "
         + BODY * 2)
    page.insert_image(pymupdf.Rect(100, 180, 500, 480), stream=jpg)
    caption(page, 100, 500, "Figure 1.", "Colour fundus photograph of the right eye with soft drusen.")
    body(page, (72, 530, 520, 640), "Figure 1 shows the typical appearance of the macula in this condition. "
         + BODY * 2)
    pdf = save(doc, tmp_path / "book.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    assert len(figs) == 1
    f = figs[0]
    assert f.label == "Figure 1" and f.number == "1" and f.page == 1 and f.caption_page == 1
    assert f.caption == "Figure 1. Colour fundus photograph of the right eye with soft drusen."
    assert iou(f.bbox, (100, 180, 500, 480)) > 0.99
    assert f.provenance.rule == "embedded-raster" and f.provenance.pair_rule == "below"
    assert (ctx.run_dir / f.image).read_bytes() == jpg  # original bytes, stored once under their hash
    assert f.image_sha256 and f.image.endswith(f"{f.image_sha256}.jpg")
    assert f.image_size == [400, 300] and f.parts == [] and f.panels == []
    assert not {"retinal", "modality"} & set(f.model_dump())  # curation decides on pairs, later
    assert ctx.counters["captions:figure"] == 1


def test_vector_figure_is_rendered_at_300_dpi(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    vector_chart(page, (150, 100, 450, 300))
    page.insert_text((140, 312), "0   1   2   3   4   5   6", fontsize=7)
    caption(page, 100, 330, "Fig. 2", "Visual acuity over twelve months of treatment.")
    pdf = save(doc, tmp_path / "vec.pdf")
    figs, _ = extract(pdf, tmp_path / "run")
    (f,) = figs
    assert f.provenance.rule == "vector-cluster" and f.provenance.dpi >= 300
    assert f.bbox[3] >= 312  # the axis labels under the chart belong to it
    w_pt = f.bbox[2] - f.bbox[0]
    assert f.image_size[0] >= w_pt * 300 / 72 - 2


def test_separate_images_under_one_caption_are_one_figure(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    boxes = [(100 + 130 * c, 100 + 130 * r, 220 + 130 * c, 220 + 130 * r) for r in range(2) for c in range(3)]
    for k, b in enumerate(boxes):
        page.insert_image(pymupdf.Rect(b), stream=picture(240, 240, seed=k))
        page.insert_text((b[0] + 4, b[1] + 14), "ABCDEF"[k], fontsize=12, color=(1, 1, 1))
    caption(page, 100, 370, "Fig. 3", "Six panels: (A) drusen, (B) haemorrhage, (C) exudates, (D) CNV, (E) "
                                      "atrophy and (F) scar.")
    pdf = save(doc, tmp_path / "grid.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    (f,) = figs
    assert iou(f.bbox, (100, 100, 480, 350)) > 0.98
    assert len(f.parts) == 6 and all(any(iou(p, b) > 0.98 for p in f.parts) for b in boxes)
    assert f.provenance.rule == "multi-image" and f.provenance.pair_rule == "below+group"
    assert f.provenance.dpi >= 300
    assert not reports(ctx, "figure-without-caption")


def test_tiles_of_one_picture_are_merged(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    for k in range(3):  # three horizontal strips with no gap: one picture
        page.insert_image(pymupdf.Rect(100, 100 + 60 * k, 400, 160 + 60 * k), stream=picture(300, 60, seed=k))
    caption(page, 100, 300, "Figure 4:", "A fundus photograph stored as three strips.")
    pdf = save(doc, tmp_path / "tiles.pdf")
    (f,), _ = extract(pdf, tmp_path / "run")
    assert iou(f.bbox, (100, 100, 400, 280)) > 0.99
    assert f.parts == [] and f.provenance.rule == "raster-tiles"


def test_table_is_not_a_figure(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    caption(page, 72, 100, "Table 1.", "Grading of diabetic retinopathy.")
    for y in (110, 124, 180):
        page.draw_line((72, y), (520, y), color=(0, 0, 0), width=0.7)
    rows = [("Grade", "Finding", "Follow-up"), ("R0", "None", "12 months"), ("R1", "Microaneurysms", "12 months"),
            ("R2", "Venous beading", "3 months")]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            page.insert_text((76 + 150 * c, 121 + 14 * r + (4 if r else 0)), cell, fontsize=9)
    # a figure below the table, with its own caption
    page.insert_image(pymupdf.Rect(100, 220, 400, 420), stream=picture(300, 200))
    caption(page, 100, 440, "Figure 5.", "Proliferative diabetic retinopathy with new vessels at the disc.")
    pdf = save(doc, tmp_path / "table.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    assert [f.label for f in figs] == ["Figure 5"]
    assert iou(figs[0].bbox, (100, 220, 400, 420)) > 0.99
    assert ctx.counters["captions:table"] == 1 and ctx.counters["tables:regions"] == 1


def test_caption_on_the_next_page_of_a_plate(tmp_path):
    doc = pymupdf.open()
    plate = new_page(doc)
    plate.insert_image(pymupdf.Rect(60, 60, 535, 780), stream=picture(475, 720))
    page = new_page(doc)
    y = caption(page, 72, 72, "Fig. 6", "Full-page plate: wide-field photograph of a retinal detachment.")
    body(page, (72, y + 20, 520, y + 200))
    pdf = save(doc, tmp_path / "plate.pdf")
    (f,), ctx = extract(pdf, tmp_path / "run")
    assert f.page == 1 and f.caption_page == 2 and f.provenance.pair_rule == "next-page"
    assert ctx.counters["pairs:cross-page"] == 1


def test_unpaired_things_are_reported_not_guessed(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    page.insert_image(pymupdf.Rect(100, 100, 300, 250), stream=picture(200, 150))
    body(page, (72, 270, 520, 500))
    caption(page, 72, 700, "Figure 7.", "A caption whose figure was never printed.")
    pdf = save(doc, tmp_path / "alone.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    assert figs == []
    (lonely_fig,) = reports(ctx, "figure-without-caption")
    (lonely_cap,) = reports(ctx, "caption-without-figure")
    assert lonely_fig["item"]["page"] == 1 and iou(lonely_fig["item"]["bbox"], (100, 100, 300, 250)) > 0.99
    assert lonely_cap["item"]["label"] == "Figure 7" and lonely_cap["stage"] == "pair"
    # real drops of the pair stage, with their reasons: the funnel adds up (in = kept + dropped)
    assert ctx.dropped == {"figure-without-caption": 1, "caption-without-figure": 1}


def test_a_graphic_claimed_by_a_table_caption_is_a_dropped_table(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    y = caption(page, 100, 90, "Table 2.", "Visual acuity by treatment group, printed as a picture.")
    page.insert_image(pymupdf.Rect(100, y + 10, 400, y + 160), stream=picture(300, 150))
    page.insert_image(pymupdf.Rect(100, 420, 400, 620), stream=picture(300, 200))
    caption(page, 100, 640, "Figure 8.", "Colour fundus photograph of a macular hole.")
    pdf = save(doc, tmp_path / "table_picture.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    assert [f.label for f in figs] == ["Figure 8"]
    (table,) = reports(ctx, "table")
    assert table["item"]["label"] == "Table 2" and iou(table["item"]["bbox"], (100, y + 10, 400, y + 160)) > 0.99
    assert ctx.dropped == {"table": 1} and ctx.counters["tables"] == 1


def test_caption_beside_a_figure_in_a_two_column_page(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    body(page, (50, 60, 285, 400))
    body(page, (310, 60, 545, 200), BODY * 2)
    page.insert_image(pymupdf.Rect(310, 220, 460, 370), stream=picture(150, 150))
    caption(page, 468, 228, "Fig. 8.", "Optic disc cupping in glaucoma, right eye.", width=75, size=8)
    body(page, (310, 400, 545, 700))
    pdf = save(doc, tmp_path / "side.pdf")
    (f,), _ = extract(pdf, tmp_path / "run")
    assert f.label == "Fig. 8" and f.provenance.pair_rule == "beside"
    assert f.caption == "Fig. 8. Optic disc cupping in glaucoma, right eye."
    assert iou(f.bbox, (310, 220, 460, 370)) > 0.99


def test_overlaid_labels_make_a_render(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    page.insert_image(pymupdf.Rect(100, 100, 400, 300), stream=picture(600, 400))
    page.draw_line((150, 150), (200, 200), color=(1, 1, 0), width=2)  # an arrow drawn over the photo
    page.draw_line((190, 200), (200, 200), color=(1, 1, 0), width=2)
    caption(page, 100, 320, "Fig. 9.", "Arrow: a flame-shaped haemorrhage.")
    pdf = save(doc, tmp_path / "arrow.pdf")
    (f,), ctx = extract(pdf, tmp_path / "run")
    assert f.provenance.scores["rendered"] == 1.0
    assert f.provenance.dpi == pytest.approx(300, abs=1)  # native 144 dpi, so the 300 dpi floor applies
    img = Image.open(io.BytesIO((ctx.run_dir / f.image).read_bytes()))
    assert img.size == tuple(f.image_size)


def test_reruns_are_identical(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    page.insert_image(pymupdf.Rect(100, 100, 400, 300), stream=picture(300, 200))
    caption(page, 100, 320, "Figure 10.", "Determinism check.")
    pdf = save(doc, tmp_path / "det.pdf")
    a, _ = extract(pdf, tmp_path / "run1")
    b, _ = extract(pdf, tmp_path / "run2")
    assert [f.to_json() for f in a] == [f.to_json() for f in b]
    assert (tmp_path / "run1" / a[0].image).read_bytes() == (tmp_path / "run2" / b[0].image).read_bytes()


def test_stages_refuse_items_of_the_wrong_kind(tmp_path):
    from mmretinal_builder.errors import BuilderError

    ctx = Context(run_dir=tmp_path, stage="pages", book="x.pdf", book_path=tmp_path / "x.pdf")
    with pytest.raises(BuilderError, match="must come first"):
        PagesStage().run([object()], ctx)  # type: ignore[list-item]
    with pytest.raises(BuilderError, match="put `- pages` before `- pair`"):
        PairStage().run([object()], ctx)  # type: ignore[list-item]
    with pytest.raises(BuilderError, match="put `- pair` before `- crop`"):
        CropStage().run([object()], ctx)  # type: ignore[list-item]


def test_caption_above_panels_does_not_swallow_their_labels(tmp_path):
    doc = pymupdf.open()
    page = new_page(doc)
    y = caption(page, 100, 100, "Figure 11.", "Two panels with their letters printed right above them, "
                                              "under this caption.", width=300)
    label_base = y - 9 * 1.25 + 11  # one tight line pitch below the caption's last line
    for k, x in enumerate((100, 260)):
        page.insert_text((x, label_base), "AB"[k], fontsize=9, fontname="hebo")
        page.insert_image(pymupdf.Rect(x, label_base + 3, x + 150, label_base + 153), stream=picture(150, 150, seed=k))
    pdf = save(doc, tmp_path / "above.pdf")
    (f,), _ = extract(pdf, tmp_path / "run")
    assert f.caption.endswith("under this caption.")
    assert f.provenance.pair_rule == "above+group" and len(f.parts) == 2
    assert f.bbox[1] < label_base  # the letters belong to the figure


def test_full_page_plate_is_a_figure_but_a_whole_page_scan_is_not(tmp_path):
    doc = pymupdf.open()
    plate = new_page(doc)  # 90% of the page: a plate with a margin
    plate.insert_image(pymupdf.Rect(15, 20, 580, 820), stream=picture(565, 800))
    page = new_page(doc)
    y = caption(page, 72, 72, "Fig. 12", "A full-bleed plate of a macular hole.")
    body(page, (72, y + 20, 520, y + 200))
    scan = new_page(doc)  # the whole page, no text: a scanned page waiting for OCR
    scan.insert_image(pymupdf.Rect(0, 0, *A4), stream=picture(595, 842, seed=3))
    for _ in range(3):  # a book of text pages, not a scanned book
        body(new_page(doc), (72, 72, 520, 300))
    pdf = save(doc, tmp_path / "plates.pdf")
    figs, ctx = extract(pdf, tmp_path / "run")
    assert [(f.page, f.label, f.provenance.pair_rule) for f in figs] == [(1, "Fig. 12", "next-page")]
    assert not reports(ctx, "figure-without-caption")  # the scan is not a figure candidate
    assert ctx.counters["pages:text-none"] == 2


def test_landscape_content_on_a_portrait_page(tmp_path):
    """A figure, its caption and text set sideways (reading upwards): read in the reading frame, boxes in the
    page frame, the image turned upright."""
    from .pdfs import corners

    doc = pymupdf.open()
    page = new_page(doc)
    h = A4[1]
    page.insert_image(pymupdf.Rect(60, h - 500, 300, h - 100), stream=picture(400, 240), rotate=90)
    page.insert_text((320, h - 100), "Figure 13. Wide-field angiogram set in landscape.", fontsize=10,
                     fontname="hebo", rotate=90)
    for i in range(12):
        page.insert_text((360 + 14 * i, h - 100), BODY[:90], fontsize=10, rotate=90)
    pdf = save(doc, tmp_path / "landscape.pdf")
    (f,), ctx = extract(pdf, tmp_path / "run")
    assert ctx.counters["pages:turned"] == 1
    assert f.label == "Figure 13" and f.caption == "Figure 13. Wide-field angiogram set in landscape."
    assert iou(f.bbox, (60, h - 500, 300, h - 100)) > 0.98
    assert f.caption_bbox[0] > f.bbox[2]  # the caption sits right of the figure on the page
    w, hh = f.image_size
    assert w > hh  # upright: landscape as the reader turns the book
    red, green, blue = corners((ctx.run_dir / f.image).read_bytes())
    assert red[0] > 200 and red[1] < 60 and green[1] > 200 and blue[2] > 200
