"""OCR with positions: Tesseract (pytesseract) words grouped into :class:`TextLine` s in page points.

One page: render it (grey, ``dpi``, visible frame), estimate and undo its skew
(:mod:`~mmretinal_builder.pdf.deskew`), run ``image_to_data`` (TSV), group words by Tesseract's
block / paragraph / line numbers, and move each line back onto the unrotated page. Lines keep their
height and stay horizontal rows (a skewed line is moved rigidly to where its centre lies), so caption
detection and pairing, written for PDF text lines, read them unchanged. For scanned pages the figure
regions are found on the unrotated render too (:mod:`~mmretinal_builder.pdf.regions`).

Font sizes are estimated from the glyph boxes (baseline to cap/ascender height, or the ideograph
height) and evened out per paragraph; baselines from the bottoms of words without descenders.
Between Chinese characters the spaces Tesseract puts are removed; between a Chinese character and
Latin text a space is kept only where the print shows a gap.

Pages are read in a process pool when asked (:func:`read_pages`); Tesseract is then limited to one
thread per process (``OMP_THREAD_LIMIT=1``), the setting Tesseract's authors recommend for parallel runs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from ..geometry import BBox, area
from .deskew import Rotation, deskew, estimate_skew
from .page_model import ImagePlacement, PageModel, Span, TextLine
from .regions import RegionConfig, find_regions, solid_pictures
from .text_layer import is_hanzi

DEFAULT_LANG = "eng+chi_sim"
_DESCENDERS = set("gjpqy,;()[]{}|/\\Q@$_")
_TALL = set("bdfhklt0123456789!?%&#@$/\\|()[]{}'\"") | {chr(c) for c in range(ord("A"), ord("Z") + 1)}
_CAP_HEIGHT = 0.72  # cap / ascender height of Latin faces, in ems
_XHEIGHT = 0.52
_IDEOGRAPH = 0.88  # height of an ideograph's ink, in ems
CJK_SPACE = 0.2  # ems: a blank at least this wide between Chinese and Latin text is a space
SPLIT_GAP = 1.5  # ems: a wider gap between two words of a Tesseract line splits it
RUNNING_WIDTH = 150.0  # points: lines at least this wide are running text


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


@dataclass
class OcrPage:
    """What OCR found on one page, in page points of the visible frame."""

    number: int  # 1-based physical page
    size: tuple[float, float]
    lines: list[TextLine]
    words: list[BBox]  # boxes of the words kept (hulls on the unrotated page): the text mask
    regions: list[BBox]  # figure regions (empty unless asked for)
    skew: float  # degrees, OpenCV convention
    dpi: float
    error: str | None = None  # why the page could not be read (then nothing else is set)


# ----------------------------------------------------------------------------- Tesseract


def check_tesseract(lang: str) -> None:
    """Raise :class:`OcrError` naming the problem when Tesseract or one of ``lang`` is missing."""
    import pytesseract

    try:
        have = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as e:
        raise OcrError(f"Tesseract is not installed or not on PATH ({e}); install tesseract-ocr "
                       "with the eng and chi_sim language packs (see the README)") from None
    missing = [x for x in lang.split("+") if x and x not in have]
    if missing:
        raise OcrError(f"Tesseract lacks the language(s) {', '.join(missing)} (installed: "
                       f"{', '.join(sorted(have)) or 'none'}); install tesseract-ocr-<lang> or change ocr_lang")


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
        text = f[col["text"]].strip()
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


# ----------------------------------------------------------------------------- words -> lines


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

    ``;,:!?`` next to a Chinese character, brackets, and a ``.`` between a Latin letter or digit and a
    Chinese character (``A．视网膜``, ``图 2-1．``) become full-width; decimals (``0.8``) stay.
    """
    flat = "".join(texts)
    out = []
    for i, c in enumerate(flat):
        prev = flat[i - 1] if i > 0 else ""
        nxt = flat[i + 1] if i + 1 < len(flat) else ""
        if c in "()" or (c in _FULLWIDTH and ((prev and _cjk(prev)) or (nxt and _cjk(nxt)))):
            c = _FULLWIDTH[c]
        elif c == "." and prev.isascii() and prev.isalnum() and nxt and is_hanzi(nxt):
            c = "\uff0e"
        out.append(c)
    res, k = [], 0
    for t in texts:
        res.append("".join(out[k:k + len(t)]))
        k += len(t)
    return res


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


def _height(w: OcrWord) -> float:
    return w.bbox[3] - w.bbox[1]


def _width(w: OcrWord) -> float:
    return w.bbox[2] - w.bbox[0]


