"""The CSV layout FLAIR / KeepFIT training code reads, with the images copied next to it.

* ``mm_retinal.csv``: ``image,caption`` (image-text pretraining, like the released MM-Retinal CSV);
* ``mm_retinal_categorical.csv``: ``image,atributes,categories`` - FLAIR's own column names, misspelling
  included - where ``categories`` is the modality as a Python list literal (``"['CFP']"``) and
  ``atributes`` is ``"[]"``.

``image`` is relative to the dataset folder (FLAIR joins it to its data root): ``images/<pair_id>.<ext>``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..io import atomic_write_text
from .pairs import PairRow, read_image_bytes

CAPTION_CSV = "mm_retinal.csv"
CATEGORICAL_CSV = "mm_retinal_categorical.csv"
IMAGES_DIR = "images"


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_flair_csv(rows: list[PairRow], run_dir: Path, out_dir: Path,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Copy every pair's image to ``out_dir/images`` and write both CSV files; returns counts."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    staging = out_dir / f".{IMAGES_DIR}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    captions: list[list[str]] = []
    categorical: list[list[str]] = []
    for n, r in enumerate(rows, 1):
        name = f"{r.pair_id}.{r.image.ext}"
        if r.image.crop_px is None:
            src = run_dir / r.image.path
            if not src.exists():
                read_image_bytes(run_dir, r.image)  # raises the missing-file error
            shutil.copyfile(src, staging / name)  # streams, never holds the image in memory
        else:
            (staging / name).write_bytes(read_image_bytes(run_dir, r.image))
        rel = f"{IMAGES_DIR}/{name}"
        captions.append([rel, r.caption])
        categorical.append([rel, "[]", repr([r.modality] if r.modality else [])])
        if progress and n % 500 == 0:
            progress(n, len(rows))
    final = out_dir / IMAGES_DIR
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    atomic_write_text(out_dir / CAPTION_CSV, _csv_text(["image", "caption"], captions))
    atomic_write_text(out_dir / CATEGORICAL_CSV, _csv_text(["image", "atributes", "categories"], categorical))
    return {"rows": len(rows), "images": len(rows)}
