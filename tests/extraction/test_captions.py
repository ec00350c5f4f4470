"""Caption detection (cues, numbers, body-text rejection, extent) and caption text normalisation."""

from __future__ import annotations

import pytest

from mmretinal_builder.pdf.captions import CaptionFinder, normalize_caption, normalize_number
from mmretinal_builder.pdf.layout import PageLayout
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine

FINDER = CaptionFinder()


def line(text: str, x: float = 50, y: float = 100, size: float = 9, bold_label: int = 0, block: int = 0,
         width: float | None = None, source: str = "pdf") -> TextLine:
    """A text line; the first ``bold_label`` characters are a bold span."""
    w = width if width is not None else len(text) * size * 0.5
    spans = []
    if bold_label:
        spans.append(Span(text[:bold_label], (x, y, x + w * bold_label / len(text), y + size * 1.2), "Arial-Bold",
                          size, bold=True))
        spans.append(Span(text[bold_label:], (x + w * bold_label / len(text), y, x + w, y + size * 1.2), "Arial",
                          size))
    else:
        spans.append(Span(text, (x, y, x + w, y + size * 1.2), "Arial", size))
    return TextLine(text=text, bbox=(x, y, x + w, y + size * 1.2), spans=spans, block_id=block, source=source,
                    baseline=y + size)


@pytest.mark.parametrize("text, label, number", [
    ("Fig. 1 Examples of retinal lesions", "Fig. 1", "1"),
    ("Figure 3-12. Central serous chorioretinopathy", "Figure 3-12", "3-12"),
    ("FIG. 4. A 28-year-old woman", "FIG. 4", "4"),
    ("Figura 2.5. Retinografía en color", "Figura 2.5", "2.5"),
    ("Abb. 23: Typische Befunde", "Abb. 23", "23"),
    ("图 3-12 正常眼底", "图 3-12", "3-12"),
    ("图3-12．正常眼底", "图3-12", "3-12"),
    ("图 2-3．2008年筛查时的眼数", "图 2-3", "2-3"),
    ("Fig. S1 Supplementary images", "Fig. S1", "S1"),
    ("Figure\u00a07 (continued)", "Figure 7", "7"),
    ("Fig. 2\u20133 Optic disc", "Fig. 2\u20133", "2-3"),
    ("Figure 5", "Figure 5", "5"),
    ("Figure 3A Fundus photograph", "Figure 3A", "3A"),
    ("图３－１２ 正常眼底", "图３－１２", "3-12"),
])
def test_caption_heads(text, label, number):
    h = FINDER.head(line(text))
    assert h is not None, text
    assert (h.kind, h.label, h.number) == ("figure", label, number)


@pytest.mark.parametrize("text", [
    "Figure 3 shows the typical appearance of the disc",
    "Fig. 2 and Fig. 3 illustrate",
    "Figura 3.5 presenta una retinografía",
    "Figures 3 and 4 show",
    "见图3所示的病变",
    "图3显示视盘水肿",
    "as shown in Figure 3. The lesion",
    "Figure 3.1 Normal fundus ........ 23",
    "Fig. 3, 4 and 5 show",
    "Fig. 3-5 show the",
    "图5-1。本病多为双眼发病",  # "……典型病例见" wrapped before the reference: the line starts with it
    "图 5-1！",
])
def test_body_text_references_are_not_captions(text):
    assert FINDER.head(line(text)) is None


def test_style_rescues_a_caption_without_punctuation():
    # "Figure 3 fundus ..." starts in lower case: only a bold label makes it a caption.
    assert FINDER.head(line("Figure 3 fundus photograph of the left eye")) is None
    assert FINDER.head(line("Figure 3 fundus photograph of the left eye", bold_label=8)).rule == "cue+style"


def test_tables_are_recognised():
    for text, label in [("Table 2. Visual acuity", "Table 2"), ("Tab. 3: Befunde", "Tab. 3"), ("表 3-1 分级", "表 3-1")]:
        h = FINDER.head(line(text))
        assert h is not None and h.kind == "table" and h.label == label


def test_custom_cues():
    finder = CaptionFinder(figure_cues=["Lámina"], table_cues=[])
    assert finder.head(line("Lámina 4. Fondo de ojo")).label == "Lámina 4"
    assert finder.head(line("Fig. 4. Fundus")) is None
    assert finder.head(line("Table 1. X")) is None


def _model(lines: list[TextLine]) -> tuple[PageModel, PageLayout]:
    m = PageModel(number=1, size=(595, 842), lines=lines)
    return m, PageLayout(prose=[False] * len(lines), furniture=[False] * len(lines))


def test_caption_extent_stops_at_paragraph_gap_and_other_column():
    lines = [
        line("Fig. 2. Colour fundus photograph of the right eye showing", y=400, width=230, block=1),
        line("scattered haemorrhages in all four quadrants and cotton", y=411, width=228, block=1),
        line("wool spots.", y=422, width=50, block=1),
        # the neighbouring column on the same rows is not part of the caption
        line("The differential diagnosis includes", x=300, y=400, width=230, block=2),
        line("hypertensive retinopathy and ocular", x=300, y=411, width=230, block=2),
        # body text after a paragraph gap
        line("Treatment is directed at the underlying cause of the", y=445, width=230, block=3),
    ]
    m, lay = _model(lines)
    caps = FINDER.find(m, lay)
    assert len(caps) == 1
    assert caps[0].lines == [0, 1, 2]
    assert caps[0].text == ("Fig. 2. Colour fundus photograph of the right eye showing scattered haemorrhages in "
                            "all four quadrants and cotton wool spots.")


