"""Is a page's text layer usable? ``ok``, ``none`` (no text: a scan or a picture page) or ``broken``.

A broken layer is one whose characters do not map to real text (legacy font encodings without a
ToUnicode map, wrong ToUnicode maps, unmapped glyphs). The checks, in order, each with a reason:

* ``unmapped``: U+FFFD, private-use code points, control characters;
* ``rare-symbols``: too many characters outside letters, digits and everyday punctuation (Latin-1 symbols
  and accented capitals are what a shuffled one-byte encoding produces: ``Ù¨Õ¤``);
* ``malformed-words``: too few characters inside word-shaped tokens (``k7#Q`` is not a word; web addresses and
  snake_case names are words), unless the page's Latin words hold enough common function words (a program listing
  with its prose: a wrong font map leaves no "the");
* ``rare-hanzi``: Chinese text whose ideographs are mostly outside the common sets (GB2312 level 1 and
  Big5 frequent characters, ~6700 of ~21000): a CJK font with a wrong map gives rare, random ideographs;
* ``script-mismatch``: the book's declared language expects CJK and the page has none (or the reverse);
* ``no-words``: plenty of Latin words but neither common function words nor a plausible share of vowels
  (letters substituted for other letters).

Leaders (a character repeated as fill: the dots of a table of contents, ``-----`` rules) are typography, not text:
they are left out before anything is counted.

The OCR reader re-reads ``none`` and ``broken`` pages; this module only tells them apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .page_model import PageModel, TextLayer

MIN_CHARS = 10  # fewer visible characters than this: the page has no text layer
MAX_BAD = 0.10  # share of unmappable characters above which the layer is broken
MIN_WORDLIKE = 0.40  # share of letters/digits/CJK below which the layer is broken
MAX_RARE = 0.12  # share of rare symbols above which the layer is broken
MIN_WELLFORMED = 0.55  # share of characters in word-shaped tokens below which the layer is broken
MIN_COMMON_HANZI = 0.70  # share of common ideographs below which Chinese text is broken
MIN_HANZI = 10  # ideographs needed before the common-hanzi check speaks
MIN_WORDS = 30  # Latin tokens needed before the function-word check speaks

#: Everyday punctuation and symbols of printed text (besides ASCII letters and digits).
_PUNCT = set(".,;:!?()[]{}'\"-/%&+=*<>#@_|~^`$\\" "\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2022\u00b7\u00b0"
             "\u00b1\u00b5\u00d7\u2212\u2264\u2265\u00ae\u00a9\u2122\u2020\u2021\u00a7\u00b6\u2032\u2033\u2192")
_TOKEN = re.compile(r"^[(\[{\"'\u2018\u201c]*(?P<core>.*?)[)\]}\"'\u2019\u201d.,;:!?%*\u2020\u2021]*$")
_WORD = re.compile(
    r"^(?:[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+(?:['\u2019\-./][A-Za-z\u00c0-\u024f0-9]+)*"
    r"|[0-9]+(?:[.,:\-/x\u00d7][0-9]+)*[A-Za-z\u00b5\u00b0%]{0,3}|[A-Za-z]{1,3}[\-]?[0-9]+[a-z]?)$"
)
_VOWELS = set("aeiouyAEIOUY\u00e0\u00e1\u00e2\u00e4\u00e8\u00e9\u00ea\u00eb\u00ec\u00ed\u00ee\u00ef\u00f2\u00f3"
              "\u00f4\u00f6\u00f9\u00fa\u00fb\u00fc\u00c0\u00c1\u00c9\u00cd\u00d3\u00da")
#: Function words of the Latin-script languages the atlases use (en, es, de, fr, it, pt).
_COMMON_WORDS = frozenset(w for words in (
    "a an the of and or in on at to for with by from as is are was were be been has have had not no this that",
    "these those which who it its into than then there their but also may can all one two both each after",
    "before between during under over more most other such when where while showing shows shown see figure",
    "fig arrow arrows left right eye eyes patient case",
    "el la los las de del y en con por para un una que se es al lo su sus como o e muestra ojo",
    "der die das den dem des und mit von im ist zu ein eine bei auf nach aus sich oder wird sind",
    "le les du des et dans pour par sur une est au aux avec il elle",
    "il lo gli della delle nel con per che sono",
    "o os as do da dos das em no na com um uma que",
) for w in words.split())
_CJK_SCRIPTS = ("zh", "ja", "ko", "chi", "jpn", "kor")
#: A leader: one fill character repeated (dot leaders of a table of contents or an index, rules and banners typed as
#: ``-----``, ``=====`` or ``#####`` in listings), single spaces allowed between (TeX's ``\dotfill`` sets
#: ". . . ."). Typography, not text: left out before any share is counted. A wrong font map does not repeat a
#: character four times unless the printed page did.
_LEADER = re.compile("([.\u00b7\u2024\u2026\u22ef_\\-=*~#+/])(?: ?\\1){3,}")
#: Any other character six times in a row: the leaders of a page whose font map is wrong (the dot became another
#: character). No word repeats a character six times; unmapped characters are not runs (the first check counts
#: them). Left out of the word checks (:func:`_token_facts`, once per distinct token).
_RUN = re.compile("([^\\s\ufffd\ue000-\uf8ff\x00-\x1f])\\1{5,}")
#: A web or e-mail address, or a snake_case name: well-formed tokens of reference lists, manuals and their indexes.
_ADDRESS = re.compile(r"^(?:(?:https?|ftp)://|www\.)[!-~]+$|^[\w.+-]+@[\w-]+\.[\w.-]+$"
                      r"|^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?:\(\))?$")
#: Share of common function words among a page's Latin words above which the page is read as text even when many
#: of its tokens are not word-shaped (program listings, paths, stack traces): a wrong font map leaves no "the".
MIN_FUNCTION_WORDS_FOR_CODE = 0.15
#: one CJK or full-width character (is_hanzi or _cjk_or_fullwidth below, as a character class)
_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u3000-\u30ff\uff00-\uffef\uac00-\ud7af]")


@dataclass
class TextLayerReport:
    """The verdict on a page's text layer, with the reason and the statistics behind it."""

    layer: TextLayer
    reason: str
    stats: dict[str, float] = field(default_factory=dict)


