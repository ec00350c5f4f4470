"""Repairs of Tesseract failures that cost whole captions.

Per page, each one extra run on the pages showing it:

* On a Chinese page, lines read as Latin garbage (``KRHM, REMBSS]``), with a wide word read at almost
  no confidence, or holding Latin words that are misread ideographs (``SL BRET``, ``BRA``) are read again
  with the Chinese model alone (:func:`reread_chinese_lines`).
* Glyphs dropped at the start of a line (a bold ``图`` before ``2-3．``) are read from the unread ink just
  left of the line (:func:`rescue_line_starts`).

Per book, on the text (no run): caption heads are made to agree with the book's numbering and label
spacing (``图 411`` -> ``图 4-11``, a dropped cue restored) by :func:`harmonise_caption_heads`.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..page_model import TextLine
from ..text_layer import is_hanzi
from .ocr_lines import line_geometry, word_width
from .tesseract import OcrConfig, OcrWord, run_tesseract

CJK_LANGS = ("chi_sim", "chi_tra", "chi_sim_vert", "chi_tra_vert", "jpn", "kor")
CHINESE_PAGE = 0.3  # share of ideographs among the characters read that makes a page Chinese
WEAK_WORD = 30.0  # a word read with less confidence (and at least an em wide) marks its line for re-reading
DOUBTFUL_LATIN = 70.0  # a Latin word read with less confidence in a Chinese line marks it for re-reading
WIDE_LATIN = 1.25  # letter pitch / letter height above which capitals are ideographs misread


def reread_chinese_lines(gray: np.ndarray, ink: np.ndarray, words: list[OcrWord], cfg: OcrConfig,
                         ) -> list[OcrWord]:
    """On a Chinese page, read again with the Chinese model alone the lines Tesseract read poorly.

    With several languages Tesseract sometimes settles on Latin for a whole line of Chinese (a caption
    line close to a photograph comes out as ``KRHM, REMBSS]``, with low confidence), or for a few
    characters of it (``SL BRET``, ``BRA``). On pages where ideographs dominate, lines whose mean
    confidence is below ``min_conf``, Latin lines in a Chinese paragraph, and Chinese lines holding a Latin
    word read with middling confidence (:func:`doubtful_latin`) or as wide as ideographs
    (:func:`ideographs_as_latin`) are cut out, stacked on one
    canvas and read in one extra run with the page's CJK languages only; a line's new reading replaces the
    old one when it is more confident per character. Pages in Latin script, or a configuration without a
    CJK language, are left alone (no extra run).
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
                or any(w.conf < WEAK_WORD and word_width(w) >= size for w in ws)
                or any(ideographs_as_latin(w, size) for w in ws)
                or (any(is_hanzi(c) for w in ws for c in w.text) and any(doubtful_latin(w) for w in ws)))

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
        if not ws or _char_conf(ws) <= _char_conf(old):
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


def doubtful_latin(word: OcrWord) -> bool:
    """A Latin word read with middling confidence: in a Chinese line, ``SL BRET`` for ``视盘色淡红``
    (acronyms that are really printed there, ``OCT``, ``NPDR``, are read at 85 and more)."""
    letters = word.text.strip(".,;:!?()[]'\"")
    return len(letters) >= 2 and letters.isascii() and letters.isalpha() and word.conf < DOUBTFUL_LATIN


def _char_conf(words: Sequence[OcrWord]) -> float:
    """Mean confidence per character: a long garbage word read at 18 weighs more than one ideograph at 95."""
    n = sum(len(w.text) for w in words)
    return sum(w.conf * len(w.text) for w in words) / n if n else 0.0


def ideographs_as_latin(word: OcrWord, size: float) -> bool:
    """Capital letters as wide as ideographs (``BRA`` for ``黄斑疾病``): a capital advances 0.6-0.9 em and
    is 0.72 em tall, so letters each wider than 1.25 times their height (and most of an em) are Chinese
    characters read with the Latin model."""
    text = word.text.strip(".,;:!?()[]'\"")
    if len(text) < 2 or not (text.isascii() and text.isalpha() and text.isupper()):
        return False
    pitch = word_width(word) / len(text)
    return pitch >= WIDE_LATIN * (word.bbox[3] - word.bbox[1]) and pitch >= 0.8 * size


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


