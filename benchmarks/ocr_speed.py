"""Pages per second of the extraction of a scanned book, side by side with Tesseract alone on the same pages.

* **tesseract**: every page rendered (grey, ``--dpi``; not timed) and read with
  ``pytesseract.image_to_data`` (``--lang``) — the floor any Tesseract-based reader pays.
* **extract**: the extraction stages ``pages`` -> ``pair`` -> ``crop`` on the same PDF with ``ocr_workers=1``:
  text-layer check, render, deskew, OCR (same dpi and languages), figure regions, captions, pairing, figure crops
  written to a temp run directory.

Both run in this one process (and its Tesseract children) on one core, with ``OMP_THREAD_LIMIT=1``, once
each. Wall-clock seconds give the throughput; CPU seconds (this process and its children) are reported too,
being steadier on a shared machine. The book is the generated scanned sample book (``mmretinal_builder.samples``,
200 dpi scans with noise and up to 2 degrees of skew) cut to ``--pages`` pages, or a PDF of your own
(``--pdf``). Target: extract >= 0.75 x Tesseract's pages per second.

Example: ``python benchmarks/ocr_speed.py --pages 50 --out ocr_speed.json``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmretinal_builder.jobs import run_stages  # noqa: E402
from mmretinal_builder.pdf.scan.ocr import DEFAULT_LANG, render_gray  # noqa: E402
from mmretinal_builder.stages.crop import CropStage  # noqa: E402
from mmretinal_builder.stages.pages import PagesParams, PagesStage  # noqa: E402
from mmretinal_builder.stages.pair import PairStage  # noqa: E402

TARGET = 0.75


def make_book(pages: int, out: Path, seed: int = 0) -> Path:
    """The generated scanned sample book with exactly ``pages`` pages (cut, or repeated when short)."""
    from mmretinal_builder.samples.atlas import BOOKS
    from mmretinal_builder.samples.generate import write_books

    book = next(b for b in BOOKS if b.variant == "scanned")
    src = out / "src"
    figures = max(4, int(pages * 1.7))  # about 0.6 pages per figure in this layout
    write_books(src, [replace(book, name="bench_scan")], seed=seed, figures_per_book=figures, scan_dpi=200)
    doc = pymupdf.open(str(src / "bench_scan.pdf"))
    book_doc = pymupdf.open()
    while book_doc.page_count < pages:
        book_doc.insert_pdf(doc, to_page=min(doc.page_count, pages - book_doc.page_count) - 1)
    path = out / f"bench_scan_{pages}p.pdf"
    book_doc.save(str(path), garbage=3, deflate=True)
    return path


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def tesseract_pass(path: Path, dpi: float, lang: str) -> dict[str, Any]:
    import pytesseract

    seconds = cpu = 0.0
    words = 0
    with pymupdf.open(str(path)) as doc:
        for page in doc:
            image = render_gray(page, dpi)  # not timed: the baseline reads ready page images
            t0, c0 = time.perf_counter(), _cpu()
            data = pytesseract.image_to_data(image, lang=lang)
            seconds += time.perf_counter() - t0
            cpu += _cpu() - c0
            words += sum(1 for row in data.splitlines()[1:] if row.startswith("5\t") and row.split("\t")[-1].strip())
        pages = doc.page_count
    return {"seconds": seconds, "cpu_seconds": cpu, "pages": pages, "words": words}


def extract_pass(path: Path, dpi: float, lang: str) -> dict[str, Any]:
    stages = [PagesStage(PagesParams(ocr_workers=1, ocr_dpi=dpi, ocr_lang=lang)), PairStage(), CropStage()]
    with tempfile.TemporaryDirectory(prefix="mmretinal-bench-") as tmp:
        t0, c0 = time.perf_counter(), _cpu()
        figures, ctx = run_stages(stages, run_dir=Path(tmp), book_path=path, processes=1)
        dt, dc = time.perf_counter() - t0, _cpu() - c0
    ocr = ctx.counters["pages:ocr"]
    return {"seconds": dt, "cpu_seconds": dc, "pages": ctx.counters["pages"], "ocr_pages": ocr,
            "figures": len(figures), "rules": sorted({f.provenance.rule for f in figures})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=50, help="pages of the generated scanned book")
    ap.add_argument("--pdf", type=Path, help="benchmark this (scanned) PDF instead of a generated book")
    ap.add_argument("--dpi", type=float, default=300.0, help="OCR resolution, both passes")
    ap.add_argument("--lang", default=DEFAULT_LANG, help="Tesseract languages, both passes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)
    os.environ["OMP_THREAD_LIMIT"] = "1"  # Tesseract's own threads: one core means one thread
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, inherited by Tesseract
    with tempfile.TemporaryDirectory(prefix="mmretinal-bench-book-") as tmp:
        path = args.pdf or make_book(args.pages, Path(tmp), args.seed)
        base = tesseract_pass(path, args.dpi, args.lang)
        ours = extract_pass(path, args.dpi, args.lang)
    base_pps = base["pages"] / base["seconds"]
    our_pps = ours["pages"] / ours["seconds"]
    result = {
        "book": str(args.pdf) if args.pdf else f"generated scanned sample, {args.pages} pages (seed {args.seed})",
        "pages": base["pages"], "dpi": args.dpi, "lang": args.lang, "cores": 1,
        "tesseract": {**base, "pages_per_s": round(base_pps, 4)},
        "extract": {**ours, "pages_per_s": round(our_pps, 4)},
        "ratio": round(our_pps / base_pps, 3),
        "cpu_ratio": round(base["cpu_seconds"] / max(ours["cpu_seconds"], 1e-9), 3),
        "target_ratio": TARGET,
    }
    try:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"OCR extraction speed, {base['pages']} scanned pages, {args.dpi:g} dpi, {args.lang}, one core")
        for c in ("pass", "seconds", "CPU seconds", "pages/s", "notes"):
            t.add_column(c, justify="left" if c in ("pass", "notes") else "right")
        t.add_row("tesseract alone", f"{base['seconds']:.1f}", f"{base['cpu_seconds']:.1f}", f"{base_pps:.3f}",
                  f"{base['words']} words")
        t.add_row("extract stage", f"{ours['seconds']:.1f}", f"{ours['cpu_seconds']:.1f}", f"{our_pps:.3f}",
                  f"{ours['figures']} figures, {ours['ocr_pages']} pages OCR'd")
        t.add_row("ratio", "", f"{result['cpu_ratio']:.2f}", f"{result['ratio']:.2f}", f"target >= {TARGET}")
        Console().print(t)
    except ImportError:  # pragma: no cover - rich is a dependency
        print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
