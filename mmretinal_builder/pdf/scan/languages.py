"""Which languages Tesseract reads a book in: the recipe's, else the book's script as Tesseract detects it.

Order of precedence:

1. the book's ``lang`` in the recipe (``books: {thesis.pdf: {lang: [fas]}}``; Tesseract codes such as ``fas``,
   ``chi_tra``, ``eng+spa``, or ISO 639-1 codes such as ``es``, ``zh-Hant``);
2. the extract stage's ``ocr_lang`` when it is set to something other than ``auto``;
3. detection: Tesseract's orientation and script detection (``--psm 0``, the ``osd`` pack) on a few sample
   pages gives the script (Latin, Han, Arabic, Cyrillic ...); a Latin-script book is read once more on one
   page to tell Spanish, Portuguese, French, German or Italian from English by their function words, a Han
   one to tell traditional from simplified characters. English is always added for the Latin terms
   (OCT, FFA) every ophthalmology text prints;
4. ``DEFAULT_LANG`` when detection cannot run.

A language whose pack is not installed is left out with a warning that names the package to install
(``apt-get install tesseract-ocr-fas``); only when none is left is it an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .tesseract import DEFAULT_LANG, OcrError

#: ISO 639-1 codes (and a few names) -> Tesseract language codes.
ISO_TO_TESSERACT: dict[str, str] = {
    "en": "eng", "english": "eng", "zh": "chi_sim", "zh-cn": "chi_sim", "zh-hans": "chi_sim", "chinese": "chi_sim",
    "zh-tw": "chi_tra", "zh-hk": "chi_tra", "zh-hant": "chi_tra", "es": "spa", "spanish": "spa", "pt": "por",
    "portuguese": "por", "fr": "fra", "french": "fra", "de": "deu", "german": "deu", "it": "ita", "italian": "ita",
    "fa": "fas", "persian": "fas", "farsi": "fas", "ar": "ara", "arabic": "ara", "ru": "rus", "uk": "ukr",
    "el": "ell", "he": "heb", "ja": "jpn", "ko": "kor", "tr": "tur", "nl": "nld", "pl": "pol", "cs": "ces",
    "sv": "swe", "da": "dan", "fi": "fin", "no": "nor", "hu": "hun", "ro": "ron", "hi": "hin", "ur": "urd",
    "th": "tha", "vi": "vie", "id": "ind", "ms": "msa", "ca": "cat", "gl": "glg", "eu": "eus",
}
#: Tesseract's OSD script names -> the languages that read them (those installed are used, in this order).
SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "Latin": ("eng",), "Han": ("chi_sim",), "Arabic": ("fas", "ara", "urd"), "Cyrillic": ("rus", "ukr"),
    "Greek": ("ell",), "Hebrew": ("heb",), "Hangul": ("kor",), "Japanese": ("jpn",), "Katakana": ("jpn",),
    "Hiragana": ("jpn",), "Devanagari": ("hin",), "Thai": ("tha",),
}
#: Function words that tell the Latin-script languages of medical books apart (and the Tesseract code).
_FUNCTION_WORDS: dict[str, frozenset[str]] = {code: frozenset(words.split()) for code, words in {
    "eng": "the of and in with is are was were to for from by this that which on at an as",
    "spa": "el la los las del y en con por para una que se es al su como muestra ojo",
    "por": "o os as do da dos das em no na com um uma que se ao pelo pela olho não",
    "fra": "le les du des et dans pour par sur une est au aux avec il elle œil qui",
    "deu": "der die das den dem des und mit von im ist zu ein eine bei auf nach aus wird sind",
    "ita": "il lo gli della delle del nel con per che sono una degli occhio della",
}.items()}
_CODE = re.compile(r"^[a-z]{3}(?:_[a-z]+)*$")
LATIN_LANGS = frozenset(_FUNCTION_WORDS)


@dataclass
class LanguageChoice:
    """The languages a book is read in, where they came from, and what went wrong on the way."""

    lang: str  # Tesseract's "+"-joined form, primary language first
    source: str  # recipe | stage | detected | default
    warnings: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)  # what OSD saw (detection only)


def tesseract_codes(lang: str | Sequence[str] | None) -> list[str]:
    """``"eng+chi_sim"``, ``["fas"]``, ``"es, en"``, ``"zh-Hant"`` -> Tesseract codes (duplicates dropped).

    Raises ``ValueError`` naming an entry that is neither a Tesseract code nor a known ISO code.
    """
    if lang is None:
        return []
    items = [lang] if isinstance(lang, str) else list(lang)
    out: list[str] = []
    for item in items:
        for part in re.split(r"[+,;\s]+", str(item).strip()):
            if not part:
                continue
            low = part.lower()
            code = ISO_TO_TESSERACT.get(low.replace("_", "-")) or (low if _CODE.match(low) else None)
            if code is None:
                raise ValueError(f"unknown OCR language {part!r} (use Tesseract codes such as eng, fas, chi_tra, "
                                 "or ISO codes such as en, fa, zh-Hant)")
            if code not in out:
                out.append(code)
    return out


def apt_package(code: str) -> str:
    """The Debian/Ubuntu package holding a Tesseract language (``chi_sim`` -> ``tesseract-ocr-chi-sim``)."""
    return "tesseract-ocr-" + code.lower().replace("_", "-")


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Tesseract's installed language packs; raises :class:`OcrError` when Tesseract is missing."""
    import pytesseract

    try:
        return frozenset(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError) as e:
        raise OcrError(f"Tesseract is not installed or not on PATH ({e}); install tesseract-ocr and its "
                       "language packs (make system-deps)") from None


