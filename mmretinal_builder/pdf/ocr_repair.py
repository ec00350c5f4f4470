"""Repairs of two Tesseract failures that cost whole captions, each one extra run on the pages showing it.

* On a Chinese page, lines read as Latin garbage (``KRHM, REMBSS]``) or with a wide word read at almost
  no confidence are read again with the Chinese model alone (:func:`reread_chinese_lines`).
* Glyphs dropped at the start of a line (a bold ``图`` before ``2-3．``) are read from the unread ink just
  left of the line (:func:`rescue_line_starts`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .ocr_lines import line_geometry, word_width
from .tesseract import OcrConfig, OcrWord, run_tesseract
from .text_layer import is_hanzi

CJK_LANGS = ("chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert", "jpn", "kor")
CHINESE_PAGE = 0.3  # share of ideographs among the characters read that makes a page Chinese
WEAK_WORD = 30.0  # a word read with less confidence (and at least an em wide) marks its line for re-reading


def reread_chinese_lines(gray: np.ndarray, ink: np.ndarray, words: list[OcrWord], cfg: OcrConfig,
                         ) -> list[OcrWord]:
    """On a Chinese page, read again with the Chinese model alone the lines Tesseract read poorly.

    With several languages Tesseract sometimes settles on Latin for a whole line of Chinese (a caption
    line close to a photograph comes out as ``KRHM, REMBSS]``, with low confidence). On pages where
    ideographs dominate, lines whose mean confidence is below ``min_conf`` are cut out, stacked on one
    canvas and read in one extra run with the page's CJK languages only; a line's new reading replaces the
    old one when it is more confident. Pages in Latin script, or a configuration without a CJK language,
    are left alone (no extra run).
    """
    cjk = "+".join(x for x in cfg.lang.split("+") if x in CJK_LANGS)
    if not cjk or cjk == cfg.lang or not words:
        return words
    chars = [c for w in words if w.conf >= cfg.min_conf for c in w.text]
    if not chars or sum(1 for c in chars if is_hanzi(c)) < CHINESE_PAGE * len(chars):
        return words
    groups: dict[tuple[int, int, int], list[OcrWord]] = defaultdict(list)
    for w in words:
        groups[(w.block, w.par, w.line)].append(w)
    geometry = {key: line_geometry(ws) for key, ws in groups.items()}

    chinese_pars = {key[:2] for key, ws in groups.items() if any(is_hanzi(c) for w in ws for c in w.text)}

    def weak_line(key: tuple[int, int, int]) -> bool:
        ws, size = groups[key], geometry[key][2]
        latin_in_chinese = key[:2] in chinese_pars and not any(is_hanzi(c) for w in ws for c in w.text)
        return (sum(w.conf for w in ws) / len(ws) < cfg.min_conf or latin_in_chinese
                or any(w.conf < WEAK_WORD and word_width(w) >= size for w in ws))

    weak = [(key, groups[key]) for key in sorted(groups) if weak_line(key)]
    heights = [geometry[k][0][3] - geometry[k][0][1] for k in groups if not weak_line(k)]
    tallest = 3.0 * statistics.median(heights) if heights else float("inf")
    # the rows of a weak line: where ink lies that no confident word of the page covers (its boxes may
    # reach into the line above)
    weak_keys = {key for key, _ in weak}
    unread = ink.copy()
    for w in words:
        if (w.block, w.par, w.line) not in weak_keys:
            x0, y0, x1, y1 = (int(v) for v in w.bbox)
            unread[max(0, y0):y1, max(0, x0):x1] = False
    boxes_ok = []
    for k, (key, _) in enumerate(weak):
        box, _, size = geometry[key]
        if box[2] - box[0] < 8 or not 8 <= box[3] - box[1] <= tallest:
            continue  # a "line" taller than three text lines is texture or a frame read as text
        x0, x1 = max(0, int(box[0])), min(gray.shape[1], int(box[2]))
        y0, y1 = max(0, int(box[1])), min(gray.shape[0], int(box[3]))
        rows = np.flatnonzero(unread[y0:y1, x0:x1].any(axis=1))
        if rows.size == 0:
            continue
        y0, y1 = y0 + int(rows[0]), y0 + int(rows[-1]) + 1
        pad = int(0.3 * max(size, 4))
        boxes_ok.append((k, (max(0, x0 - pad), max(0, y0 - pad), min(gray.shape[1], x1 + pad),
                             min(gray.shape[0], y1 + pad))))
    if not boxes_ok:
        return words
    height = max(b[3] - b[1] for _, b in boxes_ok)
    width = max(b[2] - b[0] for _, b in boxes_ok)
    step = 2 * height
    canvas = np.full((step * len(boxes_ok) + height, width + 2 * height), 255, dtype=np.uint8)
    for row, (_, (x0, y0, x1, y1)) in enumerate(boxes_ok):
        canvas[step * row + height // 2:step * row + height // 2 + (y1 - y0), height:height + (x1 - x0)] = \
            gray[y0:y1, x0:x1]
    found = run_tesseract(canvas, OcrConfig(lang=cjk, psm=6, timeout=cfg.timeout))
    new: dict[int, list[OcrWord]] = defaultdict(list)
    for w in found:
        row = int(((w.bbox[1] + w.bbox[3]) / 2 - height // 2) // step)
        if 0 <= row < len(boxes_ok):
            new[row].append(w)
    replaced: dict[tuple[int, int, int], list[OcrWord]] = {}
    for row, (k, (x0, y0, _, _)) in enumerate(boxes_ok):
        key, old = weak[k]
        ws = new.get(row, [])
        if not ws or sum(w.conf for w in ws) / len(ws) <= sum(w.conf for w in old) / len(old):
            continue
        dx, dy = x0 - height, y0 - (step * row + height // 2)
        replaced[key] = [OcrWord(w.text, (w.bbox[0] + dx, w.bbox[1] + dy, w.bbox[2] + dx, w.bbox[3] + dy), w.conf,
                                 *key) for w in ws]
    if not replaced:
        return words
    out: list[OcrWord] = []
    for w in words:  # the new reading takes the place of the old one (reading order is list order)
        key = (w.block, w.par, w.line)
        if key not in replaced:
            out.append(w)
        elif replaced[key]:
            out.extend(replaced.pop(key))
            replaced[key] = []
    return out


# ----------------------------------------------------------------------------- dropped line starts


def _leading_ink(unread: np.ndarray, line: Sequence[OcrWord], size: float, band: tuple[int, int],
                 ) -> tuple[int, int] | None:
    """Columns [a, b) of an unread glyph cluster just left of a line's first word, or None.

    The cluster must end within an em of the word, be separated by blank columns from whatever lies
    further left (a photo next to a caption is not a dropped character), be glyph-sized and stay inside
    the line's rows (strokes of a drawing run on above or below).
    """
    first = min(w.bbox[0] for w in line)
    lo = max(0, int(first - 2.5 * size))
    hi = int(first - 0.1 * size)  # the first glyph's ink may stick out of its box by a pixel or two
    if hi - lo < 2:
        return None
    cols = unread[band[0]:band[1], lo:hi].any(axis=0)
    hit = np.flatnonzero(cols)
    if hit.size == 0 or hi - (lo + hit[-1] + 1) > size:
        return None
    # walk left from the last ink column while gaps stay narrower than 0.35 em
    b = hit[-1] + 1
    a = hit[-1]
    for x in hit[::-1][1:]:
        if a - x > 0.35 * size:
            break
        a = x
    if a <= 1 or b - a < 0.3 * size or b - a > 2.0 * size:
        return None
    rows = unread[band[0]:band[1], lo + a:lo + b].any(axis=1)
    if rows.sum() < 0.4 * size:
        return None
    near, far = int(0.15 * size), max(int(0.15 * size) + 1, int(0.45 * size))
    above = unread[max(0, band[0] - far):max(0, band[0] - near), lo + a:lo + b]
    below = unread[band[1] + near:band[1] + far, lo + a:lo + b]
    if above.any() or below.any():
        return None  # the ink runs on well above or below the line: a drawing, not a dropped glyph
    return lo + a, lo + b


def rescue_line_starts(gray: np.ndarray, ink: np.ndarray, words: list[OcrWord], cfg: OcrConfig) -> list[OcrWord]:
    """Read glyphs Tesseract dropped at the start of a line and prepend them to it.

    Tesseract's line recogniser sometimes drops the first character of a line, typically a figure cue
    set in another font (a bold ``图`` before ``2-3．``), which costs the whole caption. Unread ink just
    left of a line's first word is cut out, all such snippets of the page are put in one row and read in
    a single extra Tesseract run; no snippets, no extra run.
    """
    if not words:
        return words
    unread = ink.copy()
    for w in words:
        x0, y0, x1, y1 = (int(v) for v in w.bbox)
        unread[max(0, y0):y1, max(0, x0):x1] = False
    groups: dict[tuple[int, int, int], list[OcrWord]] = defaultdict(list)
    for w in words:
        groups[(w.block, w.par, w.line)].append(w)
    snippets: list[tuple[tuple[int, int, int], tuple[int, int, int, int]]] = []
    for key, ws in sorted(groups.items()):
        box, _, size = line_geometry(ws)
        if size < 4:
            continue
        band = (max(0, int(box[1])), min(ink.shape[0], int(np.ceil(box[3]))))
        cols = _leading_ink(unread, ws, size, band)
        if cols is not None:
            pad = int(0.25 * size)
            snippets.append((key, (max(0, cols[0] - pad), max(0, band[0] - pad), min(ink.shape[1], cols[1] + pad),
                                   min(ink.shape[0], band[1] + pad))))
    if not snippets:
        return words
    # one row, snippets 1.5 em apart, read as one raw line (psm 13): Tesseract's line and block modes
    # drop isolated characters, the raw-line mode keeps them
    height = max(y1 - y0 for _, (_, y0, _, y1) in snippets)
    gap = int(1.5 * height)
    slots, x = [], gap
    for _, (x0, _, x1, _) in snippets:
        slots.append(x)
        x += (x1 - x0) + gap
    canvas = np.full((3 * height, x), 255, dtype=np.uint8)
    for (_, (x0, y0, x1, y1)), sx in zip(snippets, slots, strict=True):
        top = height + (height - (y1 - y0)) // 2
        canvas[top:top + (y1 - y0), sx:sx + (x1 - x0)] = gray[y0:y1, x0:x1]
    found = run_tesseract(canvas, OcrConfig(lang=cfg.lang, psm=13, timeout=cfg.timeout))
    lead: dict[tuple[int, int, int], list[OcrWord]] = defaultdict(list)
    for w in found:
        k = int(np.searchsorted(slots, w.bbox[0] + gap / 2, side="right")) - 1
        if not 0 <= k < len(snippets) or w.conf < cfg.min_conf or not any(c.isalnum() for c in w.text) \
                or len(w.text) > 4:
            continue  # a dropped line start is a glyph or two, not a word Tesseract would have read
        key, (x0, y0, x1, y1) = snippets[k]
        sx, top = slots[k], height + (height - (y1 - y0)) // 2
        # the raw-line mode's boxes are loose: clip to the snippet
        bx0, bx1 = max(w.bbox[0], sx) - sx + x0, min(w.bbox[2], sx + (x1 - x0)) - sx + x0
        lead[key].append(OcrWord(w.text, (float(bx0), float(y0), float(max(bx1, bx0 + 1)), float(y1)), w.conf,
                                 *key))
    out: list[OcrWord] = []
    for w in words:  # the rescued glyphs go before the first word of their line
        out.extend(lead.pop((w.block, w.par, w.line), []))
        out.append(w)
    return out