# ----------------------------------------------------------------------------- caption heads of a book

# a line that opens with a cue word and a number: "图 4-11．", "FIG. 3.", "Figura 2.5"
_HEAD = re.compile(r"^(?P<cue>[^\W\d_]{1,10}\.?)(?P<sp>[ \u3000]?)(?P<num>\d{1,4}(?:(?P<sep>[-.\u2013\u2014\u4e00])\d{1,3})?)"
                   r"(?=[\uff0e.:\uff1a\s]|$)")
_ODD_SEPS = "\u2013\u2014\u4e00"  # dashes and 一 that Tesseract reads for a hyphen
_POINTS = ".\uff0e:\uff1a"  # what ends a label
# a line opening with a chapter-style number and the caption's point: its cue was dropped ("4-1．病理性")
_CUELESS = re.compile(r"^(?P<num>\d{1,2}[-.]\d{1,3})(?P<after>[\uff0e\uff1a:])")


def harmonise_caption_heads(pages: Sequence[list[TextLine]]) -> None:
    """Make OCR'd caption heads of one book agree with the way the book numbers and sets its labels.

    Per cue word (``图``, ``FIG.``), when most of its heads carry a chapter-style number (``4-11``):

    * a bare number of three or four digits whose split is a chapter seen elsewhere plus a figure number
      (``图 411`` with chapters 2, 3, 4 -> ``图 4-11``; ambiguous splits are left alone) gets the book's
      separator back, and a dash or ``一`` read for it becomes that separator;
    * the space between cue and number, and the point after the number, follow the book's majority
      (``图4-1`` -> ``图 4-1``, ``图 1-12. 2013年`` -> ``图 1-12．2013年``).

    Lines are edited in place (``pages``: the OCR lines of each page); only the characters that change
    are touched, inside the span holding them.
    """
    heads: dict[str, list[tuple[list[TextLine], int, re.Match[str]]]] = defaultdict(list)
    cueless: list[tuple[list[TextLine], int, re.Match[str]]] = []
    for lines in pages:
        for i, ln in enumerate(lines):
            if ln.source != "ocr":
                continue
            m = _HEAD.match(ln.text)
            if m:
                heads[m.group("cue")].append((lines, i, m))
            elif (c := _CUELESS.match(ln.text)) and not _continues_line_above(lines, i):
                cueless.append((lines, i, c))
    _restore_cues(heads, cueless)
    for found in heads.values():
        chaptered = [m for _, _, m in found if m.group("sep")]
        if len(chaptered) < 3 or len(chaptered) < 2 * (len(found) - len(chaptered)):
            continue
        seps = Counter(m.group("sep") for m in chaptered if m.group("sep") not in _ODD_SEPS)
        chapters = {m.group("num").split(m.group("sep"))[0] for m in chaptered}
        spaced = Counter(m.group("sp") for _, _, m in found)
        space = spaced.most_common(1)[0][0] if spaced.most_common(1)[0][1] >= 0.66 * len(found) else None
        points = Counter(_point_after(lines[i].text, m.end())[0] for lines, i, m in found)
        point, n_point = points.most_common(1)[0]
        point = point if point in _POINTS and n_point >= 0.66 * len(found) else None
        for lines, i, m in found:
            edits: list[tuple[int, int, str]] = []
            after, lead = _point_after(lines[i].text, m.end())
            if point is not None and after in _POINTS and (after != point or lead):
                # "图 1-12 . 2013年" in a book of "图 1-12．2013年": the point, and no space after a full-width one
                tail = lines[i].text[m.end() + lead + 1:]
                gap = len(tail) - len(tail.lstrip(" ")) if point in "\uff0e\uff1a" else 0
                edits.append((m.end(), m.end() + lead + 1 + gap, point))
            num, sep = m.group("num"), m.group("sep")
            if seps and not sep and 3 <= len(num) <= 4:
                splits = [k for k in range(1, len(num)) if num[:k] in chapters and len(num) - k <= 2
                          and num[k] != "0"]
                if len(splits) == 1:
                    edits.append((m.start("num") + splits[0], m.start("num") + splits[0], seps.most_common(1)[0][0]))
            elif seps and sep and sep in _ODD_SEPS:
                at = m.start("num") + num.index(sep)
                edits.append((at, at + 1, seps.most_common(1)[0][0]))
            if space is not None and m.group("sp") != space:
                edits.append((m.start("sp"), m.end("sp"), space))
            for a, b, new in sorted(edits, reverse=True):  # right to left: earlier offsets stay valid
                lines[i] = edit_line(lines[i], a, b, new)