def test_caption_in_running_paragraph_is_rejected_unless_styled():
    lines = [
        line("The lesions are concentrated at the posterior pole as illustrated in", y=100, width=300, block=1),
        line("Figure 3. The condition is frequently bilateral and asymmetric.", y=111, width=290, block=1),
    ]
    m, lay = _model(lines)
    assert FINDER.find(m, lay) == []


def test_label_alone_on_its_line_then_text_below():
    lines = [line("Figure 4", x=200, y=300, width=40, bold_label=8, block=1),
             line("Optical coherence tomography of the macula with cystoid spaces", y=311, width=300, block=1)]
    m, lay = _model(lines)
    caps = FINDER.find(m, lay)
    assert len(caps) == 1 and caps[0].text == "Figure 4 Optical coherence tomography of the macula with cystoid spaces"


def test_bilingual_caption_is_one_caption():
    lines = [line("图 3-1 正常眼底彩色照相", y=300, width=120, block=1),
             line("Fig. 3-1 Normal fundus photograph", y=312, width=150, block=1)]
    m, lay = _model(lines)
    caps = FINDER.find(m, lay)
    assert len(caps) == 1
    assert caps[0].text == "图 3-1 正常眼底彩色照相 Fig. 3-1 Normal fundus photograph"


def test_ocr_lines_are_read_the_same_way():
    lines = [line("Fig. 7. Fundus autofluorescence of the left eye", y=500, width=260, source="ocr")]
    m, lay = _model(lines)
    caps = FINDER.find(m, lay)
    assert [c.label for c in caps] == ["Fig. 7"]


@pytest.mark.parametrize("rows, expected", [
    (["Fig. 1\u2002 Examples of cor-", "responding lesions"], "Fig. 1 Examples of corresponding lesions"),
    (["trained with CGAN-", "460 images"], "trained with CGAN-460 images"),
    (["anti-", "VEGF injections"], "anti-VEGF injections"),
    (["Representaci\u00b4on del fondo"], "Representación del fondo"),
    (["Retinograf\u0131\u00b4a en color"], "Retinografía en color"),
    (["exudaci o\u0301n"], "exudaci ón"),
    (["lesions ( a ) and ( b )"], "lesions (a) and (b)"),
    (["the \ufb01rst \ufb02uorescein \ufb00ect"], "the first fluorescein ffect"),
    (["multiple   spaces\u00a0and\ttabs "], "multiple spaces and tabs"),
    (["soft\u00ad", "hyphen"], "softhyphen"),
    (["图 3-11 患者男， 64岁，杯盘比 0.3；B．OCT 示"], "图 3-11 患者男，64岁，杯盘比0.3；B．OCT示"),
    (["正常眼底", "彩色照相"], "正常眼底彩色照相"),
    (["see the arrow\u2014", "the disc"], "see the arrow\u2014the disc"),
])
def test_normalize_caption(rows, expected):
    label = rows[0].split("\u2002")[0] if rows[0].startswith("Fig") else ("图 3-11" if rows[0].startswith("图") else None)
    assert normalize_caption(rows, label=label) == expected


def test_vocabulary_keeps_real_hyphens():
    vocab = {"well-known", "known", "well"}
    assert normalize_caption(["a well-", "known sign"], vocab) == "a well-known sign"
    assert normalize_caption(["a well-", "known sign"]) == "a wellknown sign"  # without evidence: a break


def test_normalize_number():
    assert normalize_number("３\u2013１２") == "3-12"
    assert normalize_number("2.5") == "2.5"


def test_caption_stops_where_the_body_resumes_without_a_gap():
    cap = [line("Fig. 5. Branch retinal vein occlusion with flame haemorrhages in the", y=400, width=300),
           line("superotemporal quadrant.", y=411, width=110)]
    indented = line("Treatment is directed at the underlying cause of the occlusion and", x=60, y=422,
                    width=290)
    m, lay = _model(cap + [indented])
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1]
    serif = line("Treatment is directed at the underlying cause of the occlusion and", y=422, width=300)
    serif.spans = [Span(serif.text, serif.bbox, "Times-Roman", 9)]
    m, lay = _model(cap + [serif])
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1]
    # the same line in the caption's typeface, flush left, is read as the caption going on
    same = line("Treatment is directed at the underlying cause of the occlusion and", y=422, width=300)
    m, lay = _model(cap + [same])
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1, 2]


def test_hanging_indent_caption_continues():
    first = line("Figure 3.1 Normal fundus of a young man.", y=400, width=200, bold_label=10)
    text_x = first.spans[1].bbox[0]
    rows = [first,
            line("The disc is pink with a small cup and sharp", x=text_x, y=411, width=180),
            line("margins.", x=text_x, y=422, width=40)]
    m, lay = _model(rows)
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1, 2]


def test_label_in_the_margin_with_its_text_in_the_column():
    rows = [line("Fig. 3.2", x=40, y=400, width=35, bold_label=8),
            line("Fundus photograph of a macular hole with a", x=150, y=400, width=250),
            line("surrounding cuff of subretinal fluid.", x=150, y=411, width=200)]
    m, lay = _model(rows)
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1, 2]
    assert c.text == "Fig. 3.2 Fundus photograph of a macular hole with a surrounding cuff of subretinal fluid."


def test_large_label_on_its_own_line_then_smaller_text():
    big = line("FIGURE 12", x=50, y=380, size=13, width=70, bold_label=9)
    rows = [big, line("Peripapillary atrophy in high myopia, with a tilted disc", y=398, width=260),
            line("and a posterior staphyloma.", y=409, width=120)]
    m, lay = _model(rows)
    (c,) = FINDER.find(m, lay)
    assert c.lines == [0, 1, 2] and c.label == "FIGURE 12"
