"""Language by script statistics (Han vs Latin letters), and splitting bilingual captions.

"English" here means the caption's non-Chinese text, whatever its language (``en`` holds Spanish, French,
Persian ... text too; the modality cues and the entity ruler read every language).

Nothing is assumed from the book: a Chinese atlas may print English captions under Chinese ones, an
English book may quote a Chinese term. A caption is cut into runs of Han text and runs of Latin text;
a Latin run counts as English only when it is long enough to be a phrase of its own (``min_words``)
and is not a parenthesised gloss or a short term inside a Chinese sentence ("采用 OCT 检查").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Han ideographs (+ extension A, compatibility), CJK punctuation and full-width forms.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
HAN_RE = re.compile(f"[{_HAN}]")
LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A Han run: Han characters with the CJK punctuation, digits and spaces between them.
_HAN_RUN_RE = re.compile(f"[{_HAN}](?:[{_HAN}{_CJK_PUNCT}0-9\\s.\\-–%]*[{_HAN}{_CJK_PUNCT}])?")
_WORD_RE = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")


@dataclass(frozen=True)
class ScriptStats:
    han: int
    latin: int
    digits: int
    other: int

    @property
    def letters(self) -> int:
        return self.han + self.latin


def script_stats(text: str) -> ScriptStats:
    """Count Han characters, Latin letters, digits and everything else (spaces excluded)."""
    han = len(HAN_RE.findall(text))
    latin = len(LATIN_RE.findall(text))
    digits = sum(c.isdigit() for c in text)
    other = sum(not c.isspace() for c in text) - han - latin - digits
    return ScriptStats(han, latin, digits, other)


def is_chinese(text: str, min_han: int = 1) -> bool:
    """Chinese when Han characters carry the text: one Han character weighs about three Latin letters."""
    s = script_stats(text)
    return s.han >= min_han and s.han * 3 >= s.latin


def detect_language(text: str | None, min_words: int = 3) -> str | None:
    """``en``, ``zh``, ``en+zh`` (both present as text of their own) or None (no letters)."""
    if not text or not text.strip():
        return None
    en, zh = split_bilingual(text, min_words=min_words)
    langs = [lang for lang, part in (("en", en), ("zh", zh)) if part]
    return "+".join(langs) if langs else None


def split_bilingual(text: str, min_words: int = 3) -> tuple[str | None, str | None]:
    """Split a caption into its English and Chinese parts (either may be None).

    Han runs go to Chinese. A Latin run goes to English when it holds at least ``min_words`` words
    and is not enclosed by Han text on both sides with fewer than ``3 * min_words`` words, nor in
    brackets right after Han text (a gloss). Short Latin runs stay with the Chinese text around them.
    """
    if not text:
        return None, None
    pieces: list[tuple[str, str]] = []  # (kind, text) with kind in {"han", "latin"}
    pos = 0
    for m in _HAN_RUN_RE.finditer(text):
        if m.start() > pos:
            pieces.append(("latin", text[pos:m.start()]))
        pieces.append(("han", m.group()))
        pos = m.end()
    if pos < len(text):
        pieces.append(("latin", text[pos:]))
    if not any(k == "han" for k, _ in pieces):
        return _tidy_en(text), None

    labelled: list[tuple[str, str]] = []
    for i, (kind, part) in enumerate(pieces):
        if kind == "han":
            labelled.append(("zh", part))
            continue
        words = len(_WORD_RE.findall(part))
        han_before = i > 0 and pieces[i - 1][0] == "han"
        han_after = i + 1 < len(pieces) and pieces[i + 1][0] == "han"
        stripped = part.strip()
        gloss = han_before and stripped[:1] in "(（[［" and stripped[-1:] in ")）]］"
        embedded = han_before and han_after and words < 3 * min_words and not _ends_sentence(pieces[i - 1][1])
        if words >= min_words and not gloss and not embedded:
            labelled.append(("en", part))
        else:
            labelled.append(("zh", part))
    en = " ".join(p for k, p in labelled if k == "en")
    zh = "".join(p for k, p in labelled if k == "zh")
    return _tidy_en(en), _tidy_zh(zh)


def _ends_sentence(han_text: str) -> bool:
    return han_text.rstrip()[-1:] in "。！？；;"


def _tidy_en(text: str | None) -> str | None:
    """The non-Chinese part: English, or any other language and script (Spanish, Persian, Russian ...):
    kept whenever it holds a letter."""
    if not text:
        return None
    text = re.sub(r"\s+", " ", text).strip(" \t\n;,，；")
    return text if any(c.isalpha() for c in text) else None


def _tidy_zh(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"\s+", " ", text)
    # spaces between two Han characters are layout, not content
    text = re.sub(f"(?<=[{_HAN}{_CJK_PUNCT}]) (?=[{_HAN}{_CJK_PUNCT}])", "", text).strip()
    return text if HAN_RE.search(text) else None
