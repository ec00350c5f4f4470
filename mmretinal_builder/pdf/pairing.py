"""Pairing figure candidates with captions: a global assignment over geometry, never reading order alone.

Per page, a cost for every (candidate, caption) pair comes from their relation (caption below, above,
beside, or printed over the figure), the gap between them relative to the page height, how well they
line up (column overlap), and what lies in the corridor between them (running text, another caption,
another figure: each makes the pair less likely, a caption in between all but forbids it). Figure
numbers add a small term that keeps captions in numeric order with figures in reading order when
geometry alone is ambiguous. The Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) picks
the cheapest one-to-one pairing; pairs above ``max_cost`` are refused.
A side caption set flush with its figure's top or bottom edge costs about what a caption below does;
reading a caption as below/above one figure while it sits flush beside another costs extra.

One caption may cover several candidates (a panel grid of separate images): besides its one *primary*
slot, each caption offers *extra* slots at a slightly higher cost, and every candidate may instead stay
unpaired at a fixed cost, as may every caption. One assignment over that matrix chooses the groups;
a group is then kept only where its union box covers no running text, other caption or other figure,
and candidates still free join a neighbouring group on the same terms. Last, a part nearer to another
group's parts than to its own moves there when that lowers both groups' costs (caption relation + gaps
between parts): the assignment priced it by its distance to a caption, not to its siblings.

Pages whose graphics have no figure caption at all (a full-page plate) are solved together with their
neighbours, so a caption that opens the next page, or sits on the facing page, competes fairly with the
figures of its own page. Figures and captions still alone afterwards are paired across neighbouring
pages, again by assignment. Whatever is left is reported by the caller, never guessed. Table captions take part like figure captions, so a graphic that belongs to a table is
claimed by its table caption and not emitted as a figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..geometry import BBox, area, gap, horizontal_overlap, intersection, union, vertical_overlap

INFEASIBLE = 1e6
MAX_EXTRA = 24  # extra slots one caption offers in the assignment
ALIGN_TOL = 0.015  # fraction of the page height: a caption edge this close to a figure edge is set flush
ROW_COST = 0.04  # a caption read below/above one figure while it sits flush beside another


@dataclass
class CaptionRef:
    """What pairing needs to know about a caption."""

    bbox: BBox
    kind: Literal["figure", "table"]
    number: str | None
    lines: list[BBox] = field(default_factory=list)
    claims: bool = True  # False: takes no graphics (a table caption whose ruled/text table was found)


@dataclass
class PageItems:
    """One page's figure candidates, captions and running-text lines (the barriers)."""

    page: int
    size: tuple[float, float]
    figures: list[BBox]
    captions: list[CaptionRef]
    prose: list[BBox]


@dataclass
class Match:
    """A caption and the candidates it covers (indices into its pages' lists)."""

    caption_page: int
    caption: int
    figure_page: int
    figures: list[int]
    rule: str  # below, above, beside, overlay, next-page, previous-page (+ "+group" when several)
    cost: float


@dataclass
class PairingConfig:
    max_cost: float = 0.6
    max_gap: float = 0.45  # fraction of the page height
    attach_gap: float = 0.2  # fraction of the page height: how far another part of the figure may be
    cross_page: bool = True
    cross_page_min_area: float = 0.03  # fraction of the page: only substantial figures pair across pages
    extra_cost: float = 0.02  # a further candidate for a caption costs this much more than its first