def _point_after(text: str, end: int) -> tuple[str, int]:
    """The character after a head's number, spaces skipped, and how many spaces were skipped."""
    rest = text[end:]
    lead = len(rest) - len(rest.lstrip(" "))
    return rest[lead:lead + 1], lead


def _continues_line_above(lines: Sequence[TextLine], i: int) -> bool:
    """Line ``i`` continues an unfinished sentence in the line right above it (a wrapped reference)."""
    ln = lines[i]
    ends = ("\u3002", ".", "\uff01", "\uff1f", "!", "?")
    for o in lines:
        d = ln.base - o.base
        if (o is not ln and 0.3 * ln.size < d <= 1.8 * ln.size and min(o.bbox[2], ln.bbox[2]) > max(o.bbox[0], ln.bbox[0])
                and not o.text.rstrip().endswith(ends)):
            return True
    return False


def _restore_cues(heads: dict[str, list[tuple[list[TextLine], int, re.Match[str]]]],
                  cueless: list[tuple[list[TextLine], int, re.Match[str]]]) -> None:
    """Give a line that opens like the book's captions, minus the cue (``4-1．病理性``: Tesseract dropped a
    bold ``图``), the cue back: only when one cue's heads set such numbers with the same point after them
    at least three times (and three times as often as any other cue's), and the line does not continue a
    sentence above."""
    style: Counter[tuple[str, str, str]] = Counter()
    for cue, found in heads.items():
        for lines, i, m in found:
            after = lines[i].text[m.end():m.end() + 1]
            if m.group("sep") and after in "\uff0e\uff1a:" and after:
                style[(cue, m.group("sp"), after)] += 1
    for lines, i, c in cueless:
        fits = sorted(((n, k) for k, n in style.items() if k[2] == c.group("after") and n >= 3), reverse=True)
        if fits and (len(fits) == 1 or fits[0][0] >= 3 * fits[1][0]):  # figures outnumber tables: 图 over 表
            cue, sp, _ = fits[0][1]
            lines[i] = edit_line(lines[i], 0, 0, cue + sp)


def edit_line(line: TextLine, start: int, end: int, new: str) -> TextLine:
    """``line`` with ``text[start:end]`` replaced by ``new``; the spans it touches are edited (the new text
    goes to the first of them, an insertion at a span boundary to the span on the left, spans emptied by
    the edit are dropped). Unchanged when the spans do not add up to the line's text."""
    if "".join(s.text for s in line.spans) != line.text or not line.spans:
        return line
    spans: list = []
    pos = 0
    placed = False
    for sp in line.spans:
        a, b = pos, pos + len(sp.text)
        pos = b
        hit = a <= start < b or (start == end == b and not placed) or (a < end and start < b)
        if not hit or placed and b <= end:
            if not (placed and a < end and b <= end):  # a span the edit swallowed whole is dropped
                spans.append(sp)
            continue
        head = sp.text[:max(0, start - a)] if not placed else ""
        tail = sp.text[end - a:] if end <= b else ""
        text = head + ("" if placed else new) + tail
        placed = True
        if text:
            spans.append(sp._replace(text=text))
    text = "".join(s.text for s in spans)
    if not placed or text != line.text[:start] + new + line.text[end:]:
        return line
    return replace(line, text=text, spans=spans)
