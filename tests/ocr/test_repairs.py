"""OCR repairs found on scanned and broken-text books: page furniture, unread labels, caption heads and blocks,
panel labels, and the OCR pair metric (no Tesseract run)."""

from __future__ import annotations

import cv2
import numpy as np

from mmretinal_builder.evaluation.extraction import evaluate
from mmretinal_builder.pdf.captions import CaptionFinder
from mmretinal_builder.pdf.layout import document_stats, furniture_keys, mark_decorations, page_layout
from mmretinal_builder.pdf.page_model import ImagePlacement, PageModel, Span, TextLine
from mmretinal_builder.pdf.scan.deskew import Rotation
from mmretinal_builder.pdf.scan.ocr import OcrPage, apply_ocr, unread_pdf_lines
from mmretinal_builder.pdf.scan.ocr_lines import build_lines, chinese_punctuation, line_geometry
from mmretinal_builder.pdf.scan.ocr_repair import doubtful_latin, harmonise_caption_heads, ideographs_as_latin
from mmretinal_builder.pdf.scan.regions import find_regions
from mmretinal_builder.pdf.scan.tesseract import OcrWord
from mmretinal_builder.samples.atlas import BOOKS
from mmretinal_builder.samples.generate import default_books


def line(words: list[str], box: tuple[float, float, float, float], size: float = 8.5, source: str = "ocr",
         block: int = 0) -> TextLine:
    x0, y0, x1, y1 = box
    step = (x1 - x0) / len(words)
    spans = [Span(w, (x0 + k * step, y0, x0 + (k + 1) * step, y1), font="ocr", size=size) for k, w in enumerate(words)]
    return TextLine(text="".join(words), bbox=box, spans=spans, block_id=block, source=source,  # type: ignore[arg-type]
                    baseline=y1)


def picture(box: tuple[float, float, float, float], px: int) -> ImagePlacement:
    w, h = box[2] - box[0], box[3] - box[1]
    return ImagePlacement(xref=10 + px, bbox=box, transform=(w, 0, 0, h, box[0], box[1]), width_px=px, height_px=px)


def test_figures_set_at_one_place_on_many_pages_are_not_decorations() -> None:
    box = (130.0, 64.0, 386.0, 319.0)
    photos = [PageModel(number=k + 1, size=(516.0, 729.0), images=[picture(box, 500 + 37 * k)]) for k in range(8)]
    logos = [PageModel(number=k + 1, size=(516.0, 729.0), images=[picture((20, 20, 60, 40), 64)]) for k in range(8)]
    mark_decorations(photos)
    mark_decorations(logos)
    assert not any(m.images[0].decoration for m in photos)  # different pictures: an atlas's fixed figure spot
    assert all(m.images[0].decoration for m in logos)  # the same picture: a logo


def _head_page(n: int, head: str, y: float) -> PageModel:
    m = PageModel(number=n, size=(516.0, 729.0))
    m.lines = [line([head], (380.0, y, 460.0, y + 6.0), size=7.0),
               line(["本病多为双眼发病，但两眼病变程度常不对称。早期患者可无自觉症状。"], (56.0, 300.0, 456.0, 308.0), 9.5)]
    return m


def test_ocr_running_heads_are_furniture_despite_misreads_and_jitter() -> None:
    # an OCR'd head lands one position step off on some pages and is misread on one of them
    pages = [_head_page(k + 1, "第3章 视网膜血管阻塞性疾病", y) for k, y in enumerate((41.0, 41.5, 44.2, 41.2))]
    pages.append(_head_page(5, "FIR 视网膜血管阻塞性疾病", 41.0))
    stats, furniture = document_stats(pages), furniture_keys(pages)
    for m in pages:
        assert page_layout(m, stats, furniture).furniture[0], m.lines[0].text
    pdf_line = _head_page(6, "FIR 视网膜血管阻塞性疾病", 41.0)
    pdf_line.lines[0] = line(["FIR 视网膜血管阻塞性疾病"], (380.0, 41.0, 460.0, 47.0), 7.0, source="pdf")
    assert not page_layout(pdf_line, stats, furniture).furniture[0]  # a text layer's text is matched exactly