def relation_cost(fb: BBox, cb: BBox, page_h: float, kind: str = "figure") -> tuple[float, str] | None:
    """Cost of the best geometric relation between a figure box and a caption box (None: unrelated)."""
    hov = horizontal_overlap(fb, cb)
    vov = vertical_overlap(fb, cb)
    table = kind == "table"
    tol = 4.0
    opts: list[tuple[float, str]] = []
    if area(cb) > 0 and intersection(fb, cb) >= 0.5 * area(cb):
        opts.append((0.05, "overlay"))
    if cb[1] >= fb[3] - tol and hov >= 0.2:
        d = max(0.0, cb[1] - fb[3])
        opts.append((d / page_h + 0.3 * (1 - hov) + (0.04 if table else 0.0), "below"))
    if cb[3] <= fb[1] + tol and hov >= 0.2:
        d = max(0.0, fb[1] - cb[3])
        opts.append((d / page_h + 0.3 * (1 - hov) + (0.0 if table else 0.03), "above"))
    dy = max(0.0, cb[1] - fb[3], fb[1] - cb[3])  # a side caption may start a little above the figure
    if (vov >= 0.2 or dy <= 0.02 * page_h) and (cb[0] >= fb[2] - tol or cb[2] <= fb[0] + tol):
        d = max(0.0, cb[0] - fb[2], fb[0] - cb[2])
        align = min(abs(cb[1] - fb[1]), abs(cb[3] - fb[3]))
        # the part of the caption outside the figure's rows, a few points of overhang forgiven (a side
        # caption's first line often starts just above the figure's top)
        out = max(0.0, fb[1] - cb[1] - tol) + max(0.0, cb[3] - fb[3] - tol)
        short = max(min(cb[3] - cb[1], fb[3] - fb[1]), 1e-6)
        # a side caption set flush with the figure's top or bottom edge is as good a sign as a caption
        # below; one that merely lies alongside keeps the full penalty
        side = 0.015 + 0.045 * min(1.0, align / (ALIGN_TOL * page_h))
        opts.append((d / page_h + dy / page_h + 0.3 * min(1.0, out / short) + side + 0.5 * align / page_h,
                     "beside"))
    if not opts:
        return None
    return min(opts)


def _gap_ok(fb: BBox, cb: BBox, rel: str, page_h: float, max_gap: float) -> bool:
    if rel == "overlay":
        return True
    return gap(fb, cb) <= max_gap * page_h


def _corridor(fb: BBox, cb: BBox, rel: str) -> BBox | None:
    """The region between a figure and its caption (where nothing else should be)."""
    if rel in ("below", "above"):
        x0, x1 = max(fb[0], cb[0]), min(fb[2], cb[2])
        if x1 <= x0:
            x0, x1 = min(fb[2], cb[2]), max(fb[0], cb[0])
        y0, y1 = (fb[3], cb[1]) if rel == "below" else (cb[3], fb[1])
    elif rel == "beside":
        y0, y1 = max(fb[1], cb[1]), min(fb[3], cb[3])
        x0, x1 = (fb[2], cb[0]) if cb[0] >= fb[2] - 4 else (cb[2], fb[0])
    else:
        return None
    if x1 - x0 <= 0.5 or y1 - y0 <= 0.5:
        return None
    return (x0, y0, x1, y1)


def _center_in(b: BBox, box: BBox) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def pair_cost(items: PageItems, f: int, c: int, cfg: PairingConfig, figures_block: bool = True,
              ) -> tuple[float, str]:
    """Cost of pairing figure ``f`` with caption ``c`` on one page (INFEASIBLE when impossible).

    ``figures_block``: other candidates in the corridor count against the pair (off when ``f`` would be a
    further part of a figure whose other parts may lie in between).
    """
    fb, cap = items.figures[f], items.captions[c]
    page_h = items.size[1]
    rel = relation_cost(fb, cap.bbox, page_h, cap.kind)
    if rel is None:
        return INFEASIBLE, "none"
    cost, name = rel
    if not _gap_ok(fb, cap.bbox, name, page_h, cfg.max_gap):
        return INFEASIBLE, name
    if name in ("below", "above") and any(
            k != f and _flush_beside(g, cap.bbox, page_h) for k, g in enumerate(items.figures)):
        cost += ROW_COST  # the caption is set in another figure's row, as that figure's side caption
    corridor = _corridor(fb, cap.bbox, name)
    if corridor is not None:
        cost += 0.12 * sum(1 for p in items.prose if _center_in(p, corridor))
        for k, other in enumerate(items.captions):
            if k == c or _stacked(other.bbox, cap.bbox):
                continue  # captions set one under the other form a block: any of them may be read first
            if any(_center_in(b, corridor) for b in (other.lines or [other.bbox])):
                cost += 0.6
        if figures_block:
            for k, other in enumerate(items.figures):
                if k != f and intersection(other, corridor) > 0.2 * max(area(other), 1e-6):
                    cost += 0.35
    return cost, name


