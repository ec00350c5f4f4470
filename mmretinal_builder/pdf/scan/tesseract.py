"""Tesseract through pytesseract: configuration, one run on a grey image, its TSV parsed into words.

The image goes to Tesseract as an uncompressed PGM file (no PNG compression on the way); languages,
page segmentation mode and a per-page timeout come from :class:`OcrConfig`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...geometry import BBox
from .regions import RegionConfig

#: the languages when neither the recipe nor script detection says (see :mod:`.languages`)
DEFAULT_LANG = "eng+chi_sim"
#: Unicode bidi controls Tesseract puts around words of the other direction (LRM, RLM, embeddings, isolates)
_BIDI_CONTROLS = dict.fromkeys([0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class OcrError(RuntimeError):
    """Tesseract is missing, lacks a language, or failed on a page."""


@dataclass(frozen=True)
class OcrConfig:
    """How pages are read: Tesseract languages, render resolution, deskew, noise filters."""

    lang: str = DEFAULT_LANG
    dpi: float = 300.0
    deskew: bool = True
    max_skew: float = 5.0  # degrees; larger skews are not searched
    psm: int = 3  # Tesseract page segmentation: 3 = automatic layout analysis
    min_conf: float = 45.0  # lines whose mean word confidence is lower are noise (texture in photos)
    timeout: float = 0.0  # seconds per page, 0 = none
    regions: RegionConfig = field(default_factory=RegionConfig)


@dataclass
class OcrWord:
    """One word as Tesseract reports it (pixels of the image it read)."""

    text: str
    bbox: BBox
    conf: float
    block: int
    par: int
    line: int


def check_tesseract(lang: str) -> None:
    """Raise :class:`OcrError` naming the problem when Tesseract or one of ``lang`` is missing."""
    import pytesseract

    try:
        have = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as e:
        raise OcrError(f"Tesseract is not installed or not on PATH ({e}); install tesseract-ocr "
                       "and its language packs (make system-deps)") from None
    missing = [x for x in lang.split("+") if x and x not in have]
    if missing:
        packages = " ".join("tesseract-ocr-" + x.lower().replace("_", "-") for x in missing)
        raise OcrError(f"Tesseract lacks the language(s) {', '.join(missing)} (installed: "
                       f"{', '.join(sorted(have)) or 'none'}); install them with `apt-get install {packages}`")


def parse_tsv(tsv: str) -> list[OcrWord]:
    """Words (level 5 rows with text) of Tesseract's TSV output."""
    out: list[OcrWord] = []
    rows = tsv.splitlines()
    if not rows:
        return out
    head = rows[0].split("\t")
    try:
        col = {k: head.index(k) for k in ("level", "block_num", "par_num", "line_num", "left", "top", "width",
                                          "height", "conf", "text")}
    except ValueError:
        raise OcrError(f"unexpected Tesseract TSV header: {rows[0][:120]!r}") from None
    for row in rows[1:]:
        f = row.split("\t")
        if len(f) < len(head) or f[col["level"]] != "5":
            continue
        text = f[col["text"]].translate(_BIDI_CONTROLS).strip()
        if not text:
            continue
        x, y = int(f[col["left"]]), int(f[col["top"]])
        w, h = int(f[col["width"]]), int(f[col["height"]])
        out.append(OcrWord(text, (float(x), float(y), float(x + w), float(y + h)), float(f[col["conf"]]),
                           int(f[col["block_num"]]), int(f[col["par_num"]]), int(f[col["line_num"]])))
    return out


def run_tesseract(gray: np.ndarray, cfg: OcrConfig) -> list[OcrWord]:
    """``image_to_data`` on a grey image; the image goes to Tesseract as an uncompressed PGM file."""
    import pytesseract

    fd, name = tempfile.mkstemp(prefix="mmretinal-ocr-", suffix=".pgm")
    os.close(fd)
    try:
        if not cv2.imwrite(name, gray):
            raise OcrError(f"cannot write the page image for Tesseract to {name}")
        try:
            tsv = pytesseract.image_to_data(name, lang=cfg.lang, config=f"--psm {cfg.psm}",
                                            timeout=cfg.timeout or 0)
        except pytesseract.TesseractNotFoundError:
            raise OcrError("Tesseract is not installed or not on PATH (see the README)") from None
        except pytesseract.TesseractError as e:
            raise OcrError(f"Tesseract failed: {e.message or e}") from None
        except RuntimeError as e:  # pytesseract's timeout
            raise OcrError(f"Tesseract: {e}") from None
    finally:
        Path(name).unlink(missing_ok=True)
    return parse_tsv(tsv)
