"""Tesseract's words -> :class:`~mmretinal_builder.pdf.page_model.TextLine` s in page points.

Words are grouped by Tesseract's block / paragraph / line numbers, split where the print shows a wide
blank gap, put in reading order (right-to-left lines: :mod:`~mmretinal_builder.pdf.bidi`), measured (baseline, font size from cap height or Chinese character pitch) and moved back onto
the unrotated page as rigid rows. Chinese text gets the spacing and full-width punctuation of Chinese
print, and panel labels whose bracket or point Tesseract misread are repaired (:func:`repair_panel_labels`).
The boxes covering the text read are returned too: they mask text out when looking for figures.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ...geometry import BBox
from ..bidi import fix_reversed_number, is_rtl, logical_order, strong_direction
from ..page_model import Span, TextLine
from ..text_layer import is_hanzi
from .deskew import Rotation
from .tesseract import OcrWord

_DESCENDERS = set("gjpqy,;()[]{}|/\\Q@$_")
_TALL = set("bdfhklt0123456789!?%&#@$/\\|()[]{}'\"") | {chr(c) for c in range(ord("A"), ord("Z") + 1)}
_CAP_HEIGHT = 0.72  # cap / ascender height of Latin faces, in ems
_XHEIGHT = 0.52
_IDEOGRAPH = 0.88  # height of an ideograph's ink, in ems
_ARABIC_WORD = 0.9  # typical height of an Arabic-script word's ink (ascender to descender), in ems
CJK_SPACE = 0.2  # ems: a blank at least this wide between Chinese and Latin text is a space
SURE_CONF = 80.0  # a word read with at least this confidence is text, whatever its line's confidence
SPLIT_GAP = 1.5  # ems: a wider gap between two words of a Tesseract line splits it


def _cjk(ch: str) -> bool:
    o = ord(ch)
    return is_hanzi(ch) or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF


def _fullwidth_punct(ch: str) -> bool:
    o = ord(ch)
    return (0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF) and not ch.isalnum()


_FULLWIDTH = {";": "\uff1b", ",": "\uff0c", ":": "\uff1a", "!": "\uff01", "?": "\uff1f", "(": "\uff08",
              ")": "\uff09"}


def chinese_punctuation(texts: list[str]) -> list[str]:
    """ASCII punctuation Tesseract reads in Chinese text -> the full-width forms Chinese print uses.

    ``;,:!?`` next to a Chinese character or before a bracket, brackets, and a ``.`` between a Latin letter or digit and a
    Chinese character (``A．视网膜``, ``图 2-1．``) become full-width; decimals (``0.8``) stay.
    """
    flat = "".join(texts)
    out = []
    for i, c in enumerate(flat):
        prev = flat[i - 1] if i > 0 else ""
        nxt = flat[i + 1] if i + 1 < len(flat) else ""
        if c in "()" or (c in _FULLWIDTH and ((prev and _cjk(prev)) or (nxt and (_cjk(nxt) or nxt in "()")))):
            c = _FULLWIDTH[c]
        elif c == "." and prev.isascii() and prev.isalnum() and nxt and is_hanzi(nxt):
            c = "\uff0e"
        out.append(c)
    repair_panel_labels(out)
    res, k = [], 0
    for t in texts:
        res.append("".join(out[k:k + len(t)]))
        k += len(t)
    return res


# a panel label whose opening bracket Tesseract read as a letter or an angle bracket: "CA）", "〈C）", "（CC、D）"
_BAD_OPEN = re.compile(r"(?<![A-Za-z])(?P<open>\uff08C|[C\u3008<])(?P<body>[A-L](?:[\u3001\uff0c,\-\u2013][A-L])*)\uff09")
# "C. FFA" in Chinese text: a panel letter's full-width point read as an ASCII one
_LETTER_POINT = re.compile(r"(?:^|(?<=[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]))(?P<body>[A-L](?:\u3001[A-L])*)\.(?=\S)")


def repair_panel_labels(chars: list[str]) -> None:
    """Panel labels of Chinese text as printed: ``CA）`` / ``〈C）`` -> ``（A）`` / ``（C）``, ``（CC、D）`` ->
    ``（C、D）``, ``；C.FFA`` -> ``；C．FFA``. ``chars`` holds one string per character of the line (edited
    in place, a dropped character becomes ""), so word boundaries stay where they were."""
    flat = "".join(chars) if all(len(c) == 1 for c in chars) else None
    if flat is None:
        return
    for m in _BAD_OPEN.finditer(flat):
        a = m.start("open")
        chars[a] = "\uff08"
        if m.group("open") == "\uff08C":
            chars[a + 1] = ""
    for m in _LETTER_POINT.finditer(flat):
        chars[m.end("body")] = "\uff0e"


_DIGIT_LABEL = re.compile(r"[(\uff08][A-Za-z][0-9][)\uff09]")
_ELL_LABEL = re.compile(r"(?<=[(\uff08][A-Za-z])[lI|](?=[)\uff09])")


def repair_digit_labels(texts: list[str]) -> list[str]:
    """Numbered panel labels as printed: ``(al) and (bl) ... (a2) and (b2)`` -> ``(a1) and (b1) ...``. A
    ``1`` in a label is read as ``l``/``I``/``|``; only repaired when the same line names a panel by a letter
    and a digit, so ``(al)`` alone (a word) is left alone. ``texts`` holds one string per word."""
    flat = "".join(texts)
    if not _DIGIT_LABEL.search(flat) or not _ELL_LABEL.search(flat):
        return texts
    chars = list(flat)
    for m in _ELL_LABEL.finditer(flat):
        chars[m.start()] = "1"
    out, k = [], 0
    for t in texts:
        out.append("".join(chars[k:k + len(t)]))
        k += len(t)
    return out


def ink_gap(ink: np.ndarray | None, left: OcrWord, right: OcrWord, band: tuple[float, float],
            slack: float = 0.0) -> float:
    """Widest blank between two neighbouring words, measured on the print: the longest run of blank
    columns near the boundary of their boxes, looking ``slack`` pixels into each (Tesseract's boxes of
    Chinese words, and of Latin words next to them, sometimes drift by a third of a character). Falls back
    to the box gap without an image."""
    if ink is None:
        return right.bbox[0] - left.bbox[2]
    lo = max(left.bbox[0], min(left.bbox[2], right.bbox[0]) - slack)
    hi = min(right.bbox[2], max(right.bbox[0], left.bbox[2]) + slack)
    return _longest_blank(ink, lo, hi, band)


def _longest_blank(ink: np.ndarray, lo: float, hi: float, band: tuple[float, float]) -> float:
    """Longest run of columns without ink in ``ink[band, lo:hi]``."""
    y0, y1 = max(0, int(band[0])), min(ink.shape[0], int(np.ceil(band[1])))
    x0, x1 = max(0, int(np.ceil(lo))), min(ink.shape[1], int(hi))
    if y1 <= y0 or x1 <= x0:
        return 0.0
    blank = np.concatenate([[False], ~ink[y0:y1, x0:x1].any(axis=0), [False]])
    edges = np.flatnonzero(np.diff(blank.astype(np.int8)))  # starts and ends of blank runs, alternating
    return float((edges[1::2] - edges[0::2]).max()) if edges.size else 0.0


def join_words(words: Sequence[OcrWord], size_px: float, ink: np.ndarray | None = None,
               band: tuple[float, float] = (0.0, 0.0)) -> list[str]:
    """Span texts of one line: each word with the space that follows it.

    Latin words are separated by one space. Tesseract spaces out Chinese characters; Chinese print has no
    spaces, so none is kept between two Chinese characters or next to full-width punctuation, and between
    Chinese and Latin text only where the print shows a gap (a fifth of the font size or more, measured
    on the ``ink`` image in the line's ``band`` of rows when given).
    """
    texts = [w.text for w in words]
    hanzi = sum(1 for t in texts for c in t if is_hanzi(c))
    if hanzi >= 2 and hanzi >= 0.3 * sum(len(t) for t in texts):
        texts = chinese_punctuation(texts)
    out = []
    for k, t in enumerate(texts):
        if k == len(texts) - 1:
            out.append(t)
            continue
        a, b = t[-1], texts[k + 1][0]
        if (_cjk(a) and _cjk(b)) or _fullwidth_punct(a) or _fullwidth_punct(b):
            out.append(t)
        elif _cjk(a) or _cjk(b):
            gap = ink_gap(ink, words[k], words[k + 1], band, slack=0.3 * size_px)
            out.append(t if gap < CJK_SPACE * size_px else t + " ")
        else:
            out.append(t + " ")
    return out


def word_height(w: OcrWord) -> float:
    return w.bbox[3] - w.bbox[1]


def word_width(w: OcrWord) -> float:
    return w.bbox[2] - w.bbox[0]


def line_geometry(words: Sequence[OcrWord]) -> tuple[BBox, float, float]:
    """(box, baseline y, font size) of one line in pixels, from its words' boxes and characters.

    Latin lines: baseline from the bottoms of words without descenders, size from cap/ascender or
    x-height. Chinese lines: size from the character pitch; Tesseract's boxes of Chinese words (and of
    Latin words among them) are sometimes as tall as the whole text row, so the line's vertical extent
    comes from the boxes of ideograph height only: one em-box tall, bottom at their median bottom.
    """
    x0, x1 = min(w.bbox[0] for w in words), max(w.bbox[2] for w in words)
    # a short run (two or three characters, a caption's last line) is a rougher pitch, but still better
    # than the heights of Tesseract's Chinese boxes, which are sometimes those of the whole text row
    advance = _ideograph_advance(words) or _ideograph_advance(words, min_chars=2)
    hz = [w for w in words if any(is_hanzi(c) for c in w.text)]
    if advance is not None and hz and advance > 1.5 * statistics.median(word_height(w) for w in hz) / _IDEOGRAPH:
        advance = None  # characters spread apart (labels in a row, table cells): the pitch is not the size
    if advance is not None:
        normal = [w for w in hz if abs(word_height(w) - _IDEOGRAPH * advance) <= 0.2 * advance]
        bottoms = sorted(w.bbox[3] for w in (normal or hz))
        bottom = statistics.median(bottoms) if normal else bottoms[len(bottoms) // 4]
        return (x0, bottom - _IDEOGRAPH * advance, x1, bottom), bottom, advance
    hz_h = statistics.median(word_height(w) for w in hz) if hz else 0.0
    reliable = [w for w in words if not (hz and w in hz and word_height(w) > 1.3 * hz_h)] or list(words)
    flat = [w.bbox[3] for w in reliable if not (set(w.text) & _DESCENDERS)]
    base = statistics.median(flat or [w.bbox[3] - 0.2 * word_height(w) for w in reliable])
    sizes = []
    for w in reliable:
        if any(is_hanzi(c) for c in w.text):
            sizes.append(word_height(w) / _IDEOGRAPH)
        elif strong_direction(w.text) == "rtl":
            # Arabic-script words reach from ascenders (alef, lam) to descenders (reh, noon, yeh): the box
            # is most of an em; the x-height rule of Latin words would double the size
            sizes.append(word_height(w) / _ARABIC_WORD)
        elif set(w.text) & _TALL:
            sizes.append(max(base - w.bbox[1], 0.5 * word_height(w)) / _CAP_HEIGHT)
        elif w.text.isalpha():
            sizes.append(max(base - w.bbox[1], 0.3 * word_height(w)) / _XHEIGHT)
    size = statistics.median(sizes or [word_height(w) / 0.9 for w in reliable])
    box = (x0, min(w.bbox[1] for w in reliable), x1, max(w.bbox[3] for w in reliable))
    return box, base, size


def _ideograph_advance(words: Sequence[OcrWord], min_chars: int = 4) -> float | None:
    """Font size from the pitch of Chinese characters (each advances one em), or None.

    Taken over the longest run of words made only of Chinese characters: unlike the heights of
    Tesseract's Chinese word boxes, which are sometimes those of the whole text row, the run's width is
    reliable. Full-width punctuation at either end of the run inks only half its em.
    """
    best: tuple[int, float] | None = None
    k = 0
    while k < len(words):
        if not all(_cjk(c) for c in words[k].text):
            k += 1
            continue
        j = k
        while j + 1 < len(words) and all(_cjk(c) for c in words[j + 1].text):
            j += 1
        text = "".join(w.text for w in words[k:j + 1])
        n = len(text) - 0.1 - 0.5 * _fullwidth_punct(text[0]) - 0.5 * _fullwidth_punct(text[-1])
        width = words[j].bbox[2] - words[k].bbox[0]
        if len(text) >= min_chars and sum(is_hanzi(c) for c in text) >= min_chars and width > 0 \
                and (best is None or len(text) > best[0]):
            best = (len(text), width / n)
        k = j + 1
    return None if best is None else best[1]


def build_lines(words: Sequence[OcrWord], scale: float, rotation: Rotation | None = None,
                min_conf: float = 0.0, ink: np.ndarray | None = None) -> tuple[list[TextLine], list[BBox]]:
    """Group words into lines (Tesseract's block / paragraph / line) in page points.

    ``scale`` is pixels per point; ``rotation`` maps the (straightened) image back to the unrotated
    render; ``ink`` (bool, the image Tesseract read, True = ink) lets gaps be measured on the print
    rather than on word boxes. Lines whose mean confidence is below ``min_conf`` or that hold no letter or digit are
    dropped (texture read as text); lines are split at wide gaps. Returns the lines (page frame) and the
    boxes covering the text read (points of the straightened image, the frame figure regions are found
    in): the text mask of region finding.
    """
    groups: dict[tuple[int, int, int], list[OcrWord]] = defaultdict(list)
    for w in words:
        groups[(w.block, w.par, w.line)].append(w)
    raw: list[tuple[tuple[int, int], list[OcrWord], BBox, float, float]] = []
    mask: list[BBox] = []
    for key in sorted(groups):
        ws = groups[key]  # Tesseract's reading order: its Chinese boxes may drift out of x order
        if not any(c.isalnum() for w in ws for c in w.text):
            continue
        if sum(w.conf for w in ws) / len(ws) < min_conf:
            # a line dropped as doubtful may still hold words read with confidence (a diagram's label
            # beside an icon read as garbage): they are text, masked when looking for figures
            mask += [_padded(w.bbox, scale) for w in ws if w.conf >= SURE_CONF and any(c.isalnum() for c in w.text)]
            continue
        box, _, size = line_geometry(ws)
        rtl = is_rtl("".join(w.text for w in ws))
        if rtl:  # gaps are found left to right; each piece is put back in reading order below
            ws = sorted(ws, key=lambda w: w.bbox[0])
        for seg in split_at_gaps(ws, SPLIT_GAP * size, ink, (box[1], box[3])):
            if rtl:
                seg = rtl_words(seg)
            if any(c.isalnum() for w in seg for c in w.text):
                box, base, size = line_geometry(seg)
                raw.append(((key[0], key[1]), seg, box, base, size))
    # even out the size estimate per paragraph: one size for lines that agree within 15%
    by_par: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, r in enumerate(raw):
        by_par[r[0]].append(i)
    sizes = [r[4] for r in raw]
    for members in by_par.values():
        med = statistics.median(raw[i][4] for i in members)
        for i in members:
            if abs(raw[i][4] - med) <= 0.15 * med:
                sizes[i] = med
    block_ids = {par: k for k, par in enumerate(sorted(by_par))}
    lines: list[TextLine] = []
    for (par, ws, box, base, _), size_px in zip(raw, sizes, strict=True):
        dx, dy = rotation.shift_to_skewed(box) if rotation is not None else (0.0, 0.0)
        size_pt = round(size_px / scale * 4) / 4

        def pt(b: BBox, dx: float = dx, dy: float = dy) -> BBox:
            return ((b[0] + dx) / scale, (b[1] + dy) / scale, (b[2] + dx) / scale, (b[3] + dy) / scale)

        # the baseline as if every line were moved by the shift at the page's centre column: lines of one
        # paragraph keep their true pitch however long they are (a rigid move by each line's own centre
        # shifts a short line of a 2-degree skewed page by up to 7 points against a long one)
        dyb = rotation.shift_to_skewed((rotation.width / 2 - 1, box[1], rotation.width / 2 + 1, box[3]))[1] \
            if rotation is not None else 0.0
        texts = repair_digit_labels(join_words(ws, size_px, ink, (box[1], box[3])))
        spans = [Span(text=t, bbox=pt((w.bbox[0], box[1], w.bbox[2], box[3])), font="ocr", size=size_pt)
                 for t, w in zip(texts, ws, strict=True)]
        lines.append(TextLine(text="".join(texts), bbox=pt(box), spans=spans, block_id=block_ids[par],
                              source="ocr", baseline=(base + dyb) / scale, horizontal=True))
    # every line OCR read is masked when looking for figures, running text and labels alike: labels come
    # back through the figure-candidate builder, which absorbs them as it does a born-digital figure's
    # (a label printed over a figure belongs to it without widening it)
    for (_, ws, box, _, _), size_px in zip(raw, sizes, strict=True):
        # the line's band in pieces of three ems: covers the ink of a line that is not quite straight (and
        # of Chinese glyphs whose word boxes drifted) without growing into what lies above or below. The
        # dashes of a frame or rule that Tesseract read into the line as "1", "|", "I" stay ink: masking
        # them would cut the frame of a diagram into pieces too small to be a figure
        pad = 0.15 * size_px
        for lo, hi in _spans_without_strokes(ws, box):
            x = lo
            while x < hi:
                piece = (x, box[1] - pad, min(hi, x + 3 * size_px), box[3] + pad)
                mask.append(tuple(v / scale for v in piece))  # type: ignore[arg-type]
                x += 3 * size_px
    return lines, mask


def _padded(b: BBox, scale: float) -> BBox:
    """A word box (pixels) as a mask box (points), padded by a sixth of its height."""
    pad = (b[3] - b[1]) / 6.0
    return ((b[0] - pad) / scale, (b[1] - pad) / scale, (b[2] + pad) / scale, (b[3] + pad) / scale)


_STROKES = set("1Il|!¦:;.,'`-_~\u2013\u2014")


def _spans_without_strokes(words: Sequence[OcrWord], box: BBox) -> list[tuple[float, float]]:
    """The x extent of a line, less the boxes of words that are only a stroke or two (``1``, ``|``, ``I``)."""
    cuts = sorted((w.bbox[0] - 1, w.bbox[2] + 1) for w in words
                  if 0 < len(w.text.strip()) <= 2 and set(w.text.strip()) <= _STROKES)
    out, x = [], box[0]
    for a, b in cuts:
        if a > x:
            out.append((x, min(a, box[2])))
        x = max(x, b)
    if x < box[2]:
        out.append((x, box[2]))
    return out


def rtl_words(words: Sequence[OcrWord]) -> list[OcrWord]:
    """The words of a right-to-left line (Persian, Arabic) in reading order, hyphen-joined numbers that
    Tesseract read backwards put right (:mod:`~mmretinal_builder.pdf.bidi`)."""
    ordered = logical_order(words, lambda w: w.text, lambda w: (w.bbox[0] + w.bbox[2]) / 2)
    return [replace(w, text=fix_reversed_number(w.text)) for w in ordered]


def split_at_gaps(words: Sequence[OcrWord], max_gap: float, ink: np.ndarray | None = None,
                  band: tuple[float, float] = (0.0, 0.0)) -> list[list[OcrWord]]:
    """Split a Tesseract line where words lie far apart (chart labels in a row, table cells): a PDF text
    layer keeps such labels apart too. With an ``ink`` image the gap must be blank on the print as well
    (drifting boxes of Chinese words open gaps that are not there)."""
    out = [[words[0]]]
    for w in words[1:]:
        left = out[-1][-1]
        if w.bbox[0] - left.bbox[2] > max_gap and _blank_run(ink, left, w, band) > max_gap:
            out.append([w])
        else:
            out[-1].append(w)
    return out


def _blank_run(ink: np.ndarray | None, left: OcrWord, right: OcrWord, band: tuple[float, float]) -> float:
    """Longest run of blank columns between two words' boxes (the box gap without an image)."""
    if ink is None:
        return right.bbox[0] - left.bbox[2]
    return _longest_blank(ink, left.bbox[2], right.bbox[0], band)