def _flush_beside(fb: BBox, cb: BBox, page_h: float) -> bool:
    """The caption sits next to the figure, within its rows, its top or bottom flush with the figure's."""
    tol = 4.0
    if not (cb[0] >= fb[2] - tol or cb[2] <= fb[0] + tol):
        return False
    d = max(0.0, cb[0] - fb[2], fb[0] - cb[2])
    align = min(abs(cb[1] - fb[1]), abs(cb[3] - fb[3]))
    return d <= 0.05 * page_h and vertical_overlap(fb, cb) >= 0.5 and align <= ALIGN_TOL * page_h


def _stacked(a: BBox, b: BBox) -> bool:
    """Two captions directly one above the other in the same column (a caption block)."""
    line_h = 1.6 * min(a[3] - a[1], b[3] - b[1], 14.0)
    return horizontal_overlap(a, b) >= 0.5 and max(a[1] - b[3], b[1] - a[3]) <= line_h


def _reading_rank(boxes: list[BBox], page_w: float) -> list[int]:
    order = sorted(range(len(boxes)), key=lambda i: (0 if boxes[i][0] < page_w / 2 else 1, boxes[i][1], boxes[i][0]))
    rank = [0] * len(boxes)
    for r, i in enumerate(order):
        rank[i] = r
    return rank


def _number_key(num: str | None) -> tuple[float, ...] | None:
    if not num:
        return None
    parts = []
    for p in num.replace("-", ".").split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        if not digits:
            return None
        parts.append(float(digits))
    return tuple(parts)


def _substantial(items: PageItems, f: int, cfg: PairingConfig) -> bool:
    return area(items.figures[f]) >= cfg.cross_page_min_area * items.size[0] * items.size[1]


def _cross_cost(pages: list[PageItems], fk: int, f: int, ck: int, c: int, cfg: PairingConfig) -> float | None:
    """Cost of a figure on one page and a caption on the neighbouring page (None: not possible).

    A caption for the previous page's figure opens its page (no running text above it; the first caption
    is preferred); one for the next page's figure (facing pages) starts or ends its page's text and is
    preferably its page's last caption, at about the figure's height.
    """
    fp, cp = pages[fk], pages[ck]
    cap = cp.captions[c]
    delta = cp.page - fp.page
    if cap.kind != "figure" or abs(delta) != 1 or not _substantial(fp, f, cfg):
        return None
    cb = cap.bbox
    above = any(p[3] <= cb[1] + 1 and horizontal_overlap(p, cb) > 0.3 for p in cp.prose)
    below = any(p[1] >= cb[3] - 1 and horizontal_overlap(p, cb) > 0.3 for p in cp.prose)
    if (delta == 1 and above) or (delta == -1 and above and below):
        return None  # a caption inside running text belongs to its own page
    order = sorted((x for x in range(len(cp.captions)) if cp.captions[x].kind == "figure"),
                   key=lambda x: (cp.captions[x].bbox[1], cp.captions[x].bbox[0]))
    r = order.index(c)
    cy = (cap.bbox[1] + cap.bbox[3]) / 2 / cp.size[1]
    fy = (fp.figures[f][1] + fp.figures[f][3]) / 2 / fp.size[1]
    if delta == 1:
        return 0.2 + 0.15 * r + 0.1 * cy
    return 0.25 + 0.15 * (len(order) - 1 - r) + 0.1 * abs(fy - cy)


