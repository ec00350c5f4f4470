"""Property tests of caption detection, sub-caption splitting and caption text normalisation: they never
raise on any text, offsets index the text they came from, and normalisation is idempotent."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmretinal_builder.geometry import union
from mmretinal_builder.panels.subcaptions import split_subcaptions
from mmretinal_builder.pdf.captions import _WS, CaptionFinder, book_vocabulary, normalize_caption
from mmretinal_builder.pdf.layout import document_stats, furniture_keys, page_layout
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine

#: Pieces captions are made of, and the characters that trip text code (ligatures, soft hyphens, combining
#: accents, full-width forms, CJK, odd spaces).
TOKENS = ["Fig.", "Figure", "FIG.", "图", "表", "Table", "Abb.", "Figura", "Plate", "3", "3-12", "2.5", "S1", "IV",
          ".", ":", "．", "：", "|", "—", "-", "(a)", "(b)", "(a-c)", "(a, b)", "a)", "b)", "A.", "B.", "A,", "a ",
          "Left:", "(top row)", "左：", "（右）", "上图", "drusen", "Fundus", "photograph", "shows", "and", "All images",
          "Arrows mark", "co-", "opera-", "tion", "ﬁ", "ﬂ", "\u00ad", "´", "e\u0301", "\u3000", "\u00a0", "\u200b",
          " ", " ", "\n", "\t", "眼底", "照片", "１２", "（", "）", "[", "]", "e.g.", "vs.", "et al.", "ı"]
caption_text = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.text(max_size=200),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(caption_text, st.one_of(st.none(), st.sampled_from(["Fig. 3", "图3-12", "Figure 2"])))
def test_split_subcaptions_offsets_index_the_text(text, label):
    sub = split_subcaptions(text, label)
    n = len(text)
    assert sub.text == text
    assert 0 <= sub.body_start <= n
    spans = list(sub.shared) + [s for seg in sub.segments for s in seg.spans]
    for s, e in spans:
        assert 0 <= s < e <= n, (s, e, n)
        assert text[s:e].strip(), "a span of only whitespace"
    for m in sub.mentions + [m for m, _ in sub.rejected]:
        assert 0 <= m.start < m.end <= n
        assert m.labels
    assert sub.mode in ("leading", "trailing", "none")
    assert (sub.mode == "none") == (not sub.mentions)
    for seg in sub.segments:
        assert seg.labels
        sub.span_text(seg.spans)
    sub.span_text(sub.shared)
    assert len(set(sub.labels())) == len(sub.labels())


@FUZZ
@given(st.one_of(caption_text, st.lists(caption_text, max_size=6)), st.one_of(st.none(), st.just({"opera", "tion"})))
def test_normalize_caption_is_idempotent_and_tidy(rows, vocabulary):
    once = normalize_caption(rows, vocabulary)
    assert once == once.strip()
    assert "\n" not in once and "  " not in once and "\u00ad" not in once
    assert normalize_caption(once, vocabulary) == once


@FUZZ
@given(caption_text)
def test_caption_head_never_raises(text):
    finder = CaptionFinder()
    line = TextLine(text=text, bbox=(72.0, 100.0, 300.0, 110.0), spans=[Span(text, (72.0, 100.0, 300.0, 110.0))],
                    block_id=0)
    head = finder.head(line)
    if head is not None:
        assert head.kind in ("figure", "table")
        assert head.label.strip() and head.label in _WS.sub(" ", text)  # the label as printed, spaces normalised


line_spec = st.tuples(caption_text, st.integers(0, 2), st.floats(40, 500), st.floats(40, 780), st.floats(6, 14),
                      st.booleans())


@FUZZ
@given(st.lists(line_spec, max_size=25))
def test_caption_finder_on_random_pages(specs):
    lines = []
    for text, block, x, y, size, bold in specs:
        box = (x, y, min(x + max(len(text), 1) * size * 0.5, 590.0), y + size * 1.2)
        lines.append(TextLine(text=text, bbox=box, spans=[Span(text, box, "Helvetica-Bold" if bold else "Helvetica",
                                                               size, bold=bold)], block_id=block, baseline=box[3]))
    model = PageModel(number=1, size=(595.0, 842.0), lines=lines)
    stats = document_stats([model])
    layout = page_layout(model, stats, furniture_keys([model]))
    caps = CaptionFinder().find(model, layout, vocabulary=book_vocabulary([model]))
    taken: list[int] = []
    for c in caps:
        assert c.lines and all(0 <= k < len(lines) for k in c.lines)
        assert c.bbox == union(lines[k].bbox for k in c.lines)
        assert c.text and c.kind in ("figure", "table")
        taken.extend(c.lines)
    assert len(taken) == len(set(taken)), "a line belongs to two captions"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caption_text, st.one_of(st.none(), st.just("Fig. 3")))
def test_clean_caption_entities_index_the_cleaned_text(text, label):
    from mmretinal_builder.curation.caption_clean import clean_caption

    out = clean_caption(text, label)
    parts = {"en": out.en, "zh": out.zh}
    for e in out.entities:
        part = parts[e["lang"]]
        assert part is not None and 0 <= e["start"] < e["end"] <= len(part)
        assert part[e["start"]:e["end"]] == e["text"]
    assert out.lang == ("+".join(k for k in ("en", "zh") if parts[k]) or None)
