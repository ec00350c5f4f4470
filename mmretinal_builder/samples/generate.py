"""Write a set of sample books and their ground truth (the function the CLI `mmretinal samples` calls)."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_bytes, atomic_write_text
from .atlas import BOOKS, BookDef, compose_book, save_pdf
from .corrupt import break_text, scan
from .figures import ImageOptions

GT_NAME = "ground_truth.json"


def write_books(out_dir: Path, books: list[BookDef], *, seed: int = 0, figures_per_book: int = 35,
                image_options: ImageOptions | None = None, scan_dpi: int = 200, scan_quality: int = 70,
                show_progress: bool = False, figures: dict[str, int] | None = None) -> Path:
    """Compose each book, apply its variant, write `<name>.pdf` and `ground_truth.json`; returns the GT path.
    ``figures`` overrides ``figures_per_book`` for the books it names."""
    if figures_per_book < 1:
        raise ValueError(f"figures_per_book must be >= 1, got {figures_per_book}")
    names = [b.name for b in books]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate book names: {names}")
    opts = image_options or ImageOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = []
    for book in books:
        t0 = time.perf_counter()
        pdf, gt = compose_book(book, seed, (figures or {}).get(book.name, figures_per_book), opts)
        rng = random.Random(f"mmretinal-samples-variant:{seed}:{book.name}")
        if book.variant == "scanned":
            nprng = np.random.default_rng([seed, int.from_bytes(hashlib.sha256(book.name.encode()).digest()[:4])])
            doc, gt = scan(pdf, gt, rng, nprng, dpi=scan_dpi, quality=scan_quality)
            pdf = save_pdf(doc, book.name.replace("_", " "))
            doc.close()
        elif book.variant == "broken-text":
            import pymupdf

            doc = pymupdf.open("pdf", pdf)
            break_text(doc, rng)
            pdf = save_pdf(doc, book.name.replace("_", " "))
            doc.close()
            gt["variant"] = "broken-text"
            gt["traps"] += ("; BROKEN TEXT LAYER: every font has a wrong /ToUnicode map, so the page looks right "
                            "but extracted text is garbage (needs OCR)")
        elif book.variant != "born-digital":
            raise ValueError(f"{book.name}: unknown variant {book.variant!r}")
        gt["size"] = len(pdf)
        gt["sha256"] = hashlib.sha256(pdf).hexdigest()
        atomic_write_bytes(out_dir / gt["id"], pdf)
        docs.append(gt)
        if show_progress:
            print(f"{gt['id']}: {gt['pages']} pages, {len(gt['figures'])} figures, {len(pdf) / 1e6:.1f} MB, "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    gt_path = out_dir / GT_NAME
    atomic_write_text(gt_path, json.dumps(docs, ensure_ascii=False, indent=1) + "\n")
    return gt_path


def default_books(n: int, scanned: bool = True, broken_text: bool = True) -> list[BookDef]:
    """The first `n` books of the default set (cycled with numbered names beyond it)."""
    out = []
    for i in range(n):
        base = BOOKS[i % len(BOOKS)]
        name = base.name if i < len(BOOKS) else f"{base.name}_{i // len(BOOKS) + 1}"
        variant = base.variant
        if variant == "scanned" and not scanned or variant == "broken-text" and not broken_text:
            variant = "born-digital"
            name += "_digital"
        out.append(replace(base, name=name, variant=variant))
    return out


def generate_samples(out_dir: Path, *, seed: int = 0, books: int = len(BOOKS), figures_per_book: int = 35,
                     scanned: bool = True, broken_text: bool = True, show_progress: bool = False) -> Path:
    """Write <out_dir>/<book>.pdf for each book plus <out_dir>/ground_truth.json; returns the GT path.

    Deterministic for a seed: the same bytes on every run.
    """
    if books < 1:
        raise ValueError(f"books must be >= 1, got {books}")
    return write_books(Path(out_dir), default_books(books, scanned, broken_text), seed=seed,
                       figures_per_book=figures_per_book, show_progress=show_progress)
