"""OCR with positions: Tesseract (pytesseract) words grouped into :class:`TextLine` s in page points.

One page (:func:`read_page`):

1. render it grey at ``dpi`` in the visible frame (a page that is one upright JPEG/PNG scan is decoded
   and scaled with OpenCV instead: same pixels, ten times faster);
2. estimate and undo its skew (:mod:`~mmretinal_builder.pdf.scan.deskew`); on a scan, take off what the
   scanner added - dark borders, gutter shadows, uneven paper (:mod:`~mmretinal_builder.pdf.scan.cleanup`) -
   before estimating the skew and again on the straightened page;
3. blank dense photographs (Tesseract neither reads their texture nor swallows a caption line printed
   close to one), run ``image_to_data`` (TSV) once;
4. repair two known Tesseract failures with at most one extra run each, only on pages that show them:
   lines of a Chinese page read as Latin garbage are read again with the Chinese model alone
   (:func:`reread_chinese_lines`), Persian or Arabic words read as Latin are read again with the
   right-to-left model alone (:func:`~.ocr_rtl.reread_rtl_words`), and glyphs dropped at the start of a line (a bold ``图`` before
   ``2-3．``) are read from the unread ink left of the line (:func:`rescue_line_starts`);
5. group words by Tesseract's block / paragraph / line numbers (split at wide blank gaps) and move each
   line back onto the unrotated page. Lines keep their height and stay horizontal rows (a skewed line is
   moved rigidly to where its centre lies), so caption detection and pairing, written for PDF text lines,
   read them unchanged;
6. on scans, find figure regions on the straightened page (:mod:`~mmretinal_builder.pdf.scan.regions`), with
   the running text masked out: which ink is one figure is decided where rows and columns are straight, and
   the page model keeps each region as a rectangle turned by the skew (:mod:`~mmretinal_builder.pdf.scan.frame`);
   the extract stage analyses the page in that straight frame and maps the figure boxes back.

Font sizes come from the glyph boxes (baseline to cap/ascender height; for Chinese, the character pitch)
and are evened out per paragraph; baselines from the bottoms of words without descenders. Between
Chinese characters the spaces Tesseract puts are removed, ASCII punctuation between them becomes
full-width, and between a Chinese character and Latin text a space is kept only where the print shows a
gap.

Pages are read in a process pool when asked (:func:`read_pages`); Tesseract is then limited to one
thread per process (``OMP_THREAD_LIMIT=1``), the setting Tesseract's authors recommend for parallel runs.
:func:`ocr_models` is the entry point of the ``pages`` stage: it reads the pages the triage picked
(:mod:`~mmretinal_builder.pdf.scan.triage`: a text layer that is ``none`` or ``broken`` on a page that can hold
a figure or its caption) and puts the results into their page models (a broken page keeps the boxes of the PDF
lines OCR did not read: :func:`unread_pdf_lines`), then makes the book's OCR'd caption heads agree with its
numbering (:func:`~mmretinal_builder.pdf.scan.ocr_repair.harmonise_caption_heads`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import pymupdf

from ...book import Book, BookSource
from ...geometry import BBox, area, intersection
from ..born_digital import PDF_ERRORS
from ..layout import SCAN_COVER, WHOLE_PAGE
from ..page_model import ImagePlacement, PageModel, TextLine
from .cleanup import clean_page, paper_white
from .deskew import deskew, estimate_skew
from .frame import region_placement
from .languages import choose_languages
from .ocr_lines import build_lines
from .ocr_repair import harmonise_caption_heads, reread_chinese_lines, rescue_line_starts
from .ocr_rtl import persian_letters, reread_rtl_words
from .regions import find_regions, region_signature, repeated_regions, solid_pictures
from .tesseract import DEFAULT_LANG, OcrConfig, OcrError, check_tesseract, run_tesseract

__all__ = ["DEFAULT_LANG", "OcrConfig", "OcrError", "OcrPage", "apply_ocr", "check_tesseract", "default_workers",
           "ocr_models", "ocr_rule", "read_page", "read_pages", "render_gray", "run_tesseract", "scan_images",
           "unread_pdf_lines"]


@dataclass
class OcrPage:
    """What OCR found on one page, in page points of the visible frame."""

    number: int  # 1-based physical page
    size: tuple[float, float]
    lines: list[TextLine]
    words: list[BBox]  # boxes covering running text (straight frame): the text mask
    regions: list[BBox]  # figure regions, straight frame (empty unless asked for)
    skew: float  # degrees, OpenCV convention: the straight frame turned by this is the page
    dpi: float
    error: str | None = None  # why the page could not be read (then nothing else is set)
    lang: str = ""  # the Tesseract languages it was read in
    signatures: list[tuple[int, ...]] = field(default_factory=list)  # per region: a tiny grey thumbnail


# ----------------------------------------------------------------------------- pages


def render_gray(page: pymupdf.Page, dpi: float) -> np.ndarray:
    """The visible page as a grey image at ``dpi`` (page rotation applied, annotations left out).

    A page that is nothing but one upright JPEG/PNG scan is decoded and scaled with OpenCV (ten times
    faster than MuPDF's renderer, same pixels to within a grey level); anything else is rendered by MuPDF.
    """
    zoom = dpi / 72.0
    irect = (page.rect * pymupdf.Matrix(zoom, zoom)).irect
    fast = _scan_pixels(page, (irect.width, irect.height))
    if fast is not None:
        return fast
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False,
                          annots=False)
    arr = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
    return arr[:, : pix.width]


def _scan_pixels(page: pymupdf.Page, size: tuple[int, int]) -> np.ndarray | None:
    """The page's only image, decoded grey and scaled to ``size``, when that image is all the page shows."""
    if page.rotation or len(page.get_images(full=True)) != 1:
        return None
    infos = page.get_image_info()
    if len(infos) != 1 or page.get_cdrawings() or page.get_text("text").strip():
        return None
    a, b, c, d, e, f = infos[0]["transform"]
    w, h = page.rect.width, page.rect.height
    if abs(b) > 1e-3 or abs(c) > 1e-3 or abs(a - w) > 0.5 or abs(d - h) > 0.5 or abs(e) > 0.5 or abs(f) > 0.5:
        return None  # not placed exactly over the page, upright
    xref = page.get_images(full=True)[0][0]
    doc = page.parent
    try:
        info = doc.extract_image(xref)
    except (RuntimeError, ValueError):
        return None
    if not info or info.get("ext") not in ("jpeg", "jpg", "png") or info.get("colorspace") not in (1, 3) \
            or info.get("smask") or doc.xref_get_key(xref, "Decode")[0] != "null":
        return None
    img = cv2.imdecode(np.frombuffer(info["image"], np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR if size[0] >= img.shape[1] else cv2.INTER_AREA)


def read_page(page: pymupdf.Page, cfg: OcrConfig, regions: bool = False) -> OcrPage:
    """OCR one page: lines (and, when ``regions``, figure regions) in page points."""
    gray = render_gray(page, cfg.dpi)
    scale = gray.shape[1] / float(page.rect.width)
    if regions:  # a scan: borders and shading off (pdf/scan/cleanup.py) ...
        angle = estimate_skew(clean_page(gray, cfg.dpi), cfg.dpi, cfg.max_skew) if cfg.deskew else 0.0
        # ... again on the straight page, where a gutter shadow that turned with the sheet runs straight
        straight, rotation = deskew(gray, angle, background=None)
        straight = clean_page(straight, cfg.dpi)
        paper = paper_white(straight)
    else:
        paper = paper_white(gray)
        angle = estimate_skew(gray, cfg.dpi, cfg.max_skew) if cfg.deskew else 0.0
        straight, rotation = deskew(gray, angle, background=paper)
    blanked = straight.copy()
    inset = int(cfg.dpi / 72.0)  # keep a point of margin: a label may touch the photo
    for x0, y0, x1, y1 in solid_pictures(straight, cfg.dpi):
        blanked[y0 + inset:y1 - inset, x0 + inset:x1 - inset] = paper
    ink = blanked < int(0.6 * paper)
    words = run_tesseract(blanked, cfg)
    words = reread_chinese_lines(blanked, ink, words, cfg)
    words = persian_letters(reread_rtl_words(blanked, words, cfg), cfg)
    words = rescue_line_starts(blanked, ink, words, cfg)
    lines, mask = build_lines(words, scale, rotation, cfg.min_conf, ink=ink)
    # regions are found, and merged, on the straight page: the page model keeps them as turned rectangles
    found = find_regions(straight, cfg.dpi, mask, cfg.regions) if regions else []
    return OcrPage(number=page.number + 1, size=(float(page.rect.width), float(page.rect.height)), lines=lines,
                   words=mask, regions=found, skew=angle, dpi=cfg.dpi, lang=cfg.lang,
                   signatures=[region_signature(straight, b, scale) for b in found])


# ----------------------------------------------------------------------------- many pages

_BOOK: dict[str, Book] = {}  # the book an OCR worker process has open (one at a time)


def _worker_init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _read_safely(doc: pymupdf.Document, index: int, cfg: OcrConfig, regions: bool) -> OcrPage:
    """:func:`read_page`, with a page that cannot be rendered or read returned as an ``error``."""
    try:
        return read_page(doc.load_page(index), cfg, regions)
    except PDF_ERRORS as e:  # MuPDF cannot render it, or Tesseract failed on it (OcrError is a RuntimeError)
        return OcrPage(number=index + 1, size=(0.0, 0.0), lines=[], words=[], regions=[], skew=0.0, dpi=cfg.dpi,
                       error=str(e) or type(e).__name__)


def _read_one(source: BookSource, index: int, cfg: OcrConfig, regions: bool) -> OcrPage:
    """In an OCR worker process: the book is opened through the same door as in the build (its password
    included), once per process."""
    key = f"{source.path}:{source.sha256}"
    book = _BOOK.get(key)
    if book is None:
        for old in _BOOK.values():
            old.close()
        _BOOK.clear()
        book = _BOOK[key] = source.open()
    return _read_safely(book.doc, index, cfg, regions)


def default_workers() -> int:
    """Processes for OCR when the recipe does not say: the CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def read_pages(book: Book, jobs: Sequence[tuple[int, bool]], cfg: OcrConfig, workers: int = 1,
               progress: Callable[[int, int], None] | None = None,
               stop: Callable[[], bool] | None = None) -> Iterator[OcrPage]:
    """OCR pages of ``book``: ``jobs`` = (0-based page index, find regions?), results in order.

    ``workers > 1`` reads pages in a process pool; each process reopens the book through
    :meth:`~mmretinal_builder.book.BookSource.open`, with its password. A page that cannot be read comes back
    with ``error`` set. ``stop()`` true (the book's time budget ran out) ends the reading early: the pages read
    so far are returned.
    """
    total = len(jobs)
    if workers <= 1 or total <= 1:
        for k, (index, regions) in enumerate(jobs, 1):
            if stop is not None and stop():
                return
            yield _read_safely(book.doc, index, cfg, regions)
            if progress is not None:
                progress(k, total)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork: the caller may hold threads (progress bars, pools)
    source = book.source
    with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(_read_one, source, index, cfg, regions) for index, regions in jobs]
        try:
            for k, fut in enumerate(futures, 1):
                if stop is not None and stop():
                    return
                yield fut.result()
                if progress is not None:
                    progress(k, total)
        finally:
            for fut in futures:
                fut.cancel()


# ----------------------------------------------------------------------------- page models

def scan_images(models: Sequence[PageModel]) -> dict[int, int]:
    """Page number -> index of the image that is the page's scan, decided as
    :func:`~mmretinal_builder.pdf.layout.mark_scans` does: an image covering the page (``SCAN_COVER``) is a
    scan in a scanned book (most pages covered) or when it is the whole page (``WHOLE_PAGE``); a covering
    image with a margin on a page of a born-digital book is a full-page plate, a figure."""
    covering: dict[int, int] = {}
    for m in models:
        for i, img in enumerate(m.images):
            if area(img.bbox) >= SCAN_COVER * m.area:
                covering[m.number] = i
                break
    scanned_book = len(models) >= 2 and len(covering) >= 0.5 * len(models)
    by_number = {m.number: m for m in models}
    return {n: i for n, i in covering.items()
            if scanned_book or area(by_number[n].images[i].bbox) >= WHOLE_PAGE * by_number[n].area}


def apply_ocr(model: PageModel, result: OcrPage, scan: int | None = None,
              furniture: Collection[int] = ()) -> PageModel:
    """Put OCR results into ``model`` (in place, returned): OCR lines replace the PDF's lines (on a page
    with a broken text layer, the PDF lines no OCR line covers stay for their boxes: :func:`unread_pdf_lines`).

    ``scan``: index of the image that is the page's scan. It becomes the page's ``scan_image`` and is
    flagged ``decoration``: it is the page's background, never figure material nor a barrier between a
    figure and its caption. The page model takes the page's skew, and each figure region found on it becomes
    an ``ImagePlacement(xref=0)`` (rendered from the page, never passed through) whose transform is the
    region turned by the skew (:func:`~mmretinal_builder.pdf.scan.frame.region_placement`), with the scan's
    resolution as its pixel size. Regions listed in ``furniture`` (repeated on many pages: a banner, a logo)
    are flagged ``decoration``.
    """
    if result.number != model.number:
        raise ValueError(f"OCR result of page {result.number} applied to page {model.number}")
    if scan is None and model.text_layer == "broken":
        model.lines = list(result.lines) + unread_pdf_lines(model.lines, result.lines)
        return model
    model.lines = list(result.lines)
    if scan is None:
        return model
    model.scan_image = scan
    model.images[scan].decoration = True
    model.skew = result.skew
    dpi = max(model.images[scan].native_dpi, 72.0)
    for k, b in enumerate(result.regions):
        placed = region_placement(b, result.skew, model.size, dpi)
        placed.decoration = k in furniture
        model.images.append(placed)
    return model


def unread_pdf_lines(pdf: Sequence[TextLine], ocr: Sequence[TextLine]) -> list[TextLine]:
    """The lines of a broken text layer that no OCR line covers, kept for their boxes.

    A broken layer's characters are garbage but its boxes are exact, and OCR misses sparse small print
    (chart axes, flow-chart boxes, panel letters). Such lines stay in the page model (``source="pdf"``):
    figure candidates take them in as labels, as on a born-digital page, while caption detection never
    reads their text (the pair stage excludes PDF lines of broken pages).
    """
    out = []
    for ln in pdf:
        if ln.source != "pdf" or area(ln.bbox) <= 0:
            continue
        covered = sum(intersection(ln.bbox, o.bbox) for o in ocr)
        if covered < 0.3 * area(ln.bbox):
            out.append(ln)
    return out


def ocr_models(book: Book, models: Sequence[PageModel], pages: Sequence[int], cfg: OcrConfig, workers: int = 1,
               progress: Callable[[int, int], None] | None = None, book_lang: str | Sequence[str] | None = None,
               warn: Callable[[str], None] | None = None, stop: Callable[[], bool] | None = None) -> list[OcrPage]:
    """OCR the pages of ``models`` numbered in ``pages`` (which pages deserve it:
    :func:`~mmretinal_builder.pdf.scan.triage.ocr_reasons`) and apply the results in place (figure regions only
    on scans, see :func:`scan_images`), then make the caption heads of the OCR'd pages agree with the book's
    numbering (:func:`harmonise_caption_heads`). Returns the results, in page order; pages that could not be read
    carry ``error`` and keep their model unchanged; pages ``stop()`` cut off (the book's time budget) are not in
    the results.

    The languages: the book's ``lang`` from the recipe (``book_lang``), else ``cfg.lang`` unless it is
    ``auto``, else detected from the book's script (:func:`~.languages.choose_languages`); a missing language
    pack is a ``warn``-ing naming the package to install. Raises :class:`OcrError` when Tesseract is missing
    or none of the languages is installed.
    """
    wanted = set(pages)
    todo = [m for m in models if m.number in wanted]
    if not todo:
        return []
    choice = choose_languages(book_lang, cfg.lang, lambda: _samples(book, todo, cfg.dpi))
    for w in choice.warnings:
        if warn is not None:
            warn(w)
    cfg = replace(cfg, lang=choice.lang)
    check_tesseract(cfg.lang)
    scans = scan_images(models)
    jobs = [(m.number - 1, m.number in scans) for m in todo]
    # read first (a time budget may stop it early: the pages read so far count), then apply: banners and logos
    # printed at one place on many pages are page furniture, as on born-digital pages
    out = list(read_pages(book, jobs, cfg, workers, progress, stop))
    furniture = repeated_regions([(r.number, r.size, r.regions, r.signatures) for r in out
                                  if r.error is None and r.number in scans], len(models))
    for m, res in zip(todo, out, strict=False):
        if res.error is None:
            apply_ocr(m, res, scans.get(m.number), furniture.get(m.number, set()))
    read = {r.number for r in out if r.error is None}
    harmonise_caption_heads([m.lines for m in todo if m.number in read])
    return out


def _samples(book: Book, todo: Sequence[PageModel], dpi: float, n: int = 2) -> list[np.ndarray]:
    """A few of the pages to OCR, as Tesseract will see them (straightened, photographs blanked), for script
    detection: from the middle of the run (the first pages of a book are often covers and title pages)."""
    picks = sorted({todo[len(todo) // 2].number, todo[len(todo) // 4].number})[:n]
    out = []
    for number in picks:
        try:
            out.append(_clean_page(book.page(number), dpi))
        except PDF_ERRORS:
            continue
    return out


def _clean_page(page: pymupdf.Page, dpi: float, max_skew: float = 5.0) -> np.ndarray:
    """The page grey at ``dpi``, straightened, dense photographs blanked (what :func:`read_page` reads)."""
    gray = clean_page(render_gray(page, dpi), dpi)  # a scan's borders and shadows off (unchanged otherwise)
    paper = int(np.percentile(gray[:: 8, :: 8], 90))
    straight, _ = deskew(gray, estimate_skew(gray, dpi, max_skew), background=paper)
    straight = straight.copy() if straight is gray else straight
    for x0, y0, x1, y1 in solid_pictures(straight, dpi):
        straight[y0:y1, x0:x1] = paper
    return straight


def ocr_rule(rule: str, images: Sequence[ImagePlacement]) -> str:
    """The provenance rule of a figure found on an OCR'd page: ``ocr:scan-region(s)`` when it is made of
    regions found on a scan, else ``ocr:`` + the born-digital rule (a page with a broken text layer)."""
    if images and all(im.xref == 0 for im in images):
        return "ocr:scan-regions" if len(images) > 1 else "ocr:scan-region"
    return f"ocr:{rule}"
