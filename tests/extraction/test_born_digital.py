"""The born-digital reader: opening bad PDFs, the page model (clips, rotations), drawings, text layers,
and native-resolution images."""

from __future__ import annotations

import pymupdf
import pytest

from mmretinal_builder.book import Book
from mmretinal_builder.errors import BookError
from mmretinal_builder.geometry import iou
from mmretinal_builder.pdf.born_digital import build_page_model, cluster_paths
from mmretinal_builder.pdf.crops import native_image
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine
from mmretinal_builder.pdf.text_layer import classify_text_layer

from .pdfs import A4, body, clip_last_image, corners, picture, save, vector_chart

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def close(c, ref, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(c, ref, strict=True))


def good_pdf(path):
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    body(page, (72, 72, 520, 300))
    return save(doc, path)


# ----------------------------------------------------------------------------- bad files (through the book's door)


def open_book(path, name, password=None):
    book = Book(path, name, password=password)
    return book.doc, book.open_warnings()



def test_open_good_book(tmp_path):
    doc, warnings = open_book(good_pdf(tmp_path / "ok.pdf"), "ok.pdf")
    assert doc.page_count == 1 and warnings == []
    doc.close()


def test_encrypted_book_needs_password(tmp_path):
    src = pymupdf.open(good_pdf(tmp_path / "plain.pdf"))
    path = tmp_path / "locked.pdf"
    src.save(str(path), encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    with pytest.raises(BookError, match="encrypted.*password"):
        open_book(path, "locked.pdf")
    with pytest.raises(BookError, match="password given in the recipe is wrong"):
        open_book(path, "locked.pdf", password="nope")
    doc, _ = open_book(path, "locked.pdf", password="user")
    assert doc.page_count == 1
    doc.close()


def test_truncated_corrupt_empty_and_pageless(tmp_path):
    data = good_pdf(tmp_path / "ok.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7\n" + b"this is not a PDF at all\n" * 50)
    (tmp_path / "empty.pdf").write_bytes(b"")
    pageless = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
                b"trailer << /Root 1 0 R /Size 3 >>\n%%EOF\n")
    (tmp_path / "pageless.pdf").write_bytes(pageless)
    with pytest.raises(BookError, match="truncated"):
        open_book(tmp_path / "cut.pdf", "cut.pdf")
    with pytest.raises(BookError, match="corrupt or not a PDF"):
        open_book(tmp_path / "junk.pdf", "junk.pdf")
    with pytest.raises(BookError, match="empty file"):
        open_book(tmp_path / "empty.pdf", "empty.pdf")
    with pytest.raises(BookError, match="no pages|no readable page"):
        open_book(tmp_path / "pageless.pdf", "pageless.pdf")
    (tmp_path / "page.pdf").write_bytes(b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
    (tmp_path / "photo.pdf").write_bytes(picture(20, 20))
    with pytest.raises(BookError, match=r"not a PDF.*HTML"):
        open_book(tmp_path / "page.pdf", "page.pdf")
    with pytest.raises(BookError, match=r"not a PDF.*PNG"):
        open_book(tmp_path / "photo.pdf", "photo.pdf")


# ----------------------------------------------------------------------------- page model


def test_clipped_image_box_and_native_crop(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(pymupdf.Rect(100, 100, 400, 300), stream=picture(300, 200))
    clip_last_image(doc, page, (100, 100, 250, 200))  # keep the top-left quarter
    path = save(doc, tmp_path / "clip.pdf")
    doc = pymupdf.open(str(path))
    m = build_page_model(doc[0])
    (img,) = m.images
    assert iou(img.bbox, (100, 100, 250, 200)) > 0.99
    assert img.clip is not None and iou(img.full_bbox, (100, 100, 400, 300)) > 0.99
    out = native_image(doc, img)
    assert out is not None and out.rule == "embedded-raster-pixels"
    assert out.size == (150, 100)  # native pixels of the visible part, not a resampled render
    tl, tr, bl = corners(out.data)
    assert close(tl, RED) and not close(tr, GREEN)


def test_unclipped_jpeg_passes_through_unchanged(tmp_path):
    jpg = picture(240, 160, fmt="JPEG")
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(pymupdf.Rect(100, 100, 340, 260), stream=jpg)
    path = save(doc, tmp_path / "jpg.pdf")
    doc = pymupdf.open(str(path))
    (img,) = build_page_model(doc[0]).images
    out = native_image(doc, img)
    assert out.rule == "embedded-raster" and out.ext == "jpg" and out.data == jpg
    assert out.dpi == pytest.approx(72.0, abs=0.5)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_placement_is_turned_upright(tmp_path, rotate):
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(pymupdf.Rect(100, 100, 400, 400), stream=picture(300, 200), rotate=rotate)
    path = save(doc, tmp_path / f"rot{rotate}.pdf")
    doc = pymupdf.open(str(path))
    (img,) = build_page_model(doc[0]).images
    assert img.rotation in (90, 180, 270)
    out = native_image(doc, img)
    # the extracted pixels must look like the rendered page region
    render = doc[0].get_pixmap(clip=pymupdf.Rect(img.bbox), dpi=144).tobytes("png")
    for got, want in zip(corners(out.data), corners(render), strict=True):
        assert close(got, want, tol=60), (rotate, corners(out.data), corners(render))


def test_rotated_page_boxes_are_in_the_visible_frame(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    page.insert_image(pymupdf.Rect(100, 100, 300, 250), stream=picture(200, 150))
    page.insert_text((100, 400), "Fig. 1. A rotated page", fontsize=10)
    page.set_rotation(90)
    path = save(doc, tmp_path / "page_rot.pdf")
    doc = pymupdf.open(str(path))
    m = build_page_model(doc[0])
    assert m.size == pytest.approx((842.0, 595.0)) and m.rotation == 90
    want = pymupdf.Rect(100, 100, 300, 250) * doc[0].rotation_matrix
    assert iou(m.images[0].bbox, tuple(want)) > 0.99
    (ln,) = [x for x in m.lines if x.text.startswith("Fig.")]
    assert not ln.horizontal  # upright in the file, turned on screen


def test_drawings_cluster_into_one_chart(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    vector_chart(page, (100, 100, 300, 250))
    page.draw_line((72, 500), (520, 500), color=(0, 0, 0))  # a separator rule, far away
    path = save(doc, tmp_path / "chart.pdf")
    m = build_page_model(pymupdf.open(str(path))[0])
    assert len(m.drawings) == 2
    chart, rule = sorted(m.drawings, key=lambda d: d.bbox[1])
    assert chart.n_curves > 0 and chart.n_fills > 0 and not chart.rule_only
    assert rule.rule_only and rule.is_thin


def test_cluster_paths_joins_only_near_boxes():
    paths = [{"bbox": b, "curves": 0, "diagonals": 0, "filled": True, "rule": False}
             for b in [(0, 0, 10, 10), (12, 0, 20, 10), (100, 100, 110, 110)]]
    clusters = cluster_paths(paths, tol=3)
    assert sorted(c.n_paths for c in clusters) == [1, 2]


def _line(text):
    return TextLine(text=text, bbox=(0, 0, 100, 10), spans=[Span(text, (0, 0, 100, 10))], block_id=0)


def test_text_layer_classification():
    assert classify_text_layer(PageModel(1, A4, lines=[])) == "none"
    assert classify_text_layer(PageModel(1, A4, lines=[_line("The optic disc is pink and well defined.")])) == "ok"
    assert classify_text_layer(PageModel(1, A4, lines=[_line("\ue001\ue002\ue003 \ue004\ue005\ue006\ue007 \ue008" * 3)])) \
        == "broken"
    assert classify_text_layer(PageModel(1, A4, lines=[_line("\ufffd" * 12)])) == "broken"
    assert classify_text_layer(PageModel(1, A4, lines=[_line("#$%&*@!~^+=<>|{}[]")])) == "broken"
