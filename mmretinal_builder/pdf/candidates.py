"""Figure candidates on a page model: rasters and vector drawings grouped with their in-figure labels.

1. Images that abut (tiles of one picture) are merged into one *picture*.
2. *Seeds* are pictures and vector clusters of figure size; seeds that touch are merged. Pictures that form
   a regular grid (rows and columns with aligned edges, one small gap) are one seed, even across a column
   gutter: pairing could otherwise split the grid by column.
3. *Satellites* — small images, small drawings (arrows, legend swatches), text lines that are neither prose,
   caption nor page furniture — are absorbed into the nearest seed group when close and aligned, as long
   as the grown box covers no caption or prose line and no other group.
4. Table regions (the ruled lines and cell text next to a table caption) are kept out of all of this.

Pairing then decides which groups belong to which caption (one caption may take several groups).
Works on :class:`~mmretinal_builder.pdf.page_model.PageModel` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..geometry import BBox, area, gap, horizontal_overlap, intersection, union, vertical_overlap
from .layout import PageLayout
from .page_model import PageModel

TILE_GAP = 1.5  # images closer than this, edge to edge and aligned, are tiles of one picture
MERGE_GAP = 2.0  # seeds closer than this are one figure
GRID_EDGE = 1.5  # points: edges of grid cells in one row / column line up within this
GRID_GAP = 0.12  # x the smaller cell side: the largest gap between neighbouring grid cells ...
GRID_GAP_BODY = 0.8  # ... and x the body font size: wider gaps are gutters between figures


@dataclass
class Candidate:
    """A group of graphics (and their labels) that may be a figure."""

    page: int
    bbox: BBox
    images: list[int] = field(default_factory=list)  # indices into PageModel.images
    drawings: list[int] = field(default_factory=list)  # indices into PageModel.drawings
    lines: list[int] = field(default_factory=list)  # absorbed label lines
    pictures: list[BBox] = field(default_factory=list)  # tile-merged images: the figure's parts

    @property
    def kind(self) -> str:
        if self.images and self.drawings:
            return "mixed"
        return "raster" if self.images else "vector"


@dataclass
class CandidateConfig:
    min_size: float = 28.0  # points: smaller graphics are never figures on their own
    absorb_gap: float = 1.5  # x body font size: how far labels and small drawings may sit from a figure
    min_vector_paths: int = 3


def _covers(box: BBox, other: BBox, share: float = 0.3) -> bool:
    a = area(other)
    return a > 0 and intersection(box, other) >= share * a


def table_regions(model: PageModel, layout: PageLayout, table_caps: list[tuple[BBox, list[int]]],
                  stop_lines: set[int], body_size: float) -> list[BBox | None]:
    """The area of each captioned table (None where none is found): ruled lines and short text lines
    next to its caption.

    Grows from the caption on the side with more table material (rules count double), never into figure
    material (pictures, drawings with curves or fills), stopping at captions, prose and large gaps.
    """
    out = []
    step = 2.2 * body_size
    # figure material (pictures, drawings with curves/fills/diagonals) is never part of a table
    figure_boxes = [im.bbox for im in model.images if not im.decoration]
    figure_boxes += [d.bbox for d in model.drawings if not d.decoration and not d.rule_only and not d.is_thin]

    def near_figure(b: BBox) -> bool:
        return any(gap(b, f) <= 3.0 for f in figure_boxes)

    if not table_caps:
        return out
    # what can never join a table, whatever the region: tested once, not in every round of every caption
    rules = [d for d in model.drawings if not d.decoration and (d.rule_only or d.is_thin)]
    cells = [i for i, ln in enumerate(model.lines)
             if i not in stop_lines and not layout.furniture[i] and not near_figure(ln.bbox)]
    for cap_box, cap_lines in table_caps:
        best: tuple[float, BBox] | None = None
        for side in ("below", "above"):
            region = cap_box
            score = 0.0
            changed = True
            while changed:
                changed = False
                for d in rules:
                    if _covers(region, d.bbox, 0.9):
                        continue
                    if any(intersection(union([region, d.bbox]), f) > 0 for f in figure_boxes):
                        continue
                    if _adjacent(region, d.bbox, side, step) and horizontal_overlap(d.bbox, cap_box) > 0.3:
                        region = union([region, d.bbox])
                        score += 2
                        changed = True
                for i in cells:
                    ln = model.lines[i]
                    if i in cap_lines or _covers(region, ln.bbox, 0.9):
                        continue
                    if layout.prose[i] and not _covers(region, ln.bbox, 0.5):
                        continue
                    if any(intersection(union([region, ln.bbox]), f) > 0 for f in figure_boxes):
                        continue
                    if _adjacent(region, ln.bbox, side, step) and horizontal_overlap(ln.bbox, region) > 0.5:
                        region = union([region, ln.bbox])
                        score += 1
                        changed = True
                if any(_covers(region, model.lines[i].bbox) for i in stop_lines if i not in cap_lines):
                    break
            if score and (best is None or score > best[0]):
                best = (score, region)
        out.append(best[1] if best is not None else None)
    return out


def _adjacent(region: BBox, box: BBox, side: str, step: float) -> bool:
    if side == "below":
        return box[1] >= region[1] and box[1] - region[3] <= step and box[3] > region[3]
    return box[3] <= region[3] and region[1] - box[3] <= step and box[1] < region[1]


def build_candidates(model: PageModel, layout: PageLayout, body_size: float, caption_lines: set[int],
                     tables: list[BBox], cfg: CandidateConfig | None = None) -> list[Candidate]:
    """Group the page's graphics into figure candidates (see module docstring)."""
    cfg = cfg or CandidateConfig()
    in_table = [lambda b, t=t: _covers(t, b, 0.8) for t in tables]

    def tabled(b: BBox) -> bool:
        return any(f(b) for f in in_table)

    # 1. pictures: tiles merged
    imgs = [i for i, im in enumerate(model.images)
            if not im.decoration and i != model.scan_image and area(im.bbox) > 1.0]
    parent = {i: i for i in imgs}

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a_i, i in enumerate(imgs):
        for j in imgs[a_i + 1:]:
            bi, bj = model.images[i].bbox, model.images[j].bbox
            if gap(bi, bj) > TILE_GAP:
                continue
            tiles = vertical_overlap(bi, bj) >= 0.9 or horizontal_overlap(bi, bj) >= 0.9
            stacked = intersection(bi, bj) >= 0.9 * min(area(bi), area(bj))
            if tiles or stacked:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    pictures: dict[int, list[int]] = {}
    for i in imgs:
        pictures.setdefault(find(i), []).append(i)
    pic_boxes = {r: union(model.images[i].bbox for i in members) for r, members in pictures.items()}

    protected = [model.lines[i].bbox for i in sorted(caption_lines)]
    protected += [ln.bbox for i, ln in enumerate(model.lines) if layout.prose[i] and i not in caption_lines]

    def big(b: BBox) -> bool:
        return min(b[2] - b[0], b[3] - b[1]) >= cfg.min_size

    # 2. seeds
    groups: list[Candidate] = []
    sat_pics: list[int] = []
    seedable = [r for r in sorted(pictures) if big(pic_boxes[r]) and not tabled(pic_boxes[r])]
    gridded: set[int] = set()
    for cells in picture_grids([pic_boxes[r] for r in seedable], GRID_GAP_BODY * body_size):
        roots = [seedable[k] for k in cells]
        box = union(pic_boxes[r] for r in roots)
        if any(_covers(box, p) and not any(_covers(pic_boxes[r], p) for r in roots) for p in protected):
            continue  # a caption or running text between the cells: not one figure
        groups.append(Candidate(model.number, box, images=sorted(i for r in roots for i in pictures[r]),
                                pictures=[pic_boxes[r] for r in roots]))
        gridded.update(roots)
    for r, members in sorted(pictures.items()):
        if r in gridded:
            continue
        box = pic_boxes[r]
        if big(box) and not tabled(box) and sum(1 for p in protected if _covers(box, p, 0.6)) < 2:
            groups.append(Candidate(model.number, box, images=sorted(members), pictures=[box]))
        elif not tabled(box):
            sat_pics.append(r)
    sat_drw: list[int] = []
    for k, d in enumerate(model.drawings):
        if d.decoration or tabled(d.bbox):
            continue
        figure_like = (not d.rule_only and d.n_paths >= cfg.min_vector_paths
                       and d.n_curves + d.n_fills + d.n_diagonals >= 2)
        if big(d.bbox) and figure_like and not _text_box(model, layout, d.bbox):
            groups.append(Candidate(model.number, d.bbox, drawings=[k]))
        else:
            sat_drw.append(k)
    groups = _merge_touching(groups)

    # 3. satellites, nearest first, until nothing changes
    reach = cfg.absorb_gap * body_size
    sat_lines = [i for i, ln in enumerate(model.lines)
                 if i not in caption_lines and not layout.prose[i] and not layout.furniture[i]
                 and not tabled(ln.bbox)]
    pending: list[tuple[str, int, BBox]] = (
        [("pic", r, pic_boxes[r]) for r in sat_pics]
        + [("drw", k, model.drawings[k].bbox) for k in sat_drw]
        + [("line", i, model.lines[i].bbox) for i in sat_lines]
    )
    changed = True
    rounds = 0
    while changed and groups and rounds < 25:
        changed = False
        rounds += 1
        best_moves: list[tuple[float, int, int]] = []
        for s_idx, (kind, key, box) in enumerate(pending):
            best = None
            for g_idx, g in enumerate(groups):
                inside = _covers(g.bbox, box, 0.5)
                if not inside:
                    if kind == "drw" and model.drawings[key].is_thin:
                        continue  # separators and rules join a figure only when they lie inside it
                    if kind == "line" and model.lines[key].size > body_size * 1.25 + 0.5:
                        continue  # headings are not labels
                    dist = gap(g.bbox, box)
                    if dist > reach:
                        continue
                    aligned = horizontal_overlap(g.bbox, box) >= 0.5 or vertical_overlap(g.bbox, box) >= 0.5
                    if not aligned and dist > 0.4 * reach:  # an axis title at a corner is close, not aligned
                        continue
                else:
                    dist = 0.0
                if best is None or dist < best[0]:
                    best = (dist, g_idx)
            if best is not None:
                best_moves.append((best[0], s_idx, best[1]))
        taken: set[int] = set()
        for _dist, s_idx, g_idx in sorted(best_moves):
            if s_idx in taken:
                continue
            kind, key, box = pending[s_idx]
            g = groups[g_idx]
            on_picture = kind == "line" and any(intersection(model.images[i].bbox, box) > 0 for i in g.images)
            # A label printed on a photo belongs to it but does not widen it: its overflow is cut.
            grown = g.bbox if on_picture else union([g.bbox, box])
            if any(_covers(grown, p) and not _covers(g.bbox, p) for p in protected):
                continue  # the grown figure would swallow a caption or running text
            if any(o is not g and intersection(grown, o.bbox) > 0 for o in groups):
                continue
            g.bbox = grown
            if kind == "pic":
                g.images.extend(pictures[key])
                g.images.sort()
                if big(box):
                    g.pictures.append(box)
            elif kind == "drw":
                g.drawings.append(key)
            else:
                g.lines.append(key)
            taken.add(s_idx)
            changed = True
        pending = [p for i, p in enumerate(pending) if i not in taken]
        if changed:
            groups = _merge_touching(groups)
    for g in groups:
        g.lines.sort()
        g.drawings.sort()
        g.pictures.sort(key=lambda b: (round(b[1], 1), round(b[0], 1)))
    groups.sort(key=lambda g: (round(g.bbox[1], 1), round(g.bbox[0], 1)))
    return groups


