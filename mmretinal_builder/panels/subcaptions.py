"""Split a figure caption into sub-captions: first find the panel names, then cut the text between them.

Panel names (*mentions*) come in several styles: ``(a)``, ``(a-c)``, ``(a, b)``, ``(a and e)``, ``a)``,
``A.``, ``A,``, ``A．``, ``a Fundus...`` (bare, at a clause start), and positions (``Left:``,
``(top row)``, ``左：``, ``（右）``, ``上图``). Candidates are checked as a set: one letter case, a
sequence starting at ``a`` without large gaps, at least two distinct names, so that the article "A" at
a sentence start, "vitamin (A)" among lowercase labels or a lone "(a)" are rejected (and listed).

Captions put the names either *before* their text ("(a) Drusen; (b) ...", leading) or *after* it
("drusen (a) and haemorrhage (b)", trailing); the majority of the names decides. Text before the first
name is a preamble shared by every panel; closing sentences such as "All images ..." and text after the
last trailing name are shared too. All results are ``[start, end)`` offsets into the caption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Span = tuple[int, int]

# ----------------------------------------------------------------------------- patterns

_L = r"[A-Za-z]\d{0,2}"
_SEP = r"\s*(?:[-–—~‐]|to|through|,|、|，|and|&|or|和|及|与)\s*"
_LIST = rf"{_L}(?:{_SEP}{_L})*"
_POS = (r"(?:top|upper|bottom|lower|middle|center|centre)(?:[\s-]+(?:left|right|middle|center|centre))?"
        r"|left|right|middle|center|centre")
_POS_NOUN = r"(?:\s+(?:row|column|panel|image|picture|photo(?:graph)?|figure)s?)?"
_PAREN = re.compile(rf"(?<![A-Za-z0-9])[(（]\s*({_LIST})\s*[)）]")
_HALF = re.compile(rf"(?<![^\s,;:，；：、])({_LIST})[)）](?![A-Za-z0-9])")
_DOT = re.compile(rf"(?<![\w.])({_LIST})\s*(?:[.．](?![\d]|[A-Za-z]\.)|[:：,，])(?=\s*\S)")
_BARE = re.compile(rf"(?<![\w.])({_LIST})\s+(?=[A-Za-z\u4e00-\u9fff(（])")
_POS_PAREN = re.compile(rf"[(（]\s*({_POS}){_POS_NOUN}\s*[)）]", re.I)
_POS_LEAD = re.compile(rf"(?<![\w])({_POS}){_POS_NOUN}\s*[:：]", re.I)
_ZH_PAREN = re.compile(r"[(（]([左右上下中])(?:图|圖)?[)）]")
_ZH_LEAD = re.compile(r"(?<![^。；：，、.;:,\s])([左右上下中])(?:图|圖|排|列|侧|側)?\s*(?:[：:]|[为示是](?=\S))")

#: A figure's own label at the start of its caption ("Fig. 3-12.", "Figure 2:", "图 3-1").
_FIG_LABEL = re.compile(
    r"^\s*(?:(?:fig(?:ure)?s?|figura|abb(?:ildung)?|plate)\.?\s*|[图圖]\s*)"
    r"[A-Za-z]?\d+(?:\s*[.\-–—‐_]\s*\d+)*\s*(?:[.:．：|]\s*)?",
    re.I,
)

_ZH_POS = {"左": "left", "右": "right", "上": "top", "下": "bottom", "中": "middle"}
_POS_NORM = {"upper": "top", "lower": "bottom", "center": "middle", "centre": "middle"}

#: Closing sentences shared by all panels ("All images ...", "Arrows mark ...").
_SHARED_CUE = re.compile(
    r"(?:all|both|each|in all|in both|note|arrows?|arrowheads?|asterisks?|stars?|scale bars?|bars?|"
    r"the arrows?|the arrowheads?|the asterisks?|magnification|original magnification|courtesy|"
    r"reproduced|adapted|source|images? courtesy|所有|箭头)\b",
    re.I,
)
_CONJ = r"(?:and|or|but(?:\s+also)?|while|whereas|respectively|as well as|versus|vs\.?|和|及|与|以及)"
_LEAD_CHARS = " \t\n\r\u2002\u2003\u00a0,;:，；：、.)）-–—"
_TAIL_CHARS = " \t\n\r\u2002\u2003\u00a0,;:，；：、(（-–—"
_LEAD_CONJ = re.compile(rf"{_CONJ}(?=[\s,;:]|$)", re.I)
_TAIL_WORDS = frozenset({"and", "or", "but", "while", "whereas", "versus", "vs", "vs."})
_ZH_CONJ = "和及与"
_ABBREV = re.compile(r"(?:\b(?:fig|figs|e\.g|i\.e|vs|et al|approx|no|cf|dr|mr|mrs|ca|resp)|\b[A-Za-z])$", re.I)


@dataclass(frozen=True)
class Mention:
    """A panel name found in the caption: ``text[start:end]`` names ``labels``."""

    start: int
    end: int
    labels: tuple[str, ...]
    style: str  # paren, half, dot, bare, position

    @property
    def is_position(self) -> bool:
        return self.style == "position"


@dataclass
class Segment:
    """The text of one group of panel names: applies to each of ``labels``."""

    labels: tuple[str, ...]
    spans: list[Span]
    mentions: list[Mention]


@dataclass
class SubCaptions:
    """The split of one caption."""

    text: str
    body_start: int  # where the caption proper starts (after "Fig. 3")
    shared: list[Span] = field(default_factory=list)  # preamble and closing text, for every panel
    segments: list[Segment] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)  # accepted panel names
    rejected: list[tuple[Mention, str]] = field(default_factory=list)  # candidates that are not names
    mode: str = "none"  # leading, trailing or none (no panel names)

    def labels(self) -> list[str]:
        """Distinct panel names in order of first appearance."""
        seen: dict[str, None] = {}
        for seg in self.segments:
            for lab in seg.labels:
                seen.setdefault(lab, None)
        return list(seen)

    def span_text(self, spans: list[Span]) -> str:
        """The text of ``spans`` joined by single spaces, whitespace collapsed.

        A span cut just before punctuation (``cases: (a) ...``) gets that mark back as glue, so the
        pieces read as the caption did.
        """
        pieces = []
        ordered = [(s, e) for s, e in sorted(spans) if e > s]
        for k, (s, e) in enumerate(ordered):
            piece = " ".join(self.text[s:e].split())
            if k + 1 < len(ordered) and piece and piece[-1] not in ".;:,!?。；：，！？":
                nxt = self.text[e:].lstrip()
                glue = nxt[0] if nxt[:1] and nxt[0] in ".;:,。；：，" else ""
                if glue in (";", ",") and self.text[ordered[k + 1][0]].isupper():
                    glue = "."  # the next piece starts a sentence
                piece += glue
            pieces.append(piece)
        joiner = "" if _mostly_cjk(self.text) else " "
        return joiner.join(p for p in pieces if p).strip()


def _mostly_cjk(text: str) -> bool:
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return cjk > 0.3 * max(1, sum(1 for ch in text if not ch.isspace()))


# ----------------------------------------------------------------------------- finding names


def _expand(raw: str) -> tuple[str, ...]:
    """``'a-c'`` -> a, b, c; ``'a, b and e'`` -> a, b, e; ``'a1-a3'`` -> a1, a2, a3."""
    parts = re.split(r"(\s*(?:[-–—~‐]|to|through)\s*|\s*(?:,|、|，|and|&|or|和|及|与)\s*)", raw)
    tokens = [p for p in parts if p and re.fullmatch(_L, p.strip())]
    seps = [p for p in parts if p and not re.fullmatch(_L, p.strip())]
    out: list[str] = []
    for i, tok in enumerate(tokens):
        tok = tok.strip()
        is_range = i > 0 and i - 1 < len(seps) and re.fullmatch(r"\s*(?:[-–—~‐]|to|through)\s*", seps[i - 1])
        if is_range and out:
            prev = out[-1]
            a, b = prev[0], tok[0]
            na, nb = prev[1:], tok[1:]
            if a == b and na and nb and int(na) < int(nb) <= int(na) + 30:  # a1-a3
                out.extend(f"{a}{k}" for k in range(int(na) + 1, int(nb) + 1))
                continue
            if not na and not nb and a.islower() == b.islower() and ord(a) < ord(b) <= ord(a) + 25:  # a-c
                out.extend(chr(k) for k in range(ord(a) + 1, ord(b) + 1))
                continue
        out.append(tok)
    seen: dict[str, None] = {}
    for lab in out:
        seen.setdefault(lab, None)
    return tuple(seen)


def _list_ok(raw: str) -> bool:
    """A lowercase 'a' or 'or'-joined list is words, not names, unless written as a range or list."""
    return not re.search(r"\b(?:to|through|or)\b", raw) or bool(re.search(r"[-–—~‐,]", raw))


def find_mentions(text: str, body_start: int = 0) -> list[Mention]:
    """All candidate panel names, non-overlapping, in text order (before any consistency check)."""
    taken = [False] * len(text)
    found: list[Mention] = []

    def add(start: int, end: int, labels: tuple[str, ...], style: str) -> None:
        if start < body_start or any(taken[start:end]) or not labels:
            return
        for k in range(start, end):
            taken[k] = True
        found.append(Mention(start, end, labels, style))

    for m in _PAREN.finditer(text):
        if _list_ok(m.group(1)):
            add(m.start(), m.end(), _expand(m.group(1)), "paren")
    for rx in (_POS_PAREN, _POS_LEAD):
        for m in rx.finditer(text):
            if rx is _POS_LEAD and m.start() != body_start and not _at_clause_start(text, m.start(), body_start):
                continue
            words = m.group(1).lower().replace("-", " ").split()
            add(m.start(), m.end(), ("-".join(_POS_NORM.get(w, w) for w in words),), "position")
    for rx in (_ZH_PAREN, _ZH_LEAD):
        for m in rx.finditer(text):
            add(m.start(), m.end(), (_ZH_POS[m.group(1)],), "position")
    for style, rx in (("half", _HALF), ("dot", _DOT), ("bare", _BARE)):
        for m in rx.finditer(text):
            raw = m.group(1)
            if not _list_ok(raw):
                continue
            if style in ("dot", "bare") and not _at_clause_start(text, m.start(), body_start):
                continue
            end = m.end() if style != "bare" else m.end(1)
            add(m.start(), end, _expand(raw), style)
    found.sort(key=lambda x: x.start)
    return found


def _at_clause_start(text: str, pos: int, body_start: int) -> bool:
    """``pos`` starts the caption body or follows a clause boundary (not an abbreviation like 'Fig.')."""
    before = text[body_start:pos].rstrip()
    if not before:
        return True
    if before[-1] in ";:!?。；：！？,，、\n":
        return True
    return before[-1] == "." and not _ABBREV.search(before[:-1])


# ----------------------------------------------------------------------------- consistency


def _family(label: str) -> str:
    return "upper" if label[0].isupper() else "lower"


def _filter(mentions: list[Mention]) -> tuple[list[Mention], list[tuple[Mention, str]]]:
    """Keep the mentions that form one consistent set of panel names; the rest with a reason."""
    rejected: list[tuple[Mention, str]] = []
    letters = [m for m in mentions if not m.is_position]
    positions = [m for m in mentions if m.is_position]
    # one letter case: the family with more distinct letters wins (ties: more mentions, then lowercase)
    fams: dict[str, list[Mention]] = {"lower": [], "upper": []}
    for m in letters:
        fam = {_family(x) for x in m.labels}
        if len(fam) != 1:
            rejected.append((m, "mixed-case"))
            continue
        fams[fam.pop()].append(m)

    def fam_score(name: str) -> tuple[int, int, int]:
        distinct = {x[0].lower() for m in fams[name] for x in m.labels}
        return (len(distinct), len(fams[name]), 1 if name == "lower" else 0)

    keep_fam = max(fams, key=fam_score)
    for name, ms in fams.items():
        if name != keep_fam:
            rejected.extend((m, "other-case") for m in ms)
    kept = fams[keep_fam]
    # a sequence from 'a' with gaps of at most one letter
    distinct = sorted({ord(x[0].lower()) for m in kept for x in m.labels})
    allowed: set[int] = set()
    if distinct and distinct[0] == ord("a"):
        allowed.add(distinct[0])
        for prev, cur in zip(distinct, distinct[1:], strict=False):
            if cur - prev > 2:
                break
            allowed.add(cur)
    seq_ok, seq_bad = [], []
    for m in kept:
        (seq_ok if all(ord(x[0].lower()) in allowed for x in m.labels) else seq_bad).append(m)
    rejected.extend((m, "out-of-sequence") for m in seq_bad)
    kept = seq_ok
    # names without punctuation (dot/bare) need a second distinct letter in the same style
    for weak in ("bare", "dot", "half"):
        ms = [m for m in kept if m.style == weak]
        if ms and len({x[0].lower() for m in ms for x in m.labels}) < 2:
            rejected.extend((m, f"lone-{weak}-label") for m in ms)
            kept = [m for m in kept if m.style != weak]
    if kept and len({x.lower() for m in kept for x in m.labels}) < 2:
        rejected.extend((m, "single-label") for m in kept)
        kept = []
    if kept:
        rejected.extend((m, "letters-present") for m in positions)
        positions = []
    elif positions and len({x for m in positions for x in m.labels}) < 2:
        rejected.extend((m, "single-position") for m in positions)
        positions = []
    accepted = sorted(kept + positions, key=lambda m: m.start)
    rejected.sort(key=lambda r: r[0].start)
    return accepted, rejected


# ----------------------------------------------------------------------------- splitting


def _group(text: str, mentions: list[Mention]) -> list[list[Mention]]:
    """Names joined only by 'and', ',', '&' ("(a1) and (b1): ...") form one group."""
    groups: list[list[Mention]] = []
    for m in mentions:
        if groups:
            between = text[groups[-1][-1].end:m.start]
            if re.fullmatch(r"\s*(?:,|、|，|&|and|or|和|及|与)?\s*", between, re.I):
                groups[-1].append(m)
                continue
        groups.append([m])
    return groups


def _vote(text: str, group: list[Mention], body: int) -> int:
    """> 0: the group's text follows it (leading); < 0: it precedes it (trailing).

    What follows decides most (':' or a word: leading; ',', '.', end or 'and': trailing); a clause
    boundary before the group adds a point for leading.
    """
    if any(m.style not in ("paren", "half") and text[m.start] not in "(（" for m in group):
        return 2
    after = text[group[-1].end:].lstrip()
    if after.startswith((":", "：")):
        score = 2
    elif not after or after[0] in ",.;，。；)）]" or re.match(rf"{_CONJ}\b", after, re.I):
        score = -2
    else:
        score = 1
    if _at_clause_start(text, group[0].start, body) and not text[body:group[0].start].rstrip().endswith(","):
        score += 1
    return score


def _trim(text: str, start: int, end: int) -> Span | None:
    """Shrink ``[start, end)`` past separators and dangling conjunctions at both ends."""
    while start < end:
        if text[start] in _LEAD_CHARS or text[start].isspace():
            start += 1
            continue
        m = _LEAD_CONJ.match(text, start, end)
        if not m:
            break
        start = m.end()
    while end > start:
        if text[end - 1] in _TAIL_CHARS or text[end - 1].isspace():
            end -= 1
            continue
        if text[end - 1] in _ZH_CONJ:
            end -= 1
            continue
        cut = max(text.rfind(c, start, end) for c in " \t\n\u2002\u00a0")
        word = text[(cut + 1 if cut >= 0 else start):end]
        if word.lower() not in _TAIL_WORDS:
            break
        end = cut + 1 if cut >= 0 else start
    return (start, end) if end > start else None


def _sentence_starts(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in ``[lo, hi)`` where a new sentence starts."""
    out = []
    for m in re.finditer(r"[.!?。！？]\s+|[。！？]", text[lo:hi]):
        dot = lo + m.start()
        if text[dot] == "." and _ABBREV.search(text[lo:dot]):
            continue
        nxt = lo + m.end()
        if nxt < hi:
            out.append(nxt)
    return out


