"""Pages per second of the born-digital extraction, side by side with a raw PyMuPDF pass over the same file.

* **raw**: open the PDF; per page ``get_text("dict")``, ``get_image_info()`` and the bytes of every image
  the page uses (xrefs from ``get_images``, bytes from ``extract_image``) — the floor any PyMuPDF-based
  extractor pays. (``get_image_info(xrefs=True)`` would decode every image to hash it: a slower baseline.)
* **extract**: the extraction stages ``pages`` -> ``pair`` -> ``crop`` on the same file, as a build runs them
  (``Runner`` on a recipe of those three stages, one worker: the book hashed once, page models persisted in the
  ``pages`` shard, captions, candidates, pairing, figure images rendered or passed through, every shard and the
  run's report written to a temp run directory). Per-stage CPU seconds come from a second pass of the same
  stages in memory, without shard files.

Wall-clock and CPU seconds are both reported: on a shared machine the CPU ratio is the steadier one.

Both run in this one process, on one core, ``--repeat`` times each (the best run is reported). The book is
a generated sample book (``mmretinal_builder.samples``) cut or repeated to exactly ``--pages`` pages, a
generated text-heavy thesis set the way pdfTeX sets it (``--thesis PAGES``, :mod:`thesis_book`: ~45 justified
lines a page, a figure every ~9 pages), or a PDF of your own (``--pdf``, also ``.pdf.gz``: Debian-based machines
ship real long manuals as ``/usr/share/doc/*/*.pdf.gz``, e.g. valgrind's, 397 pages). Target: extract >= 1/3 of
raw speed.

Examples: ``python benchmarks/extraction_speed.py --pages 200 --out extraction_speed.json``;
``python benchmarks/extraction_speed.py --pdf /usr/share/doc/valgrind/valgrind_manual.pdf.gz --repeat 3``;
``python benchmarks/extraction_speed.py --thesis 200 --save-book thesis200.pdf``
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymupdf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmretinal_builder.recipe import recipe_from_dict  # noqa: E402
from mmretinal_builder.runner import Runner  # noqa: E402


def make_book(pages: int, out: Path, seed: int = 0) -> Path:
    """A generated two-column sample book with exactly ``pages`` pages (cut or repeated)."""
    from mmretinal_builder.samples import generate_samples

    src = out / "src"
    figures = max(4, int(pages * 1.9))  # the two-column sample book holds about two figures per page
    gt = generate_samples(src, seed=seed, books=1, figures_per_book=figures, scanned=False, broken_text=False)
    name = json.loads(gt.read_text(encoding="utf-8"))[0]["id"]
    doc = pymupdf.open(str(src / name))
    book = pymupdf.open()
    while book.page_count < pages:
        book.insert_pdf(doc, to_page=min(doc.page_count, pages - book.page_count) - 1)
    path = out / f"bench_{pages}p.pdf"
    book.save(str(path), garbage=3, deflate=True)
    return path


def raw_pass(path: Path) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    doc = pymupdf.open(str(path))
    n_img = 0
    n_bytes = 0
    for page in doc:
        page.get_text("dict")
        page.get_image_info()
        for xref in sorted({item[0] for item in page.get_images(full=True)}):
            n_bytes += len(doc.extract_image(xref)["image"])
            n_img += 1
    pages = doc.page_count
    doc.close()
    dt = time.perf_counter() - t0
    return {"seconds": dt, "cpu_seconds": time.process_time() - c0, "pages": pages, "images": n_img,
            "image_bytes": n_bytes}


def text_only_pass(path: Path) -> dict[str, Any]:
    """The raw pass without image bytes: text dict and image info only (context, not the target)."""
    t0 = time.perf_counter()
    doc = pymupdf.open(str(path))
    for page in doc:
        page.get_text("dict")
        page.get_image_info()
    pages = doc.page_count
    doc.close()
    return {"seconds": time.perf_counter() - t0, "pages": pages}


def extract_pass(path: Path) -> dict[str, Any]:
    recipe = recipe_from_dict({"name": "bench", "stages": ["pages", "pair", "crop"]}, label="benchmark recipe")
    with tempfile.TemporaryDirectory(prefix="mmretinal-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        t0, c0 = time.perf_counter(), time.process_time()
        res = Runner(recipe, run_dir, workers=1, show_progress=False).build([path])
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if res.failed:
            raise SystemExit(f"{path}: the build failed: {res.failed}")
        stats = {s["stage"]: s for s in res.stats["stages"]}
        figures = [json.loads(line) for line in (run_dir / "figures.jsonl").read_text(encoding="utf-8").splitlines()]
        rendered = sum(1 for f in figures if f["provenance"]["scores"].get("rendered"))
        pages_bytes = (run_dir / "shards" / next(run_dir.glob("shards/*")).name / "00-pages" / "items.jsonl")
        return {"seconds": dt, "cpu_seconds": dc, "pages": stats["pages"]["counters"]["pages"], "figures": len(figures),
                "rendered": rendered, "passed_through": len(figures) - rendered,
                "pages_shard_mb": round(pages_bytes.stat().st_size / 1e6, 2)}


def stage_seconds(path: Path) -> dict[str, float]:
    """CPU seconds of each extraction stage, in memory (no shard files): where the time goes."""
    from mmretinal_builder.book import Book
    from mmretinal_builder.gc_pause import cyclic_gc_paused
    from mmretinal_builder.stage import Context
    from mmretinal_builder.stages.crop import CropStage
    from mmretinal_builder.stages.pages import PagesStage
    from mmretinal_builder.stages.pair import PairStage

    out: dict[str, float] = {}
    items: list[Any] = []
    records: dict[str, list[Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mmretinal-bench-") as tmp, Book(path) as book:
        for stage in (PagesStage(), PairStage(), CropStage()):
            ctx = Context(run_dir=Path(tmp), stage=stage.name, book=path.name, book_path=path, book_obj=book,
                          records=records)
            t0 = time.process_time()
            with cyclic_gc_paused():  # as a build runs each stage (shards.run_shard)
                items = stage.run(items, ctx)
            out[stage.name] = round(time.process_time() - t0, 3)
            records[stage.name] = items
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=200, help="pages of the generated book")
    ap.add_argument("--pdf", type=Path, help="benchmark this PDF instead of a generated book")
    ap.add_argument("--thesis", type=int, metavar="PAGES",
                    help="benchmark a generated text-heavy thesis of PAGES pages (benchmarks/thesis_book.py)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each pass (the best is reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    ap.add_argument("--save-book", type=Path, help="keep the generated book here (rerun with --pdf)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, for both passes
    with tempfile.TemporaryDirectory(prefix="mmretinal-bench-book-") as tmp:
        if args.pdf and args.pdf.name.endswith(".gz"):
            # Debian ships manuals as PDF.gz (/usr/share/doc/*/): real long PDFs on any such machine
            path = Path(tmp) / args.pdf.name[:-3]
            path.write_bytes(gzip.decompress(args.pdf.read_bytes()))
        elif args.pdf:
            path = args.pdf
        elif args.thesis:
            from thesis_book import make_thesis

            path = make_thesis(args.thesis, Path(tmp) / f"thesis_{args.thesis}p.pdf", args.seed)
        else:
            path = make_book(args.pages, Path(tmp), args.seed)
        if args.save_book and not args.pdf:
            args.save_book.write_bytes(path.read_bytes())
        raw = min((raw_pass(path) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        floor = min((text_only_pass(path) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        ours = min((extract_pass(path) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        ours["stage_seconds"] = stage_seconds(path)
        size = path.stat().st_size
    raw_pps = raw["pages"] / raw["seconds"]
    our_pps = ours["pages"] / ours["seconds"]
    result = {
        "book": str(args.pdf) if args.pdf else (f"generated thesis, {args.thesis} pages (seed {args.seed})"
                                                if args.thesis else
                                                f"generated two-column sample, {args.pages} pages (seed {args.seed})"),
        "file_bytes": size, "pages": raw["pages"], "repeat": args.repeat,
        "raw": {**raw, "pages_per_s": round(raw_pps, 2)},
        "raw_without_image_bytes": {**floor, "pages_per_s": round(floor["pages"] / floor["seconds"], 2)},
        "extract": {**ours, "pages_per_s": round(our_pps, 2)},
        "ratio": round(our_pps / raw_pps, 3),
        # CPU seconds are steadier than wall clock on a shared machine (both passes run in this process)
        "ratio_cpu": round(raw["cpu_seconds"] / ours["cpu_seconds"], 3),
        "target_ratio": round(1 / 3, 3),
        "pymupdf": pymupdf.VersionBind,
    }
    try:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"extraction speed, {raw['pages']} pages, one core")
        for c in ("pass", "seconds", "pages/s", "notes"):
            t.add_column(c, justify="left" if c in ("pass", "notes") else "right")
        t.add_row("raw PyMuPDF", f"{raw['seconds']:.2f}", f"{raw_pps:.1f}",
                  f"{raw['images']} images, {raw['image_bytes'] / 1e6:.1f} MB")
        t.add_row("raw, no image bytes", f"{floor['seconds']:.2f}", f"{floor['pages'] / floor['seconds']:.1f}",
                  "context only: text dict + image info")
        t.add_row("pages+pair+crop", f"{ours['seconds']:.2f}", f"{our_pps:.1f}",
                  f"{ours['figures']} figures ({ours['rendered']} rendered, {ours['passed_through']} passed through); "
                  + ", ".join(f"{k} {v:.2f} CPU s" for k, v in ours["stage_seconds"].items()))
        t.add_row("ratio extract / raw", "", f"{result['ratio']:.2f}",
                  f"target >= 0.33; on CPU seconds {result['ratio_cpu']:.2f} "
                  f"({raw['cpu_seconds']:.2f} vs {ours['cpu_seconds']:.2f} s)")
        Console().print(t)
    except ImportError:  # pragma: no cover - rich is a dependency
        print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
