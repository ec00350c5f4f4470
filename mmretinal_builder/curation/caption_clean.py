"""Caption cleaning: label out, citations and source/courtesy lines out, English and Chinese apart, entities in.

:func:`clean_caption` turns a raw caption (as paired by extraction) into a
:class:`~mmretinal_builder.schema.CaptionText`:

* the figure label (``Fig. 3-12``, ``FIGURE 2.5``, ``图 3-12``, ``Figura 4``) moves to ``label``; a second
  label inside a bilingual caption goes too;
* citations go: ``[12]``, ``[3, 5-7]``, ``(Smith et al., 2003)``, ``(Smith and Jones 1999; Lee 2001)``,
  ``［1］``;
* source and courtesy lines go: sentences or brackets starting "Courtesy of", "Source:",
  "Reproduced from", "Reprinted with permission", "Adapted from", "©", and Chinese 引自 / 摘自 /
  来源 / ...提供;
* English and Chinese text land in separate fields (script statistics, :mod:`.language`);
* the ophthalmic lexicon's matches become ``entities`` and their canonical names ``keywords``;
* captions that are empty, a single word, or mostly OCR noise get a flag (:mod:`.caption_checks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..schema import CaptionText
from . import nlp
from .caption_checks import caption_flags
from .language import split_bilingual

_NUM = r"[0-9０-９٠-٩۰-۹]+(?:\s?[-–‐.．]\s?[0-9０-９٠-٩۰-۹]+)*[A-Za-z]?"
LABEL_RE = re.compile(
    r"^\s*(?P<label>(?:(?:Fig(?:ure)?s?|FIG(?:URE)?S?|Figura|Fig\.|Abb|Abbildung|Plate|PLATE|Рис|Рисунок)\.?\s*"
    + _NUM + r"|[图圖図]\s*" + _NUM + r"|(?:شکل|شكل)\s*" + _NUM + r"))\s*[.．:：،]?\s*"
)
_CITE_NUM_RE = re.compile(r"\s?[\[［〔]\s*\d+(?:\s*[,，–\-]\s*\d+)*\s*[\]］〕]")
_AUTHOR = r"[A-Z][A-Za-z'’\-]+(?:\s+(?:and|&)\s+[A-Z][A-Za-z'’\-]+|\s+et\s+al\.?)?"
_YEAR = r"(?:19|20)\d{2}[a-z]?"
_CITE_AUTHOR_RE = re.compile(
    r"\s?\((?:see\s+|cf\.\s+)?" + _AUTHOR + r",?\s+" + _YEAR
    + r"(?:\s*[;,]\s*(?:" + _AUTHOR + r",?\s+)?" + _YEAR + r")*\)"
)
_SOURCE_START = (r"(?:(?:photo(?:graph)?s?|images?|figure)\s+)?courtesy\b|sources?\s*:|reproduced\b|reprinted\b|"
                 r"adapted\b|modified\s+from\b|used\s+with\s+permission|with\s+permission\b|from\s*:|"
                 r"copyright\b|©|\(c\)\s")
_SOURCE_SENT_RE = re.compile(r"^\s*\(?\s*(?:" + _SOURCE_START + ")", re.IGNORECASE)
_SOURCE_PAREN_RE = re.compile(r"\s?[(（]\s*(?:" + _SOURCE_START + r")[^()（）]*[)）]", re.IGNORECASE)
_ZH_SOURCE_RE = re.compile(
    r"[(（][^()（）]*(?:引自|摘自|来源|来自|提供|转载)[^()（）]*[)）]|"
    r"(?:(?:图片|图像|资料)?(?:来源|出处)[:：]|引自|摘自|转载自)[^。]*。?|"
    r"(?<=[。；;])\s*由[^。]{1,40}提供。?$"
)


@dataclass(frozen=True)
class CleanOptions:
    """Thresholds of the caption checks (the clean stage's Params hold the same names)."""

    min_words_en: int = 2
    min_chars_zh: int = 4
    max_noise: float = 0.4
    min_words_bilingual: int = 3


def split_label(text: str) -> tuple[str | None, str]:
    """``("Fig. 3-12", rest)`` when ``text`` starts with a figure label, else ``(None, text)``."""
    m = LABEL_RE.match(text)
    if not m:
        return None, text
    return re.sub(r"\s+", " ", m.group("label")).strip(), text[m.end():]


def strip_citations(text: str) -> str:
    text = _CITE_NUM_RE.sub("", text)
    text = _CITE_AUTHOR_RE.sub("", text)
    return text


def strip_sources_en(text: str) -> str:
    """Remove source/courtesy brackets, then whole sentences that start like a source line."""
    text = _SOURCE_PAREN_RE.sub("", text)
    if not text.strip():
        return text
    spans = nlp.sentences(text, "en")
    kept = [text[s:e] for s, e in spans if not _SOURCE_SENT_RE.match(text[s:e])]
    return " ".join(kept)


def strip_sources_zh(text: str) -> str:
    return _ZH_SOURCE_RE.sub("", text)


def _tidy(text: str | None) -> str | None:
    if text is None:
        return None
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\(\s*\)|（\s*）|\[\s*\]", "", text)  # brackets emptied by the removals
    text = re.sub(r"\s+([,.;:!?，。；：！？)])", r"\1", text)
    text = re.sub(r"([,;，；])(?=[.。])", "", text)
    text = text.strip(" ,;:，；：")
    return text or None


def clean_caption(caption: str | None, label: str | None = None,
                  options: CleanOptions | None = None) -> CaptionText:
    """Clean one caption; ``label`` is the figure label found by extraction, if any."""
    opts = options or CleanOptions()
    raw = re.sub(r"\s+", " ", caption or "").strip()
    found, rest = split_label(raw)
    en, zh = split_bilingual(rest, min_words=opts.min_words_bilingual) if rest else (None, None)
    # A bilingual caption repeats the label before its second language ("图 3-1 ... Fig. 3-1 ...").
    if en:
        second, en = split_label(en)
        found = found or second
    if zh:
        second, zh = split_label(zh)
        found = found or second
    en = _tidy(strip_sources_en(strip_citations(en))) if en else None
    zh = _tidy(strip_sources_zh(strip_citations(zh))) if zh else None
    ents: list[dict] = []
    if en:
        ents.extend(nlp.entities(en, "en"))
    if zh:
        ents.extend(nlp.entities(zh, "zh"))
    keywords = list(dict.fromkeys(e["id"] for e in ents))
    langs = [lang for lang, part in (("en", en), ("zh", zh)) if part]
    return CaptionText(
        label=label or found,
        en=en,
        zh=zh,
        lang="+".join(langs) or None,
        entities=ents,
        keywords=keywords,
        flags=caption_flags(en, zh, min_words_en=opts.min_words_en, min_chars_zh=opts.min_chars_zh,
                            max_noise=opts.max_noise),
    )
