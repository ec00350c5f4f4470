"""From Tesseract's TSV to text lines in page points, and OCR results into page models (no Tesseract run)."""

from __future__ import annotations

import numpy as np
import pytest

from mmretinal_builder.pdf.page_model import ImagePlacement, PageModel
from mmretinal_builder.pdf.scan.deskew import Rotation
from mmretinal_builder.pdf.scan.frame import straighten_model
from mmretinal_builder.pdf.scan.ocr import OcrPage, apply_ocr, scan_images
from mmretinal_builder.pdf.scan.ocr_lines import (
    build_lines,
    chinese_punctuation,
    join_words,
    line_geometry,
    repair_digit_labels,
    split_at_gaps,
)
from mmretinal_builder.pdf.scan.tesseract import OcrError, OcrWord, parse_tsv

HEAD = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def _tsv(rows: list[tuple[int, int, int, int, int, int, int, float, str]]) -> str:
    lines = [HEAD, "1\t1\t0\t0\t0\t0\t0\t0\t1000\t1000\t-1\t"]
    for b, p, ln, x, y, w, h, conf, text in rows:
        lines.append(f"4\t1\t{b}\t{p}\t{ln}\t0\t{x}\t{y}\t{w}\t{h}\t-1\t")
        lines.append(f"5\t1\t{b}\t{p}\t{ln}\t1\t{x}\t{y}\t{w}\t{h}\t{conf}\t{text}")
    return "\n".join(lines) + "\n"


def _w(text: str, x0: float, x1: float, y0: float = 100, y1: float = 130, conf: float = 95, line: int = 1,
       block: int = 1) -> OcrWord:
    return OcrWord(text, (x0, y0, x1, y1), conf, block, 1, line)


def test_parse_tsv() -> None:
    tsv = _tsv([(1, 1, 1, 10, 20, 30, 12, 96.5, "FIG."), (1, 1, 1, 45, 20, 15, 12, 90.0, "3."),
                (1, 1, 2, 10, 40, 30, 12, 91.0, "  ")])
    words = parse_tsv(tsv)
    assert [(w.text, w.bbox, w.conf, w.line) for w in words] == [
        ("FIG.", (10.0, 20.0, 40.0, 32.0), 96.5, 1), ("3.", (45.0, 20.0, 60.0, 32.0), 90.0, 1)]
    with pytest.raises(OcrError, match="TSV header"):
        parse_tsv("not\ta\theader\n")


def test_lines_in_page_points_with_sizes_and_baselines() -> None:
    scale = 300 / 72
    # "Fundus photograph" at 9 pt: cap height 0.72 em -> 27 px above the baseline at y = 400 px
    fs = 9 * scale
    words = [
        _w("Fundus", 100, 220, 400 - 0.72 * fs, 400),
        _w("photograph", 235, 420, 400 - 0.72 * fs, 400 + 0.21 * fs),  # descender: p, g
        _w("texture", 600, 700, 900, 920, conf=10, line=2),
    ]
    lines, mask = build_lines(words, scale, min_conf=45)
    assert [ln.text for ln in lines] == ["Fundus photograph"]
    ln = lines[0]
    assert ln.source == "ocr" and ln.horizontal
    assert ln.size == pytest.approx(9.0, abs=0.3)
    assert ln.base == pytest.approx(400 / scale)
    assert ln.bbox[0] == pytest.approx(100 / scale) and ln.bbox[2] == pytest.approx(420 / scale)
    assert "".join(s.text for s in ln.spans) == ln.text
    # labels are masked too when looking for figures (the candidate builder takes them back in)
    assert mask and min(m[0] for m in mask) <= ln.bbox[0] and max(m[2] for m in mask) >= ln.bbox[2]


def test_rotation_moves_lines_rigidly() -> None:
    words = [_w(t, 100 + 150 * k, 230 + 150 * k) for k, t in enumerate(["one", "two", "three", "four"])]
    rot = Rotation(2.0, 1000, 1000)
    flat, _ = build_lines(words, 1.0)
    moved, mask = build_lines(words, 1.0, rot)
    (a,), (b,) = flat, moved
    dx, dy = rot.shift_to_skewed(a.bbox)
    assert b.bbox == pytest.approx((a.bbox[0] + dx, a.bbox[1] + dy, a.bbox[2] + dx, a.bbox[3] + dy))
    assert b.bbox[3] - b.bbox[1] == pytest.approx(a.bbox[3] - a.bbox[1])  # height kept: still one row
    # masked (in pieces of three ems) when looking for figures on the straight image
    assert mask and min(m[0] for m in mask) <= a.bbox[0] and max(m[2] for m in mask) >= a.bbox[2]
    assert all(m[1] <= a.bbox[1] and m[3] >= a.bbox[3] for m in mask)
    # the straight frame of the page model gives the line back where it was read
    model = PageModel(number=1, size=(1000, 1000), lines=[b], skew=2.0)
    (c,) = straighten_model(model).lines
    assert c.bbox == pytest.approx(a.bbox) and c.base == pytest.approx(a.base, abs=0.05)


