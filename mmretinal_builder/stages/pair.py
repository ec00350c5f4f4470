"""Stage ``pair``: captions, figure candidates and their pairing, from the pages the ``pages`` stage read.

It never opens the PDF: everything comes from the :class:`~mmretinal_builder.pdf.records.PageRecord` s.

1. Book-wide facts: repeated logos and running heads (decorations), scanned pages, pages set sideways (read in
   their reading frame), body font size and line width, the book's vocabulary (to settle line-break hyphens).
2. Per page: captions (figure and table cues), table regions, figure candidates; then one global assignment of
   figures to captions, by geometry and figure numbers, across neighbouring pages too
   (:func:`~mmretinal_builder.pdf.pairing.pair_book`).
3. Each figure caption with its candidates becomes a :class:`~mmretinal_builder.pdf.records.FigureDraft`: a
   figure record without its image, plus the plan of how ``crop`` cuts it (the one embedded image it may pass
   through, the resolution to render at).

What it decides, every outcome an item of the funnel (``ctx.considered`` = pairs + drops):

* kept: each figure caption paired with its graphic (the lineage rule is the pairing rule);
* dropped ``figure-without-caption``: a graphic no caption relates to, on its page or a neighbouring one;
* dropped ``caption-without-figure``: a figure caption no graphic was found for;
* dropped ``table``: a graphic claimed by a table caption (a table, never a figure: a recorded negative).

No guessing: a leftover is never paired by order alone. Pages whose text layer is ``none`` or ``broken`` were
read by OCR in ``pages`` (their PDF lines on broken pages are never read as captions).
"""

from __future__ import annotations

from pydantic import Field

from ..errors import BuilderError
from ..geometry import area, clip, intersection, rounded, union
from ..pdf.candidates import Candidate, CandidateConfig, build_candidates, table_regions
from ..pdf.captions import DEFAULT_FIGURE_CUES, DEFAULT_TABLE_CUES, Caption, CaptionFinder, book_vocabulary
from ..pdf.layout import DocStats, document_stats, furniture_keys, mark_decorations, mark_scans, page_layout
from ..pdf.limits import PageTimeout, memory_limit, time_limit
from ..pdf.page_model import ImagePlacement, PageModel
from ..pdf.pairing import CaptionRef, Match, PageItems, PairingConfig, pair_book
from ..pdf.records import CropPlan, FigureDraft, NativeImage, PageRecord
from ..pdf.rotation import reading_turn, turn_model
from ..pdf.scan.frame import straighten_model, to_page
from ..pdf.scan.ocr import ocr_rule
from ..schema import Provenance, figure_id
from ..stage import Context, Params, Stage


class PairParams(Params):
    """Caption cues, candidate and pairing settings (recipe: ``- pair: {figure_cues: [Fig., Abb.]}``)."""

    figure_cues: list[str] = Field(default_factory=lambda: list(DEFAULT_FIGURE_CUES),
                                   description="words that start a figure caption (case-sensitive)")
    table_cues: list[str] = Field(default_factory=lambda: list(DEFAULT_TABLE_CUES),
                                  description="words that start a table caption")
    min_figure_pt: float = Field(28.0, ge=1, description="smaller graphics are never figures on their own")
    absorb_gap: float = Field(1.5, ge=0, description="how far labels may sit from a figure, in body font sizes")
    max_pair_cost: float = Field(0.6, gt=0, description="pairs costlier than this are refused")
    max_caption_gap: float = Field(0.45, gt=0, le=1, description="largest figure-caption gap, page heights")
    cross_page: bool = Field(True, description="pair figures and captions left alone on neighbouring pages")


