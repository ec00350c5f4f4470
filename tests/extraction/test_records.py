"""The pages stage's records: a page model written to its shard and read back is the same page model, and the pair
stage gives the same figures from records read back as from records in memory (a resumed build)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pymupdf

from mmretinal_builder.io import dumps
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.pdf.born_digital import build_page_model
from mmretinal_builder.pdf.page_model import PageModel, Span, TextLine, page_from_dict, page_to_dict
from mmretinal_builder.pdf.records import PageRecord
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.pages import PagesParams, PagesStage
from mmretinal_builder.stages.pair import PairStage

PALM = Path(__file__).resolve().parents[1] / "data" / "palm" / "palm_scidata2024.pdf"


def test_page_models_survive_the_round_trip():
    with pymupdf.open(PALM) as doc:
        models = [build_page_model(p) for p in doc]
    for m in models:
        back = page_from_dict(json.loads(dumps(page_to_dict(m))))
        assert back == m and repr(back) == repr(m)  # repr: every digit and the sign of zero too
        assert [ln.size for ln in back.lines] == [ln.size for ln in m.lines]
        assert all(isinstance(v, tuple) for ln in back.lines for v in (ln.bbox, ln.direction))
    assert any(m.words for m in models) and not math.isnan(models[0].lines[0].bbox[0])


def _mixed_page() -> PageModel:
    pdf = TextLine(text="Fig. 1 Drusen", bbox=(-0.0, 10.000000762939453, 300.1, 22.0), block_id=0, baseline=20.5,
                   spans=[Span("Fig. 1", (-0.0, 10.000000762939453, 30.25, 22.0), "CMBX10", 9.962599754333496, True),
                          Span(" Drusen", (30.25, 10.1, 300.1, 22.0), "CMR10", 9.962599754333496)])
    ocr = TextLine(text="(a) left", bbox=(12, 400, 80, 412), block_id=1, source="ocr", baseline=None,
                   spans=[Span("(a)", (12, 400, 30, 412), "ocr", 9), Span(" left", (30, 400, 80, 412), "ocr", 9)])
    return PageModel(number=3, size=(595.0, 842.0), lines=[pdf, ocr],
                     words=[(1.5, 2.0, 3.0, 4.000000476837158, "Fig.", 0, 0, 0), (5.0, 6.0, 7.0, 8.0, "1", 0, 0, 1)])


def test_packed_numbers_are_the_same_numbers():
    """Spans and words of text-layer lines are packed as float64 bits; OCR lines keep their spans inline, with the
    number types OCR gave them."""
    m = _mixed_page()
    d = json.loads(dumps(page_to_dict(m)))
    assert d["lines"][0] == ["Fig. 1 Drusen", 0, True, [["Fig. 1", 0], [" Drusen", 1]]]  # numbers packed, styles
    assert d["lines"][1]["spans"][0] == ["(a)", [12, 400, 30, 412], "ocr", 9, False, False]
    back = page_from_dict(d)
    assert repr(back) == repr(m)
    assert str(back.lines[0].spans[0].bbox[0]) == "-0.0" and isinstance(back.lines[1].spans[0].bbox[0], int)
    d["span_numbers"] = d["span_numbers"][:-12]  # a damaged shard line: an error, not shifted boxes
    try:
        page_from_dict(d)
    except ValueError as e:
        assert "span numbers" in str(e)
    else:
        raise AssertionError("a truncated span_numbers was read")


def test_page_models_written_inline_by_earlier_runs_are_read():
    m = _mixed_page()
    inline = {**page_to_dict(m), "lines": [
        {"text": ln.text, "bbox": ln.bbox, "block_id": ln.block_id, "source": ln.source, "baseline": ln.baseline,
         "horizontal": ln.horizontal, "direction": ln.direction,
         "spans": [(s.text, s.bbox, s.font, s.size, s.bold, s.italic) for s in ln.spans]} for ln in m.lines],
        "words": list(m.words)}
    for key in ("line_numbers", "span_numbers", "span_styles", "word_numbers"):
        del inline[key]
    assert repr(page_from_dict(json.loads(dumps(inline)))) == repr(m)


def test_pair_reads_records_read_back_as_it_reads_them_in_memory(tmp_path: Path):
    pages, _ = run_stages([PagesStage(PagesParams(ocr=False))], run_dir=tmp_path / "a", book_path=PALM)
    again = [PageRecord.model_validate(json.loads(dumps(r))) for r in pages]
    assert [dumps(r) for r in again] == [dumps(r) for r in pages]
    a = PairStage().run(pages, Context(run_dir=tmp_path / "a", stage="pair", book=PALM.name, book_path=PALM))
    b = PairStage().run(again, Context(run_dir=tmp_path / "b", stage="pair", book=PALM.name, book_path=PALM))
    assert [d.to_json() for d in a] == [d.to_json() for d in b] and len(a) == 6
