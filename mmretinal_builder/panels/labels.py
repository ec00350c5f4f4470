"""Panel letters: from the PDF text near each panel, or OCR of letters burned into the raster.

Both sources give :class:`LabelToken` s (a normalised label and its box); :func:`assign_labels` then
binds tokens to panels with one placement for the whole figure (inside a corner, just below or just
above every panel), which is what figures do, and which keeps a stray letter from stealing a panel.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .. import geometry

#: A panel label as printed on a figure: ``a``, ``B``, ``(c)``, ``a1``, ``A.`` (full-width forms too).
LABEL_RE = re.compile(r"^[(（]?\s*([A-Za-z])\s*(\d{1,2})?\s*[)）]?[.．:：]?$")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LabelToken:
    """A candidate panel label and where it sits (page points or pixels, like the panels it goes with)."""

    label: str  # normalised: 'a', 'B', 'a1'
    box: Box
    source: str  # 'pdf-text' or 'ocr'
    paren: bool = False


def parse_label(text: str) -> tuple[str, bool] | None:
    """``'(a)'`` -> ``('a', True)``; None when ``text`` is not a panel label."""
    m = LABEL_RE.match(text.strip())
    if not m:
        return None
    return m.group(1) + (m.group(2) or ""), text.strip()[:1] in "(（"


def _center(b: Sequence[float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _inside(pt: tuple[float, float], b: Sequence[float]) -> bool:
    return b[0] <= pt[0] <= b[2] and b[1] <= pt[1] <= b[3]


# ------------------------------------------------------------------------------------------ PDF text


def pdf_label_tokens(words: Sequence[Sequence[Any]], region: Sequence[float],
                     exclude: Sequence[float] | None = None) -> list[LabelToken]:
    """Label tokens among PyMuPDF ``page.get_text("words")`` tuples whose centre lies in ``region``.

    A bare letter counts only as the first word of its line (``a Normal``), a parenthesised one anywhere
    on the line; ``( a )`` split over three words is joined. Words whose centre is in ``exclude`` (the
    caption) are ignored.
    """
    lines: dict[tuple[int, int], list[Sequence[Any]]] = {}
    for w in words:
        c = _center(w[:4])
        if not _inside(c, region) or (exclude is not None and _inside(c, exclude)):
            continue
        lines.setdefault((int(w[5]), int(w[6])), []).append(w)
    out: list[LabelToken] = []
    for key in sorted(lines):
        ws = sorted(lines[key], key=lambda w: (int(w[7]), w[0]))
        i = 0
        while i < len(ws):
            found = None
            for n in (3, 2, 1):  # longest first: '(' 'a' ')' before 'a'
                if i + n > len(ws):
                    continue
                text = "".join(str(w[4]) for w in ws[i:i + n])
                parsed = parse_label(text)
                if parsed is None or (n > 1 and not parsed[1]):
                    continue
                first_word = i == 0 or ws[i][0] - ws[i - 1][2] > 2.5 * (ws[i][3] - ws[i][1])
                if parsed[1] or first_word:
                    found = (n, parsed)
                    break
            if found is None:
                i += 1
                continue
            n, (label, paren) = found
            box = geometry.union([tuple(w[:4]) for w in ws[i:i + n]])
            out.append(LabelToken(label=label, box=tuple(box), source="pdf-text", paren=paren))
            i += n
    return out


# ------------------------------------------------------------------------------------------ assignment


def _placements(panel: Sequence[float], token: LabelToken, max_gap: float) -> dict[str, float]:
    """Distance of ``token`` to ``panel`` for each placement it is compatible with."""
    cx, cy = _center(token.box)
    w, h = geometry.width(panel), geometry.height(panel)
    out: dict[str, float] = {}
    if _inside((cx, cy), panel):
        corner = min(np.hypot(cx - x, cy - y) for x in (panel[0], panel[2]) for y in (panel[1], panel[3]))
        out["inside"] = corner / max(np.hypot(w, h), 1e-6)
    if panel[0] - 0.05 * w <= cx <= panel[2] + 0.05 * w:
        gap_below = token.box[1] - panel[3]
        if -0.1 * h <= gap_below <= max_gap * h and cy > panel[3] - 0.05 * h:
            out["below"] = max(gap_below, 0.0) / max(h, 1e-6)
        gap_above = panel[1] - token.box[3]
        if -0.1 * h <= gap_above <= max_gap * h and cy < panel[1] + 0.05 * h:
            out["above"] = max(gap_above, 0.0) / max(h, 1e-6)
    return out


def assign_labels(panels: Sequence[Sequence[float]], tokens: Sequence[LabelToken],
                  max_gap: float = 0.35) -> list[LabelToken | None]:
    """One token (or None) per panel, using the single placement that labels the most panels.

    Within a placement, the closest token-panel pairs are bound first, one to one; duplicated labels
    keep the closer token only.
    """
    best: tuple[int, float, int] | None = None
    best_result: list[LabelToken | None] = [None] * len(panels)
    for rank, mode in enumerate(("inside", "below", "above")):
        pairs = []
        for i, p in enumerate(panels):
            for j, t in enumerate(tokens):
                d = _placements(p, t, max_gap).get(mode)
                if d is not None:
                    pairs.append((d, i, j))
        pairs.sort()
        result: list[LabelToken | None] = [None] * len(panels)
        used_tokens: set[int] = set()
        used_labels: set[str] = set()
        total = 0.0
        for d, i, j in pairs:
            key = tokens[j].label.lower()
            if result[i] is not None or j in used_tokens or key in used_labels:
                continue
            result[i] = tokens[j]
            used_tokens.add(j)
            used_labels.add(key)
            total += d
        count = sum(r is not None for r in result)
        score = (count, -total, -rank)
        if count and (best is None or score > best):
            best, best_result = score, result
    return best_result


def label_key(label: str) -> tuple[str, int]:
    """Sort key of a label: ``'a2'`` -> ``('a', 2)``."""
    m = re.match(r"([A-Za-z])(\d*)$", label)
    if not m:
        return (label.lower(), 0)
    return (m.group(1).lower(), int(m.group(2) or 0))


def increasing_subset(labels: Sequence[str | None]) -> list[str | None]:
    """Keep the longest run of labels that increase in reading order; misreads become None.

    ``['e', 'b', 'c']`` (an 'a' read as 'e') -> ``[None, 'b', 'c']``.
    """
    idx = [i for i, x in enumerate(labels) if x]
    best: list[int] = []
    # O(n^2) longest increasing subsequence: figures have a handful of panels
    chains: dict[int, list[int]] = {}
    for i in idx:
        prev = [chains[j] for j in chains if label_key(labels[j]) < label_key(labels[i])]  # type: ignore[arg-type]
        chains[i] = max(prev, key=len, default=[]) + [i]
        if len(chains[i]) > len(best):
            best = chains[i]
    keep = set(best)
    return [x if i in keep else None for i, x in enumerate(labels)]


def plausible_sequence(labels: Sequence[str | None], strict_order: bool = False) -> bool:
    """Labels found on panels (reading order, None for unlabelled) look like one figure's letters.

    At least two labels, no duplicates, one letter case; with ``strict_order`` (OCR, which misreads)
    they must also increase in reading order.
    """
    found = [x for x in labels if x]
    if len(found) < 2 or len({x.lower() for x in found}) != len(found):
        return False
    cases = {x[0].isupper() for x in found}
    if len(cases) != 1:
        return False
    if strict_order:
        keys = [label_key(x) for x in found]
        return all(a < b for a, b in zip(keys, keys[1:], strict=False))
    return True


# ------------------------------------------------------------------------------------------ OCR

_WHITELIST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789()"


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _binarize(crop: np.ndarray, target_h: int) -> tuple[np.ndarray, float]:
    """Grey, scaled so the crop is about ``target_h`` px high, dark text on white, padded."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = float(np.clip(target_h / max(gray.shape[0], 1), 1.0, 8.0))
    if scale != 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if (bw < 128).mean() > 0.5:  # light text on a dark ground
        bw = 255 - bw
    pad = max(10, gray.shape[0] // 4)
    return cv2.copyMakeBorder(bw, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255), scale


def whitelist(letters: Sequence[str] | None = None) -> str:
    """Characters Tesseract may read: the caption's panel letters (both cases) when known, else all."""
    if not letters:
        return _WHITELIST
    chars = sorted({c for lab in letters for c in (lab[0].lower(), lab[0].upper())})
    return "".join(chars) + "0123456789()"


def _ocr_words(bw: np.ndarray, psm: int, lang: str, allowed: str = _WHITELIST
               ) -> list[tuple[str, float, tuple[int, int, int, int]]]:
    import pytesseract

    cfg = f"--psm {psm} -c tessedit_char_whitelist={allowed}"
    data = pytesseract.image_to_data(bw, lang=lang, config=cfg, output_type=pytesseract.Output.DICT)
    out = []
    for text, conf, x, y, w, h in zip(data["text"], data["conf"], data["left"], data["top"], data["width"],
                                      data["height"], strict=True):
        text = str(text).strip()
        if text:
            out.append((text, float(conf), (int(x), int(y), int(x) + int(w), int(y) + int(h))))
    return out


def ocr_strip_tokens(img: np.ndarray, strip: Sequence[int], lang: str = "eng",
                     min_conf: float = 40.0, allowed: str = _WHITELIST) -> list[LabelToken]:
    """Labels read from a thin strip of burned-in letters (e.g. ``(a) (b) (c)`` under a row of panels)."""
    x0, y0, x1, y1 = (int(v) for v in strip)
    crop = img[y0:y1, x0:x1]
    if crop.size == 0:
        return []
    bw, scale = _binarize(crop, 64)
    pad = max(10, int(round(crop.shape[0] * scale)) // 4)
    out = []
    for text, conf, (a, b, c, d) in _ocr_words(bw, 11, lang, allowed):
        parsed = parse_label(text)
        if parsed is None or conf < min_conf:
            continue
        box = (x0 + (a - pad) / scale, y0 + (b - pad) / scale, x0 + (c - pad) / scale, y0 + (d - pad) / scale)
        out.append(LabelToken(label=parsed[0], box=box, source="ocr", paren=parsed[1]))
    return out


def _glyph_mask(crop: np.ndarray) -> np.ndarray | None:
    """The printed label inside a corner crop as a black-on-white image, or None when there is none.

    Candidates are connected components of bright-on-dark or dark-on-bright pixels that do not touch the
    crop's border (the photo's surround does), are letter-sized, and stand out from a flat ring around
    them (fundus texture does not). Neighbours on the same line join the first one: ``(c)``, ``a1``.
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = gray.shape
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    best: tuple[float, np.ndarray] | None = None
    for mask in ((gray > max(t, 60)).astype(np.uint8), (gray < min(t, 160)).astype(np.uint8)):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        comps = []
        for i in range(1, n):
            x, y, cw, ch, area = (int(v) for v in stats[i])
            if x == 0 or y == 0 or x + cw >= w or y + ch >= h:
                continue
            if not (0.04 * h <= ch <= 0.8 * h and cw <= 1.5 * ch and 0.08 <= area / (cw * ch) <= 0.95):
                continue
            comp = lab == i
            filled = cv2.morphologyEx(comp[y:y + ch, x:x + cw].astype(np.uint8), cv2.MORPH_CLOSE,
                                      np.ones((3, 3), np.uint8))
            contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            solid = sum(cv2.contourArea(c) for c in contours) / float(cw * ch)
            if solid >= 0.9 and cw > 0.4 * ch:
                continue  # a filled box: the tag a letter is printed on, not the letter
            ring = cv2.dilate(comp.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~comp & (mask == 0)
            if ring.sum() < 10:
                continue
            contrast = abs(float(gray[comp].mean()) - float(gray[ring].mean()))
            if contrast < 60 or float(gray[ring].std()) > 45:
                continue
            comps.append((x, y, cw, ch, i, contrast, area))
        if not comps:
            continue
        first = max(comps, key=lambda c: (c[6], -c[0]))  # the biggest glyph (not a letter's hole)
        x, y, cw, ch, i, contrast, area = first
        chosen = [first]
        right = x + cw
        for c in sorted((c for c in comps if c is not first), key=lambda c: c[0]):  # same line, to the right
            overlap = min(y + ch, c[1] + c[3]) - max(y, c[1])
            if c[0] >= right - 1 and c[0] - right <= 0.6 * ch and overlap >= 0.4 * min(ch, c[3]):
                chosen.append(c)
                right = max(right, c[0] + c[2])
        left = x
        for c in sorted((c for c in comps if c is not first), key=lambda c: -c[0]):  # '(' to the left
            overlap = min(y + ch, c[1] + c[3]) - max(y, c[1])
            if c[0] + c[2] <= left + 1 and left - (c[0] + c[2]) <= 0.6 * ch and overlap >= 0.4 * min(ch, c[3]):
                chosen.append(c)
                left = min(left, c[0])
        for c in comps:  # the dot of an 'i' or 'j': small, above, within the letter's columns
            if c in chosen or c[3] > 0.5 * ch:
                continue
            if c[0] >= x - 2 and c[0] + c[2] <= x + cw + 2 and 0 <= y - (c[1] + c[3]) <= 0.5 * ch:
                chosen.append(c)
        sel = np.isin(lab, [c[4] for c in chosen])
        score = float(sum(c[6] for c in chosen))
        if best is None or score > best[0]:
            # the glyph's own grey levels (anti-aliased edges scale up cleanly), ground flattened to white
            ys, xs = np.nonzero(sel)
            m = max(2, int(0.15 * (ys.max() - ys.min() + 1)))
            ya, yb, xa, xb = max(0, ys.min() - m), ys.max() + 1 + m, max(0, xs.min() - m), xs.max() + 1 + m
            near = cv2.dilate(sel.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)[ya:yb, xa:xb]
            g = gray[ya:yb, xa:xb].astype(np.float32)
            fg, bg = float(gray[sel].mean()), float(gray[~sel & (mask == 0)][:].mean()) if (~sel).any() else 0.0
            ink = np.clip((g - bg) / (fg - bg if abs(fg - bg) > 1 else 1.0), 0, 1)
            ink[~near] = 0
            best = (score, (255 * (1 - ink)).astype(np.uint8))
    return best[1] if best is not None else None


def _corner(panel: Sequence[int], corner: str, frac: float) -> tuple[int, int, int]:
    """Top-left corner and side of the square crop in ``corner`` of ``panel`` where a label would sit."""
    x0, y0, x1, y1 = (int(v) for v in panel)
    w, h = x1 - x0, y1 - y0
    side = int(max(16, min(frac * min(w, h), 0.5 * min(w, h))))
    return (x0 if corner[1] == "l" else x1 - side), (y0 if corner[0] == "t" else y1 - side), side


def corner_glyph(img: np.ndarray, panel: Sequence[int], corner: str, frac: float = 0.22) -> int:
    """The height (pixels) of a letter-like mark in ``corner`` of ``panel``, 0 when there is none (no OCR:
    the glyph test alone)."""
    cx0, cy0, side = _corner(panel, corner, frac)
    crop = img[max(0, cy0):cy0 + side, max(0, cx0):cx0 + side]
    glyph = _glyph_mask(crop) if crop.size > 0 else None
    return 0 if glyph is None else int(glyph.shape[0])


def ocr_corner_tokens(img: np.ndarray, panel: Sequence[int], corner: str, lang: str = "eng",
                      frac: float = 0.22, min_conf: float = 40.0, allowed: str = _WHITELIST) -> list[LabelToken]:
    """A label burned into one corner (``'tl'``, ``'tr'``, ``'bl'``, ``'br'``) of ``panel``."""
    cx0, cy0, side = _corner(panel, corner, frac)
    crop = img[cy0:cy0 + side, cx0:cx0 + side]
    glyph = _glyph_mask(crop) if crop.size else None
    if glyph is None:
        return []
    # about 32 px high: much larger and Tesseract reads a lone 'a' as its counter ('e', 'C')
    scale = 32.0 / glyph.shape[0]
    glyph = cv2.resize(glyph, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    _, glyph = cv2.threshold(glyph, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    glyph = cv2.copyMakeBorder(glyph, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    best: tuple[float, str, bool] | None = None
    for psm in (8, 10, 7):  # Tesseract reads some glyphs only in one of these modes
        for text, conf, _ in _ocr_words(glyph, psm, lang, allowed):
            parsed = parse_label(_fold_case_pair(text))
            if parsed is not None and conf >= min_conf and (best is None or conf > best[0]):
                best = (conf, *parsed)
        if best is not None and best[0] >= 85:
            break
    if best is None:
        return []
    box = (float(cx0), float(cy0), float(cx0 + side), float(cy0 + side))
    return [LabelToken(label=best[1], box=box, source="ocr", paren=best[2])]


def _fold_case_pair(text: str) -> str:
    """Tesseract reads a letter whose cases look alike ('c', 'o', 's') as 'Cc': keep one."""
    t = text.strip()
    if len(t) == 2 and t[0] != t[1] and t[0].lower() == t[1].lower():
        return t[1]
    return t


def unify_case(labels: Sequence[str | None]) -> list[str | None]:
    """OCR labels in one case (the majority's): 'A', 'B', 'c' -> 'A', 'B', 'C'."""
    found = [x for x in labels if x]
    upper = sum(x[0].isupper() for x in found) > len(found) / 2
    return [None if x is None else (x[0].upper() if upper else x[0].lower()) + x[1:] for x in labels]
