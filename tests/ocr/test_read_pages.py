"""OCR of whole pages with Tesseract: a small synthetic scan, a sample page with a broken text layer."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.book import Book
from mmretinal_builder.evaluation.extraction import cer
from mmretinal_builder.geometry import iou
from mmretinal_builder.pdf.born_digital import build_page_model
from mmretinal_builder.pdf.scan.ocr import (
    OcrConfig,
    OcrError,
    check_tesseract,
    ocr_models,
    read_page,
    read_pages,
)
from mmretinal_builder.pdf.text_layer import classify_text_layer
from mmretinal_builder.samples.corrupt import break_text

from .synth import CAPTION, PARAGRAPH, PHOTO, rotated_hull, scan_pdf, text_page_pdf

SAMPLES = Path(__file__).resolve().parents[2] / "mmretinal_builder" / "sample_books"
DPI = 200


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """Two small scanned pages, skewed by 1.5 and -1 degrees."""
    pages, mats = [], []
    for k, angle in enumerate((1.5, -1.0)):
        data, m = scan_pdf(text_page_pdf(), dpi=DPI, angle=angle, seed=k)
        pages.append(data)
        mats.extend(m)
    doc = pymupdf.open()
    for data in pages:
        with pymupdf.open("pdf", data) as src:
            doc.insert_pdf(src)
    path = tmp_path_factory.mktemp("ocr") / "scan.pdf"
    doc.save(path)
    doc.close()
    return path, mats


def test_read_scanned_page(scanned: tuple[Path, list]) -> None:
    path, mats = scanned
    with pymupdf.open(path) as doc:
        page = read_page(doc[0], OcrConfig(lang="eng"), regions=True)
    assert page.skew == pytest.approx(1.5, abs=0.15)
    texts = [ln.text for ln in page.lines]
    body = [t for t in texts if not t.startswith("FIG")]
    assert cer(" ".join(body), " ".join(PARAGRAPH)) <= 0.03, texts
    caption = [t for t in texts if t.startswith("FIG")]
    assert caption and cer(caption[0], CAPTION) <= 0.03, texts
    # lines are horizontal rows in page points, in reading order, at the place of the print
    tops = [ln.bbox[1] for ln in page.lines]
    assert tops == sorted(tops)
    assert all(8 <= ln.size <= 10 for ln in page.lines if not ln.text.startswith("FIG")), page.lines
    assert len(page.regions) == 1
    assert iou(page.regions[0], rotated_hull(PHOTO, mats[0], DPI)) >= 0.85, page.regions


def test_pool_gives_the_same_pages(scanned: tuple[Path, list]) -> None:
    path, _ = scanned
    cfg = OcrConfig(lang="eng")
    jobs = [(0, True), (1, False)]
    with Book(path) as book:
        serial = list(read_pages(book, jobs, cfg, workers=1))
        pooled = list(read_pages(book, jobs, cfg, workers=2))
    assert [p.number for p in pooled] == [1, 2]
    assert [[ln.text for ln in p.lines] for p in pooled] == [[ln.text for ln in p.lines] for p in serial]
    assert pooled[0].regions == serial[0].regions and pooled[1].regions == []


def test_pool_workers_open_an_encrypted_book_with_its_password(scanned: tuple[Path, list], tmp_path: Path) -> None:
    """The OCR processes reopen the book through its door, password included (a reopen by path alone read
    nothing: every page "OCR failed (document closed or encrypted)")."""
    path, _ = scanned
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(path) as doc:
        doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="owner")
    cfg = OcrConfig(lang="eng")
    jobs = [(0, True), (1, False)]
    with Book(path) as book:
        plain = list(read_pages(book, jobs, cfg, workers=1))
    with Book(locked, password="pw") as book:
        pooled = list(read_pages(book, jobs, cfg, workers=2))
    assert [p.error for p in pooled] == [None, None]
    assert [[ln.text for ln in p.lines] for p in pooled] == [[ln.text for ln in p.lines] for p in plain]


def test_broken_text_layer_is_detected_and_read(tmp_path: Path) -> None:
    """A born-digital page whose ToUnicode maps are wrong: classified broken, its lines replaced by OCR."""
    with pymupdf.open(SAMPLES / "sample_zh.pdf") as doc:
        truth = [ln.text for ln in build_page_model(doc[1]).lines]
        doc.select([1])
        break_text(doc, random.Random(5))
        path = tmp_path / "broken.pdf"
        doc.save(path)
    with pymupdf.open(path) as doc:
        model = build_page_model(doc[0])
    model.text_layer = classify_text_layer(model)
    assert model.text_layer == "broken"
    garbage = [ln.text for ln in model.lines]
    images = list(model.images)
    with Book(path) as book:
        (result,) = ocr_models(book, [model], [1], OcrConfig())
    assert result.number == 1 and result.error is None
    assert model.text_layer == "broken"  # the verdict stays, for provenance
    assert model.images == images  # a born-digital page keeps its own images: no regions added
    ocr = [ln.bbox for ln in model.lines if ln.source == "ocr"]
    assert ocr
    # every line is OCR's, except PDF lines no OCR line covers (kept for their boxes, never read as captions:
    # here panel letters printed over a figure's tiles)
    for ln in model.lines:
        if ln.source != "ocr":
            assert not any(ln.bbox[0] < b[2] and b[0] < ln.bbox[2] and ln.bbox[1] < b[3] and b[1] < ln.bbox[3]
                           for b in ocr), ln.text
    read = "".join(ln.text for ln in model.lines)
    heads = [t for t in truth if re.match(r"图\s*\d+-\d+", t)]  # the first lines of the page's captions
    assert heads
    for head in heads:
        label = re.match(r"图\s*\d+-\d+", head).group(0)  # type: ignore[union-attr]
        line = next((ln.text for ln in model.lines if ln.text.startswith(label)), "")
        assert cer(line, head) <= 0.08, (line, head)
    assert cer(read, "".join(truth)) < 0.15 < cer("".join(garbage), "".join(truth))


def test_missing_language_is_a_clear_error() -> None:
    with pytest.raises(OcrError, match="lacks the language"):
        check_tesseract("eng+xyz_not_a_language")
