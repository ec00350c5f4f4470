"""Right-to-left pages read with a Latin model beside: Persian or Arabic words Tesseract read as Latin.

A Persian book is read with ``fas+eng`` because its captions print Latin terms (OCT, FFA, SD-OCT). Tesseract
then sometimes settles on the English model for a Persian word and returns a short Latin word (``Mine`` for
``مبتلا``, ``sly``, ``pol``), at times with high confidence. :func:`reread_rtl_words` cuts every Latin word out
of right-to-left lines, reads them once more (one extra run per page, all words stacked on one canvas) with
the page's right-to-left languages alone, and takes the new reading when it is in the right-to-left script and
at least about as confident, unless the Latin word looks like what such texts really print: an acronym
(``OCT``, ``SD-OCT``: capitals, digits) read with confidence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

import numpy as np

from ..bidi import is_rtl, strong_direction
from .tesseract import OcrConfig, OcrWord, run_tesseract

RTL_LANGS = ("fas", "ara", "urd", "pus", "snd", "uig", "heb", "yid", "syr", "div")
DOUBTFUL_LATIN = 70.0  # a Latin word read with less confidence in a right-to-left line is never trusted
CONF_MARGIN = 5.0  # the right-to-left reading may be this much less confident and still win


_NUMBER = re.compile(r"^[(\[]?[-+]?\d+(?:[.,:/\-]\d+)*[)\]%]?[.,:;]?$")


def latin_word(w: OcrWord) -> bool:
    """A word in Latin script, or ASCII symbols that are no plain number (``)024`` for ``دیده``)."""
    core = w.text.strip(".,;:!?()[]'\"")
    if not w.text.isascii() or not w.text.strip():
        return False
    return any(c.isalpha() for c in core) or not _NUMBER.match(w.text)


def trusted_latin(w: OcrWord) -> bool:
    """An acronym or code read with confidence (``OCT``, ``SD-OCT``; ``B-scan`` is not one)."""
    letters = w.text.strip(".,;:!?()[]'\"")
    return w.conf >= DOUBTFUL_LATIN and any(c.isalpha() for c in letters) and not any(c.islower() for c in letters)


def reread_rtl_words(gray: np.ndarray, words: list[OcrWord], cfg: OcrConfig) -> list[OcrWord]:
    """Words of right-to-left lines read as Latin, read again with the right-to-left model: each such line is
    read whole (a word alone reads worse than in its line) and a doubtful Latin word takes the words of the
    new reading that lie over it."""
    rtl = "+".join(x for x in cfg.lang.split("+") if x in RTL_LANGS)
    if not rtl or rtl == cfg.lang or not words:
        return words
    lines: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for i, w in enumerate(words):
        lines[(w.block, w.par, w.line)].append(i)
    todo: list[tuple[list[int], list[int]]] = []  # (the line's words, its doubtful Latin words)
    for idx in lines.values():
        if not is_rtl("".join(words[i].text for i in idx)):
            continue
        doubtful = [i for i in idx if latin_word(words[i]) and not trusted_latin(words[i])]
        if doubtful:
            todo.append((idx, doubtful))
    if not todo:
        return words
    boxes = []
    for idx, _ in todo:
        x0 = min(words[i].bbox[0] for i in idx)
        y0 = min(words[i].bbox[1] for i in idx)
        x1 = max(words[i].bbox[2] for i in idx)
        y1 = max(words[i].bbox[3] for i in idx)
        pad = int(0.3 * (y1 - y0)) + 2
        boxes.append((max(0, int(x0) - pad), max(0, int(y0) - pad), min(gray.shape[1], int(x1) + pad),
                      min(gray.shape[0], int(y1) + pad)))
    height = max(b[3] - b[1] for b in boxes)
    width = max(b[2] - b[0] for b in boxes)
    step = 2 * height
    canvas = np.full((step * len(boxes) + height, width + 2 * height), 255, dtype=np.uint8)
    for row, (x0, y0, x1, y1) in enumerate(boxes):
        top = step * row + height // 2
        canvas[top:top + (y1 - y0), height:height + (x1 - x0)] = gray[y0:y1, x0:x1]
    found = run_tesseract(canvas, OcrConfig(lang=rtl, psm=6, timeout=cfg.timeout))
    rows: dict[int, list[OcrWord]] = defaultdict(list)
    for w in found:
        row = int(((w.bbox[1] + w.bbox[3]) / 2 - height // 2) // step)
        if 0 <= row < len(boxes):
            rows[row].append(w)
    out = list(words)
    for row, (_, doubtful) in enumerate(todo):
        dx = boxes[row][0] - height  # canvas x -> page x
        for i in doubtful:
            a0, a1 = words[i].bbox[0], words[i].bbox[2]
            over = [w for w in rows.get(row, []) if _overlap(a0, a1, w.bbox[0] + dx, w.bbox[2] + dx) >= 0.5]
            over.sort(key=lambda w: -w.bbox[2])  # right to left
            text = " ".join(w.text for w in over)
            conf = sum(w.conf for w in over) / len(over) if over else 0.0
            better = conf >= words[i].conf - CONF_MARGIN or words[i].conf < DOUBTFUL_LATIN and conf > words[i].conf
            if text and strong_direction(text) == "rtl" and better:
                out[i] = replace(words[i], text=text, conf=conf)
    return out


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Share of the shorter of two x-ranges that the other covers."""
    inter = min(a1, b1) - max(a0, b0)
    return inter / max(1e-6, min(a1 - a0, b1 - b0)) if inter > 0 else 0.0


# Arabic letters OCR returns for Persian ones (the Arabic and Persian models share shapes): yeh, kaf, alef maksura
_PERSIAN_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9", "\u0649": "\u06cc"})


def persian_letters(words: list[OcrWord], cfg: OcrConfig) -> list[OcrWord]:
    """On a page read as Persian (``fas`` without ``ara``), Arabic yeh and kaf become the Persian letters a
    Persian text prints (``تصوير`` -> ``تصویر``)."""
    langs = cfg.lang.split("+")
    if "fas" not in langs or "ara" in langs:
        return words
    return [replace(w, text=w.text.translate(_PERSIAN_LETTERS)) if any(c in w.text for c in "\u064a\u0643\u0649")
            else w for w in words]