def test_broken_page_keeps_the_boxes_of_labels_ocr_did_not_read() -> None:
    axis = line(["\u00d9\u00a8"], (240.0, 70.0, 262.0, 77.0), 7.0, source="pdf")
    prose = line(["\u00d9\u00a8\u00d5\u00a4 k7#Q \u00d9\u00a8\u00d5"], (56.0, 300.0, 456.0, 308.0), 9.5, source="pdf")
    read = line(["本病多为双眼发病，但两眼病变程度常不对称。"], (56.0, 299.0, 450.0, 308.5), 9.5)
    assert unread_pdf_lines([axis, prose], [read]) == [axis]
    m = PageModel(number=3, size=(516.0, 729.0), lines=[axis, prose], text_layer="broken")
    apply_ocr(m, OcrPage(number=3, size=(516.0, 729.0), lines=[read], words=[], regions=[], skew=0.0, dpi=300.0))
    assert m.lines == [read, axis]
    scan = PageModel(number=3, size=(516.0, 729.0), lines=[axis], text_layer="none")
    apply_ocr(scan, OcrPage(number=3, size=(516.0, 729.0), lines=[read], words=[], regions=[], skew=0.0, dpi=300.0))
    assert scan.lines == [read]


def _word(text: str, x0: float, x1: float, y0: float = 175.0, y1: float = 203.0, conf: float = 60.0) -> OcrWord:
    return OcrWord(text, (x0, y0, x1, y1), conf, 1, 1, 1)


def test_capitals_as_wide_as_ideographs_are_chinese_read_as_latin() -> None:
    assert ideographs_as_latin(_word("BRA", 1793.0, 1915.0), 49.5)  # 黄斑疾病 in a running head
    assert not ideographs_as_latin(_word("OCT", 100.0, 160.0, 175.0, 200.0), 34.0)  # a real acronym
    assert not ideographs_as_latin(_word("mm", 100.0, 160.0), 30.0)  # lower case: never


def test_latin_read_with_middling_confidence_is_doubtful() -> None:
    assert doubtful_latin(_word("BRET", 0.0, 84.0, conf=65.0))
    assert not doubtful_latin(_word("NPDR", 0.0, 66.0, conf=90.0))
    assert not doubtful_latin(_word("0.3", 0.0, 30.0, conf=40.0))


def test_a_short_chinese_line_takes_its_size_from_the_character_pitch() -> None:
    # Tesseract's boxes of a caption's last line "光前锋。" are as tall as the text row (14.5 pt)
    words = [_word(c, 1000.0 + 35.4 * k, 1000.0 + 35.4 * (k + 1) - 2, 2000.0, 2053.0) for k, c in enumerate("光前锋")]
    words.append(_word("。", 1106.2, 1124.0, 2030.0, 2053.0))
    _, _, size = line_geometry(words)
    assert abs(size - 35.4) < 2.5


def test_panel_labels_of_chinese_text_are_repaired() -> None:
    assert chinese_punctuation(["变性。", "CA）彩色"]) == ["变性。", "（A）彩色"]
    assert chinese_punctuation(["变细；", "〈C）视"]) == ["变细；", "（C）视"]
    assert chinese_punctuation(["；", "（CC、D）双眼"]) == ["；", "（C、D）双眼"]
    assert chinese_punctuation(["正常；C.", "FFA动脉期"]) == ["正常；C．", "FFA动脉期"]
    assert chinese_punctuation(["杯盘比0.3", ";(C)"]) == ["杯盘比0.3", "；（C）"]
    assert chinese_punctuation(["（OCT）示", "ICGA）"]) == ["（OCT）示", "ICGA）"]


