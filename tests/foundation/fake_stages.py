"""Small deterministic stages for runner tests (they need no PDF parsing)."""

from __future__ import annotations

import hashlib

import pymupdf as fitz

from mmretinal_builder.errors import BookError
from mmretinal_builder.schema import Figure, Provenance, figure_id
from mmretinal_builder.stage import Context, Params, Stage


class PagesParams(Params):
    per_page: int = 2


class PagesStage(Stage):
    """One fake figure per (page, slot); fails on unreadable PDFs like the real extractor."""

    name = "fake_pages"
    Params = PagesParams

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        try:
            doc = fitz.open(ctx.book_path)
        except Exception as e:  # noqa: BLE001 - any open failure is this book's problem
            raise BookError(ctx.book, f"cannot open PDF: {e}") from None
        out = []
        for pno in range(doc.page_count):
            w, h = doc[pno].rect.width, doc[pno].rect.height
            for k in range(self.params.per_page):
                bbox = [10.0 * k, 10.0, 10.0 * k + 50, 60.0]
                data = hashlib.sha256(f"{ctx.book}{pno}{k}".encode()).digest()
                rel = ctx.images.put(data, "bin")
                out.append(Figure(id=figure_id(ctx.book, pno + 1, bbox), book=ctx.book, page=pno + 1, bbox=bbox,
                                  page_size=[w, h], caption=f"Fig. {pno}.{k} text", image=rel,
                                  provenance=Provenance(book=ctx.book, page=pno + 1, bbox=bbox, page_size=[w, h],
                                                        rule="fake")))
            ctx.count("pages")
            if ctx.progress:
                ctx.progress(pno + 1, doc.page_count)
        return out


class DropOddParams(Params):
    pass


class DropOddStage(Stage):
    name = "fake_drop_odd"
    Params = DropOddParams

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        keep = []
        for f in items:
            if f.page % 2:
                ctx.drop(f, "odd-page")
            else:
                keep.append(f)
        return keep


class CountAllStage(Stage):
    name = "fake_count_all"
    scope = "run"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        ctx.count("books", len({f.book for f in items}))
        return sorted(items, key=lambda f: f.id)