def _lsa(cost: np.ndarray) -> list[tuple[int, int]]:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < INFEASIBLE]


def _solve(pages: list[PageItems], ks: list[int], orphan: set[int], cfg: PairingConfig,
           ) -> tuple[list[Match], dict[int, list[int]], dict[int, list[int]]]:
    """One assignment over the candidates and captions of the pages ``ks`` (see module docstring)."""
    rows = [(k, f) for k in ks for f in range(len(pages[k].figures))]
    cols = [(k, c) for k in ks for c in range(len(pages[k].captions)) if pages[k].captions[c].claims]
    free_f = {k: list(range(len(pages[k].figures))) for k in ks}
    free_c = {k: [c for c in range(len(pages[k].captions)) if pages[k].captions[c].claims] for k in ks}
    if not rows or not cols:
        return [], free_f, free_c
    n_r, n_c = len(rows), len(cols)
    prim = np.full((n_r, n_c), INFEASIBLE)
    extra = np.full((n_r, n_c), INFEASIBLE)
    names: dict[tuple[int, int], str] = {}
    ranks = {}
    for k in ks:
        items = pages[k]
        keys = [_number_key(c.number) for c in items.captions]
        numbered = [c for c, cap in enumerate(items.captions) if keys[c] is not None and cap.kind == "figure"]
        cap_rank = {c: r for r, c in enumerate(sorted(numbered, key=lambda c: keys[c]))}  # type: ignore[arg-type,return-value]
        ranks[k] = (_reading_rank(items.figures, items.size[0]), cap_rank)
    for i, (k, f) in enumerate(rows):
        for j, (q, c) in enumerate(cols):
            if k == q:
                v, name = pair_cost(pages[k], f, c, cfg)
                if v <= cfg.max_cost:
                    fig_rank, cap_rank = ranks[k]
                    if c in cap_rank and len(cap_rank) > 1:
                        v += 0.02 * abs(fig_rank[f] - cap_rank[c])
                    prim[i, j] = v
                ve, name_e = pair_cost(pages[k], f, c, cfg, figures_block=False)
                if ve <= cfg.max_cost:
                    extra[i, j] = ve + cfg.extra_cost
                names[(i, j)] = name if v < INFEASIBLE else name_e
            elif cfg.cross_page and k in orphan:
                v = _cross_cost(pages, k, f, q, c, cfg)
                if v is not None and v <= cfg.max_cost:
                    prim[i, j] = v
                    extra[i, j] = v + cfg.extra_cost
                    names[(i, j)] = "next-page" if pages[q].page > pages[k].page else "previous-page"
    # extra slots per caption: one per further feasible candidate, capped (candidates beyond the cap still
    # join through _attach) so a page of hundreds of thumbnails keeps the matrix small
    slots = [j for j in range(n_c)
             for _ in range(min(MAX_EXTRA, max(0, int((extra[:, j] < INFEASIBLE).sum()) - 1)))]
    n_e = len(slots)
    # Square matrix. Rows: candidates, one stand-in per caption, one filler per extra slot. Columns: caption
    # primaries, extra slots, one "alone" column per candidate. A caption whose primary is taken by its
    # stand-in is left alone (cost), a candidate in an "alone" column too; fillers take unused slots free.
    unpaired = cfg.max_cost + 0.01
    size = n_r + n_c + n_e
    big = np.full((size, size), INFEASIBLE)
    alone = slice(n_c + n_e, size)
    big[:n_r, :n_c] = prim
    for s_, j in enumerate(slots):
        big[:n_r, n_c + s_] = extra[:, j]
    big[:n_r, alone] = unpaired
    for j in range(n_c):
        big[n_r + j, j] = unpaired
    big[n_r:n_r + n_c, alone] = 0.0
    big[n_r + n_c:, n_c:] = 0.0
    groups: dict[int, list[int]] = {}
    for r, col in _lsa(big):
        if r >= n_r:
            continue
        if col < n_c:
            groups.setdefault(col, []).insert(0, r)
        elif col < n_c + n_e:
            groups.setdefault(slots[col - n_c], []).append(r)
    matches = []
    for j in sorted(groups):
        members = groups[j]
        q, c = cols[j]
        first = members[0]
        fk = rows[first][0]
        same = [m for m in members if rows[m][0] == fk]
        figs = _coherent(pages[fk], [rows[m][1] for m in same])
        cost = prim[first, j] if prim[first, j] < INFEASIBLE else extra[first, j]
        name = names.get((first, j), "below")
        for f in figs:
            free_f[fk].remove(f)
        free_c[q].remove(c)
        matches.append(Match(pages[q].page, c, pages[fk].page, sorted(figs), name, round(float(cost), 4)))
    return matches, free_f, free_c