def _bad(ch: str) -> bool:
    o = ord(ch)
    return (
        o == 0xFFFD
        or 0xE000 <= o <= 0xF8FF  # private use: glyphs with no Unicode meaning
        or o >= 0xF0000
        or o < 0x20
        or 0x7F <= o <= 0x9F
    )


def is_hanzi(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def _cjk_or_fullwidth(ch: str) -> bool:
    o = ord(ch)
    return is_hanzi(ch) or 0x3000 <= o <= 0x30FF or 0xFF00 <= o <= 0xFFEF or 0xAC00 <= o <= 0xD7AF


@lru_cache(maxsize=1)
def common_hanzi() -> frozenset[str]:
    """GB2312 level-1 (3755 most used simplified) plus Big5 frequent (5401 traditional) ideographs."""
    out: set[str] = set()
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    for hi in range(0xA4, 0xC7):
        for lo in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            try:
                ch = bytes([hi, lo]).decode("big5")
            except UnicodeDecodeError:
                continue
            if is_hanzi(ch):
                out.add(ch)
    return frozenset(out)


def _rare(ch: str) -> bool:
    """Not a letter of a common script, a digit or everyday punctuation."""
    if ch.isascii():
        return not (ch.isalnum() or ch in _PUNCT)
    if ch in _PUNCT or _cjk_or_fullwidth(ch):
        return False
    cat = unicodedata.category(ch)
    if cat in ("Ll", "Lo", "Lm", "Mn", "Nd", "No"):
        # lower-case accented letters are ordinary in European text; a *lot* of them is caught below
        return not (0x00DF <= ord(ch) <= 0x024F or 0x0370 <= ord(ch) <= 0x04FF or ord(ch) > 0x2000)
    if cat == "Lu":
        return 0x00C0 <= ord(ch) <= 0x00DE  # Latin-1 capitals: the signature of a shuffled one-byte font
    return True


_IS_BAD, _IS_ALNUM, _IS_HANZI, _IS_CJK, _IS_RARE = 1, 2, 4, 8, 16
#: character -> what it is (the flags above), filled as pages are read: the same few hundred characters every page
_CHAR_FACTS: dict[str, int] = {}
#: token -> (its length, the length of its word-shaped parts, its words), each word of a token (a part whose core is
#: all letters, lower-cased) as (is a common function word, its vowels, its letters); filled as pages are read (a
#: token's parts: the token itself, or what is left around a run of one character, see _RUN)
_TOKEN_FACTS: dict[str, tuple[int, int, tuple[tuple[bool, int, int], ...]]] = {}
_FACTS_MAX = 200_000  # entries; a table over this is emptied (books of random tokens must not grow it for ever)


def _char_facts(c: str) -> int:
    if len(_CHAR_FACTS) > _FACTS_MAX:
        _CHAR_FACTS.clear()
    cjk = _cjk_or_fullwidth(c)
    f = ((_IS_BAD if _bad(c) else 0) | (_IS_ALNUM if c.isalnum() else 0) | (_IS_HANZI if is_hanzi(c) else 0)
         | (_IS_CJK if cjk else 0) | (_IS_RARE if not cjk and _rare(c) else 0))
    _CHAR_FACTS[c] = f
    return f


def _token_facts(t: str) -> tuple[int, int, tuple[tuple[bool, int, int], ...]]:
    if len(_TOKEN_FACTS) > _FACTS_MAX:
        _TOKEN_FACTS.clear()
    length = good = 0
    words: list[tuple[bool, int, int]] = []
    for part in _RUN.sub(" ", t).split() if len(t) >= 6 and _RUN.search(t) else (t,):
        m = _TOKEN.match(part)
        core = m.group("core") if m else part
        length += len(part)
        if core and (_WORD.match(core) or _ADDRESS.match(core)):
            good += len(part)
        if core.isalpha():
            w = core.lower()
            words.append((w in _COMMON_WORDS, sum(1 for ch in w if ch in _VOWELS), len(w)))
    f = _TOKEN_FACTS[t] = (length, good, tuple(words))
    return f


def assess_text(text: str, lang: str | list[str] | None = None) -> TextLayerReport:
    """Classify a page's worth of extracted text (see the module docstring for the checks). ``lang``: the
    book's declared language(s), e.g. ``zh``, ``chi_sim`` or ``["fas", "eng"]`` (the first one counts)."""
    if isinstance(lang, (list, tuple)):
        lang = str(lang[0]) if lang else None
    # Every per-character check runs once per distinct character, weighted by its count: a page has thousands of
    # characters but a few hundred distinct ones (the pages stage classifies every page of every book), and what
    # each character is comes from a table kept across pages.
    text = _LEADER.sub(" ", text)
    counts = Counter("".join(text.split()))  # the non-space characters (split: the spaces of str.isspace)
    n = sum(counts.values())
    if n < MIN_CHARS:
        return TextLayerReport("none", "no-text", {"chars": float(n)})
    bad = alnum = cjk = rare_chars = 0
    hanzi: dict[str, int] = {}
    facts = _CHAR_FACTS
    for c, k in counts.items():
        f = facts.get(c)
        if f is None:
            f = _char_facts(c)
        if f & _IS_BAD:
            bad += k
        if f & _IS_ALNUM:
            alnum += k
        if f & _IS_HANZI:
            hanzi[c] = k
        if f & _IS_CJK:
            cjk += k
        elif f & _IS_RARE:
            rare_chars += k
    stats: dict[str, float] = {"chars": float(n)}
    stats["unmapped"] = round(bad / n, 4)
    if bad / n > MAX_BAD:
        return TextLayerReport("broken", "unmapped", stats)
    wordlike = alnum / n
    stats["wordlike"] = round(wordlike, 4)
    if wordlike < MIN_WORDLIKE:
        return TextLayerReport("broken", "rare-symbols", stats)
    n_hanzi = sum(hanzi.values())
    stats["cjk"] = round(cjk / n, 4)
    rare = rare_chars / n
    stats["rare"] = round(rare, 4)
    if rare > MAX_RARE and rare * n >= 2:
        return TextLayerReport("broken", "rare-symbols", stats)
    if n_hanzi >= MIN_HANZI:
        common = common_hanzi()
        share = sum(k for c, k in hanzi.items() if c in common) / n_hanzi
        stats["common_hanzi"] = round(share, 4)
        if share < MIN_COMMON_HANZI:
            return TextLayerReport("broken", "rare-hanzi", stats)
    want_cjk = bool(lang) and str(lang).lower().startswith(_CJK_SCRIPTS)
    if lang and n >= 4 * MIN_CHARS:
        if want_cjk and cjk == 0 and rare > 0.02:
            return TextLayerReport("broken", "script-mismatch", stats)
        if not want_cjk and cjk > 0.5 * n:
            return TextLayerReport("broken", "script-mismatch", stats)
    # Latin words: shape, function words, vowels
    # Each distinct token is matched once, weighted by its count (as the characters above): the sums are the
    # same integers as token by token.
    tokens = Counter((text if text.isascii() else _CJK.sub(" ", text)).split())
    if tokens:
        # integer sums over the distinct tokens weighted by their counts: the same numbers as word by word
        total = good = n_words = n_function = n_vowels = n_letters = 0
        token_facts = _TOKEN_FACTS
        for t, k in tokens.items():
            f = token_facts.get(t)
            if f is None:
                f = _token_facts(t)
            total += f[0] * k
            good += f[1] * k
            for common, vowel_count, letter_count in f[2]:
                n_words += k
                n_function += k if common else 0
                n_vowels += vowel_count * k
                n_letters += letter_count * k
        stats["wellformed"] = round(good / max(total, 1), 4)
        function = n_function / max(n_words, 1)
        if total >= 2 * MIN_CHARS and good / total < MIN_WELLFORMED:
            # program listings, paths and stack traces are not word-shaped either; their prose around is
            if n_words < MIN_WORDS or function < MIN_FUNCTION_WORDS_FOR_CODE:
                return TextLayerReport("broken", "malformed-words", stats)
            stats["function_words"] = round(function, 4)
        if n_words >= MIN_WORDS:
            vowels = n_vowels / max(n_letters, 1)
            stats["function_words"] = round(function, 4)
            stats["vowels"] = round(vowels, 4)
            if function < 0.03 and not 0.28 <= vowels <= 0.62:
                return TextLayerReport("broken", "no-words", stats)
    return TextLayerReport("ok", "ok", stats)


def assess_text_layer(model: PageModel, lang: str | list[str] | None = None) -> TextLayerReport:
    """Assess the PDF text of ``model`` (OCR lines are ignored: they are the remedy, not the layer)."""
    return assess_text("\n".join(ln.text for ln in model.lines if ln.source == "pdf"), lang)


def classify_text_layer(model: PageModel, lang: str | list[str] | None = None) -> TextLayer:
    """``ok``, ``none`` or ``broken`` for the PDF text of ``model``."""
    return assess_text_layer(model, lang).layer
