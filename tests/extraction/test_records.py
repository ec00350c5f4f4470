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
from mmretinal_builder.pdf.page_model import page_from_dict, page_to_dict
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
        assert back == m
        assert [ln.size for ln in back.lines] == [ln.size for ln in m.lines]
        assert all(isinstance(v, tuple) for ln in back.lines for v in (ln.bbox, ln.direction))
    assert any(m.words for m in models) and not math.isnan(models[0].lines[0].bbox[0])


def test_pair_reads_records_read_back_as_it_reads_them_in_memory(tmp_path: Path):
    pages, _ = run_stages([PagesStage(PagesParams(ocr=False))], run_dir=tmp_path / "a", book_path=PALM)
    again = [PageRecord.model_validate(json.loads(dumps(r))) for r in pages]
    assert [dumps(r) for r in again] == [dumps(r) for r in pages]
    a = PairStage().run(pages, Context(run_dir=tmp_path / "a", stage="pair", book=PALM.name, book_path=PALM))
    b = PairStage().run(again, Context(run_dir=tmp_path / "b", stage="pair", book=PALM.name, book_path=PALM))
    assert [d.to_json() for d in a] == [d.to_json() for d in b] and len(a) == 6