def _coherent(items: PageItems, figs: list[int]) -> list[int]:
    """The largest prefix-by-distance of ``figs`` (first = primary) whose union box is clear."""
    primary = figs[0]
    rest = sorted(figs[1:], key=lambda f: (gap(items.figures[primary], items.figures[f]), f))
    keep = [primary]
    for f in rest:
        box = union(items.figures[m] for m in keep + [f])
        if _clear(items, box, keep + [f] + [x for x in rest if x not in keep]):
            keep.append(f)
    return keep


def pair_book(pages: list[PageItems], cfg: PairingConfig) -> tuple[list[Match], dict[int, list[int]],
                                                                    dict[int, list[int]]]:
    """Pair every page of a book; returns matches and, per page position, the free figures and captions."""
    n = len(pages)
    orphan: set[int] = set()
    if cfg.cross_page:
        for k, p in enumerate(pages):
            if not any(c.kind == "figure" for c in p.captions) and any(
                    _substantial(p, f, cfg) for f in range(len(p.figures))):
                orphan.add(k)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for k in sorted(orphan):
        for q in (k - 1, k + 1):
            if 0 <= q < n and abs(pages[q].page - pages[k].page) == 1:
                a, b = find(k), find(q)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    comps: dict[int, list[int]] = {}
    for k in range(n):
        comps.setdefault(find(k), []).append(k)
    matches: list[Match] = []
    free_f: dict[int, list[int]] = {}
    free_c: dict[int, list[int]] = {}
    for root in sorted(comps):
        ms, ff, fc = _solve(pages, comps[root], orphan, cfg)
        matches.extend(ms)
        free_f.update(ff)
        free_c.update(fc)
    # free candidates join a group on their page (same terms as the assignment's extra slots)
    by_page = {p.page: k for k, p in enumerate(pages)}
    for k in range(n):
        if not free_f.get(k):
            continue
        own = [m for m in matches if by_page[m.figure_page] == k]
        same = {m.caption: m for m in own if m.caption_page == m.figure_page}
        groups = {c: list(m.figures) for c, m in same.items()}
        _attach(pages[k], groups, free_f[k], cfg)
        for c, m in same.items():
            m.figures = sorted(groups[c])
        for m in own:
            if m.caption_page != m.figure_page:
                g = {0: list(m.figures)}
                _attach(pages[k], g, free_f[k], cfg, same_page_caption=False)
                m.figures = sorted(g[0])
    for k in range(n):
        same_page = [m for m in matches if by_page[m.figure_page] == k and m.caption_page == m.figure_page]
        if len(same_page) > 1:
            groups = {m.caption: list(m.figures) for m in same_page}
            _regroup(pages[k], groups)
            for m in same_page:
                m.figures = sorted(groups[m.caption])
    matches.extend(pair_across_pages(pages, free_f, free_c, cfg))
    for m in matches:
        if len(m.figures) > 1 and not m.rule.endswith("+group"):
            m.rule += "+group"
    return matches, free_f, free_c


