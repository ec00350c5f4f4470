"""Case pages with dot leaders (samples/leaders.py): a good text layer, read as PDF text, caption exact.

Leader dots are most of such a page's characters; the text-layer rule before cfccfd0 counted them against the
page's letters and called the page broken (``rare-symbols``), so the pages stage sent it to OCR and the figure's
caption came from Tesseract. Each leader style of the default books is built small (four figures, one case page)
and run through pages, pair and crop as ``mmretinal build`` runs them (OCR on).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from mmretinal_builder.geometry import from_fractions, iou
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.pdf.born_digital import build_page_model
from mmretinal_builder.pdf.text_layer import classify_text_layer
from mmretinal_builder.samples.atlas import BOOKS
from mmretinal_builder.samples.generate import write_books
from mmretinal_builder.samples.leaders import LEADER_STYLES
from mmretinal_builder.stages.crop import CropStage
from mmretinal_builder.stages.pages import PagesStage
from mmretinal_builder.stages.pair import PairStage

from .conftest import SMALL_IMAGES

LEADER_BOOKS = {b.leaders: b for b in BOOKS if b.leaders}
#: a run of one leader character (four or more), single spaces allowed between (TeX's ". . . ."); the CJK font
#: maps the Chinese leader "…" to U+22EF
_RUN = re.compile("([.\u00b7\u2026\u22ef])(?: ?\\1){3,}")


def test_every_leader_style_is_on_a_default_book() -> None:
    assert sorted(LEADER_BOOKS) == sorted(LEADER_STYLES)


@pytest.fixture(scope="module", params=sorted(LEADER_BOOKS))
def case_book(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One small book in the given leader style: its PDF and its ground truth."""
    out = tmp_path_factory.mktemp(f"leaders_{request.param}")
    book = replace(LEADER_BOOKS[request.param], name=f"case_{request.param}")
    gt = write_books(out, [book], seed=3, figures_per_book=4, image_options=SMALL_IMAGES)
    doc = json.loads(gt.read_text(encoding="utf-8"))[0]
    return out / doc["id"], doc


def _pdf_text(page: pymupdf.Page) -> str:
    return "\n".join(ln.text for ln in build_page_model(page).lines if ln.source == "pdf")


def _norm(s: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", s or "").split())


def test_case_pages_are_mostly_leaders_and_a_good_text_layer(case_book: tuple[Path, dict[str, Any]]) -> None:
    pdf, doc = case_book
    boxes = doc["leader_boxes"]
    assert boxes and all(b["rows"] >= 10 and b["leader_chars"] > 0 for b in boxes)
    with pymupdf.open(pdf) as d:
        for box in boxes:
            page = d[box["page"] - 1]
            text = _pdf_text(page)
            visible = sum(not c.isspace() for c in text)
            leaders = sum(len(m.group(0).replace(" ", "")) for m in _RUN.finditer(text))
            # the leaders the generator drew are the page's leaders, and they are most of its characters: the
            # old rule (letters and digits < 40% of the visible characters -> broken) failed on exactly this
            assert leaders == box["leader_chars"]
            assert leaders > 0.6 * visible, (box, leaders, visible)
            assert sum(c.isalnum() for c in text) < 0.40 * visible
            assert classify_text_layer(build_page_model(page)) == "ok", (box, text[:400])


def test_case_page_figures_keep_their_printed_captions(case_book: tuple[Path, dict[str, Any]],
                                                       tmp_path: Path) -> None:
    pdf, doc = case_book
    figures, ctx = run_stages([PagesStage(PagesStage.Params()), PairStage(PairStage.Params()),
                               CropStage(CropStage.Params())], run_dir=tmp_path / "run", book_path=pdf)
    on_case_pages = {b["page"]: b["figure"] for b in doc["leader_boxes"]}
    truth = {f["label"]: f for f in doc["figures"]}
    for page_no, label in on_case_pages.items():
        found = [f for f in figures if f.page == page_no and f.label == label]
        assert len(found) == 1, (page_no, label, [(f.page, f.label) for f in figures])
        fig = found[0]
        # the figure alone: not grown over the case box under its caption
        assert iou(fig.bbox, from_fractions(truth[label]["bbox"], fig.page_size)) >= 0.8, (fig.bbox, label)
        assert _norm(fig.caption) == _norm(truth[label]["caption"])
        assert fig.provenance.text_layer == "ok"
        assert not (fig.provenance.caption_rule or "").startswith("ocr:"), fig.provenance.caption_rule
        assert not fig.provenance.rule.startswith("ocr:"), fig.provenance.rule
    assert not any(str(r.get("reason", "")).startswith("ocr") for r in ctx.rejects)