def keep_installed(codes: Sequence[str], installed: frozenset[str], why: str) -> tuple[list[str], list[str]]:
    """The installed subset of ``codes`` and one warning per missing pack (naming the apt package)."""
    have = [c for c in codes if c in installed]
    warnings = [f"Tesseract has no '{c}' language pack ({why}): pages are read without it; install it with "
                f"`apt-get install {apt_package(c)}`" for c in codes if c not in installed]
    return have, warnings


def choose_languages(book_lang: str | Sequence[str] | None, stage_lang: str | None,
                     samples: Callable[[], list[np.ndarray]],
                     installed: frozenset[str] | None = None) -> LanguageChoice:
    """The languages to read one book in (see the module docstring). ``samples`` renders a few of the
    book's pages (grey, about 150 dpi) and is only called when detection is needed."""
    inst = installed if installed is not None else installed_languages()
    for source, value in (("recipe", book_lang), ("stage", None if stage_lang in (None, "", "auto") else stage_lang)):
        try:
            codes = tesseract_codes(value)
        except ValueError as e:
            raise OcrError(f"{source} language: {e}") from None
        if codes:
            have, warnings = keep_installed(codes, inst, f"asked for by the {source}")
            if not have:
                raise OcrError(f"none of the OCR languages {'+'.join(codes)} is installed; install "
                               + ", ".join(apt_package(c) for c in codes))
            return LanguageChoice("+".join(have), source, warnings)
    if "osd" not in inst:
        have, warnings = keep_installed(tesseract_codes(DEFAULT_LANG), inst, "the default")
        warnings.insert(0, "script detection needs Tesseract's 'osd' pack (`apt-get install tesseract-ocr-osd`); "
                           f"reading with {'+'.join(have) or 'nothing'}")
        if not have:
            raise OcrError(f"no OCR language installed; install {apt_package('eng')}")
        return LanguageChoice("+".join(have), "default", warnings)
    pages = samples()
    scripts, text = book_scripts(pages, inst)
    codes, notes = languages_for(scripts, pages, inst, text)
    if not codes:
        codes = [c for c in tesseract_codes(DEFAULT_LANG) if c in inst] or ["eng"]
        return LanguageChoice("+".join(codes), "default", notes, scripts)
    return LanguageChoice("+".join(codes), "detected", notes, scripts)


def book_scripts(pages: Sequence[np.ndarray], installed: frozenset[str]) -> tuple[list[str], str]:
    """The book's scripts, main one first, and a sample of its text when one was read.

    OSD is sure of Arabic, Cyrillic, Greek ... but mistakes Chinese print for Latin (and the reverse) on
    many pages, so when it says Latin or Han, or nothing, a third of one page is read with English and
    Chinese and the characters decide."""
    scripts = detect_scripts(pages)
    text = ""
    if pages and (not scripts or scripts[0] in ("Latin", "Han")):
        lang = "+".join(c for c in ("eng", "chi_sim") if c in installed) or "eng"
        text = _read(_band(pages[0]), lang)
        han = sum(1 for c in text if 0x4E00 <= ord(c) <= 0x9FFF)
        latin = sum(1 for c in text if c.isascii() and c.isalpha())
        main = "Han" if han >= 5 and 3 * han >= latin else "Latin" if latin >= 10 else None
        rest = [s for s in scripts if s not in ("Latin", "Han")]
        scripts = ([main] if main else []) + rest
    return scripts, text


