"""Right-to-left lines in reading order, Tesseract's reversed numbers, and Persian caption heads."""

from __future__ import annotations

from mmretinal_builder.pdf.bidi import fix_reversed_number, is_rtl, logical_order
from mmretinal_builder.pdf.captions import CaptionFinder, normalize_caption, normalize_number
from mmretinal_builder.pdf.layout import PageLayout
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine
from mmretinal_builder.pdf.scan.ocr_lines import rtl_words
from mmretinal_builder.pdf.scan.tesseract import OcrWord


def _w(text: str, x0: float, x1: float) -> OcrWord:
    return OcrWord(text, (x0, 0.0, x1, 10.0), 90.0, 1, 1, 1)


def test_visual_words_come_back_in_reading_order() -> None:
    # printed right to left: شکل ۸: تصویر FFA و SD-OCT image ; listed here left to right, as on the page
    visual = [_w("SD-OCT", 0, 35), _w("image", 40, 70), _w("و", 75, 80), _w("FFA", 85, 105),
              _w("تصویر", 110, 140), _w("۸:", 145, 155), _w("شکل", 160, 190)]
    words = logical_order(visual, lambda w: w.text, lambda w: (w.bbox[0] + w.bbox[2]) / 2)
    assert [w.text for w in words] == ["شکل", "۸:", "تصویر", "FFA", "و", "SD-OCT", "image"]
    assert is_rtl("شکل ۸: تصویر OCT") and not is_rtl("Figure 8: OCT image")


def test_numbers_tesseract_reversed_are_put_right() -> None:
    assert fix_reversed_number("۲-۳:") == "۳-۲:"
    assert fix_reversed_number("1-5") == "5-1"
    assert fix_reversed_number("۱۲-۳-۴") == "۴-۳-۱۲"
    assert fix_reversed_number("۴.۱") == "۴.۱"  # Tesseract keeps these
    assert [w.text for w in rtl_words([_w("تصویر", 0, 40), _w("۲-۳:", 45, 60), _w("شکل", 65, 90)])] == [
        "شکل", "۳-۲:", "تصویر"]


def _line(text: str, x0: float, x1: float, y: float, block: int = 1) -> TextLine:
    box = (x0, y - 9, x1, y + 2)
    return TextLine(text=text, bbox=box, spans=[Span(text, box, "ocr", 9.0)], block_id=block, source="ocr",
                    baseline=y)


def test_persian_caption_split_in_two_pieces_reads_right_to_left() -> None:
    # one printed row read as two pieces (a reader that splits at direction runs): the head on the right
    lines = [_line("شکل ۳-۲: عکس رنگی فوندوس", 300, 500, 400), _line("چشم راست بیمار.", 120, 296, 400)]
    model = PageModel(number=1, size=(595, 842), lines=lines)
    layout = PageLayout(prose=[False] * len(lines), furniture=[False] * len(lines))
    (cap,) = CaptionFinder().find(model, layout)
    assert cap.label == "شکل ۳-۲" and cap.number == "3-2"
    assert cap.text == "شکل ۳-۲: عکس رنگی فوندوس چشم راست بیمار."


def test_numbers_in_any_digits_and_french_spacing() -> None:
    assert normalize_number("۳-۱۲") == normalize_number("٣–١٢") == normalize_number("３-１２") == "3-12"
    assert normalize_caption(["Figure 4.2 – Rétinographie couleur : des drusen ; en outre, un œdème."]) == \
        "Figure 4.2 – Rétinographie couleur : des drusen ; en outre, un œdème."
    assert normalize_caption(["word , next ."]) == "word, next."