def body_start(text: str, figure_label: str | None = None) -> int:
    """Offset after the figure's own label ("Fig. 3 ") when the caption starts with it."""
    if figure_label and text.lstrip().startswith(figure_label):
        pos = text.index(figure_label) + len(figure_label)
        m = re.match(r"\s*[.:．：|]?\s*", text[pos:])
        return pos + (m.end() if m else 0)
    m = _FIG_LABEL.match(text)
    return m.end() if m else len(text) - len(text.lstrip())


def split_subcaptions(text: str, figure_label: str | None = None) -> SubCaptions:
    """Find the panel names of ``text`` and cut it into shared text and one segment per name group."""
    text = text or ""
    start = body_start(text, figure_label)
    accepted, rejected = _filter(find_mentions(text, start))
    out = SubCaptions(text=text, body_start=start, mentions=accepted, rejected=rejected)
    end = len(text.rstrip())
    if not accepted:
        span = _trim(text, start, end)
        out.shared = [span] if span else []
        return out
    groups = _group(text, accepted)
    votes = [_vote(text, g, start) for g in groups]
    out.mode = "trailing" if sum(votes) < 0 else "leading"
    shared: list[Span] = []
    if out.mode == "leading":
        # a later "(a)." that only refers back to a panel already described is not a new segment
        seen: set[str] = set()
        kept_groups = []
        for g, v in zip(groups, votes, strict=True):
            labels = {lab for m in g for lab in m.labels}
            if kept_groups and v < 0 and labels <= seen:
                continue
            seen |= labels
            kept_groups.append(g)
        groups = kept_groups
        pre = _trim(text, start, groups[0][0].start)
        if pre:
            shared.append(pre)
        for i, g in enumerate(groups):
            lo = g[-1].end
            hi = groups[i + 1][0].start if i + 1 < len(groups) else end
            if i + 1 == len(groups):
                # closing sentences addressed to every panel ("All images ...") are shared
                for s in _sentence_starts(text, lo, hi):
                    if _SHARED_CUE.match(text, s) and s > lo:
                        tail = _trim(text, s, hi)
                        if tail:
                            shared.append(tail)
                        hi = s
                        break
            out.segments.append(_segment(text, g, lo, hi))
    else:
        first = groups[0][0].start
        starts = [s for s in _sentence_starts(text, start, first)]
        sent = starts[-1] if starts else start
        pre = _trim(text, start, sent)
        if pre:
            shared.append(pre)
        prev = sent
        for g in groups:
            out.segments.append(_segment(text, g, prev, g[0].start))
            prev = g[-1].end
        tail = _trim(text, prev, end)
        if tail:
            shared.append(tail)
    out.shared = shared
    return out


def _segment(text: str, group: list[Mention], lo: int, hi: int) -> Segment:
    labels: dict[str, None] = {}
    for m in group:
        for lab in m.labels:
            labels.setdefault(lab, None)
    span = _trim(text, lo, hi) if hi > lo else None
    return Segment(labels=tuple(labels), spans=[span] if span else [], mentions=list(group))