def detect_scripts(pages: Sequence[np.ndarray], min_conf: float = 2.0) -> list[str]:
    """Scripts Tesseract's OSD finds on the sample pages (straightened, photographs blanked: OSD reads
    textures as Cyrillic), most frequent first; pages it cannot judge or judges with a confidence under
    ``min_conf`` are skipped."""
    import pytesseract

    seen: dict[str, int] = {}
    for img in pages:
        try:
            osd = pytesseract.image_to_osd(img, config="--psm 0")
        except (pytesseract.TesseractError, RuntimeError):
            continue  # too little text on the page to judge
        m = re.search(r"Script:\s*(\S+)", osd)
        conf = re.search(r"Script confidence:\s*([\d.]+)", osd)
        if m and (conf is None or float(conf.group(1)) >= min_conf):
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    return sorted(seen, key=lambda s: -seen[s])


def languages_for(scripts: Sequence[str], pages: Sequence[np.ndarray], installed: frozenset[str],
                  text: str = "") -> tuple[list[str], list[str]]:
    """Tesseract languages for the detected scripts (English added), with warnings. ``text``: a sample of
    the book read in English (and Chinese), to tell the Latin-script language."""
    codes: list[str] = []
    warnings: list[str] = []
    for script in scripts:
        wanted = list(SCRIPT_LANGS.get(script, ()))
        if script == "Latin" and pages:
            wanted = [latin_language(text or _read(_band(pages[0]), "eng")) or "eng"]
        elif script == "Han" and pages and {"chi_sim", "chi_tra"} <= installed:
            wanted = [han_variant(_read(_band(pages[0]), "chi_sim+chi_tra"))]
        else:  # several languages write this script: the first one installed
            wanted = [c for c in wanted if c in installed][:1] or wanted[:1]
        if not wanted:
            warnings.append(f"OCR: no language known for the {script} script; set books.<file>.lang in the recipe")
            continue
        have, missing = keep_installed(wanted, installed, f"the book's {script} script")
        warnings += missing
        codes += [c for c in have if c not in codes]
    if codes and "eng" not in codes and "eng" in installed:
        # English first unless the book is in another Latin-script language: the order Tesseract was tuned
        # with here for Chinese (eng+chi_sim), and the same readings for Persian (eng+fas and fas+eng agree)
        codes.insert(1 if codes[0] in LATIN_LANGS else 0, "eng")
    return codes, warnings


def _band(img: np.ndarray) -> np.ndarray:
    """The middle third of a page: enough words to tell a language, a third of the reading time."""
    h = img.shape[0]
    return img[h // 3: 2 * h // 3]


def _read(img: np.ndarray, lang: str) -> str:
    import pytesseract

    try:
        return str(pytesseract.image_to_string(img, lang=lang, config="--psm 3"))
    except (pytesseract.TesseractError, RuntimeError):
        return ""


def latin_language(text: str, min_hits: int = 5) -> str | None:
    """The Latin-script language whose function words ``text`` uses most (Tesseract code), or None."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    counts = {code: sum(1 for w in words if w in fw) for code, fw in _FUNCTION_WORDS.items()}
    best = max(counts, key=lambda c: (counts[c], c == "eng"))
    return best if counts[best] >= min_hits else None


def han_variant(text: str) -> str:
    """``chi_tra`` when traditional-only characters outnumber simplified-only ones, else ``chi_sim``."""
    trad = simp = 0
    for ch in text:
        if not 0x4E00 <= ord(ch) <= 0x9FFF:
            continue
        gb = _encodes(ch, "gb2312")
        big5 = _encodes(ch, "big5")
        trad += big5 and not gb
        simp += gb and not big5
    return "chi_tra" if trad > simp else "chi_sim"


def _encodes(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
        return True
    except UnicodeEncodeError:
        return False
