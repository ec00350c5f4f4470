"""Lexicon terms found in text of any language and script (the modality cues' matcher).

:func:`fold` puts text and terms in one form (compatibility forms unfolded, accents and Arabic vowel marks
dropped, Arabic/Persian letter variants unified), then one regex finds every term case-insensitively with its
plurals, inside its own script's word boundaries, and another finds the abbreviations case-sensitively, next
to letters of other scripts too ("OCT图像", "تصویر OCT"). Overlaps are settled leftmost-longest ("OCT
angiography" is one mention, not "OCT" and "angiography").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from .lexicon import concepts_by_id

# Arabic-script letters written two ways (Arabic and Persian keyboards) are one letter here.
_SAME_LETTER = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u0629": "\u0647",
                              "\u0640": None, "\u200c": " ", "\u200d": None,
                              "\u0153": "oe", "\u0152": "OE", "\u00e6": "ae", "\u00c6": "AE", "\u00df": "ss",
                              "\u2019": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"})


def fold(text: str) -> str:
    """Text for matching: compatibility forms unfolded (full-width letters, Arabic presentation forms),
    accents and Arabic vowel marks dropped, one form per letter (œ -> oe, Arabic ي/ك -> Persian ی/ک), curly
    apostrophes straight. Case is kept: abbreviations are case-sensitive."""
    out = unicodedata.normalize("NFKD", text)
    out = "".join(c for c in out if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", out.translate(_SAME_LETTER))


_LATIN = "A-Za-z0-9\u00c0-\u024f"
_ARABIC = "\u0600-\u06ff\u0750-\u077f"


def _edge(ch: str, side: str) -> str:
    """The look-around that keeps a term from matching inside a longer word of its own script."""
    if re.match(f"[{_LATIN}]", ch):
        return f"(?<![{_LATIN}])" if side == "start" else f"(?![{_LATIN}])"
    if re.match(f"[{_ARABIC}]", ch):
        return f"(?<![{_ARABIC}])" if side == "start" else f"(?![{_ARABIC}])"
    return ""  # Chinese: no word boundaries


def _plurals(term: str) -> list[str]:
    """Plural forms of a Latin-script term: +s, +es, y -> ies (English), a -> e (Italian), +n/+en (German)."""
    if not term[-1:].isalpha() or not term[-1].isascii():
        return [term]
    out = [term, term + "s", term + "es", term + "n", term + "en"]
    if term.endswith("y"):
        out.append(term[:-1] + "ies")
    if term.endswith("a"):
        out.append(term[:-1] + "e")
    return out


@dataclass(frozen=True)
class TermMatch:
    concept: str  # the concept id
    label: str
    text: str  # the matched text (folded form)
    start: int  # offsets into fold(text)
    end: int


def _spaced(s: str) -> str:
    return re.sub(r"[\s\-]+", " ", s)


@cache
def _matchers() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str], dict[str, str]]:
    """One regex for all terms (case-insensitive, folded) and one for all abbreviations (case-sensitive);
    every written form of a term (plural, hyphen or space) -> its concept, and abbreviation -> concept."""
    term_ids: dict[str, str] = {}
    abbr_ids: dict[str, str] = {}
    for cid, c in sorted(concepts_by_id().items()):
        for t in (*c.en, *c.intl, *c.zh):
            term_ids.setdefault(fold(t).casefold(), cid)
        for a in c.abbr:
            abbr_ids.setdefault(fold(a), cid)
    forms: dict[str, str] = {}
    for k, cid in term_ids.items():
        for p in _plurals(k):
            forms.setdefault(_spaced(p), cid)

    def alternation(keys: list[str], plural: bool) -> str:
        alts = []
        for k in sorted(keys, key=len, reverse=True):
            body = "|".join(re.escape(v).replace("\\ ", "[\\s\\-]+") for v in (_plurals(k) if plural else [k]))
            alts.append(f"{_edge(k[0], 'start')}(?:{body}){_edge(k[-1], 'end')}")
        return "|".join(alts)

    terms = re.compile(alternation(list(term_ids), True), re.IGNORECASE)
    term_ids = forms
    abbrs = re.compile(f"(?<![{_LATIN}\\-])(?:{'|'.join(re.escape(a) for a in sorted(abbr_ids, key=len, reverse=True))})"
                       f"(?![{_LATIN}]|-[{_LATIN}])")
    return terms, abbrs, term_ids, abbr_ids


def find_terms(text: str, label: str | None = None) -> list[TermMatch]:
    """Lexicon terms and abbreviations in ``text``, whatever its language: leftmost-longest, no overlaps.

    Terms match case- and accent-insensitively with their plural forms, inside their own script's word
    boundaries (Chinese terms anywhere); abbreviations match case-sensitively, also next to Chinese or
    Persian letters ("OCT图像"). ``label`` keeps only that kind of concept (e.g. ``MODALITY``).
    """
    if not text:
        return []
    terms, abbrs, term_ids, abbr_ids = _matchers()
    f = fold(text)
    concepts = concepts_by_id()
    found: list[TermMatch] = []
    for m in terms.finditer(f):
        cid = term_ids.get(_spaced(m.group(0).casefold()))
        if cid is not None:
            found.append(TermMatch(cid, concepts[cid].label, m.group(0), m.start(), m.end()))
    for m in abbrs.finditer(f):
        cid = abbr_ids[m.group(0)]
        found.append(TermMatch(cid, concepts[cid].label, m.group(0), m.start(), m.end()))
    found.sort(key=lambda t: (t.start, -(t.end - t.start)))
    out: list[TermMatch] = []
    end = -1
    for t in found:
        if t.start >= end:
            out.append(t)
            end = t.end
    return [t for t in out if label is None or t.label == label]