def test_caption_heads_follow_the_book() -> None:
    figs = ("2-1", "2-2", "2-3", "2-5", "3-1", "3-2", "3-5", "4-1", "4-3")
    pages = [[line(["图 ", f"{n}．", "视网膜"], (60.0, 300.0, 400.0, 308.0))] for n in figs]
    pages += [[line(["表 ", f"{n}．", "分级"], (60.0, 300.0, 400.0, 308.0))] for n in ("2-1", "3-1", "4-1")]
    odd = [line(["图 ", "411．", "患者女"], (60.0, 300.0, 400.0, 308.0))]
    tight = [line(["图", "4-2．", "患者"], (60.0, 300.0, 400.0, 308.0))]
    cueless = [line(["4-4．", "协作医院使用的眼底照相机。"], (263.0, 441.0, 413.0, 448.6))]
    wrapped = [line(["病变主要位于后极部（见图"], (56.0, 461.8, 435.0, 470.2)),
               line(["4-4．", "如图所示"], (56.0, 474.0, 226.0, 482.4))]
    ambiguous = [line(["图 ", "2211．", "x"], (60.0, 300.0, 400.0, 308.0))]
    point = [line(["图 ", "1-12 ", ". ", "2013年区域中心"], (60.0, 300.0, 400.0, 308.0))]
    harmonise_caption_heads([*pages, odd, tight, cueless, wrapped, ambiguous, point])
    assert point[0].text == "图 1-12．2013年区域中心"
    assert odd[0].text == "图 4-11．患者女" and [s.text for s in odd[0].spans] == ["图 ", "4-11．", "患者女"]
    assert tight[0].text == "图 4-2．患者"
    assert cueless[0].text.startswith("图 4-4．协作")
    assert wrapped[1].text == "4-4．如图所示"  # continues the sentence above: a reference, not a caption
    assert ambiguous[0].text == "图 2211．x"  # 2-211 / 22-11: no chapter 22, figure numbers of two digits


def test_ocr_caption_block_takes_its_short_last_line() -> None:
    # a centred caption above a figure; its last line's OCR size is off and it touches the figure region
    m = PageModel(number=15, size=(516.0, 729.0))
    m.lines = [line(["图 3-10 ", "视网膜分支静脉阻塞OCT。患者女，55岁，右眼视网膜分支静脉阻塞。可见受累区域视网膜内层高"],
                    (67.6, 66.6, 464.1, 74.0)),
               line(["反射。"], (253.0, 77.1, 273.2, 88.0), size=6.5)]
    m.images = [picture((104.0, 91.0, 422.0, 280.0), 800)]
    lay = page_layout(m, document_stats([m]), set())
    caps = CaptionFinder().find(m, lay)
    assert len(caps) == 1 and caps[0].lines == [0, 1] and caps[0].text.endswith("内层高反射。")


def _pred(caption: str, rule: str) -> dict:
    return {"book": "a.pdf", "page": 1, "bbox": [0, 0, 50, 50], "page_size": [100.0, 100.0], "caption": caption,
            "label": "图 1-1", "provenance": {"caption_rule": rule, "text_layer": "none"}}


def test_pair_metric_accepts_an_ocr_misread_but_not_another_figures_caption() -> None:
    own, other = "图 1-1 视网膜中央动脉阻塞荧光素眼底血管造影动静脉期。", "图 1-2 视网膜中央动脉阻塞荧光素眼底血管造影静脉期。"
    gt = [{"id": "a.pdf", "figures": [{"page": 1, "bbox": [0, 0, 0.5, 0.5], "caption": own},
                                      {"page": 1, "bbox": [0.5, 0.5, 1, 1], "caption": other}]}]
    misread = own.replace("脉期", "肪期")
    ocr = evaluate(gt, {"a.pdf": [_pred(misread, "ocr:cue+punct")]})["overall"]
    assert ocr["pair"]["recall"] == 0.5 and ocr["pair_exact"]["recall"] == 0.0
    text_layer = evaluate(gt, {"a.pdf": [_pred(misread, "cue+punct")]})["overall"]
    assert text_layer["pair"]["recall"] == 0.0  # a text layer's caption must be exact
    wrong = evaluate(gt, {"a.pdf": [_pred(other, "ocr:cue+punct")]})["overall"]
    assert wrong["pair"]["recall"] == 0.0  # close to its own, but nearer to another figure's caption


def test_default_sample_set_has_english_and_chinese_scans() -> None:
    scans = [b for b in BOOKS if b.variant == "scanned"]
    assert {b.style.lang for b in scans} == {"en", "zh", "fa"}  # fa: the scanned Persian paper
    assert {b.name for b in default_books(len(BOOKS))} == {b.name for b in BOOKS}


def test_short_last_line_of_a_running_paragraph_is_masked_even_as_its_own_paragraph() -> None:
    size = 35.0  # pixels; 300 dpi, scale 300 / 72 pixels per point
    words = [OcrWord(c, (1000.0 + size * k, 500.0, 1000.0 + size * (k + 1) - 2, 531.0), 90.0, 1, 1, 1)
             for k, c in enumerate("彩色眼底照相示黄斑中心凹反光存在血管管")]
    words += [OcrWord(c, (1320.0 + size * k, 552.0, 1320.0 + size * (k + 1) - 2, 583.0), 90.0, 2, 1, 1)
              for k, c in enumerate("正常。")]
    lines, mask = build_lines(words, 300 / 72)
    assert [ln.text for ln in lines] == ["彩色眼底照相示黄斑中心凹反光存在血管管", "正常。"]
    tail = lines[1].bbox
    assert any(m[0] <= tail[0] + 1 and m[1] <= tail[1] and m[3] >= tail[3] for m in mask)


