"""Where two tiles of one raster meet without a gutter: straight discontinuities that run the full length.

Journal figures often paste tiles edge to edge (a photograph and its segmentation maps, a grid of OCT
scans) or leave a 1-2 px line between them. No run of background lines separates them, so the XY-cut of
:mod:`.split` sees one picture. What does separate them is a *seam*: a column (or row) where, in nearly
every line across it that changes at all, the image jumps from one picture to another in one step, while
on both sides the picture changes gently. A photograph has sharp edges too (vessels, the disc, a lesion),
but they are short and curved: none of them is a straight step across its whole height. An OCT B-scan's
layers run across, not along, a vertical seam; its vessel shadows are soft.

Two kinds of evidence, per candidate position (region-relative, along ``axis``: 0 = a horizontal seam
between rows, 1 = a vertical seam between columns):

* a **step**: ``|I[y, x+w] - I[y, x-1]|`` (``w`` = 0..3 lines of blur or resampling in between) is large
  and much larger than the change over the same distance on either side;
* a **thin line**: 1-4 lines of one grey level along the whole length (a 1-2 px gutter) that contrast
  with what lies on either side somewhere. (A gutter thinner than the splitter's minimum that is all canvas
  black or white is found by the splitter itself and judged like a seam.)

Lines that are flat on both sides (two black surrounds meeting) are no evidence either way; what decides
is the share of the other lines that agree, and how far along the seam they reach.

Boxes are pixels ``(x0, y0, x1, y1)`` with exclusive ends, origin top-left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .masks import PxBox

MAX_BAND = 4  # lines of blur (or of a thin gutter between two blurred edges) a seam may span
SMOOTH = 7  # lines averaged along a seam's direction before testing it
SUBSAMPLE = 3  # ...of which every third is tested


@dataclass(frozen=True)
class SeamParams:
    """Thresholds of the seam test (grey levels are of the brightest channel difference, 0-255)."""

    enabled: bool = True  # look for tiles that meet without a gutter at all
    coarse: bool = False  # also at half resolution, when none shows at full (a scan's blurred seams)
    min_step: float = 18.0  # a jump smaller than this is no evidence (JPEG block edges are a few levels)
    ratio: float = 2.5  # the jump must exceed the change beside it this many times...
    margin: float = 6.0  # ...plus this many levels
    strong: float = 0.8  # share of evidence lines that agree for a seam on its own
    min_cover: float = 0.3  # share of all lines across that must be hits (full-length evidence)
    min_cover_one_way: float = 0.5  # ...when nearly all hits go one way (``one_way``): an edge of one picture?
    one_way: float = 0.9
    min_quarters: int = 3  # hits in at least this many quarters of the seam's length
    max_seam_contra: float = 0.12  # share of lines in which the picture goes on smoothly across the seam
    max_neighbour_cover: float = 0.4  # positions 4-14 lines away may reach this share of the seam's cover
    line_flat: float = 10.0  # a thin line's pixels stay within this of its local colour (contrast test)
    line_std: float = 2.5  # a thin line's grey level varies at most this much (std) along its length...
    min_line_cover: float = 0.2  # ...and it stands out from both sides in this share of it
    min_support: float = 0.02  # a predicted cut: hits minus contradictions, share of the lines across...
    max_contra: float = 0.05  # ...and at most this share of lines carrying the picture smoothly across
    max_aligned_contra: float = 0.35  # a cut that lines up with the neighbouring row's: the most contradiction
    min_unanchored_support: float = 0.2  # the same for a grid that no gutter or seam anchors (letters do)
    max_unanchored_contra: float = 0.12


@dataclass(frozen=True)
class Seam:
    """A cut candidate: lines ``[start, end)`` (region-relative; ``start == end`` for a bare step) and how
    strongly the image says so (share of evidence lines that agree, 0-1)."""

    start: int
    end: int
    strength: float
    kind: str  # "step" or "line"

    @property
    def center(self) -> float:
        return (self.start + self.end) / 2


def _lines(img: np.ndarray, axis: int, smooth: int = SMOOTH) -> np.ndarray:
    """The image as float32 (L, N, C): L positions along ``axis`` (candidate seams lie between them), N
    lines across, averaged over ``smooth`` lines along the seam direction: a seam is straight, so this keeps
    it sharp while speckle (OCT), JPEG ringing and texture that crosses it obliquely average out."""
    a = img if img.ndim == 3 else img[:, :, None]
    a = np.ascontiguousarray((a if axis == 0 else a.transpose(1, 0, 2))[:, :, :3], dtype=np.float32)
    if smooth > 1 and a.shape[1] >= smooth:
        a = cv2.blur(a, (smooth, 1), borderType=cv2.BORDER_REPLICATE)
        if a.ndim == 2:
            a = a[:, :, None]
    return a


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Largest channel difference (channels last); written out, as numpy's reduce over a 3-long last axis
    is many times slower."""
    d = np.abs(a - b)
    if d.ndim < 3 or d.shape[-1] == 1:
        return d if d.ndim < 3 else d[..., 0]
    out = np.maximum(d[..., 0], d[..., 1])
    for c in range(2, d.shape[-1]):
        np.maximum(out, d[..., c], out=out)
    return out


