"""Split one raster into panels along white or black gutters: a recursive XY-cut on projection profiles.

A *gutter* is a run of rows (or columns) that crosses the **whole** current region and is near-uniform
white or near-uniform black, at least a few pixels thick, strictly inside the region. Black is the
canvas's flat black only: the dark grey of a picture (an OCT's vitreous, a noisy photo surround) is
content, so a panel keeps its full extent (:func:`.masks.measure_canvas`). A cut is only made
when the pieces it leaves are plausible images themselves (big enough, not blank); thin, mostly empty
pieces are *label strips* (a row of burned-in letters under the panels), kept aside for OCR. A single
photograph has no such gutter: the dark surround of a fundus photo touches the frame (it is a margin,
trimmed) and never crosses the picture, so it is never split.

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .black_canvas import claim_corner_letters, extend_on_black, share_black_gaps
from .deskew import edge_skew, estimate_skew, hull_back
from .insets import merge_zooms
from .masks import (
    BLACK,
    CONTENT,
    WHITE,
    Masks,
    PxBox,
    SplitParams,
    line_classes,
    line_runs,
    masks,
    measure_canvas,
)
from .seams import Seam, SeamMaps, SeamParams, blurred_cut, find_seams, grid_cuts, profile, upsampling
from .tiles import letter_corner, same_size, texture, texture_map, tile_kind

__all__ = ["PxBox", "SplitParams", "SplitResult", "reading_order", "split_raster"]


@dataclass
class SplitResult:
    """Panels in reading order, and the label strips that were left out of them."""

    panels: list[PxBox] = field(default_factory=list)
    strips: list[PxBox] = field(default_factory=list)


def _inner_runs(runs: list[tuple[int, int, int]], margin: frozenset[int]) -> tuple[int, int]:
    """Index range of ``runs`` left after dropping margin runs at both ends; a 1-2 line sliver of content
    next to a margin (a JPEG edge, the clipped top of a glyph) goes with the margin."""

    def sliver(k: int) -> bool:
        return runs[k][2] == CONTENT and runs[k][1] - runs[k][0] <= 2

    lo, hi = 0, len(runs)
    while lo < hi and (runs[lo][2] in margin or sliver(lo) and lo + 1 < hi and runs[lo + 1][2] in margin):
        lo += 1
    while hi > lo and (runs[hi - 1][2] in margin or sliver(hi - 1) and hi - 2 > lo and runs[hi - 2][2] in margin):
        hi -= 1
    return lo, hi


def _trim(m: Masks, box: PxBox, p: SplitParams, margin: frozenset[int]) -> PxBox | None:
    """Drop background margins of the classes in ``margin`` on all four sides; None when nothing is left.

    On a white canvas only white is a margin: a fundus photo's own black surround stays in its box.
    """
    for _ in range(3):
        before = box
        for axis in (0, 1):
            x0, y0, x1, y1 = box
            runs = line_runs(line_classes(m, box, axis, p.gutter_fill))
            lo, hi = _inner_runs(runs, margin)
            if lo >= hi:
                return None
            a, b = runs[lo][0], runs[hi - 1][1]
            box = (x0, y0 + a, x1, y0 + b) if axis == 0 else (x0 + a, y0, x0 + b, y1)
        if box == before:
            break
    return box


def _ink(m: Masks, box: PxBox) -> float:
    x0, y0, x1, y1 = box
    bg = m.white[y0:y1, x0:x1] | m.canvas_black[y0:y1, x0:x1]
    return float(1.0 - bg.mean()) if bg.size else 0.0


def _std(m: Masks, box: PxBox) -> float:
    x0, y0, x1, y1 = box
    g = m.gray[y0:y1, x0:x1]
    return float(g.std()) if g.size else 0.0


def _sub(box: PxBox, axis: int, a: int, b: int) -> PxBox:
    """The slice ``[a, b)`` of ``box`` along ``axis`` (0: rows, 1: columns), in region-relative lines."""
    x0, y0, x1, y1 = box
    return (x0, y0 + a, x1, y0 + b) if axis == 0 else (x0 + a, y0, x0 + b, y1)


def _canvas_is_white(m: Masks, p: SplitParams) -> bool:
    """A figure is on a white canvas when any full row or column is white (photographs never are)."""
    box = (0, 0, m.gray.shape[1], m.gray.shape[0])
    for axis in (0, 1):
        runs = line_runs(line_classes(m, box, axis, p.gutter_fill))
        if any(c == WHITE and e - s >= p.min_gutter_px for s, e, c in runs):
            return True
    return False


@dataclass(frozen=True)
class _Cut:
    """A cut across the current region: lines ``[start, end)``; ``kind`` is 'gap' (a gutter of background
    lines), 'seam' (tiles meeting, :mod:`.seams`) or 'grid' (a seam a row of equal tiles predicts);
    ``black``: a black-only gutter on a white canvas."""

    start: int
    end: int
    black: bool = False
    kind: str = "gap"


_CUT_RANK = {"grid": 0, "seam": 1, "gap": 2}  # which cut goes first when a piece must merge back
MIN_REGION_TEXTURE = 0.2  # below this share of textured pixels a region holds no photograph: no seams looked for


class _Splitter:
    def __init__(self, img: np.ndarray, p: SplitParams, region: PxBox | None = None,
                 seams: SeamParams | None = None) -> None:
        self.p = p
        self.img = img
        self.sp = seams if seams is not None else SeamParams()
        self.m = masks(img, p)
        self.tex = texture_map(self.m.gray, (upsampling(img, 1), upsampling(img, 0))) if self.sp.enabled else None
        self.h, self.w = self.m.gray.shape
        box = region if region is not None else (0, 0, self.w, self.h)
        x0, y0, x1, y1 = box
        if not (0 <= x0 < x1 <= self.w and 0 <= y0 < y1 <= self.h):
            raise ValueError(f"region {box} is not inside the {self.w}x{self.h} image")
        self.m.set_canvas(measure_canvas(self.m, box, p))
        self.white_canvas = _canvas_is_white(self.m, p)
        self.margin = frozenset({WHITE}) if self.white_canvas else frozenset({WHITE, BLACK})
        self.strips: list[PxBox] = []
        self.photo_tiles: set[tuple[int, int]] = set()  # sizes of photograph-like panels met so far
        self.leaf_photos: set[tuple[int, int]] = set()  # ...of those that were not cut any further
        self.blur_cuts: dict[int, list[int]] = {0: [], 1: []}  # blurred seams found (absolute lines)
        self.seam_maps: dict[int, SeamMaps] = {}  # per axis, computed when first needed
        self.tile_cuts: dict[int, list[int]] = {0: [], 1: []}  # where tiles were cut (absolute lines)

    def min_extent(self, axis: int) -> float:
        full = self.h if axis == 0 else self.w
        return max(self.p.min_panel_px, self.p.min_panel_frac * full)

    def kind(self, box: PxBox, axis: int, neighbour_extent: int) -> str:
        """'panel', 'strip' (thin, mostly empty: burned-in labels), 'blank' or 'junk' (merge it back)."""
        extent = box[3] - box[1] if axis == 0 else box[2] - box[0]
        ink = _ink(self.m, box)
        if ink < self.p.min_ink:
            return "blank"
        x0, y0, x1, y1 = box
        if extent <= self.p.legend_frac * neighbour_extent and \
                float(self.m.white[y0:y1, x0:x1].mean()) >= self.p.legend_paper:
            return "strip"  # a row of text beside the panels (a legend, letters): no panel however inky
        if extent >= self.min_extent(axis) and _std(self.m, box) >= self.p.min_content_std \
                and ink >= self.p.min_panel_ink:
            return "panel"
        if extent <= self.p.strip_frac * neighbour_extent and ink <= self.p.strip_max_ink:
            return "strip"
        return "junk"

    def gutters(self, box: PxBox, axis: int) -> list[_Cut]:
        """Interior gutters across ``axis`` (region-relative lines).

        Adjacent white and black runs form one gutter; on a white canvas its black parts are the
        neighbouring photos' own surround, so the cut keeps them in the panels.
        """
        across = box[2] - box[0] if axis == 0 else box[3] - box[1]
        min_gutter = max(self.p.min_gutter_px, self.p.min_gutter_frac * across, 1)
        runs = line_runs(line_classes(self.m, box, axis, self.p.gutter_fill))
        units: list[list[tuple[int, int, int]]] = []
        joinable = False  # the previous run was background, or a 1-2 line JPEG edge right after one
        for run in runs:
            if run[2] == CONTENT:
                joinable = joinable and run[1] - run[0] <= 2
                continue
            if units and joinable:
                units[-1].append(run)
            else:
                units.append([run])
            joinable = True
        out = []
        for unit in units:
            start, end = unit[0][0], unit[-1][1]
            if start <= 2 or end >= runs[-1][1] - 2 or end - start < min_gutter:
                continue  # margins (maybe behind a 1-2 line JPEG edge) are trimmed, not cut
            whites = [r for r in unit if r[2] == WHITE]
            if self.white_canvas and whites:
                start, end = whites[0][0], whites[-1][1]
            out.append(_Cut(start, end, black=not whites and self.white_canvas))
        return out

    def thin_gaps(self, box: PxBox, axis: int) -> list[Seam]:
        """Runs of 1-3 lines that are all black or all white (pixel by pixel, not the canvas's flat black a
        gutter must be) with picture on both sides: two photographs whose dark surrounds nearly touch."""
        x0, y0, x1, y1 = box
        bg = self.m.black[y0:y1, x0:x1] | self.m.white[y0:y1, x0:x1]
        share = bg.mean(axis=1 if axis == 0 else 0)
        full = share >= self.p.gutter_fill
        out = []
        for s0, e0, k in line_runs(full.astype(np.int8)):
            if not k or e0 - s0 > 3 or s0 < 8 or e0 > len(share) - 8:
                continue
            if min(1 - share[s0 - 3:s0].mean(), 1 - share[e0:e0 + 3].mean()) >= 0.05:
                out.append(Seam(s0, e0, 1.0, "line"))
        return out

    def coarse_grid(self, box: PxBox, axis: int, gaps: list[tuple[int, int]]) -> list[Seam] | None:
        """Seams and the grid they anchor at half resolution, in region lines: a scan's blur spreads a seam
        over more lines than a band may span. None when there are none (or the figure is no scan)."""
        if not self.sp.coarse or min(self.h, self.w) < 4 * self.p.min_panel_px:
            return None
        key = axis + 10
        if key not in self.seam_maps:
            half = cv2.resize(self.img, (self.w // 2, self.h // 2), interpolation=cv2.INTER_AREA)
            self.seam_maps[key] = SeamMaps(half, axis, self.sp)
        x0, y0, x1, y1 = box
        pr = profile(self.seam_maps[key], (x0 // 2, y0 // 2, x1 // 2, y1 // 2), axis)
        seams = find_seams(pr, self.seam_maps[key], self.sp)
        if not seams:
            return None
        lo = (y0 if axis == 0 else x0) // 2 * 2 - (y0 if axis == 0 else x0)  # half-res origin, region lines
        half_gaps = [((a - lo) // 2, (b - lo + 1) // 2) for a, b in gaps]
        grid = grid_cuts(pr, half_gaps, seams, self.sp) or [*((Seam(a, b, 1.0, "gap")) for a, b in half_gaps),
                                                             *seams]
        return sorted((Seam(max(0, 2 * sm.start + lo), max(0, 2 * sm.end + lo), sm.strength, sm.kind)
                       for sm in grid), key=lambda sm: sm.start)

    def blurred_grid(self, box: PxBox, axis: int, n: int) -> list[Seam] | None:
        """The cuts of ``n`` equal tiles edge to edge (or 1-3 px apart) across ``axis`` when a blurred seam
        (:func:`.seams.blurred_cut`) is found at every boundary; None otherwise. Only where something else
        predicts the tiles (tiles of that size elsewhere in the figure, the panels the caption names)."""
        extent = box[3] - box[1] if axis == 0 else box[2] - box[0]
        tol = max(4, int(0.03 * extent))
        start = box[1] if axis == 0 else box[0]
        cuts = [blurred_cut(self.img, box, axis, k * extent / n, tol) for k in range(1, n)]
        for k, cut in enumerate(cuts):
            at = (k + 1) * extent / n
            # a boundary the other cuts of this grid, or a cut of the neighbouring row, anchor
            if cut is None and (any(c is not None for c in cuts) or
                                any(abs(a - start - at) <= tol for a in self.blur_cuts[axis])):
                cuts[k] = blurred_cut(self.img, box, axis, at, tol, anchored=True)
        if any(c is None for c in cuts):
            return None
        self.blur_cuts[axis] += [start + c.start for c in cuts if c is not None]
        return [c for c in cuts if c is not None]

    def expected(self, panels: list[PxBox], n: int) -> list[PxBox]:
        """``panels`` with a panel cut into equal tiles at blurred seams where fewer than the ``n`` panels the
        caption names were found (a scan's 1-2 px gutters blur away): the largest panel first, into as many
        tiles as are missing plus one or fewer, along either axis, then the pieces too (a grid); every piece
        must be a tile (:meth:`_kinds`)."""
        out, tried = list(panels), set()
        while len(out) < n:  # a grid: its columns first, then each column's rows (or the other way)
            todo = [b for b in out if b not in tried]
            if not todo:
                break
            panel = max(todo, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            tried.add(panel)
            for k in range(n - len(out) + 1, 1, -1):
                pieces = self._blurred_tiles(panel, k)
                if pieces is not None:
                    i = out.index(panel)
                    out[i:i + 1] = pieces
                    break
        return out

    def _blurred_tiles(self, box: PxBox, k: int) -> list[PxBox] | None:
        for axis in (1, 0):  # a row of tiles is the commoner
            extent = box[3] - box[1] if axis == 0 else box[2] - box[0]
            if extent < k * self.min_extent(axis):
                continue
            grid = self.blurred_grid(box, axis, k)
            if grid is None:
                continue
            cuts = [_Cut(sm.start, sm.end, kind="seam") for sm in grid]
            bounds = [0] + [g for c in cuts for g in (c.start, c.end)] + [extent]
            pieces = [_sub(box, axis, bounds[2 * i], bounds[2 * i + 1]) for i in range(len(cuts) + 1)]
            if all(kd == "panel" for kd in self._kinds(pieces, cuts, axis, in_tile=False)):
                return pieces
        return None

    def cuts(self, box: PxBox, axis: int) -> list[_Cut]:
        """Gutters, seams between tiles that meet without one, and the cuts a row of equal tiles predicts
        (:mod:`.seams`); a grid that nothing else anchors needs a letter in the same corner of every tile.
        A gutter that a row of edge-to-edge tiles explains as a tile's own margin is no cut."""
        gaps = self.gutters(box, axis)
        extent = box[3] - box[1] if axis == 0 else box[2] - box[0]
        across = box[2] - box[0] if axis == 0 else box[3] - box[1]
        if not self.sp.enabled or extent < 2 * self.min_extent(axis) or across < self.min_extent(1 - axis):
            return gaps
        if self.tex is not None and texture(self.tex, box) < MIN_REGION_TEXTURE:
            return gaps  # flat graphics (a chart, a diagram, a map without its photograph): no tiles to find
        if axis not in self.seam_maps:
            self.seam_maps[axis] = SeamMaps(self.img, axis, self.sp)
        pr = profile(self.seam_maps[axis], box, axis)
        spans = [(c.start, c.end) for c in gaps]
        seams = find_seams(pr, self.seam_maps[axis], self.sp)
        if not seams and (coarse := self.coarse_grid(box, axis, [(c.start, c.end) for c in gaps])):
            kind = {"gap": "gap", "grid": "grid"}

            def gap_of(sm: Seam) -> _Cut | None:  # a gutter comes back from half resolution a line off
                return next((c for c in gaps if sm.kind == "gap" and c.start <= sm.end and sm.start <= c.end), None)

            # a gutter keeps its own lines and whether it is black only (a photo's surround on white paper)
            return [g if (g := gap_of(sm)) is not None else _Cut(sm.start, sm.end, kind=kind.get(sm.kind, "seam"))
                    for sm in coarse]
        thin = [sm for sm in self.thin_gaps(box, axis) if all(sm.end < a - 3 or sm.start > b + 3 for a, b in spans)
                and all(sm.end < o.start - 3 or sm.start > o.end + 3 for o in seams)]
        seams = sorted(seams + thin, key=lambda sm: sm.start)
        grid = grid_cuts(pr, spans, seams, self.sp)
        if grid is None and self.photo_tiles:  # the size of the photographs elsewhere in the figure
            start = box[1] if axis == 0 else box[0]
            aligned = tuple(a - start for a in self.tile_cuts[axis])
            # tiles of that size: the region is as deep as they are across the cut (t = (width, height))
            for tile in sorted({t[1 - axis] for t in self.photo_tiles if same_size(t[axis], across)}):
                grid = grid_cuts(pr, spans, seams, self.sp, tile=tile, aligned=aligned)
                if grid is not None:
                    break
        if grid is None and self.sp.coarse and not spans:
            # a scan's blurred seams, where photographs that were not cut any further (panels, not rows of
            # them) are as deep across the cut and the region is a whole number of them along it
            for tw, th in sorted(self.leaf_photos):
                tile, n = (th, tw) if axis == 0 else (tw, th), round(extent / (th if axis == 0 else tw))
                if same_size(tile[1], across) and n >= 2 and abs(n * tile[0] - extent) <= max(4, 0.02 * extent):
                    grid = self.blurred_grid(box, axis, n)
                    if grid is not None:
                        break
        if grid is None:
            # no seam anchors a grid: only letters in the same corner of every tile may confirm one
            grid = grid_cuts(pr, spans, seams, self.sp, letters=True)
            if grid is not None:
                bounds = [0] + [g for sm in grid for g in (sm.start, sm.end)] + [extent]
                tiles = [_sub(box, axis, bounds[2 * i], bounds[2 * i + 1]) for i in range(len(grid) + 1)]
                if letter_corner(self.img, tiles) is None:
                    grid = None
        if grid is not None:
            black = {(c.start, c.end): c.black for c in gaps}
            kind = {"gap": "gap", "grid": "grid"}
            return [_Cut(sm.start, sm.end, black=black.get((sm.start, sm.end), False),
                         kind=kind.get(sm.kind, "seam")) for sm in grid]
        # a seam at a gutter's edge is that gutter's (a photo's edge against the white)
        out = gaps + [_Cut(sm.start, sm.end, kind="seam") for sm in seams
                      if all(sm.end < a - 3 or sm.start > b + 3 for a, b in spans)]
        return sorted(out, key=lambda c: c.start)

    def _kinds(self, pieces: list[PxBox], cuts: list[_Cut], axis: int, in_tile: bool) -> list[str]:
        """Kind of each piece: 'panel', 'strip', 'blank' or 'junk'. A piece next to a seam, or any piece of
        a tile (``in_tile``: the black gaps of a vessel map are no gutters), must be a tile itself."""
        extents = [p[3] - p[1] if axis == 0 else p[2] - p[0] for p in pieces]
        min_ext = (self.min_extent(0), self.min_extent(1))
        kinds, tiles = [], []
        for i, piece in enumerate(pieces):
            near = [cuts[j] for j in (i - 1, i) if 0 <= j < len(cuts)]
            tk = tile_kind(self.m, self.tex, piece, min_ext, self.p.min_content_std, self.img) \
                if self.tex is not None else "none"
            tiles.append(tk)
            if in_tile or any(c.kind != "gap" for c in near):
                kinds.append("panel" if tk == "photo" else "map" if tk == "map" else "junk")
                continue
            neigh = max([extents[j] for j in (i - 1, i + 1) if 0 <= j < len(pieces)], default=0)
            k = self.kind(piece, axis, neigh)
            kinds.append("map" if k != "panel" and tk == "map" else k)
        # A map is a tile when a photograph has its size (a segmentation beside its photo: in this cut, or
        # a tile seen before), or when the cut is a row of equal tiles at seams (repeated tile sizes).
        photos = [extents[i] for i, t in enumerate(tiles) if t == "photo" and kinds[i] == "panel"]
        regular = len(pieces) >= 2 and any(c.kind != "gap" for c in cuts) and bool(photos or self.photo_tiles) \
            and all(t in ("photo", "map") for t in tiles) and all(same_size(e, extents[0]) for e in extents)
        for i, k in enumerate(kinds):
            if k != "map":
                continue
            w, h = pieces[i][2] - pieces[i][0], pieces[i][3] - pieces[i][1]
            if regular or any(same_size(extents[i], e) for e in photos) or \
                    any(same_size(w, pw) and same_size(h, ph) for pw, ph in self.photo_tiles):
                kinds[i] = "panel"
            elif in_tile or any(c.kind != "gap" for c in (cuts[j] for j in (i - 1, i) if 0 <= j < len(cuts))):
                kinds[i] = "junk"
            else:
                kinds[i] = self.kind(pieces[i], axis, max([extents[j] for j in (i - 1, i + 1)
                                                           if 0 <= j < len(pieces)], default=0))
        for i, t in enumerate(tiles):
            if t == "photo" and kinds[i] == "panel":
                self.photo_tiles.add((pieces[i][2] - pieces[i][0], pieces[i][3] - pieces[i][1]))
        return kinds

    def cut(self, box: PxBox, axis: int, in_tile: bool = False
            ) -> tuple[list[tuple[PxBox, bool]], list[PxBox]] | None:
        """Pieces of ``box`` cut across ``axis`` (panels with whether they are tiles cut at a seam, and
        label strips); None when no valid cut exists. ``in_tile``: ``box`` is a tile cut at a seam."""
        extent = box[3] - box[1] if axis == 0 else box[2] - box[0]
        cuts = self.cuts(box, axis)
        while cuts:
            bounds = [0] + [g for c in cuts for g in (c.start, c.end)] + [extent]
            pieces = [_sub(box, axis, bounds[2 * i], bounds[2 * i + 1]) for i in range(len(cuts) + 1)]
            kinds = self._kinds(pieces, cuts, axis, in_tile)
            bad = [i for i, k in enumerate(kinds) if k == "junk"]
            # On a white canvas a black-only gutter is a photo's own surround, unless it separates two
            # panels (a letter burned into the surround must not cut the photo's edge off).
            bad += [i for i, k in enumerate(kinds) if k != "panel" and any(
                cuts[j].black for j in (i - 1, i) if 0 <= j < len(cuts))]
            if not bad:
                start = box[1] if axis == 0 else box[0]
                self.tile_cuts[axis] += [start + c.start for c in cuts if c.kind != "gap"]
                panels = [(pc, in_tile or any(cuts[j].kind != "gap" for j in (i - 1, i) if 0 <= j < len(cuts)))
                          for i, (pc, k) in enumerate(zip(pieces, kinds, strict=True)) if k == "panel"]
                strips = [pc for pc, k in zip(pieces, kinds, strict=True) if k in ("strip", "blank")]
                if panels and (len(panels) >= 2 or strips):
                    return panels, strips
                return None
            # A piece that is no panel merges back: remove a predicted cut first, then a seam, then its
            # black-only, else thinner, gutter.
            i = min(bad)
            cand = [j for j in (i - 1, i) if 0 <= j < len(cuts)]
            j = min(cand, key=lambda k: (_CUT_RANK[cuts[k].kind], not cuts[k].black,
                                         cuts[k].end - cuts[k].start, k))
            del cuts[j]
        return None

    def split(self, box: PxBox, depth: int, trim: bool = True) -> list[PxBox]:
        """Panels of ``box``; a tile cut at a seam keeps its frame (``trim=False``): the white or black
        background of a map reaches its edge."""
        if trim:
            trimmed = _trim(self.m, box, self.p, self.margin)
            if trimmed is None:
                return []
            box = trimmed
        if depth >= self.p.max_depth:
            return [box]
        for axis in (0, 1):  # rows first: reading order is rows top to bottom, then left to right
            res = self.cut(box, axis, in_tile=not trim)
            if res is None:
                continue
            panels, strips = res
            for strip in strips:
                t = _trim(self.m, strip, self.p, frozenset({WHITE, BLACK}))
                if t is not None:
                    self.strips.append(t)
            out: list[PxBox] = []
            for piece, tile in panels:
                out.extend(self.split(piece, depth + 1, trim=trim and not tile))
            return out
        if self.tex is not None and tile_kind(self.m, self.tex, box, (self.min_extent(0), self.min_extent(1)),
                                              self.p.min_content_std, self.img) == "photo":
            self.leaf_photos.add((box[2] - box[0], box[3] - box[1]))
        return [box]


def reading_order(boxes: list[tuple[float, float, float, float]]) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom (a box joins a row it overlaps
    vertically by half its height or the row's first box's), then left to right."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda k: (boxes[k][1], boxes[k][0])):
        b = boxes[i]
        for row in rows:
            f = boxes[row[0]]
            overlap = min(b[3], f[3]) - max(b[1], f[1])
            if overlap >= 0.5 * min(b[3] - b[1], f[3] - f[1]):
                row.append(i)
                break
        else:
            rows.append([i])
    rows.sort(key=lambda r: min(boxes[k][1] for k in r))
    return [k for row in rows for k in sorted(row, key=lambda k: (boxes[k][0], boxes[k][1]))]


def split_raster(img: np.ndarray, params: SplitParams | None = None, region: PxBox | None = None,
                 seams: SeamParams | None = None, expect: int | None = None) -> SplitResult:
    """Panels of ``img`` (or of ``region`` inside it) in reading order; one box when it does not split.

    A region whose gutters run slightly askew (a scanned page) is also split deskewed; when that finds
    more panels (or as many, at a clear angle), its boxes are used, mapped back (axis-aligned hulls of
    the rotated boxes). ``expect``: how many panels the caption names; where fewer are found, a panel
    is looked at as a row or column of equal tiles whose seams a scan blurred (:meth:`_Splitter.expected`).
    """
    p = params or SplitParams()
    if p.max_skew_deg > 0 and seams is None:  # a scanned figure: its seams may be blurred
        seams = SeamParams(coarse=True)
    s = _Splitter(img, p, region, seams)
    box = region if region is not None else (0, 0, s.w, s.h)
    x0, y0, x1, y1 = box
    panels = s.split(box, 0)
    if expect is not None and len(panels) < expect and s.sp.enabled:
        panels = s.expected(panels, expect)
    if p.max_skew_deg > 0:
        crop = img[y0:y1, x0:x1]
        # background lines that run straight at some angle, else the long edges of tiles and frames
        angle = estimate_skew(crop, p) or (edge_skew(crop, p.max_skew_deg) if s.sp.enabled else 0.0)
        if angle:
            h, w = crop.shape[:2]
            rot = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
            straight = cv2.warpAffine(crop, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            res = split_raster(straight, replace(p, max_skew_deg=0.0), seams=seams, expect=expect)
            # as many panels as straight: only a clear skew (scans are 0.5-2 degrees off) is worth it
            if len(res.panels) > max(1, len(panels)) or len(res.panels) == len(panels) >= 2 and abs(angle) >= 0.5:
                inv = cv2.invertAffineTransform(rot)
                return SplitResult(panels=[hull_back(b, inv, w, h, (x0, y0)) for b in res.panels],
                                   strips=[hull_back(b, inv, w, h, (x0, y0)) for b in res.strips])
    if len(panels) >= 2:
        panels, soft = extend_on_black(s.m, panels, box, p.gutter_fill, p.min_gutter_px)
        panels = share_black_gaps(s.m, panels, soft, p.gutter_fill, p.min_gutter_px)
        panels = claim_corner_letters(s.m, panels, s.strips, p.gutter_fill)
        panels, _ = merge_zooms(img, panels)  # a magnified crop beside a panel is part of it
        # a grid cut into columns first (its row gutters too faint) still reads row by row
        panels = [panels[k] for k in reading_order([tuple(map(float, b)) for b in panels])]
    return SplitResult(panels=panels, strips=s.strips)