def picture_grids(boxes: list[BBox], max_gap: float) -> list[list[int]]:
    """Indices of boxes that form regular grids: rows x columns with every cell filled (2 x 2 or more, or a
    strip of 3 or more), cells of a row sharing top and bottom and cells of a column sharing left and right,
    one small gap (at most ``max_gap`` points) throughout.

    Neighbours are linked only at the smallest gap found among them, so two grids set apart by a wider
    gap (a gutter, a caption) stay apart, and a picture at a larger gap is never pulled in.
    """
    def size(b: BBox) -> float:
        return min(b[2] - b[0], b[3] - b[1])

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= GRID_EDGE

    links: list[tuple[float, int, int]] = []
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            row = close(a[1], b[1]) and close(a[3], b[3])
            col = close(a[0], b[0]) and close(a[2], b[2])
            if row == col:  # neither aligned, or the same box twice
                continue
            g = max(b[0] - a[2], a[0] - b[2]) if row else max(b[1] - a[3], a[1] - b[3])
            if 0 <= g <= min(max_gap, GRID_GAP * min(size(a), size(b))):
                links.append((g, i, j))
    if not links:
        return []
    # keep the links at the smallest gap of their component (within a tolerance): one gap per grid
    grids: list[list[int]] = []
    for comp in _components(len(boxes), links):
        own = [lk for lk in links if lk[1] in comp]
        g0 = min(lk[0] for lk in own)
        tight = [lk for lk in own if lk[0] <= g0 + max(1.0, 0.5 * g0)]
        for cells in _components(len(boxes), tight):
            if _full_grid([boxes[k] for k in cells]):
                grids.append(sorted(cells))
    return sorted(grids)