def _background(v: np.ndarray) -> np.ndarray:
    """Pixels (..., C) of a flat black or white canvas."""
    chans = [v[..., c] for c in range(v.shape[-1])]
    hi, lo = chans[0].copy(), chans[0].copy()
    for c in chans[1:]:
        np.maximum(hi, c, out=hi)
        np.minimum(lo, c, out=lo)
    return (hi < 40) | (lo > 215)


@dataclass
class Profile:
    """Seam evidence at every position of one region along one axis (arrays of length L, the region's
    extent; position ``x`` is the boundary before line ``x``). ``step_*``: the sharp-step test (strength =
    hits / lines with a jump, cover = hits / all lines across, quarters of the length with a hit, contra =
    lines in which the picture goes on smoothly across, polarity = share of hits going the same way);
    ``support``: relaxed hits minus contradictions per line across, for cuts that other evidence predicts;
    ``line_*``: thin flat lines starting at ``x`` (std and level: of the grey level along the band of the
    width ``line_width`` that varies least; cover: the share of lines where it stands out from both
    sides)."""

    step_strength: np.ndarray
    step_cover: np.ndarray
    step_quarters: np.ndarray
    step_contra: np.ndarray
    step_polarity: np.ndarray
    support: np.ndarray
    line_std: np.ndarray
    line_level: np.ndarray
    line_cover: np.ndarray
    line_width: np.ndarray
    band: tuple[int, int]  # the region's first and last line across (subsampled)
    offset: int  # the region's first position along the axis

    @property
    def length(self) -> int:
        return len(self.step_strength)

    @property
    def contra(self) -> np.ndarray:
        return self.step_contra


def upsampling(img: np.ndarray, axis: int) -> float:
    """How many times each line along ``axis`` was repeated (a render that enlarged a small picture with
    nearest-neighbour sampling, e.g. a 200 dpi scan cropped at 300 dpi), 1.0 when not: then every pixel
    block's edge is a straight step, and seams are looked for at the picture's own resolution."""
    if img.ndim == 3:  # one integer per pixel: comparing packed colours is much faster than per channel
        c = img[:, :, :3].astype(np.int32)
        a = c[:, :, 0] | (c[:, :, 1] << 8) | (c[:, :, 2] << 16) if c.shape[2] == 3 else c[:, :, 0]
    else:
        a = img.astype(np.int32)
    a = a if axis == 1 else a.T  # positions along axis 1 (columns)
    a = a[:: max(1, a.shape[0] // 400)]  # a few hundred lines across tell
    if a.shape[0] < 8 or a.shape[1] < 8:
        return 1.0
    same = a[:, 1:] == a[:, :-1]  # equal to the previous line, per pixel
    varies = a[1:, 1:] != a[:-1, 1:]  # ...where the picture changes across: no flat canvas
    informative = varies.sum(axis=0)
    if informative.sum() < 0.05 * varies.size:
        return 1.0
    changed = ((~same[1:]) & varies).sum(axis=0)
    edges = int(((informative > 0) & (changed > 0.5 * informative)).sum())
    total = int((informative > 0).sum())
    ratio = total / max(edges, 1)
    return ratio if ratio >= 1.5 else 1.0


class SeamMaps:
    """Per-pixel seam evidence of a whole image along one axis, computed once; :meth:`profile` sums it over
    any region with cumulative sums (the splitter asks for many nested regions).

    Per position ``x`` and line ``y`` across, over band widths ``w`` = 0..MAX_BAND (lines of blur or of a
    thin gutter skipped): a *hit* is a jump ``|I[x+w] - I[x-1]|`` of at least ``min_step`` that is
    ``ratio`` times the change over the same span beside it (plus ``margin``); *evidence* any jump of
    ``min_step``; *soft* a hit at half the thresholds; *smooth* (a contradiction) no jump beyond the change
    beside it at any width while not both sides are canvas. Thin lines: a band of 1..MAX_BAND lines within
    ``line_flat`` of its local colour, standing out from both sides by ``min_step`` (``contrast``); and, per
    width, the band's grey level and its square, so that a region's line has a mean and a std.
    """

    NAMES = ("hit", "evidence", "soft", "smooth", "bright", "contrast")

    def __init__(self, img: np.ndarray, axis: int, p: SeamParams) -> None:
        self.scale = upsampling(img, axis)
        if self.scale > 1.0:  # back to the picture's own lines along the axis
            h, w = img.shape[:2]
            size = (w, max(8, round(h / self.scale))) if axis == 0 else (max(8, round(w / self.scale)), h)
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            self.scale = (h if axis == 0 else w) / (size[1] if axis == 0 else size[0])
        a = _lines(img, axis)
        # lines across are averaged over SMOOTH already: every third one carries the evidence
        self.step = SUBSAMPLE if a.shape[1] >= 20 * SUBSAMPLE else 1
        a = np.ascontiguousarray(a[:, ::self.step])
        self.a = a
        self.p = p
        L, N = a.shape[:2]
        maps = {k: np.zeros((L, N), bool) for k in self.NAMES}
        maps["smooth"][:] = True
        bg = _background(a)
        for w in range(MAX_BAND + 1):
            s = w + 1  # the span of the jump; the change beside it is measured over the same span
            if L - w - s <= s + 1:
                continue
            xs = slice(s + 1, L - w - s)  # x - 1 - s >= 0 and x + w + s <= L - 1
            left, right = a[s:L - w - s - 1], a[s + 1 + w:L - s]
            step = _diff(right, left)
            beside = np.maximum(_diff(left, a[0:L - w - 2 * s - 1]), _diff(a[2 * s + 1 + w:L], right))
            ev = step >= p.min_step
            hit = ev & (step >= p.ratio * beside + p.margin)
            soft = (step >= p.min_step / 2) & (step >= p.ratio * beside + p.margin / 2)
            smooth = ~(bg[s:L - w - s - 1] & bg[s + 1 + w:L - s]) & (step <= beside + p.margin / 2) & ~soft
            maps["hit"][xs] |= hit
            maps["evidence"][xs] |= ev
            maps["soft"][xs] |= soft
            maps["smooth"][xs] &= smooth
            if w == MAX_BAND:
                maps["bright"][xs] = right.sum(axis=2) > left.sum(axis=2)
        maps["smooth"][:MAX_BAND + 1] = False
        maps["smooth"][L - 2 * MAX_BAND - 1:] = False
        maps["bright"] &= maps["hit"]
        colour_of = max(31, N // 8) | 1
        grey = a.mean(axis=2)
        self.level: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for w in range(1, MAX_BAND + 1):
            if L - w - 1 <= 1:
                continue
            xs = slice(1, L - w)
            band = [a[1 + k:L - w + k] for k in range(w)]
            colour = cv2.blur(sum(band) / w, (colour_of, 1), borderType=cv2.BORDER_REPLICATE)
            colour = colour if colour.ndim == 3 else colour[:, :, None]
            flat = np.ones(band[0].shape[:2], bool)
            for b in band:
                flat &= _diff(b, colour) <= p.line_flat
            outside = np.minimum(_diff(a[0:L - w - 1], colour), _diff(a[1 + w:L], colour))
            maps["contrast"][xs] |= flat & (outside >= p.min_step)
            g = np.zeros((L, N), np.float64)
            g[:L - w] = sum(grey[k:L - w + k] for k in range(w)) / w  # band starting at x
            zero = np.zeros((L, 1))
            self.level[w] = (np.concatenate([zero, np.cumsum(g, axis=1)], axis=1),
                             np.concatenate([zero, np.cumsum(g * g, axis=1)], axis=1))
        self.cs = {k: np.concatenate([np.zeros((L, 1), np.int32), np.cumsum(v, axis=1, dtype=np.int32)], axis=1)
                   for k, v in maps.items()}

    def _sum(self, name: str, lo: int, hi: int, n0: int, n1: int) -> np.ndarray:
        c = self.cs[name]
        return (c[lo:hi, n1] - c[lo:hi, n0]).astype(np.float64)

    def profile(self, lo: int, hi: int, n0: int, n1: int) -> Profile:
        """Evidence for positions ``lo..hi`` along the axis over lines ``n0..n1`` across (image lines)."""
        if self.scale > 1.0:  # evidence at the picture's own resolution, spread back over the image's lines
            lo_s = int(lo / self.scale)
            hi_s = max(lo_s + 1, min(self.a.shape[0], int(np.ceil(hi / self.scale))))
            pr = self._profile(lo_s, hi_s, n0, n1)
            idx = np.clip((np.arange(lo, hi) / self.scale).astype(int) - lo_s, 0, hi_s - lo_s - 1)
            # a boundary between picture lines is one position: the first image line of the next block
            first = np.r_[True, np.diff(idx) > 0]
            once = ("step_strength", "step_cover", "line_cover")
            spread = {k: (v[idx] * first if k in once else v[idx])
                      for k, v in pr.__dict__.items() if isinstance(v, np.ndarray)}
            spread["line_width"] = np.round(pr.line_width[idx] * self.scale).astype(int)
            return Profile(**spread, band=pr.band, offset=lo)
        return self._profile(lo, hi, n0, n1)

    def _profile(self, lo: int, hi: int, n0: int, n1: int) -> Profile:
        n0 = -(-n0 // self.step)
        n1 = max(n0 + 1, min(self.a.shape[1], -(-n1 // self.step)))
        N = n1 - n0
        hits = self._sum("hit", lo, hi, n0, n1)
        ev = self._sum("evidence", lo, hi, n0, n1)
        quarters = np.zeros(hi - lo, int)
        for k in range(4):
            q0, q1 = n0 + (k * N) // 4, n0 + ((k + 1) * N) // 4
            quarters += self._sum("hit", lo, hi, q0, q1) > 0
        contra = self._sum("smooth", lo, hi, n0, n1) / N
        bright = self._sum("bright", lo, hi, n0, n1)
        std = np.full(hi - lo, np.inf)
        level = np.zeros(hi - lo)
        width = np.zeros(hi - lo, int)
        for w, (c1, c2) in self.level.items():
            m = (c1[lo:hi, n1] - c1[lo:hi, n0]) / N
            sd = np.sqrt(np.maximum((c2[lo:hi, n1] - c2[lo:hi, n0]) / N - m * m, 0.0)) + 0.1 * w  # narrowest
            better = sd < std
            std, level, width = np.where(better, sd, std), np.where(better, m, level), np.where(better, w, width)
        return Profile(
            step_strength=np.where(ev > 0, hits / np.maximum(ev, 1), 0.0),
            step_cover=hits / N, step_quarters=quarters, step_contra=contra,
            step_polarity=np.maximum(bright, hits - bright) / np.maximum(hits, 1),
            support=self._sum("soft", lo, hi, n0, n1) / N - contra,
            line_std=std, line_level=level, line_cover=self._sum("contrast", lo, hi, n0, n1) / N,
            line_width=width, band=(n0, n1), offset=lo)

    def width(self, x: int, band: tuple[int, int]) -> int:
        """Lines a step cut at ``x`` (absolute) spans: the narrowest band width with the most hits."""
        if self.scale > 1.0:
            return int(round(self._width(int(x / self.scale), band) * self.scale))
        return self._width(x, band)

    def _width(self, x: int, band: tuple[int, int]) -> int:
        a = self.a[:, band[0]:band[1]]
        L = a.shape[0]
        best, best_w = -1.0, 0
        for w in range(MAX_BAND + 1):
            s = w + 1
            if x - 1 - s < 0 or x + w + s >= L:
                continue
            step = _diff(a[x + w], a[x - 1])
            beside = np.maximum(_diff(a[x - 1], a[x - 1 - s]), _diff(a[x + w + s], a[x + w]))
            score = float(((step >= self.p.min_step) & (step >= self.p.ratio * beside + self.p.margin)).mean())
            if score > best + 0.01:
                best, best_w = score, w
        return best_w


def profile(maps: SeamMaps, box: PxBox, axis: int) -> Profile:
    """The evidence of ``box`` across ``axis`` (0: horizontal seams between rows, 1: vertical ones)."""
    x0, y0, x1, y1 = box
    return maps.profile(y0, y1, x0, x1) if axis == 0 else maps.profile(x0, x1, y0, y1)


def _peaks(score: np.ndarray, keep: np.ndarray, radius: int) -> list[int]:
    """Positions where ``keep`` holds and ``score`` is the largest within ``radius``."""
    out: list[int] = []
    for x in np.argsort(-score, kind="stable"):
        x = int(x)
        if score[x] <= 0:
            break
        if keep[x] and all(abs(x - o) > radius for o in out):
            out.append(x)
    return sorted(out)


def find_seams(pr: Profile, maps: SeamMaps, p: SeamParams = SeamParams(), edge: int = 2 * MAX_BAND + 2
               ) -> list[Seam]:
    """Seams that stand on their own (positions relative to the region): a sharp step in nearly every line
    that changes, reaching along the whole length, nothing going on smoothly across; or a thin line flat
    along its whole length. At least ``edge`` lines from the ends, one per neighbourhood (the strongest)."""
    L = pr.length
    pos = np.arange(L)
    inner = (pos >= edge) & (pos <= L - edge)
    # an object's edge (an OCT layer, a horizon) goes one way along its length: it must reach further
    cover = np.where(pr.step_polarity >= p.one_way, p.min_cover_one_way, p.min_cover)
    step_ok = inner & (pr.step_strength >= p.strong) & (pr.step_cover >= cover) & \
        (pr.step_quarters >= p.min_quarters) & (pr.step_contra <= p.max_seam_contra)
    # a seam stands alone: speckle or texture that steps everywhere scores nearby too, and the block edges of
    # an enlarged JPEG repeat at one spacing on both sides (8 px times the enlargement)
    c = pr.step_cover
    for x in np.flatnonzero(step_ok):
        near = np.r_[c[max(0, x - 14):max(0, x - 3)], c[x + 4:x + 15]]
        if near.size and float(np.median(near)) > p.max_neighbour_cover * c[x]:
            step_ok[x] = False
            continue
        def at(y: int) -> float:  # the lattice of an enlarged JPEG's blocks falls a line either way
            return float(c[max(0, y - 1):y + 2].max()) if 0 <= y < L else 0.0

        for d in range(6, min(41, x, L - x)):
            if min(at(x - d), at(x + d)) >= 0.5 * c[x] and max(at(x - 2 * d), at(x + 2 * d)) >= 0.3 * c[x]:
                step_ok[x] = False
                break
    # a thin line: one grey level along its whole length, standing out from both sides
    line_ok = inner & (pr.line_std <= p.line_std) & (pr.line_cover >= p.min_line_cover)
    score = np.where(step_ok, pr.step_strength * pr.step_cover, 0.0)
    lscore = np.where(line_ok, 1.0 + pr.line_cover, 0.0)  # a flat line is the better evidence where both hold
    best = np.maximum(score, lscore)
    out = []
    for x in _peaks(best, step_ok | line_ok, radius=2 * MAX_BAND + 2):
        if lscore[x] >= score[x]:
            out.append(Seam(x, x + int(pr.line_width[x]), 1.0, "line"))
        else:
            w = maps.width(pr.offset + x, pr.band)
            out.append(Seam(x, x + w, float(pr.step_strength[x]), "step"))
    return out


def predicted_cut(pr: Profile, at: float, tol: int, p: SeamParams = SeamParams()) -> Seam | None:
    """The best cut within ``tol`` lines of ``at`` that nothing contradicts: some lines jump there and
    (nearly) none carries the picture smoothly across. For cuts a regular grid predicts."""
    lo, hi = max(1, int(round(at)) - tol), min(pr.length - 1, int(round(at)) + tol + 1)
    if hi <= lo:
        return None
    x = lo + int(np.argmax(pr.support[lo:hi]))
    if pr.support[x] >= p.min_support and pr.contra[x] <= p.max_contra:
        return Seam(x, x, float(pr.support[x]), "grid")
    return None


def grid_cuts(pr: Profile, gaps: list[tuple[int, int]], seams: list[Seam], p: SeamParams = SeamParams(),
              max_tiles: int = 8, letters: bool = False, tile: float | None = None,
              aligned: tuple[float, ...] = ()) -> list[Seam] | None:
    """All cuts along the axis when the region is a row (or column) of equal tiles; None when it is not.

    ``gaps`` (gutters of background lines, ``[start, end)``) and ``seams`` are what was found. Tried: the
    smallest number of tiles ``n`` (2..``max_tiles``) whose boundaries ``k * (L + g) / n - g / 2`` account
    for every step seam and gap (a thin line elsewhere is a tile's own, e.g. a map's black column):

    * ``g`` the gaps' typical width (tiles with gutters): the gaps stay; a boundary without a gap or seam
      must be a :func:`predicted_cut`;
    * ``g = 0`` (tiles edge to edge): a gap is a tile's own white or black margin or background (an inverted
      vessel map's white corners, a vessel map's black, an OCT's dark choroid), so every cut sits on its
      boundary: at the seam there, else exactly on the boundary when a gap reaches it, else where
      :func:`predicted_cut` finds it. (The splitter then holds every piece to the tile rules.)

    Without a step seam the grid is only a guess: with ``letters`` (the caller then checks for a letter in
    the same corner of every tile) it is tried edge to edge with stricter support and gaps reaching a
    boundary from further away; else None. With ``tile`` (the size of tiles found elsewhere in the figure: a
    row of maps under a row of photographs) only that many tiles edge to edge are tried, and a boundary
    nothing contradicts needs no support of its own; one where a neighbouring row (column) of the same
    grid was cut (``aligned``, region-relative) only needs the picture not to plainly go on across it.
    """
    L = pr.length
    steps = [sm for sm in seams if sm.kind != "line"]
    if not steps and not letters and tile is None:
        return None
    steps = [] if letters else steps
    strict = p if steps else replace(p, min_support=p.min_unanchored_support, max_contra=p.max_unanchored_contra)
    if tile is not None:
        strict = replace(p, min_support=-p.max_contra)
        n_known = int(round(L / tile))
        if n_known < 2 or abs(n_known * tile - L) > max(4, 0.02 * L):
            return None
    widths = sorted(e - s for s, e in gaps)
    # how far a cut may sit from its boundary, and a tile's margin end (letters: the tiles' frames are less
    # certain, e.g. a dark margin trimmed off the last one)
    reach = max(4, int((0.03 if letters else 0.012) * L))
    tol = reach
    for n in ([n_known] if tile is not None else range(2, max_tiles + 1)):
        for g in sorted({widths[len(widths) // 2] if widths and tile is None else 0, 0}, reverse=True):
            tile = (L - (n - 1) * g) / n
            if tile < 16:
                continue
            bounds = [k * (tile + g) - g / 2 for k in range(1, n)]

            def near(c: float, bounds: list[float] = bounds) -> int | None:
                k = min(range(len(bounds)), key=lambda i: abs(bounds[i] - c))
                return k if abs(bounds[k] - c) <= tol else None

            at_seam = {near(sm.center): sm for sm in seams if sm.kind != "line" or near(sm.center) is not None}
            if None in at_seam or (steps and not at_seam and tile is None):
                continue
            if g > 0:  # gutters between equal tiles: every gap must sit on a boundary
                at_gap = {near((s0 + e0) / 2): (s0, e0) for s0, e0 in gaps}
                if None in at_gap:
                    continue
            else:  # edge to edge: a gap is a tile's margin, or background inside it (a map's black)
                at_gap = {}
            out: list[Seam] | None = [Seam(s0, e0, 1.0, "gap") for s0, e0 in at_gap.values()]
            for k, b in enumerate(bounds):
                if k in at_gap:
                    continue
                if k in at_seam:
                    out.append(at_seam[k])  # type: ignore[union-attr]
                    continue
                covered = any(s0 - reach <= b <= e0 + reach for s0, e0 in gaps)
                # a cut of the neighbouring row here: fine unless the picture plainly goes on across
                lined = [a for a in aligned if abs(a - b) <= tol and 0 <= int(a) < L
                         and pr.contra[int(a)] <= p.max_aligned_contra] if tile is not None else []
                cut = Seam(int(round(b)), int(round(b)), 1.0, "grid") if covered else \
                    Seam(int(round(lined[0])), int(round(lined[0])), 1.0, "grid") if lined else \
                    predicted_cut(pr, b, tol, strict)
                if cut is None:
                    out = None
                    break
                out.append(cut)  # type: ignore[union-attr]
            if out is not None:
                return sorted(out, key=lambda c: c.start)
    return None


BLUR_RADIUS = 4  # lines a scan's blur spreads a seam or a 1-3 px gutter over, each side (at 300 dpi)
BLUR_WINDOW = 6  # lines beside that tell what each tile looks like next to the seam


@dataclass(frozen=True)
class BlurParams:
    """Thresholds of the blurred-boundary test (:func:`blurred_cut`): a cut a prior predicts (equal tiles,
    the number of panels the caption names) on a scan, whose blur turned steps into ramps and thin gutters
    into soft ridges, which the sharp-step test reads as the picture going on smoothly."""

    min_step: float = 24.0  # grey levels between the two sides, or of a ridge above (below) both sides
    ratio: float = 2.0  # ...and this many times the spread of the sides (texture)...
    margin: float = 8.0  # ...plus this
    min_agree: float = 0.75  # share of the lines that change (not canvas on both sides) that agree...
    min_cover: float = 0.25  # ...which must be this share of all lines across...
    min_quarters: int = 2  # ...found in this many quarters of the length
    max_contra: float = 0.12  # lines in which the picture plainly goes on across (no ramp, no ridge)
    max_neighbour: float = 0.6  # positions 2-4 radii away may agree this much of the cut's share (median: texture)
    min_anchored_support: float = 0.5  # anchored: weak jumps less contradictions, share of the lines across...
    max_anchored_contra: float = 0.06  # ...and at most this share of lines carrying the picture across


def blurred_evidence(img: np.ndarray, box: PxBox, axis: int, lo: int, hi: int,
                     p: BlurParams = BlurParams()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per region-relative position ``lo..hi`` along ``axis`` of ``box``: the share of changing lines with a
    blurred seam there, the share of all lines, the quarters of the length with one, and the share of lines
    in which the picture goes on smoothly across.

    Per line across (averaged over SMOOTH lines along the seam, as straight seams stay sharp): the two sides
    are ``BLUR_WINDOW`` lines each, ``BLUR_RADIUS`` lines from the position; a line agrees when the sides
    differ (a ramp: two pictures, or a picture and a canvas) or the band between them stands above or
    below both (a blurred thin gutter, or the dark frames of two photographs meeting), by ``min_step`` and
    ``ratio`` times the sides' own spread. Lines where both sides and the band are canvas say nothing."""
    x0, y0, x1, y1 = box
    a = _lines(img[y0:y1, x0:x1], axis)
    a = np.ascontiguousarray(a[:, ::SUBSAMPLE]) if a.shape[1] >= 20 * SUBSAMPLE else a
    L, N = a.shape[:2]
    r, k = BLUR_RADIUS, BLUR_WINDOW
    n = hi - lo
    agree, cover, quarters, contra, weak = np.zeros(n), np.zeros(n), np.zeros(n, int), np.ones(n), np.zeros(n)
    bg = _background(a)
    for i, x in enumerate(range(lo, hi)):
        if x - r - k < 0 or x + r + k > L:
            continue
        left, right, band = a[x - r - k:x - r], a[x + r:x + r + k], a[x - r:x + r]
        lm, rm = left.mean(axis=0), right.mean(axis=0)
        spread = np.maximum((left.max(axis=0) - left.min(axis=0)).max(axis=-1),
                            (right.max(axis=0) - right.min(axis=0)).max(axis=-1))
        step = np.abs(lm - rm).max(axis=-1)
        ridge = np.maximum((band.max(axis=0) - np.maximum(lm, rm)).max(axis=-1),
                           (np.minimum(lm, rm) - band.min(axis=0)).max(axis=-1))
        ev = np.maximum(step, ridge)
        hit = (ev >= p.min_step) & (ev >= p.ratio * spread / 2 + p.margin)
        soft = (ev >= p.min_step / 2) & (ev >= p.ratio * spread / 4 + p.margin / 2)
        quiet = bg[x - r - k:x + r + k].all(axis=0)
        smooth = ~quiet & ~soft & (ev <= spread / 2 + p.margin / 2)
        informative = max(1, int((~quiet).sum()))
        agree[i] = hit.sum() / informative
        cover[i] = hit.sum() / N
        contra[i] = smooth.sum() / N
        weak[i] = soft.sum() / N
        quarters[i] = sum(bool(hit[(q * N) // 4:((q + 1) * N) // 4].any()) for q in range(4))
    return agree, cover, quarters, contra, weak


def blurred_cut(img: np.ndarray, box: PxBox, axis: int, at: float, tol: int,
                p: BlurParams = BlurParams(), anchored: bool = False) -> Seam | None:
    """The blurred seam within ``tol`` lines of ``at`` (region-relative), or None: most changing lines agree
    (see :func:`blurred_evidence`), over much of the length, few carry the picture across, and it stands
    out from positions a few radii away (a texture that ramps everywhere is no seam).

    ``anchored``: another boundary of the same grid is such a seam, or one lines up with it in the
    neighbouring row or column. Then two pictures of one colour meeting suffice: weak jumps (half the
    thresholds) in most lines across and almost none in which the picture goes on."""
    L = box[3] - box[1] if axis == 0 else box[2] - box[0]
    far = 4 * BLUR_RADIUS
    lo, hi = max(0, int(round(at)) - tol - far), min(L, int(round(at)) + tol + far + 1)
    if hi - lo <= 2 * far:
        return None
    agree, cover, quarters, contra, weak = blurred_evidence(img, box, axis, lo, hi, p)
    if anchored:
        agree = weak - contra  # the share of lines across that agree, less those that contradict
        score = np.where((contra <= p.max_anchored_contra) & (agree >= p.min_anchored_support), agree, 0.0)
    else:
        score = np.where((cover >= p.min_cover) & (quarters >= p.min_quarters) & (contra <= p.max_contra),
                         agree * cover, 0.0)
    inner = score[far:len(score) - far]
    if not inner.size or inner.max() <= 0:
        return None
    i = far + int(np.argmax(inner))
    if not anchored and agree[i] < p.min_agree:
        return None
    beside = np.r_[agree[max(0, i - far):max(0, i - 2 * BLUR_RADIUS)], agree[i + 2 * BLUR_RADIUS:i + far]]
    if beside.size and float(np.median(beside)) > p.max_neighbour * agree[i]:
        return None
    x = lo + i
    return Seam(x, x, float(agree[i]), "blur")