def test_split_at_wide_gaps() -> None:
    words = [_w("No", 0, 40), _w("DR", 50, 90), _w("Mild", 300, 360), _w("Severe", 600, 700)]
    assert [[w.text for w in seg] for seg in split_at_gaps(words, 100)] == [["No", "DR"], ["Mild"], ["Severe"]]
    ink = np.zeros((200, 800), bool)
    ink[100:130, 90:600] = True  # the print has no gap: drifting boxes, not separate labels
    assert len(split_at_gaps(words, 100, ink, (100, 130))) == 1


def test_chinese_spacing_and_punctuation() -> None:
    size = 36.0
    words = [_w("图", 0, 30), _w("3-1", 45, 90), _w("患者", 105, 175), _w("男", 177, 210), _w(",", 212, 216),
             _w("64", 240, 270), _w("岁", 272, 305), _w("(A)", 310, 350), _w("彩色", 352, 420)]
    texts = join_words(words, size)
    assert "".join(texts) == "图 3-1 患者男，64岁（A）彩色"
    assert chinese_punctuation(["视盘", "0.8", ";", "下方", "A", ".", "荧光", "x", ";", "y"]) == \
        ["视盘", "0.8", "；", "下方", "A", "．", "荧光", "x", ";", "y"]
    # Latin text keeps its spaces and ASCII punctuation
    assert "".join(join_words([_w("FIG.", 0, 40), _w("3.", 50, 70), _w("Fundus", 80, 150)], size)) == \
        "FIG. 3. Fundus"


def test_chinese_line_geometry_ignores_row_tall_boxes() -> None:
    # ideographs advance one em (36 px); two of the boxes are as tall as the whole row
    words = [_w("视网膜", 0, 104, 100, 132), _w("中", 108, 140, 95, 150), _w("央", 144, 176, 100, 132),
             _w("动脉", 180, 248, 95, 150), _w("阻塞", 252, 320, 100, 132)]
    box, base, size = line_geometry(words)
    assert size == pytest.approx(36.0, rel=0.1)
    assert base == pytest.approx(132) and box[3] == pytest.approx(132)
    assert box[3] - box[1] == pytest.approx(0.88 * size)


def test_apply_ocr_adds_regions_on_scans_only() -> None:
    scan = ImagePlacement(xref=5, bbox=(0, 0, 595, 842), transform=(595, 0, 0, 842, 0, 0), width_px=1653,
                          height_px=2339)
    model = PageModel(number=2, size=(595, 842), images=[scan], text_layer="none")
    assert scan_images([model]) == {2: 0}
    result = OcrPage(number=2, size=(595, 842), lines=[], words=[], regions=[(100, 100, 300, 250)], skew=0.5,
                     dpi=300)
    apply_ocr(model, result, scan=0)
    assert model.scan_image == 0 and model.images[0].decoration  # the page's background, never a figure
    region = model.images[1]
    # found on the straightened page, kept as the rectangle turned by the page's skew (bbox: its hull)
    assert model.skew == 0.5 and region.xref == 0 and region.rotation is None
    assert region.full_bbox == pytest.approx(region.bbox)
    hull = Rotation(0.5, 595, 842).hull_to_skewed((100, 100, 300, 250))
    assert region.bbox == pytest.approx(hull)
    assert straighten_model(model).images[1].bbox == pytest.approx((100, 100, 300, 250))
    assert (region.width_px, region.height_px) == (556, 417)  # the scan's resolution, not the OCR render's
    plain = PageModel(number=2, size=(595, 842), text_layer="broken")
    apply_ocr(plain, result)
    assert plain.images == [] and plain.scan_image is None
    with pytest.raises(ValueError, match="page 2 applied to page 3"):
        apply_ocr(PageModel(number=3, size=(595, 842)), result)


def test_plate_with_a_margin_is_not_a_scan() -> None:
    """A text-less page whose picture leaves a margin is a full-page plate (a figure) in a born-digital book,
    but a scan in a book of such pages."""
    plate = ImagePlacement(xref=7, bbox=(15, 20, 580, 820), transform=(565, 0, 0, 800, 15, 20), width_px=565,
                           height_px=800)
    pages = [PageModel(number=1, size=(595, 842), images=[plate], text_layer="none"),
             PageModel(number=2, size=(595, 842), text_layer="ok"), PageModel(number=3, size=(595, 842))]
    assert scan_images(pages) == {}
    book = [PageModel(number=k, size=(595, 842), images=[plate], text_layer="none") for k in (1, 2)]
    assert scan_images(book) == {1: 0, 2: 0}


def test_numbered_panel_labels_read_with_an_ell_are_repaired() -> None:
    """PALM Fig. 4: "(al) and (bl): original input images, (a2) and (b2)" as printed "(a1) ... (b1)"."""
    words = ["(al) ", "and ", "(bl): ", "original ", "images, ", "(a2) ", "and ", "(b2"]
    assert repair_digit_labels(words) == ["(a1) ", "and ", "(b1): ", "original ", "images, ", "(a2) ", "and ",
                                          "(b2"]
    assert repair_digit_labels(["the ", "(al) ", "gene"]) == ["the ", "(al) ", "gene"]  # no numbered label
    tsv = _tsv([(1, 1, 1, 0, 0, 60, 30, 95, "(al)"), (1, 1, 1, 70, 0, 130, 30, 95, "and"),
                (1, 1, 1, 140, 0, 200, 30, 95, "(a2)")])
    (line,), _ = build_lines(parse_tsv(tsv), 1.0)
    assert line.text == "(a1) and (a2)"