def test_dense_chinese_print_is_blanked_before_looking_for_figures() -> None:
    # a block of "text" inking 60% of its boxes (small Chinese print at the working resolution) beside a photo
    dpi = 100.0
    page = np.full((400, 400), 250, np.uint8)
    page[50:250, 40:200] = 60  # photograph
    rng = np.random.default_rng(0)
    text = np.where(rng.random((150, 150)) < 0.6, 40, 250).astype(np.uint8)
    page[60:210, 215:365] = text
    ppt = dpi / 72.0
    boxes = [(215 / ppt, (60 + 15 * k) / ppt, 365 / ppt, (75 + 15 * k) / ppt) for k in range(10)]
    regions = find_regions(page, dpi, boxes)
    assert len(regions) == 1 and regions[0][2] < 210 / ppt


def test_baselines_of_a_skewed_page_keep_the_line_pitch() -> None:
    # straightened image, 2 degrees of skew: a long line and, 40 px below, a short line at the left margin
    rot = Rotation(angle=2.0, width=2400, height=3300)
    long_words = [OcrWord(f"word{k}", (200.0 + 120 * k, 1000.0, 300.0 + 120 * k, 1030.0), 90.0, 1, 1, 1)
                  for k in range(16)]
    short = [OcrWord("fovea.", (200.0, 1040.0, 300.0, 1070.0), 90.0, 1, 1, 2)]
    lines, _ = build_lines(long_words + short, 300 / 72, rot)
    pitch = lines[1].base - lines[0].base
    assert abs(pitch - 40 * 72 / 300) < 0.5  # the rigid moves alone would differ by ~ 15 px
    assert abs((lines[1].bbox[1] - lines[0].bbox[1]) - 40 * 72 / 300) > 2  # boxes stay where the print is


def test_a_misread_number_in_ocr_text_is_no_caption() -> None:
    finder = CaptionFinder()
    assert finder.head(line(["图 ", "1-？显示非增殖期糖尿病视网膜病变的典型眼底表现"], (57.0, 356.0, 458.0, 365.0))) is None
    assert finder.head(line(["图 ", "1-1．患者男，49岁"], (57.0, 356.0, 458.0, 365.0))) is not None
    assert finder.head(line(["Fig. 3 — Fundus photograph"], (57.0, 356.0, 458.0, 365.0))) is not None


def test_a_sparse_line_chart_is_a_region_but_a_bare_frame_is_not() -> None:
    dpi = 100.0
    page = np.full((800, 800), 250, np.uint8)
    # a line chart: thin axes plus two curves running across (about 2% ink: "sparse")
    cv2.line(page, (40, 40), (40, 340), 90, 1)
    cv2.line(page, (40, 340), (460, 340), 90, 1)
    xs = np.arange(40, 460)
    for off in (0, 60):
        ys = (140 + off + 60 * np.sin(xs / 40.0)).astype(np.int32)
        cv2.polylines(page, [np.stack([xs, ys], axis=1).astype(np.int32)], False, 60, 2)
    # a frame elsewhere: ink along its edges only
    cv2.rectangle(page, (480, 420), (760, 760), 90, 1)
    regions = find_regions(page, dpi, [])
    ppt = dpi / 72.0
    assert len(regions) == 1 and regions[0][0] < 41 / ppt and regions[0][2] < 470 / ppt


def test_an_ocr_sentence_opening_a_page_is_running_text() -> None:
    m = PageModel(number=16, size=(516.0, 729.0))
    m.lines = [line(["光凝及玻璃体腔注药等。"], (48.9, 72.5, 146.1, 80.7), 9.2),
               line(["本病多为双眼发病，但两眼病变程度常不对称。早期患者可无自觉症状。"], (56.0, 400.0, 456.0, 408.0), 9.5),
               line(["A"], (60.0, 300.0, 66.0, 307.0), 9.2)]
    lay = page_layout(m, document_stats([m]), set())
    assert lay.prose == [True, True, False]