def _components(n: int, links: list[tuple[float, int, int]]) -> list[list[int]]:
    """Connected components (with two or more members) of the graph of links over n nodes."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for _g, i, j in links:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    comps: dict[int, list[int]] = {}
    for _g, i, j in links:
        for k in (i, j):
            comps.setdefault(find(k), [])
            if k not in comps[find(k)]:
                comps[find(k)].append(k)
    return [sorted(c) for c in comps.values()]


def _full_grid(cells: list[BBox]) -> bool:
    """Cells fill a rows x columns grid (both >= 2, or a strip of >= 3) whose rows and columns line up."""
    def bands(starts: list[float]) -> list[float]:
        out: list[float] = []
        for v in sorted(starts):
            if not out or v - out[-1] > GRID_EDGE:
                out.append(v)
        return out

    rows, cols = bands([c[1] for c in cells]), bands([c[0] for c in cells])
    # two pictures side by side are as often two figures as one: pairing decides those
    two_d = len(rows) >= 2 and len(cols) >= 2
    if not (two_d or len(cells) >= 3) or len(cells) != len(rows) * len(cols):
        return False
    slots = {(min(range(len(rows)), key=lambda k: abs(rows[k] - c[1])),
              min(range(len(cols)), key=lambda k: abs(cols[k] - c[0]))) for c in cells}
    if len(slots) != len(cells):
        return False
    # every row shares its top and bottom, every column its left and right
    for lo, hi, starts in ((1, 3, rows), (0, 2, cols)):
        for band in starts:
            ends = [c[hi] for c in cells if abs(c[lo] - band) <= GRID_EDGE]
            if max(ends) - min(ends) > GRID_EDGE:
                return False
    return True


def _text_box(model: PageModel, layout: PageLayout, box: BBox) -> bool:
    """A framed or shaded box around running text (a sidebar), not a figure."""
    prose = [ln.bbox for i, ln in enumerate(model.lines) if layout.prose[i] and _covers(box, ln.bbox, 0.8)]
    return len(prose) >= 3 and sum(area(b) for b in prose) >= 0.25 * area(box)


def _merge_touching(groups: list[Candidate]) -> list[Candidate]:
    """Merge groups whose boxes overlap or nearly touch (an arrow drawn over a photo, a frame around it)."""
    groups = list(groups)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                if gap(a.bbox, b.bbox) <= MERGE_GAP:
                    groups[i] = Candidate(
                        a.page, union([a.bbox, b.bbox]), sorted(a.images + b.images), sorted(a.drawings + b.drawings),
                        sorted(a.lines + b.lines), a.pictures + b.pictures,
                    )
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups
