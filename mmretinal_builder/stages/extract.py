"""The ``extract`` stage: figures, captions and their pairing from a born-digital PDF.

The first stage of every book: it receives no items and reads ``ctx.book_path``.

1. Every page becomes a :class:`~mmretinal_builder.pdf.page_model.PageModel` (lines, image placements,
   drawing clusters); its text layer is classified ``ok`` / ``none`` / ``broken`` and handed to
   :meth:`ExtractStage.recover_text`, the hook where OCR lines are added for pages without usable text.
2. Book-wide facts: body font size and line width, running heads and repeated logos, scanned pages,
   the book's vocabulary (to settle line-break hyphens in captions).
3. Per page: captions (figure and table cues), table regions, figure candidates, pairing; then figures
   and captions left alone are paired across neighbouring pages.
4. Each caption with its candidates becomes one :class:`~mmretinal_builder.schema.Figure`: box = union of
   the candidates, image = the embedded raster at native resolution when it is the whole figure,
   otherwise a render of the region at >= ``render_dpi``; ``parts`` = the boxes of its separate images.

Decision on leftovers: a figure candidate without a caption, and a caption without a figure, are not
emitted (no guessing); each is written to the run's rejects through ``ctx.report`` with the reason
``figure-without-caption`` / ``caption-without-figure``. Graphics claimed by a table caption are tables:
counted (``tables``), never emitted. Pages whose text layer is ``none`` or ``broken`` are counted; until
the OCR hook fills their lines, their graphics can only pair with captions on neighbouring pages.
"""

from __future__ import annotations

from typing import Literal

import pymupdf
from pydantic import Field

from ..errors import BookError, BuilderError
from ..geometry import BBox, area, clip, intersection, rounded, union
from ..io import sha256_file
from ..pdf.born_digital import PDF_ERRORS, build_page_model, open_book
from ..pdf.candidates import Candidate, CandidateConfig, build_candidates, table_regions
from ..pdf.captions import DEFAULT_FIGURE_CUES, DEFAULT_TABLE_CUES, Caption, CaptionFinder, book_vocabulary
from ..pdf.crops import FigureImage, native_image, render_region, turn_image
from ..pdf.layout import DocStats, document_stats, furniture_keys, mark_decorations, mark_scans, page_layout
from ..pdf.limits import (
    PageTimeout,
    active_content_warnings,
    book_password,
    memory_limit,
    mupdf_warnings,
    over_pixel_budget,
    pages_to_read,
    pixel_budget_warning,
    quiet_mupdf,
    reset_mupdf_warnings,
    time_limit,
)
from ..pdf.page_model import PageModel
from ..pdf.pairing import CaptionRef, Match, PageItems, PairingConfig, pair_book
from ..pdf.rotation import reading_turn, turn_model
from ..pdf.scan.frame import straighten_model, to_page
from ..pdf.scan.ocr import (  # OCR hook
    DEFAULT_LANG,
    OcrConfig,
    OcrError,
    default_workers,
    ocr_models,
    ocr_rule,
)
from ..pdf.text_layer import classify_text_layer
from ..schema import Figure, Provenance, figure_id
from ..stage import Context, Params, Stage


class ExtractParams(Params):
    """Parameters of the extract stage (recipe: ``- extract: {render_dpi: 300, ...}``)."""

    figure_cues: list[str] = Field(default_factory=lambda: list(DEFAULT_FIGURE_CUES),
                                   description="words that start a figure caption (case-sensitive)")
    table_cues: list[str] = Field(default_factory=lambda: list(DEFAULT_TABLE_CUES),
                                  description="words that start a table caption")
    render_dpi: float = Field(300.0, ge=72, le=1200, description="minimum resolution of rendered figures")
    max_dpi: float = Field(600.0, ge=72, le=2400, description="renders never exceed this resolution")
    max_pixels: int = Field(40_000_000, ge=1_000_000, description="pixel cap of one rendered figure")
    render_format: Literal["auto", "png", "jpeg"] = Field(
        "auto", description="auto: JPEG for regions that are mostly photographs, PNG otherwise")
    min_figure_pt: float = Field(28.0, ge=1, description="smaller graphics are never figures on their own")
    absorb_gap: float = Field(1.5, ge=0, description="how far labels may sit from a figure, in body font sizes")
    max_pair_cost: float = Field(0.6, gt=0, description="pairs costlier than this are refused")
    max_caption_gap: float = Field(0.45, gt=0, le=1, description="largest figure-caption gap, page heights")
    cross_page: bool = Field(True, description="pair figures and captions left alone on neighbouring pages")
    native_tolerance: float = Field(3.0, ge=0, description="points a figure box may exceed its single image "
                                                           "and still use the image's own pixels")
    # --- OCR hook (issue 4, mmretinal_builder/pdf/ocr.py) ---
    ocr: bool = Field(True, description="read pages without a usable text layer (scans, broken encodings) by OCR")
    ocr_lang: str = Field("auto", description="Tesseract languages, e.g. eng+chi_sim; auto: each book's recipe "
                                              f"lang, else its script as Tesseract detects it (else {DEFAULT_LANG})")
    ocr_dpi: float = Field(300.0, ge=100, le=600, description="resolution pages are rendered at for OCR")
    ocr_workers: int | None = Field(None, ge=1, description="OCR processes (default: CPU count, at most 4)")
    # limits for untrusted files (mmretinal_builder.pdf.limits, docs/reliability.md)
    max_pages: int = Field(5000, ge=1, description="pages read per book; longer books are cut, with a warning")
    max_image_pixels: int = Field(150_000_000, ge=1_000_000,
                                  description="images declaring more pixels are never decoded (warning)")
    page_timeout_s: float = Field(300.0, ge=0, description="a page taking longer is skipped (warning); 0: no limit")
    max_memory_mb: int = Field(0, ge=0, description="address space a book's extraction may add (Linux); 0: no limit")


class ExtractStage(Stage):
    name = "extract"
    scope = "book"
    Params = ExtractParams
    version = "4"

    def __init__(self, params: ExtractParams | None = None) -> None:
        super().__init__(params)
        self.params: ExtractParams

    # ------------------------------------------------------------------ hooks

    def recover_text(self, page: pymupdf.Page, model: PageModel, ctx: Context) -> PageModel:
        """Hook for pages whose text layer is ``none`` or ``broken``: the OCR issue adds OCR lines here
        (``TextLine(source="ocr")``) and, for scans, image regions (``ImagePlacement(xref=0)``).
        The born-digital path only counts such pages."""
        if model.text_layer != "ok":
            ctx.count(f"pages:text-{model.text_layer}")
        return model

    # ------------------------------------------------------------------ run

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        if items:
            raise BuilderError("the extract stage must come first in a recipe: it got items from an earlier stage")
        if ctx.book_path is None or ctx.book is None:
            raise BuilderError("the extract stage runs per book and needs ctx.book_path")
        quiet_mupdf()
        reset_mupdf_warnings()
        # scipy (pairing) loads OpenBLAS lazily; it must not start under the limit
        with memory_limit(self.params.max_memory_mb, preload=("scipy.optimize",)):
            doc, warnings = open_book(ctx.book_path, ctx.book, book_password(ctx.book_meta))
            try:
                for w in [*warnings, *active_content_warnings(doc)]:
                    ctx.warn(w)
                book_sha = sha256_file(ctx.book_path)
                models = self._read_pages(doc, ctx)
                out = self._extract(doc, models, book_sha, ctx)
            finally:
                doc.close()
        repaired = mupdf_warnings()  # broken fonts, bad objects: what MuPDF repaired while reading
        if repaired:
            ctx.warn(repaired)
        return out

    def _read_pages(self, doc: pymupdf.Document, ctx: Context) -> list[PageModel]:
        models: list[PageModel] = []
        digests: dict[int, bytes] = {}
        n, cut = pages_to_read(doc.page_count, self.params.max_pages)
        if cut:
            ctx.warn(cut)
        failed = 0
        first_problem = ""
        for i in range(n):
            try:
                with time_limit(self.params.page_timeout_s, f"page {i + 1}"):
                    page = doc.load_page(i)
                    model = build_page_model(page, digests)
                    self._drop_huge_images(model, ctx)
                    model.text_layer = classify_text_layer(model, ctx.book_meta.get("lang"))
                    model = self.recover_text(page, model, ctx)
            except (*PDF_ERRORS, PageTimeout, MemoryError) as e:
                failed += 1
                if isinstance(e, PageTimeout):
                    ctx.warn(f"{e}: skipped (extract.page_timeout_s)")
                    ctx.count("pages:timeout")
                else:
                    why = "out of memory (extract.max_memory_mb)" if isinstance(e, MemoryError) else e
                    ctx.warn(f"page {i + 1}: unreadable, skipped ({why})")
                first_problem = first_problem or ctx.warnings[-1]
                ctx.count("pages:failed")
                model = PageModel(number=i + 1, size=(1.0, 1.0), text_layer="none")
            models.append(model)
            ctx.count("pages")
            if ctx.progress is not None and (i % 10 == 9 or i == n - 1):
                ctx.progress(i + 1, n)
        if failed == n:
            raise BookError(ctx.book or "?", f"damaged: none of its {n} pages can be read ({first_problem})")
        self._ocr(models, ctx)  # OCR hook (issue 4)
        return models

    def _ocr(self, models: list[PageModel], ctx: Context) -> None:
        """OCR hook (issue 4): pages whose text layer is ``none`` or ``broken`` get OCR lines and, on scans,
        figure regions (:func:`~mmretinal_builder.pdf.scan.ocr.ocr_models`), in a process pool when
        ``ocr_workers`` > 1."""
        p = self.params
        if not p.ocr or ctx.book_path is None or all(m.text_layer == "ok" for m in models):
            return
        workers = p.ocr_workers or default_workers()
        try:
            cfg = OcrConfig(lang=p.ocr_lang, dpi=p.ocr_dpi, timeout=p.page_timeout_s)  # Tesseract per page
            results = ocr_models(ctx.book_path, models, cfg, workers, ctx.progress,
                                 book_lang=ctx.book_meta.get("lang"), warn=ctx.warn)
        except OcrError as e:
            raise BookError(ctx.book or "?", f"pages without a usable text layer need OCR: {e}") from None
        for r in results:
            if r.error is not None:
                ctx.warn(f"page {r.number}: OCR failed ({r.error})")
                ctx.count("pages:ocr-failed")
        ctx.count("pages:ocr", sum(1 for r in results if r.error is None))
        for r in results:
            if r.error is None:
                ctx.count(f"pages:ocr-lang:{r.lang}")

    def _drop_huge_images(self, model: PageModel, ctx: Context) -> None:
        """Images over the pixel budget (decompression bombs) are left out before anything decodes them."""
        budget = self.params.max_image_pixels
        keep = []
        for im in model.images:
            if over_pixel_budget(im.width_px, im.height_px, budget):
                ctx.warn(pixel_budget_warning(model.number, im.width_px, im.height_px, budget))
                ctx.count("images:over-pixel-budget")
            else:
                keep.append(im)
        model.images = keep

    def _extract(self, doc: pymupdf.Document, models: list[PageModel], book_sha: str, ctx: Context) -> list[Figure]:
        p = self.params
        mark_decorations(models)
        mark_scans(models, document_stats(models))
        # pages whose content is set sideways are read in their reading frame (boxes go back at the end)
        turns = [reading_turn(m) for m in models]
        # ... and scans in their straight frame (pdf/scan/frame.py)
        frames = [turn_model(straighten_model(m), t) for m, t in zip(models, turns, strict=True)]
        ctx.count("pages:turned", sum(1 for t in turns if t))
        stats = document_stats(frames)
        furniture = furniture_keys(frames)
        vocab = book_vocabulary(frames)
        finder = CaptionFinder(p.figure_cues, p.table_cues)
        cand_cfg = CandidateConfig(min_size=p.min_figure_pt, absorb_gap=p.absorb_gap)
        pair_cfg = PairingConfig(max_cost=p.max_pair_cost, max_gap=p.max_caption_gap, cross_page=p.cross_page)
        textless = sum(1 for m in models if m.text_layer != "ok")
        if textless:
            ctx.warn(f"{textless} of {len(models)} pages have no usable text layer (scanned or broken encoding): "
                     "their captions can only be read by OCR")

        captions: list[list[Caption]] = []
        cands: list[list[Candidate]] = []
        pages: list[PageItems] = []
        for m in frames:
            try:
                with time_limit(self.params.page_timeout_s, f"page {m.number} (layout)"):
                    caps, cs, items = self._analyse_page(m, stats, furniture, vocab, finder, cand_cfg, ctx)
            except PageTimeout as e:
                ctx.warn(f"{e}: skipped (extract.page_timeout_s)")
                ctx.count("pages:timeout")
                caps, cs, items = [], [], PageItems(page=m.number, size=m.size, figures=[], captions=[], prose=[])
            captions.append(caps)
            cands.append(cs)
            pages.append(items)
        matches, free_f, free_c = pair_book(pages, pair_cfg)
        ctx.count("pairs:cross-page", sum(1 for m in matches if m.caption_page != m.figure_page))

        index = {m.number: k for k, m in enumerate(models)}
        out: list[Figure] = []
        for mt in matches:
            ck, fk = index[mt.caption_page], index[mt.figure_page]
            cap = captions[ck][mt.caption]
            if cap.kind == "table":
                ctx.count("tables")  # a graphic claimed by a table caption: a table, not a figure
                continue
            fig = self._figure(doc, models[fk], turns[fk], [cands[fk][i] for i in mt.figures], cap,
                               (turns[ck], models[ck]), mt, book_sha, ctx)
            if fig is not None and models[ck].text_layer != "ok":  # OCR hook (issue 4): caption read by OCR
                fig.provenance.caption_rule = f"ocr:{fig.provenance.caption_rule}"
            if fig is not None:
                out.append(fig)
        self._report_leftovers(models, turns, cands, captions, free_f, free_c, ctx)
        out.sort(key=lambda f: (f.page, f.bbox[1], f.bbox[0], f.id))
        ctx.count("figures", len(out))
        return out

    def _analyse_page(self, m: PageModel, stats: DocStats, furniture: set[tuple[int, str]], vocab: set[str],
                      finder: CaptionFinder, cand_cfg: CandidateConfig, ctx: Context,
                      ) -> tuple[list[Caption], list[Candidate], PageItems]:
        """Captions, table regions and figure candidates of one page, and what pairing needs of them."""
        lay = page_layout(m, stats, furniture)
        # a broken text layer yields garbage captions: only OCR lines (if any) are read there
        broken = {i for i, ln in enumerate(m.lines) if ln.source == "pdf"} if m.text_layer == "broken" else set()
        caps = finder.find(m, lay, excluded=broken, vocabulary=vocab)
        cap_lines = {i for c in caps for i in c.lines}
        table_caps = [c for c in caps if c.kind == "table"]
        regions = table_regions(m, lay, [(c.bbox, c.lines) for c in table_caps], cap_lines, stats.body_size)
        found = {id(c) for c, r in zip(table_caps, regions, strict=True) if r is not None}
        tables = [r for r in regions if r is not None]
        cs = build_candidates(m, lay, stats.body_size, cap_lines, tables, cand_cfg)
        absorbed = {i for c in cs for i in c.lines}
        items = PageItems(
            page=m.number, size=m.size, figures=[c.bbox for c in cs],
            # a table caption whose ruled/text table was found claims no graphic
            captions=[CaptionRef(c.bbox, c.kind, c.number, [m.lines[i].bbox for i in c.lines],
                                 claims=id(c) not in found) for c in caps],
            prose=[ln.bbox for i, ln in enumerate(m.lines) if lay.prose[i] and i not in cap_lines and i not in absorbed],
        )
        ctx.count("captions:figure", sum(1 for c in caps if c.kind == "figure"))
        ctx.count("captions:table", len(table_caps))
        ctx.count("candidates", len(cs))
        ctx.count("tables:regions", len(tables))
        return caps, cs, items

    def _report_leftovers(self, models: list[PageModel], turns: list[int], cands: list[list[Candidate]],
                          captions: list[list[Caption]], free_f: dict[int, list[int]], free_c: dict[int, list[int]],
                          ctx: Context) -> None:
        """Figures without a caption and captions without a figure go to the rejects, with the reason."""
        for k, m in enumerate(models):
            for f in free_f.get(k, []):
                c = cands[k][f]
                box = to_page(c.bbox, turns[k], m)
                ctx.report({"book": ctx.book, "page": m.number, "bbox": rounded(box), "page_size": rounded(m.size),
                            "kind": c.kind, "images": len(c.images)}, "figure-without-caption",
                           detail="no caption relates to this graphic on its page or a neighbouring page")
            for ci in free_c.get(k, []):
                cap = captions[k][ci]
                if cap.kind != "figure":
                    continue
                ctx.report({"book": ctx.book, "page": m.number, "label": cap.label, "caption": cap.text,
                            "caption_bbox": rounded(to_page(cap.bbox, turns[k], m)),
                            "page_size": rounded(m.size)},
                           "caption-without-figure", detail="no graphic found for this caption")

    # ------------------------------------------------------------------ one figure

    def _figure(self, doc: pymupdf.Document, model: PageModel, turn: int, members: list[Candidate], cap: Caption,
                cap_frame: tuple[int, PageModel], mt: Match, book_sha: str, ctx: Context) -> Figure | None:
        """One record: box and parts back in the page frame, image native or rendered, upright."""
        p = self.params
        box = clip(to_page(union(c.bbox for c in members), turn, model), model.size)
        image_ids = sorted({i for c in members for i in c.images})
        drawings = sorted({i for c in members for i in c.drawings})
        pictures = [to_page(b, turn, model) for c in members for b in c.pictures]
        cap_box = to_page(cap.bbox, cap_frame[0], cap_frame[1])
        page = doc.load_page(model.number - 1)
        img: FigureImage | None = None
        if len(image_ids) == 1 and len(pictures) <= 1:
            placed = model.images[image_ids[0]]
            tol = p.native_tolerance
            same_box = all(abs(a - b) <= tol for a, b in zip(box, placed.bbox, strict=True))
            if same_box and not _overlaid(model, image_ids[0]):
                try:
                    img = native_image(doc, placed)
                except PDF_ERRORS as e:
                    ctx.warn(f"page {model.number}: image xref {placed.xref} cannot be decoded ({e}); rendering")
        if img is None:
            dpi = max([p.render_dpi] + [model.images[i].native_dpi for i in image_ids])
            dpi = min(dpi, p.max_dpi)
            raster = sum(intersection(model.images[i].bbox, box) for i in image_ids)
            photo = p.render_format == "jpeg" or (p.render_format == "auto" and raster >= 0.5 * area(box))
            try:
                img = render_region(page, box, dpi, p.max_pixels, photo)
            except PDF_ERRORS as e:
                ctx.warn(f"page {model.number}: figure region cannot be rendered ({e})")
                ctx.report({"book": ctx.book, "page": model.number, "bbox": rounded(box)}, "figure-image-failed",
                           detail=str(e))
                return None
        if turn:
            img = turn_image(img, turn)
        rel = ctx.images.put(img.data, img.ext)
        sha = rel.rsplit("/", 1)[-1].split(".", 1)[0]
        if len(pictures) >= 2:
            rule = "multi-image" if not drawings else "multi-image+vector"
        elif image_ids and drawings:
            rule = "raster+vector"
        elif len(image_ids) > 1:
            rule = "raster-tiles"
        elif image_ids:
            rule = img.rule if img.rule != "region-render" else "embedded-raster+overlay"
        else:
            rule = "vector-cluster"
        if model.text_layer != "ok":  # OCR hook (issue 4): the page was read by OCR
            rule = ocr_rule(rule, [model.images[i] for i in image_ids])
        bbox = rounded(box)
        scores = {"pair_cost": mt.cost, "parts": float(len(pictures)), "rendered": float(img.rule == "region-render"),
                  **({"reading_turn": float(turn)} if turn else {})}
        return Figure(
            id=figure_id(ctx.book or "", model.number, bbox), book=ctx.book or "", page=model.number, bbox=bbox,
            page_size=rounded(model.size), label=cap.label, number=cap.number, caption=cap.text,
            caption_bbox=rounded(cap_box), caption_page=cap.page, image=rel, image_size=list(img.size),
            image_sha256=sha, parts=[rounded(b) for b in sorted(pictures, key=lambda b: (b[1], b[0]))]
            if len(pictures) >= 2 else [],
            provenance=Provenance(
                book=ctx.book or "", book_sha256=book_sha, page=model.number, bbox=bbox, page_size=rounded(model.size),
                rule=rule, text_layer=model.text_layer, dpi=img.dpi, scores=scores,
                caption_rule=cap.rule, pair_rule=mt.rule,
            ),
        )


def _overlaid(model: PageModel, image: int) -> bool:
    """Something is drawn over the image (labels, arrows): the reader's figure is the rendered page."""
    box: BBox = model.images[image].bbox
    for ln in model.lines:
        a = area(ln.bbox)
        if a > 0 and intersection(ln.bbox, box) >= 0.5 * a:
            return True
    for d in model.drawings:
        if d.decoration or d.rule_only:
            continue
        if intersection(d.bbox, box) > 0:
            return True
    for k, other in enumerate(model.images):
        if k != image and not other.decoration and intersection(other.bbox, box) > 0.01 * area(box):
            return True
    return False