def _attach(items: PageItems, groups: dict[int, list[int]], free: list[int], cfg: PairingConfig,
            same_page_caption: bool = True) -> None:
    """Let a caption's group take further free candidates; mutates ``groups`` and ``free``.

    A free candidate joins when the grown box still relates to the caption (``groups`` keys index
    ``items.captions``) and covers no running text, no caption and no candidate of another group; free
    candidates the grown box covers join along (a panel grid fills in whatever order its panels come).
    """
    page_h = items.size[1]
    changed = True
    while changed and free:
        changed = False
        best: tuple[float, int, int, list[int]] | None = None
        for f in free:
            for c, members in groups.items():
                gbox = union(items.figures[m] for m in members)
                if gap(gbox, items.figures[f]) > cfg.attach_gap * page_h:
                    continue
                joined = _closure(items, members + [f], free)
                if joined is None:
                    continue
                grown = union(items.figures[m] for m in joined)
                if not _clear(items, grown, joined):
                    continue
                if same_page_caption:
                    cap = items.captions[c]
                    if intersection(grown, cap.bbox) > 0.1 * area(cap.bbox):
                        continue  # the caption would sit between the parts
                    rel = relation_cost(grown, cap.bbox, page_h, cap.kind)
                    if rel is None:
                        continue
                    score = rel[0] + gap(gbox, items.figures[f]) / page_h
                else:
                    score = gap(gbox, items.figures[f]) / page_h
                if best is None or (score, f, c) < best[:3]:
                    best = (score, f, c, joined)
        if best is not None:
            _, f, c, joined = best
            for k in joined:
                if k not in groups[c]:
                    groups[c].append(k)
                    free.remove(k)
            changed = True


def _links(items: PageItems, members: list[int]) -> float:
    """Length of the shortest tree joining a group's parts (sum of gaps, points): how tightly they sit."""
    if len(members) < 2:
        return 0.0
    boxes = [items.figures[m] for m in members]
    joined, total = [0], 0.0
    rest = list(range(1, len(boxes)))
    while rest:
        d, r = min((gap(boxes[j], boxes[r]), r) for r in rest for j in joined)
        total += d
        joined.append(r)
        rest.remove(r)
    return total


def _group_cost(items: PageItems, caption: int, members: list[int]) -> float | None:
    """A same-page group's cost: its union's relation to the caption plus its parts' links (None: invalid)."""
    grown = union(items.figures[m] for m in members)
    cap = items.captions[caption]
    if not _clear(items, grown, members) or intersection(grown, cap.bbox) > 0.1 * area(cap.bbox):
        return None
    rel = relation_cost(grown, cap.bbox, items.size[1], cap.kind)
    if rel is None:
        return None
    return rel[0] + _links(items, members) / items.size[1]


def _regroup(items: PageItems, groups: dict[int, list[int]]) -> None:
    """Move a part to the neighbouring group it sits closer to, when that makes both groups cheaper.

    The assignment prices a further part by its distance to the *caption*, since it cannot know the groups
    yet. Two figures stacked between their captions (the upper one's caption above it, the lower one's
    below) then split wrongly: the upper figure's last panel is nearer the lower caption, so it joins the
    lower figure although it sits right under its own siblings. A part moves when it is nearer to the other
    group's parts than to the rest of its own, and the two groups' costs (relation to the caption + gaps
    between parts) fall; ``groups`` (caption -> candidates) is mutated.
    """
    for _ in range(len(items.figures)):  # each move lowers the total; the bound only guards the loop
        now = {c: _group_cost(items, c, members) for c, members in groups.items()}
        best: tuple[float, int, int, int] | None = None
        for c, members in groups.items():
            if len(members) < 2 or now[c] is None:
                continue
            for part in members:
                rest = [m for m in members if m != part]
                own = min(gap(items.figures[part], items.figures[m]) for m in rest)
                nearer = [c2 for c2, others in groups.items() if c2 != c and now[c2] is not None
                          and min(gap(items.figures[part], items.figures[m]) for m in others) < own]
                after_c = _group_cost(items, c, rest) if nearer else None
                if after_c is None:
                    continue
                for c2 in nearer:
                    after = _group_cost(items, c2, groups[c2] + [part])
                    if after is None:
                        continue
                    gain = now[c] + now[c2] - after_c - after  # type: ignore[operator]
                    if gain > 0 and (best is None or (-gain, part, c2) < (-best[0], best[1], best[3])):
                        best = (gain, part, c, c2)
        if best is None:
            return
        _, part, c, c2 = best
        groups[c].remove(part)
        groups[c2].append(part)