def line_geometry(words: Sequence[OcrWord]) -> tuple[BBox, float, float]:
    """(box, baseline y, font size) of one line in pixels, from its words' boxes and characters.

    Latin lines: baseline from the bottoms of words without descenders, size from cap/ascender or
    x-height. Chinese lines: size from the character pitch; Tesseract's boxes of Chinese words (and of
    Latin words among them) are sometimes as tall as the whole text row, so the line's vertical extent
    comes from the boxes of ideograph height only: one em-box tall, bottom at their median bottom.
    """
    x0, x1 = min(w.bbox[0] for w in words), max(w.bbox[2] for w in words)
    advance = _ideograph_advance(words)
    hz = [w for w in words if any(is_hanzi(c) for c in w.text)]
    if advance is not None and hz and advance > 1.5 * statistics.median(_height(w) for w in hz) / _IDEOGRAPH:
        advance = None  # characters spread apart (labels in a row, table cells): the pitch is not the size
    if advance is not None:
        normal = [w for w in hz if abs(_height(w) - _IDEOGRAPH * advance) <= 0.2 * advance]
        bottoms = sorted(w.bbox[3] for w in (normal or hz))
        bottom = statistics.median(bottoms) if normal else bottoms[len(bottoms) // 4]
        return (x0, bottom - _IDEOGRAPH * advance, x1, bottom), bottom, advance
    hz_h = statistics.median(_height(w) for w in hz) if hz else 0.0
    reliable = [w for w in words if not (hz and w in hz and _height(w) > 1.3 * hz_h)] or list(words)
    flat = [w.bbox[3] for w in reliable if not (set(w.text) & _DESCENDERS)]
    base = statistics.median(flat or [w.bbox[3] - 0.2 * _height(w) for w in reliable])
    sizes = []
    for w in reliable:
        if any(is_hanzi(c) for c in w.text):
            sizes.append(_height(w) / _IDEOGRAPH)
        elif set(w.text) & _TALL:
            sizes.append(max(base - w.bbox[1], 0.5 * _height(w)) / _CAP_HEIGHT)
        elif w.text.isalpha():
            sizes.append(max(base - w.bbox[1], 0.3 * _height(w)) / _XHEIGHT)
    size = statistics.median(sizes or [_height(w) / 0.9 for w in reliable])
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
    dropped (texture read as text); lines are split at wide gaps. Returns the lines and the boxes covering
    running text (page points, hulls on the unrotated page): the text mask of region finding.
    """
    groups: dict[tuple[int, int, int], list[OcrWord]] = defaultdict(list)
    for w in words:
        groups[(w.block, w.par, w.line)].append(w)
    raw: list[tuple[tuple[int, int], list[OcrWord], BBox, float, float]] = []
    for key in sorted(groups):
        ws = groups[key]  # Tesseract's reading order: its Chinese boxes may drift out of x order
        if not any(c.isalnum() for w in ws for c in w.text):
            continue
        if sum(w.conf for w in ws) / len(ws) < min_conf:
            continue
        box, _, size = line_geometry(ws)
        for seg in split_at_gaps(ws, SPLIT_GAP * size, ink, (box[1], box[3])):
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
    mask: list[BBox] = []
    for (par, ws, box, base, _), size_px in zip(raw, sizes, strict=True):
        dx, dy = rotation.shift_to_skewed(box) if rotation is not None else (0.0, 0.0)
        size_pt = round(size_px / scale * 4) / 4

        def pt(b: BBox, dx: float = dx, dy: float = dy) -> BBox:
            return ((b[0] + dx) / scale, (b[1] + dy) / scale, (b[2] + dx) / scale, (b[3] + dy) / scale)

        texts = join_words(ws, size_px, ink, (box[1], box[3]))
        spans = [Span(text=t, bbox=pt((w.bbox[0], box[1], w.bbox[2], box[3])), font="ocr", size=size_pt)
                 for t, w in zip(texts, ws, strict=True)]
        lines.append(TextLine(text="".join(texts), bbox=pt(box), spans=spans, block_id=block_ids[par],
                              source="ocr", baseline=(base + dy) / scale, horizontal=True))
    # a paragraph with a line of running text is running text, its short last line included
    running = {raw[i][0] for i, ln in enumerate(lines) if running_text(ln)}
    for (par, _, box, _, _), size_px in zip(raw, sizes, strict=True):
        if par not in running:
            continue
        # the line's band in pieces of three ems, each mapped as a hull: covers the ink of a skewed line
        # (and of Chinese glyphs whose word boxes drifted) without growing into what lies above or below
        pad = 0.15 * size_px
        x = box[0]
        while x < box[2]:
            piece = (x, box[1] - pad, min(box[2], x + 3 * size_px), box[3] + pad)
            hull = rotation.hull_to_skewed(piece) if rotation is not None else piece
            mask.append(tuple(v / scale for v in hull))  # type: ignore[arg-type]
            x += 3 * size_px
    return lines, mask


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


def running_text(line: TextLine) -> bool:
    """A line of running text (prose, caption), as opposed to a label: its words are masked out when
    looking for figure regions, while labels stay as ink and join the figure they sit next to."""
    cjk = sum(1 for c in line.text if is_hanzi(c))
    words = len(line.text.split())
    return words >= 4 or cjk >= 8 or (line.bbox[2] - line.bbox[0]) >= RUNNING_WIDTH


# ----------------------------------------------------------------------------- Chinese lines read as Latin

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
                or any(w.conf < WEAK_WORD and _width(w) >= size for w in ws))

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


# ----------------------------------------------------------------------------- pages


def render_gray(page: pymupdf.Page, dpi: float) -> np.ndarray:
    """The visible page as a grey image at ``dpi`` (page rotation applied, annotations left out).

    A page that is nothing but one upright JPEG/PNG scan is decoded and scaled with OpenCV (ten times
    faster than MuPDF's renderer, same pixels to within a grey level); anything else is rendered by MuPDF.
    """
    zoom = dpi / 72.0
    irect = (page.rect * pymupdf.Matrix(zoom, zoom)).irect
    fast = _scan_pixels(page, (irect.width, irect.height))
    if fast is not None:
        return fast
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False,
                          annots=False)
    arr = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
    return arr[:, : pix.width]


def _scan_pixels(page: pymupdf.Page, size: tuple[int, int]) -> np.ndarray | None:
    """The page's only image, decoded grey and scaled to ``size``, when that image is all the page shows."""
    if page.rotation or len(page.get_images(full=True)) != 1:
        return None
    infos = page.get_image_info()
    if len(infos) != 1 or page.get_cdrawings() or page.get_text("text").strip():
        return None
    a, b, c, d, e, f = infos[0]["transform"]
    w, h = page.rect.width, page.rect.height
    if abs(b) > 1e-3 or abs(c) > 1e-3 or abs(a - w) > 0.5 or abs(d - h) > 0.5 or abs(e) > 0.5 or abs(f) > 0.5:
        return None  # not placed exactly over the page, upright
    xref = page.get_images(full=True)[0][0]
    doc = page.parent
    try:
        info = doc.extract_image(xref)
    except (RuntimeError, ValueError):
        return None
    if not info or info.get("ext") not in ("jpeg", "jpg", "png") or info.get("colorspace") not in (1, 3) \
            or info.get("smask") or doc.xref_get_key(xref, "Decode")[0] != "null":
        return None
    img = cv2.imdecode(np.frombuffer(info["image"], np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    return cv2.resize(img, size, interpolation=cv2.INTER_LINEAR if size[0] >= img.shape[1] else cv2.INTER_AREA)


def read_page(page: pymupdf.Page, cfg: OcrConfig, regions: bool = False) -> OcrPage:
    """OCR one page: lines (and, when ``regions``, figure regions) in page points."""
    gray = render_gray(page, cfg.dpi)
    scale = gray.shape[1] / float(page.rect.width)
    angle = estimate_skew(gray, cfg.dpi, cfg.max_skew) if cfg.deskew else 0.0
    paper = int(np.percentile(gray[:: 8, :: 8], 90))
    straight, rotation = deskew(gray, angle, background=paper)
    straight = straight.copy() if straight is gray else straight
    inset = int(cfg.dpi / 72.0)  # keep a point of margin: a label may touch the photo
    for x0, y0, x1, y1 in solid_pictures(straight, cfg.dpi):
        straight[y0 + inset:y1 - inset, x0 + inset:x1 - inset] = paper
    ink = straight < int(0.6 * paper)
    words = run_tesseract(straight, cfg)
    words = reread_chinese_lines(straight, ink, words, cfg)
    words = rescue_line_starts(straight, ink, words, cfg)
    lines, mask = build_lines(words, scale, rotation, cfg.min_conf, ink=ink)
    found = find_regions(gray, cfg.dpi, mask, cfg.regions) if regions else []
    return OcrPage(number=page.number + 1, size=(float(page.rect.width), float(page.rect.height)), lines=lines,
                   words=mask, regions=found, skew=angle, dpi=cfg.dpi)


# ----------------------------------------------------------------------------- many pages

_DOC: dict[str, pymupdf.Document] = {}


def _worker_init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _read_safely(doc: pymupdf.Document, index: int, cfg: OcrConfig, regions: bool) -> OcrPage:
    """:func:`read_page`, with a page that cannot be rendered or read returned as an ``error``."""
    try:
        return read_page(doc.load_page(index), cfg, regions)
    except (RuntimeError, ValueError) as e:  # MuPDF cannot render it, or Tesseract failed on it (OcrError)
        return OcrPage(number=index + 1, size=(0.0, 0.0), lines=[], words=[], regions=[], skew=0.0, dpi=cfg.dpi,
                       error=str(e) or type(e).__name__)


def _read_one(path: str, index: int, cfg: OcrConfig, regions: bool) -> OcrPage:
    doc = _DOC.get(path)
    if doc is None:
        for old in _DOC.values():
            old.close()
        _DOC.clear()
        doc = _DOC[path] = pymupdf.open(path)
    return _read_safely(doc, index, cfg, regions)


def default_workers() -> int:
    """Processes for OCR when the recipe does not say: the CPU count, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def read_pages(path: Path, jobs: Sequence[tuple[int, bool]], cfg: OcrConfig, workers: int = 1,
               progress: Callable[[int, int], None] | None = None) -> Iterator[OcrPage]:
    """OCR pages of the PDF at ``path``: ``jobs`` = (0-based page index, find regions?), results in order.

    ``workers > 1`` reads pages in a process pool (each process opens the PDF once). A page that cannot
    be read comes back with ``error`` set.
    """
    total = len(jobs)
    if workers <= 1 or total <= 1:
        with pymupdf.open(str(path)) as doc:
            for k, (index, regions) in enumerate(jobs, 1):
                yield _read_safely(doc, index, cfg, regions)
                if progress is not None:
                    progress(k, total)
        return
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork: the caller may hold threads (progress bars, pools)
    with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(_read_one, str(path), index, cfg, regions) for index, regions in jobs]
        for k, fut in enumerate(futures, 1):
            yield fut.result()
            if progress is not None:
                progress(k, total)


# ----------------------------------------------------------------------------- page models

SCAN_COVER = 0.80  # an image covering this much of the page is the page's scan


def scan_index(model: PageModel) -> int | None:
    """Index of the image that covers the page (a scan), if any."""
    for i, img in enumerate(model.images):
        if area(img.bbox) >= SCAN_COVER * model.area:
            return i
    return None


def apply_ocr(model: PageModel, result: OcrPage) -> PageModel:
    """Put OCR results into ``model`` (in place, returned): OCR lines replace the PDF's lines.

    On a page covered by one image (a scan) that image becomes the page's ``scan_image`` and is flagged
    ``decoration``: it is the page's background, never figure material nor a barrier between a figure and
    its caption. Each figure region found on it becomes an ``ImagePlacement(xref=0)`` (rendered from the
    page, never passed through), with the scan's resolution as its pixel size.
    """
    if result.number != model.number:
        raise ValueError(f"OCR result of page {result.number} applied to page {model.number}")
    model.lines = list(result.lines)
    scan = scan_index(model)
    if scan is None:
        return model
    model.scan_image = scan
    model.images[scan].decoration = True
    dpi = max(model.images[scan].native_dpi, 72.0)
    for b in result.regions:
        w, h = b[2] - b[0], b[3] - b[1]
        model.images.append(ImagePlacement(
            xref=0, bbox=b, transform=(w, 0.0, 0.0, h, b[0], b[1]),
            width_px=max(1, round(w * dpi / 72.0)), height_px=max(1, round(h * dpi / 72.0)),
        ))
    return model


def ocr_models(path: Path, models: Sequence[PageModel], cfg: OcrConfig, workers: int = 1,
               progress: Callable[[int, int], None] | None = None) -> list[OcrPage]:
    """OCR every page of ``models`` whose text layer is ``none`` or ``broken`` and apply the results in
    place (figure regions only where a scan covers the page). Returns the results, in page order; pages
    that could not be read carry ``error`` and keep their model unchanged.

    Raises :class:`OcrError` when Tesseract or one of the languages is missing.
    """
    todo = [m for m in models if m.text_layer != "ok"]
    if not todo:
        return []
    check_tesseract(cfg.lang)
    jobs = [(m.number - 1, scan_index(m) is not None) for m in todo]
    out = []
    for m, res in zip(todo, read_pages(path, jobs, cfg, workers, progress), strict=True):
        if res.error is None:
            apply_ocr(m, res)
        out.append(res)
    return out
