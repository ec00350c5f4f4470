"""Caption checks: empty, too short (a single word), or full of OCR noise.

A caption that fails a check is flagged in ``CaptionText.flags`` (``empty``, ``too-short``,
``ocr-noise``) and counted; the clean stage drops it only when its Params say so.

OCR noise is measured per token: a token is clean when it is a word (letters, inner hyphens or
apostrophes, a vowel when it is a long lower-case word), a number, a panel label such as ``(a)`` or
``a1``, or a known unit; anything else (``l1|i``, ``#@~``, ``rnmw``) is noise. Chinese text counts
characters that are neither Han, CJK punctuation, nor ordinary ASCII.
"""

from __future__ import annotations

import re

from .language import HAN_RE

_STRIP = "()[]{}.,;:!?\"'“”‘’«»–—-/"
_WORD_RE = re.compile(r"^[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+(?:[-'’][A-Za-z\u00c0-\u024f\u0400-\u04ff]+)*$")
_NUMBER_RE = re.compile(r"^[±+\-]?\d+(?:[.,:/×x\-–]\d+)*(?:%|°|mm|μm|µm|um|cm|ms|s|min|h|d|y)?$")
_LABELISH_RE = re.compile(r"^(?:[A-Za-z]\d{0,2}|\d{1,2}[A-Za-z]|[ivxIVX]{1,4}|[A-Za-z]-[A-Za-z])$")
_VOWEL_RE = re.compile(r"[aeiouyAEIOUY\u00c0-\u024f]")
_ODD_CHARS_RE = re.compile(r"[^\w\s.,;:!?()\[\]{}\"'“”‘’%°±×/\-–—+=<>μµ~·。，、；：！？（）［］【】《》「」『』…]")


def _token_is_clean(tok: str) -> bool:
    core = tok.strip(_STRIP)
    if not core:
        return True  # punctuation alone ("-", "(") is layout, not noise
    if _NUMBER_RE.match(core) or _LABELISH_RE.match(core):
        return True
    if not _WORD_RE.match(core):
        # a word of a script without letter case (Persian, Arabic, Hebrew, Devanagari ...) is a word
        return all(c.isalpha() and not (c.isupper() or c.islower()) for c in core.replace("\u200c", ""))
    if core.isupper() or core[:1].isupper() and core[1:].islower() or core.islower():
        # long lower-case runs without vowels ("rnmw", "tlhf") are OCR confusions
        return not (len(core) >= 4 and core.islower() and not _VOWEL_RE.search(core))
    return False  # mixed case inside a word ("tHe", "reTina")


def noise_ratio_en(text: str) -> float:
    """Fraction of noisy tokens (0 for an empty text)."""
    toks = text.split()
    if not toks:
        return 0.0
    return sum(not _token_is_clean(t) for t in toks) / len(toks)


def noise_ratio_zh(text: str) -> float:
    """Fraction of characters that are odd symbols or replacement characters."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    odd = sum(1 for c in chars if c == "\ufffd" or (not HAN_RE.match(c) and _ODD_CHARS_RE.match(c)))
    return odd / len(chars)


def word_count(text: str | None) -> int:
    """Words of any alphabetic script (Chinese is counted in characters elsewhere)."""
    return len([w for w in re.findall(r"[^\W\d_]+", text or "") if not HAN_RE.search(w)])


def caption_flags(en: str | None, zh: str | None, *, min_words_en: int = 2, min_chars_zh: int = 4,
                  max_noise: float = 0.4) -> list[str]:
    """Flags of a cleaned caption, in a fixed order."""
    flags: list[str] = []
    if not (en or zh):
        return ["empty"]
    en_short = word_count(en) < min_words_en
    zh_short = len(HAN_RE.findall(zh or "")) < min_chars_zh
    if en_short and zh_short:
        flags.append("too-short")
    noisy = False
    if en:
        n_tok = len(en.split())
        ratio = noise_ratio_en(en)
        odd = len(_ODD_CHARS_RE.findall(en)) / max(1, sum(not c.isspace() for c in en))
        noisy |= (n_tok >= 3 and ratio > max_noise) or odd > max_noise / 2 or "\ufffd" in en
    if zh:
        noisy |= noise_ratio_zh(zh) > max_noise / 2
    if noisy:
        flags.append("ocr-noise")
    return flags