def _closure(items: PageItems, members: list[int], free: list[int]) -> list[int] | None:
    """Grow ``members`` by the free candidates their union box covers; None if it covers a taken one."""
    members = list(members)
    while True:
        box = union(items.figures[m] for m in members)
        more = []
        for k, other in enumerate(items.figures):
            if k in members or intersection(box, other) <= 0.2 * max(area(other), 1e-6):
                continue
            if k not in free:
                return None
            more.append(k)
        if not more:
            return members
        members.extend(more)


def _clear(items: PageItems, box: BBox, members: list[int]) -> bool:
    """``box`` covers no running text, no caption line and no figure outside ``members``."""
    for p in items.prose:
        if intersection(box, p) > 0.3 * max(area(p), 1e-6):
            return False
    for cap in items.captions:
        for b in cap.lines or [cap.bbox]:
            if intersection(box, b) > 0.3 * max(area(b), 1e-6):
                return False
    for k, other in enumerate(items.figures):
        if k not in members and intersection(box, other) > 0.2 * max(area(other), 1e-6):
            return False
    return True


def pair_across_pages(pages: list[PageItems], free_figs: dict[int, list[int]], free_caps: dict[int, list[int]],
                      cfg: PairingConfig) -> list[Match]:
    """Pair figures still alone with figure captions still alone on the neighbouring page.

    ``pages`` are indexed by position; ``free_*`` map a position to free indices and are updated.
    """
    if not cfg.cross_page:
        return []
    by_page = {p.page: k for k, p in enumerate(pages)}
    fig_keys = [(k, f) for k in sorted(free_figs) for f in free_figs[k] if _substantial(pages[k], f, cfg)]
    cap_keys = [(k, c) for k in sorted(free_caps) for c in free_caps[k] if pages[k].captions[c].kind == "figure"]
    if not fig_keys or not cap_keys:
        return []
    cost = np.full((len(fig_keys), len(cap_keys)), INFEASIBLE)
    for i, (fk, f) in enumerate(fig_keys):
        if any(pages[fk].captions[x].kind == "figure" for x in free_caps.get(fk, [])):
            continue  # the figure's own page still has a caption for it to explain
        for j, (ck, c) in enumerate(cap_keys):
            v = _cross_cost(pages, fk, f, ck, c, cfg)
            if v is not None and v <= cfg.max_cost:
                cost[i, j] = v
    matches = []
    for i, j in _lsa(cost):
        fk, f = fig_keys[i]
        ck, c = cap_keys[j]
        rule = "next-page" if pages[ck].page > pages[fk].page else "previous-page"
        matches.append(Match(pages[ck].page, c, pages[fk].page, [f], rule, round(float(cost[i, j]), 4)))
        free_figs[fk].remove(f)
        free_caps[ck].remove(c)
    for m in matches:
        k = by_page[m.figure_page]
        groups = {0: m.figures}
        _attach(pages[k], groups, free_figs[k], cfg, same_page_caption=False)
        m.figures = sorted(groups[0])
    return matches


def pair_page(items: PageItems, cfg: PairingConfig) -> tuple[list[Match], list[int], list[int]]:
    """Pair a single page on its own: matches, free figure indices, free caption indices."""
    matches, ff, fc = pair_book([items], PairingConfig(**{**cfg.__dict__, "cross_page": False}))
    return matches, ff.get(0, []), fc.get(0, [])
