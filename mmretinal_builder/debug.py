"""Debug overlays: pages rendered with figure boxes (green), caption boxes (blue), the line that pairs
them, figure parts (thin green), and what was left alone (red: figure without caption, magenta: caption
without figure). The quickest way to see why a pair is wrong."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image, ImageDraw, ImageFont

from .book import Book
from .errors import BuilderError
from .io import atomic_write_bytes, iter_jsonl
from .pdf.limits import book_password
from .shards import book_key

GREEN, BLUE, RED, MAGENTA, ORANGE = (0, 160, 0), (0, 80, 255), (220, 0, 0), (200, 0, 200), (255, 140, 0)


def _box(draw: ImageDraw.ImageDraw, b: list[float], scale: float, color: tuple[int, int, int], width: int) -> None:
    draw.rectangle([b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale], outline=color, width=width)


def _centre(b: list[float], scale: float) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2 * scale, (b[1] + b[3]) / 2 * scale)


def render_overlay(page: pymupdf.Page, figures: list[dict[str, Any]], reports: list[dict[str, Any]],
                   dpi: float = 110) -> bytes:
    """PNG of ``page`` with the boxes of ``figures`` (records on this page or captioned from it) drawn."""
    zoom = dpi / 72.0
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, annots=False)
    img = Image.open(io.BytesIO(pix.tobytes("png"))).convert("RGB")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    number = page.number + 1
    for f in figures:
        on_page = f["page"] == number
        cap_here = f.get("caption_page") == number and f.get("caption_bbox")
        if on_page:
            for part in f.get("parts") or []:
                _box(draw, part, zoom, GREEN, 1)
            _box(draw, f["bbox"], zoom, GREEN, 3)
            tag = f"{f.get('label') or '?'}  [{f['provenance'].get('rule', '')}]"
            draw.text((f["bbox"][0] * zoom + 4, f["bbox"][1] * zoom + 3), tag, fill=GREEN, font=font)
        if cap_here:
            _box(draw, f["caption_bbox"], zoom, BLUE, 2)
            draw.text((f["caption_bbox"][0] * zoom, max(0, f["caption_bbox"][1] * zoom - 11)),
                      f.get("label") or "?", fill=BLUE, font=font)
        if on_page and cap_here:
            draw.line([_centre(f["bbox"], zoom), _centre(f["caption_bbox"], zoom)], fill=ORANGE, width=2)
        elif on_page != bool(cap_here):
            where = f"caption on p{f.get('caption_page')}" if on_page else f"figure on p{f['page']}"
            b = f["bbox"] if on_page else f["caption_bbox"]
            draw.text((b[0] * zoom + 4, b[3] * zoom - 12), where, fill=ORANGE, font=font)
    for r in reports:
        item = r.get("item", {})
        if item.get("page") != number:
            continue
        b = item.get("bbox") or item.get("caption_bbox")
        if not b:
            continue
        color = RED if r.get("reason") == "figure-without-caption" else MAGENTA
        _box(draw, b, zoom, color, 2)
        draw.text((b[0] * zoom + 4, b[1] * zoom + 3), r.get("reason", ""), fill=color, font=font)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def book_paths(run_dir: Path, pdfs: list[Path]) -> dict[str, Path]:
    """Where each book of the run lives: the given files/folders, else paths recorded in run.json."""
    found: dict[str, Path] = {}
    for p in pdfs:
        p = Path(p)
        if p.is_dir():
            found.update({q.name: q for q in sorted(p.rglob("*.pdf"))})
        elif p.is_file():
            found[p.name] = p
        else:
            raise BuilderError(f"{p}: not found")
    run_json = Path(run_dir) / "run.json"
    if run_json.exists():
        meta = json.loads(run_json.read_text(encoding="utf-8"))
        for b in meta.get("books", []):
            if b.get("path") and b["name"] not in found and Path(b["path"]).exists():
                found[b["name"]] = Path(b["path"])
    return found


def inspect_run(run_dir: Path, out_dir: Path, pdfs: list[Path], book: str | None = None, page: int | None = None,
                dpi: float = 110) -> list[Path]:
    """Write overlay PNGs for the pages of a run that hold figures, captions or reports; returns the files."""
    run_dir = Path(run_dir)
    fig_path = run_dir / "figures.jsonl"
    if not fig_path.exists():
        raise BuilderError(f"{run_dir}: no figures.jsonl (is this a run directory?)")
    figures: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in iter_jsonl(fig_path):
        figures[row["book"]].append(row)
    reports: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rej = run_dir / "rejects.jsonl"
    if rej.exists():
        for r in iter_jsonl(rej):
            if r.get("stage") in ("pair", "crop") and isinstance(r.get("item"), dict) and r["item"].get("book"):
                reports[r["item"]["book"]].append(r)
    books = sorted(set(figures) | set(reports))
    if book is not None:
        if book not in books:
            raise BuilderError(f"{run_dir}: book {book!r} has no figures or reports in this run "
                               f"(books: {', '.join(books) or 'none'})")
        books = [book]
    paths = book_paths(run_dir, pdfs)
    written: list[Path] = []
    for name in books:
        if name not in paths:
            raise BuilderError(f"{name}: PDF not found; pass --pdfs with the file or its folder")
        pages = {f["page"] for f in figures[name]} | {f.get("caption_page") for f in figures[name]}
        pages |= {r["item"].get("page") for r in reports[name]}
        pages = {p for p in pages if p}
        if page is not None:
            pages = {page}
        # the same door as the build (sniffing, errors); an encrypted book's password comes from the environment
        with Book(paths[name], name, password=book_password({})) as book:
            for p in sorted(pages):
                if not 1 <= p <= book.page_count:
                    raise BuilderError(f"{name}: page {p} out of range (1..{book.page_count})")
                png = render_overlay(book.page(p), figures[name], reports[name], dpi)
                target = Path(out_dir) / f"{book_key(name)}-p{p:04d}.png"
                atomic_write_bytes(target, png)
                written.append(target)
    return written