class PairStage(Stage):
    name = "pair"
    scope = "book"
    Params = PairParams
    version = "2"  # 2: a part nearer its own siblings than another group's stays with them (pairing._regroup)
    consumes = PageRecord
    produces = FigureDraft

    def __init__(self, params: PairParams | None = None) -> None:
        super().__init__(params)
        self.params: PairParams

    def run(self, items: list[PageRecord], ctx: Context) -> list[FigureDraft]:  # type: ignore[override]
        if any(not isinstance(r, PageRecord) for r in items):
            raise BuilderError("the pair stage reads the pages stage's records: put `- pages` before `- pair`")
        records = sorted(items, key=lambda r: r.page)
        models = [r.page_model() for r in records]
        # scipy (pairing) loads OpenBLAS lazily; it must not start under the limit
        with memory_limit(ctx.limits.max_memory_mb, preload=("scipy.optimize",)):
            out = self._pair(models, records, ctx)
        ctx.count("figures", len(out))
        return out

    def _pair(self, models: list[PageModel], records: list[PageRecord], ctx: Context) -> list[FigureDraft]:
        p = self.params
        mark_decorations(models)
        book_stats = document_stats(models)
        mark_scans(models, book_stats)
        # pages whose content is set sideways are read in their reading frame (boxes go back at the end)
        turns = [reading_turn(m) for m in models]
        # ... and scans in their straight frame (pdf/scan/frame.py): regions merged there, boxes mapped back
        frames = [turn_model(straighten_model(m), t) for m, t in zip(models, turns, strict=True)]
        ctx.count("pages:turned", sum(1 for t in turns if t))
        # mark_scans sets scan_image only, which the stats do not read: frames that are the models themselves (no
        # page turned or straightened, the common case) have the same stats
        same = all(f is m for f, m in zip(frames, models, strict=True))
        stats = book_stats if same else document_stats(frames)
        furniture = furniture_keys(frames)
        vocab = book_vocabulary(frames)
        finder = CaptionFinder(p.figure_cues, p.table_cues)
        cand_cfg = CandidateConfig(min_size=p.min_figure_pt, absorb_gap=p.absorb_gap)
        pair_cfg = PairingConfig(max_cost=p.max_pair_cost, max_gap=p.max_caption_gap, cross_page=p.cross_page)

        captions: list[list[Caption]] = []
        cands: list[list[Candidate]] = []
        pages: list[PageItems] = []
        for m in frames:
            try:
                with time_limit(ctx.limits.page_timeout_s, f"page {m.number} (layout)"):
                    caps, cs, page_items = self._analyse_page(m, stats, furniture, vocab, finder, cand_cfg, ctx)
            except PageTimeout as e:
                ctx.warn(f"{e}: skipped (limits.page_timeout_s)")
                ctx.count("pages:timeout")
                caps, cs = [], []
                page_items = PageItems(page=m.number, size=m.size, figures=[], captions=[], prose=[])
            captions.append(caps)
            cands.append(cs)
            pages.append(page_items)
        matches, free_f, free_c = pair_book(pages, pair_cfg)
        ctx.count("pairs:cross-page", sum(1 for m in matches if m.caption_page != m.figure_page))

        index = {m.number: k for k, m in enumerate(models)}
        out: list[FigureDraft] = []
        considered = 0
        for mt in matches:
            considered += 1
            ck, fk = index[mt.caption_page], index[mt.figure_page]
            cap = captions[ck][mt.caption]
            if cap.kind == "table":  # a graphic claimed by a table caption: a table, not a figure
                box = to_page(union(cands[fk][i].bbox for i in mt.figures), turns[fk], models[fk])
                ctx.count("tables")
                ctx.drop({"book": ctx.book, "page": mt.figure_page, "bbox": rounded(box),
                          "page_size": rounded(models[fk].size), "label": cap.label, "caption": cap.text},
                         "table", detail="a graphic claimed by a table caption: a table, not a figure")
                continue
            draft = self._draft(models[fk], turns[fk], [cands[fk][i] for i in mt.figures], cap,
                                (turns[ck], models[ck]), mt, ctx)
            draft.lineage = list(records[fk].lineage)  # how its page was read
            ctx.note(draft, mt.rule, cost=mt.cost, figure_page=mt.figure_page, caption_page=mt.caption_page,
                     caption_rule=draft.provenance.caption_rule, candidates=len(mt.figures),
                     bbox=draft.bbox, caption_bbox=draft.caption_bbox)
            out.append(draft)
        considered += self._drop_leftovers(models, turns, cands, captions, free_f, free_c, ctx)
        ctx.considered = considered
        out.sort(key=lambda f: (f.page, f.bbox[1], f.bbox[0], f.id))
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

    def _drop_leftovers(self, models: list[PageModel], turns: list[int], cands: list[list[Candidate]],
                        captions: list[list[Caption]], free_f: dict[int, list[int]], free_c: dict[int, list[int]],
                        ctx: Context) -> int:
        """Figures without a caption and captions without a figure are dropped, with the reason; returns how many."""
        n = 0
        for k, m in enumerate(models):
            for f in free_f.get(k, []):
                c = cands[k][f]
                box = to_page(c.bbox, turns[k], m)
                ctx.drop({"book": ctx.book, "page": m.number, "bbox": rounded(box), "page_size": rounded(m.size),
                          "kind": c.kind, "images": len(c.images)}, "figure-without-caption",
                         detail="no caption relates to this graphic on its page or a neighbouring page")
                n += 1
            for ci in free_c.get(k, []):
                cap = captions[k][ci]
                if cap.kind != "figure":
                    continue
                ctx.drop({"book": ctx.book, "page": m.number, "label": cap.label, "caption": cap.text,
                          "caption_bbox": rounded(to_page(cap.bbox, turns[k], m)),
                          "page_size": rounded(m.size)},
                         "caption-without-figure", detail="no graphic found for this caption")
                n += 1
        return n

    # ------------------------------------------------------------------ one figure

    def _draft(self, model: PageModel, turn: int, members: list[Candidate], cap: Caption,
               cap_frame: tuple[int, PageModel], mt: Match, ctx: Context) -> FigureDraft:
        """One record without its image: box and parts back in the page frame, and how to cut the image."""
        box = clip(to_page(union(c.bbox for c in members), turn, model), model.size)
        image_ids = sorted({i for c in members for i in c.images})
        drawings = sorted({i for c in members for i in c.drawings})
        pictures = [to_page(b, turn, model) for c in members for b in c.pictures]
        cap_turn, cap_model = cap_frame
        cap_box = to_page(cap.bbox, cap_turn, cap_model)
        single = None
        if len(image_ids) == 1 and len(pictures) <= 1:
            single = model.images[image_ids[0]]
        if len(pictures) >= 2:
            structure = "multi-image" if not drawings else "multi-image+vector"
        elif image_ids and drawings:
            structure = "raster+vector"
        elif len(image_ids) > 1:
            structure = "raster-tiles"
        elif image_ids:
            structure = "raster"
        else:
            structure = "vector-cluster"
        plan = CropPlan(
            box=list(box), turn=turn,
            image=NativeImage.of(single) if single is not None else None,
            overlaid=_overlaid(model, image_ids[0]) if single is not None else False,
            native_dpi=max([0.0] + [model.images[i].native_dpi for i in image_ids]),
            raster_area=sum(intersection(model.images[i].bbox, box) for i in image_ids),
            structure=structure,
            scan_rule=_scan_rule([model.images[i] for i in image_ids]),
        )
        bbox = rounded(box)
        caption_rule = cap.rule if cap_model.text_layer == "ok" else f"ocr:{cap.rule}"  # caption read by OCR
        return FigureDraft(
            id=figure_id(ctx.book or "", model.number, bbox), book=ctx.book or "", page=model.number, bbox=bbox,
            page_size=rounded(model.size), label=cap.label, number=cap.number, caption=cap.text,
            caption_bbox=rounded(cap_box), caption_page=cap.page,
            parts=[rounded(b) for b in sorted(pictures, key=lambda b: (b[1], b[0]))] if len(pictures) >= 2 else [],
            provenance=Provenance(
                book=ctx.book or "", book_sha256=ctx.book_sha256,
                page=model.number, bbox=bbox, page_size=rounded(model.size), rule=structure,
                text_layer=model.text_layer, dpi=None, scores={"pair_cost": mt.cost, "parts": float(len(pictures))},
                caption_rule=caption_rule, pair_rule=mt.rule,
            ),
            crop=plan,
        )


def _scan_rule(images: list[ImagePlacement]) -> str | None:
    """``ocr:scan-region(s)`` for a figure made of regions found on a scan (what crop records as its rule)."""
    rule = ocr_rule("", images)
    return rule if rule.startswith("ocr:scan-region") else None


def _overlaid(model: PageModel, image: int) -> bool:
    """Something is drawn over the image (labels, arrows): the reader's figure is the rendered page."""
    box = model.images[image].bbox
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
