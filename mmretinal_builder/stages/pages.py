"""Stage ``pages`` (first of every book): each page of the PDF becomes a page model, OCR included.

1. The book is opened through its one door (:class:`~mmretinal_builder.book.Book`: sniffing, password,
   warnings about active content and repairs). Pages are read up to the page budget (``limits.max_pages``) and
   while the book's time budget lasts (``limits.book_timeout_s``); each page under the per-page time limit.
2. Every page becomes a :class:`~mmretinal_builder.pdf.page_model.PageModel` (text lines, image placements,
   drawing clusters, and the words of pages that can hold a figure); images over the pixel budget are left out
   before anything decodes them; the text layer is classified ``ok`` / ``none`` / ``broken``.
3. OCR reads the pages that can hold a figure or its caption and whose text cannot be read
   (:mod:`~mmretinal_builder.pdf.scan.triage`): OCR lines and, on scans, figure regions go into their models.
   A text-only page is never sent to Tesseract. OCR runs in ``ctx.processes`` processes at most (the build's
   process budget: 1 inside a pool worker).

Its items are :class:`~mmretinal_builder.pdf.records.PageRecord` s, one per page read, kept in the shard:
``pair`` and ``panels`` read them instead of the PDF. A page that cannot be read stays as an empty page (its
neighbours keep their distance for cross-page pairing), counted and warned about. The lineage rule of each
page says how it was read: ``text-layer`` or ``ocr:<why>``.
"""

from __future__ import annotations

from pydantic import Field

from ..book import Book
from ..errors import BookError, BuilderError
from ..pdf.born_digital import PDF_ERRORS, build_page_model
from ..pdf.limits import PageTimeout, memory_limit, over_pixel_budget, pixel_budget_warning, time_limit
from ..pdf.page_model import PageModel
from ..pdf.records import PageRecord
from ..pdf.scan.ocr import DEFAULT_LANG, OcrConfig, OcrError, default_workers, ocr_models
from ..pdf.scan.triage import ocr_reasons
from ..pdf.text_layer import classify_text_layer
from ..schema import Figure
from ..stage import Context, Params, Stage


class PagesParams(Params):
    """OCR settings (recipe: ``- pages: {ocr_lang: eng+chi_sim}``); budgets are the recipe's ``limits:``."""

    ocr: bool = Field(True, description="read pages without a usable text layer (scans, broken encodings) by OCR")
    ocr_lang: str = Field("auto", description="Tesseract languages, e.g. eng+chi_sim; auto: each book's recipe "
                                              f"lang, else its script as Tesseract detects it (else {DEFAULT_LANG})")
    ocr_dpi: float = Field(300.0, ge=100, le=600, description="resolution pages are rendered at for OCR")
    ocr_workers: int | None = Field(None, ge=1, description="OCR processes at most (default: CPU count, at most 4); "
                                    "never more than the build's process budget leaves free")


class PagesStage(Stage):
    name = "pages"
    scope = "book"
    Params = PagesParams
    version = "1"
    consumes = None
    produces = PageRecord

    def __init__(self, params: PagesParams | None = None) -> None:
        super().__init__(params)
        self.params: PagesParams

    def run(self, items: list[Figure], ctx: Context) -> list[PageRecord]:  # type: ignore[override]
        if items:
            raise BuilderError("the pages stage must come first in a recipe: it got items from an earlier stage")
        if ctx.book is None:
            raise BuilderError("the pages stage runs per book and needs a book")
        book = ctx.pdf
        with memory_limit(ctx.limits.max_memory_mb):
            book.doc  # noqa: B018 - opens the book: an unreadable one raises BookError here, under the limit
            for w in book.open_warnings():
                ctx.warn(w)
            models, failed = self._read(book, ctx)
            own = {m.number: len(m.images) for m in models}  # before OCR adds the regions it finds on scans
            reasons = self._ocr(book, models, ctx)
        repaired = book.mupdf_warnings()  # broken fonts, bad objects: what MuPDF repaired while reading
        if repaired:
            ctx.warn(repaired)
        out = []
        for m in models:
            # a text-layer page's model (tuples only, as born_digital builds it) goes to the next stage as it is,
            # without a copy through the dict; OCR'd pages are read back from the dict (the types JSON keeps)
            rec = PageRecord.of(ctx.book, m, ocr=reasons.get(m.number), error=failed.get(m.number),
                                pdf_images=own[m.number],
                                hand_over=m.text_layer == "ok" and m.number not in reasons)
            ctx.note(rec, f"ocr:{reasons[m.number]}" if m.number in reasons else f"text-layer:{m.text_layer}",
                     text_layer=m.text_layer, lines=len(m.lines), images=len(m.images), drawings=len(m.drawings),
                     **({"error": failed[m.number]} if m.number in failed else {}))
            out.append(rec)
        return out

    # ------------------------------------------------------------------ reading

    def _read(self, book: Book, ctx: Context) -> tuple[list[PageModel], dict[int, str]]:
        lim = ctx.limits
        models: list[PageModel] = []
        failed: dict[int, str] = {}
        digests: dict[int, bytes] = {}
        n, cut = book.pages_to_read()
        if cut:
            ctx.warn(cut)
        first_problem = ""
        for i in range(n):
            if book.over_budget():
                ctx.warn(book.budget_warning(f"pages {i + 1}-{n} not read"))
                ctx.count("pages:over-time-budget", n - i)
                break
            try:
                with time_limit(lim.page_timeout_s, f"page {i + 1}"):
                    model = build_page_model(book.page(i + 1), digests)
                    self._drop_huge_images(model, lim.max_image_pixels, ctx)
                    model.text_layer = classify_text_layer(model, ctx.book_meta.get("lang"))
                    if model.text_layer != "ok":
                        ctx.count(f"pages:text-{model.text_layer}")
            except (*PDF_ERRORS, PageTimeout, MemoryError) as e:
                if isinstance(e, PageTimeout):
                    ctx.warn(f"{e}: skipped (limits.page_timeout_s)")
                    ctx.count("pages:timeout")
                else:
                    why = "out of memory (limits.max_memory_mb)" if isinstance(e, MemoryError) else e
                    ctx.warn(f"page {i + 1}: unreadable, skipped ({why})")
                first_problem = first_problem or ctx.warnings[-1]
                failed[i + 1] = ctx.warnings[-1]
                ctx.count("pages:failed")
                model = PageModel(number=i + 1, size=(1.0, 1.0), text_layer="none")
            models.append(model)
            ctx.count("pages")
            if ctx.progress is not None and (i % 10 == 9 or i == n - 1):
                ctx.progress(i + 1, n)
        if models and len(failed) == len(models):
            raise BookError(ctx.book or "?", f"damaged: none of its {n} pages can be read ({first_problem})")
        return models, failed

    @staticmethod
    def _drop_huge_images(model: PageModel, budget: int, ctx: Context) -> None:
        """Images over the pixel budget (decompression bombs) are left out before anything decodes them."""
        keep = []
        for im in model.images:
            if over_pixel_budget(im.width_px, im.height_px, budget):
                ctx.warn(pixel_budget_warning(model.number, im.width_px, im.height_px, budget))
                ctx.count("images:over-pixel-budget")
            else:
                keep.append(im)
        model.images = keep

    # ------------------------------------------------------------------ OCR

    def _ocr(self, book: Book, models: list[PageModel], ctx: Context) -> dict[int, str]:
        """OCR of the pages the triage picks, in ``min(ocr_workers, ctx.processes)`` processes; returns
        page number -> why it was read, for the pages OCR did read."""
        p = self.params
        textless = sum(1 for m in models if m.text_layer != "ok")
        reasons = ocr_reasons(models) if p.ocr else {}
        skipped = textless - len(reasons)
        if skipped:
            ctx.count("pages:ocr-skipped", skipped)  # no image, no figure beside it: nothing for OCR to find
        if textless:
            why = (f"{len(reasons)} that can hold a figure or its caption are read by OCR, {skipped} text-only or "
                   "blank pages are not" if p.ocr else "OCR is off (pages.ocr: false), their text is not read")
            ctx.warn(f"{textless} of {len(models)} pages have no usable text layer (scanned or broken encoding): "
                     f"{why}")
        if not reasons:
            return {}
        workers = p.ocr_workers or default_workers()
        if ctx.processes is not None:
            workers = max(1, min(workers, ctx.processes))
        try:
            cfg = OcrConfig(lang=p.ocr_lang, dpi=p.ocr_dpi, timeout=ctx.limits.page_timeout_s)  # Tesseract per page
            results = ocr_models(book, models, sorted(reasons), cfg, workers, ctx.progress,
                                 book_lang=ctx.book_meta.get("lang"), warn=ctx.warn, stop=book.over_budget)
        except OcrError as e:
            raise BookError(ctx.book or "?", f"pages without a usable text layer need OCR: {e}") from None
        if len(results) < len(reasons):
            ctx.warn(book.budget_warning(f"{len(reasons) - len(results)} pages not read by OCR"))
            ctx.count("pages:ocr-over-time-budget", len(reasons) - len(results))
        for r in results:
            if r.error is not None:
                ctx.warn(f"page {r.number}: OCR failed ({r.error})")
                ctx.count("pages:ocr-failed")
        ctx.count("pages:ocr", sum(1 for r in results if r.error is None))
        for r in results:
            if r.error is None:
                ctx.count(f"pages:ocr-lang:{r.lang}")
        return {r.number: reasons[r.number] for r in results if r.error is None}
