"""Black canvases: give photos separated by black back the black that belongs to them.

On a black canvas the gutter and the photos' own black surround form one black run, so the XY-cut
leaves the bare content. These steps restore each photo's frame: a disc that fades out on both sides of
an axis is centred in its frame (:func:`extend_on_black`), a picture cut by its frame takes the black a
neighbouring disc leaves (:func:`share_black_gaps`), and a letter alone in the black above a panel is its
burned-in corner label (:func:`claim_corner_letters`).
"""

from __future__ import annotations

import numpy as np

from .masks import JPEG_EDGE, Masks, PxBox


def _black_run(m: Masks, box: PxBox, side: str, limit: PxBox, fill: float) -> int:
    """How many all-black lines lie just outside ``side`` of ``box`` (within ``limit``)."""
    x0, y0, x1, y1 = box
    if side == "l":
        lines = m.black[y0:y1, limit[0]:x0].mean(axis=0)[::-1]
    elif side == "r":
        lines = m.black[y0:y1, x1:limit[2]].mean(axis=0)
    elif side == "t":
        lines = m.black[limit[1]:y0, x0:x1].mean(axis=1)[::-1]
    else:
        lines = m.black[y1:limit[3], x0:x1].mean(axis=1)
    # the first lines may be the picture's soft edge or JPEG ringing (within one 8x8 block)
    full = lines >= fill
    head = np.flatnonzero(full[:JPEG_EDGE])
    start = int(head[0]) if head.size else min(2, int(lines.size))
    stop = np.flatnonzero(~full[start:]) + start
    return int(stop[0]) if stop.size else int(lines.size)


def _central(black: np.ndarray, box: PxBox, axis: int) -> np.ndarray:
    """Non-black mask of ``box`` restricted to the central 60% across ``axis`` (a circle's widest chords;
    corner letters stay out), oriented so that rows index ``axis``'s lines."""
    x0, y0, x1, y1 = box
    if axis == 1:  # lines are columns
        a, b = y0 + (y1 - y0) // 5, y1 - (y1 - y0) // 5
        return ~black[a:b, x0:x1].T
    a, b = x0 + (x1 - x0) // 5, x1 - (x1 - x0) // 5
    return ~black[y0:y1, a:b]


def _fading_core(m: Masks, b: PxBox, axis: int) -> tuple[int, int] | None:
    """The extent ``[lo, hi)`` of a picture that fades out at both ends along ``axis`` (a disc), else None.

    A disc's outermost lines hold a short chord; a picture cut by its frame (OCT, whose dark vitreous may
    be pure black) has content spread across its outermost lines. A box whose edge line is not the
    canvas's black but the picture's own dark grey (kept in the box by the split) is that frame too.
    """
    ink = _central(m.black, b, axis)
    if ink.shape[1] == 0:
        return None
    own = _central(m.canvas_black, b, axis)  # (the canvas test averages 5x5: look past its edge)
    if min(own[:4].mean(), own[-4:].mean()) >= 0.5:
        return None
    prof = ink.mean(axis=1)
    core = np.flatnonzero(prof > 0.02)
    if core.size < 8:
        return None
    lo, hi = int(core[0]), int(core[-1]) + 1
    depth = max(2, (hi - lo) // 7)

    def span(rows: np.ndarray) -> float:
        cols = np.flatnonzero(rows.any(axis=0))
        return float(cols[-1] - cols[0] + 1) if cols.size else 0.0

    if span(ink[lo:lo + 2]) < 0.5 * span(ink[lo + depth:lo + depth + 1]) and \
            span(ink[hi - 2:hi]) < 0.5 * span(ink[hi - 1 - depth:hi - depth]):
        start = b[0] if axis == 1 else b[1]
        return start + lo, start + hi
    return None


def extend_on_black(m: Masks, panels: list[PxBox], region: PxBox, fill: float, min_gutter: int
                     ) -> tuple[list[PxBox], list[set[int]]]:
    """Give photos separated by black back their own black surround.

    A black gutter and the photos' black margins form one black run, so the split leaves the bare
    content. A circular field of view is centred in its frame and fades out at its sides (its chord at
    the edge is much shorter than inside; a frame that cuts the picture, as in OCT, does not). Where it
    fades out on both sides of an axis, both sides are extended by the same amount ``e``, within the
    black around it, and leaving a gutter to each neighbour: first half of each gap between two discs,
    then (twice) whatever the neighbouring disc did not take. Also returns, per panel, the axes on which
    it fades out (1: left/right, 0: top/bottom).
    """
    cores = [{axis: _fading_core(m, b, axis) for axis in (1, 0)} for b in panels]
    # per (panel, axis): black room on each side, and the discs facing each side with the gap to them
    rooms: dict[tuple[int, int], list[float]] = {}
    facing: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    for i, b in enumerate(panels):
        for axis in (1, 0):
            core = cores[i][axis]
            if core is None:
                continue
            c_lo, c_hi = core
            if axis == 1:
                band = (c_lo, b[1] + (b[3] - b[1]) // 5, c_hi, b[3] - (b[3] - b[1]) // 5)
                room = [float(_black_run(m, band, "l", region, fill)), float(_black_run(m, band, "r", region, fill))]
            else:
                band = (b[0] + (b[2] - b[0]) // 5, c_lo, b[2] - (b[2] - b[0]) // 5, c_hi)
                room = [float(_black_run(m, band, "t", region, fill)), float(_black_run(m, band, "b", region, fill))]
            facing[(i, axis)] = []
            for j, o in enumerate(panels):
                across = min(b[3], o[3]) > max(b[1], o[1]) if axis == 1 else min(b[2], o[2]) > max(b[0], o[0])
                if j == i or not across:
                    continue
                lo_o, hi_o = cores[j][axis] or ((o[0], o[2]) if axis == 1 else (o[1], o[3]))
                for side, gap in ((0, c_lo - hi_o), (1, lo_o - c_hi)):
                    if gap < 0:
                        continue
                    if cores[j][axis] is None:  # a picture cut by its frame takes none of the gap
                        room[side] = min(room[side], gap - min_gutter)
                    else:
                        facing[(i, axis)].append((j, side, float(gap)))
            rooms[(i, axis)] = room
    ext = {k: min([r[0], r[1]] + [g / 2 for _, _, g in facing[k]]) for k, r in rooms.items()}
    for _ in range(2):
        ext = {k: min([r[0], r[1]] + [g - ext.get((j, k[1]), g / 2) - min_gutter for j, _, g in facing[k]])
               for k, r in rooms.items()}
    out = []
    for i, b in enumerate(panels):
        nb = list(b)
        for axis in (1, 0):
            if (i, axis) not in ext:
                continue
            c_lo, c_hi = cores[i][axis]  # type: ignore[misc]
            e = int(max(0.0, ext[(i, axis)]))
            a, c = (0, 2) if axis == 1 else (1, 3)
            lo, hi = c_lo - e, c_hi + e
            # never into a neighbour: its box may hold its own dark content (an OCT's vitreous)
            for j, o in enumerate(panels):
                across = min(b[3], o[3]) > max(b[1], o[1]) if axis == 1 else min(b[2], o[2]) > max(b[0], o[0])
                if j != i and across:
                    if o[c] <= b[a]:
                        lo = max(lo, o[c] + min_gutter)
                    elif o[a] >= b[c]:
                        hi = min(hi, o[a] - min_gutter)
            nb[a] = min(nb[a], lo)
            nb[c] = max(nb[c], hi)
        out.append((nb[0], nb[1], nb[2], nb[3]))
    return out, [{axis for axis in (1, 0) if cores[i][axis] is not None} for i in range(len(panels))]


def share_black_gaps(m: Masks, panels: list[PxBox], soft: list[set[int]], fill: float, min_gutter: int
                      ) -> list[PxBox]:
    """Black gaps wider than the figure's narrowest one hold a picture's own black (the dark vitreous
    above an OCT scan): give the excess to the neighbour whose facing edge is cut by its frame, when
    the other neighbour is a fading disc that already took its share."""
    gaps = []
    for i, a in enumerate(panels):
        for j, b in enumerate(panels):
            if i == j:
                continue
            for axis, (lo, hi) in ((1, (a[2], b[0])), (0, (a[3], b[1]))):
                if hi <= lo:
                    continue
                band = (max(a[1], b[1]), min(a[3], b[3])) if axis == 1 else (max(a[0], b[0]), min(a[2], b[2]))
                if band[1] <= band[0]:
                    continue
                between = [k for k, c in enumerate(panels) if k not in (i, j) and (
                    c[0] < hi and c[2] > lo and c[1] < band[1] and c[3] > band[0] if axis == 1
                    else c[1] < hi and c[3] > lo and c[0] < band[1] and c[2] > band[0])]
                if between:
                    continue
                gap = m.black[band[0]:band[1], lo:hi] if axis == 1 else m.black[lo:hi, band[0]:band[1]]
                if gap.size and float(gap.mean()) >= fill:
                    gaps.append((i, j, axis, hi - lo))
    if not gaps:
        return panels
    # the gutter: the narrowest black gap, or a guess when there is a single one
    narrow = min(g[3] for g in gaps) if len(gaps) >= 2 else 2 * min_gutter
    out = [list(b) for b in panels]
    for i, j, axis, width in gaps:
        excess = width - narrow
        if excess <= 2:
            continue
        if axis in soft[i] and axis not in soft[j]:  # j's near side (left or top) moves towards i
            k = 0 if axis == 1 else 1
            out[j][k] = min(out[j][k], panels[j][k] - excess)
        elif axis in soft[j] and axis not in soft[i]:  # i's far side (right or bottom) moves towards j
            k = 2 if axis == 1 else 3
            out[i][k] = max(out[i][k], panels[i][k] + excess)
    return [(b[0], b[1], b[2], b[3]) for b in out]


def _solid_extent(m: Masks, box: PxBox) -> PxBox | None:
    """The extent of the solid marks in ``box``: columns and rows holding at least a few non-black
    pixels (a lone speckle of an OCT's vitreous does not widen a letter)."""
    x0, y0, x1, y1 = box
    ink = ~m.black[y0:y1, x0:x1]
    cols = np.flatnonzero(ink.sum(axis=0) >= max(2, 0.1 * ink.shape[0]))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(ink[:, cols].sum(axis=1) >= max(2, 0.1 * cols.size))
    if rows.size == 0:
        return None
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)


def claim_corner_letters(m: Masks, panels: list[PxBox], strips: list[PxBox], fill: float) -> list[PxBox]:
    """A letter alone in the black above a panel, at its left or right end, is that panel's burned-in
    corner label: the panel's frame reaches up to it (the black between was the picture's own)."""
    out = [list(b) for b in panels]
    for strip in strips:
        s = _solid_extent(m, strip)
        if s is None:
            continue
        sw, sh = s[2] - s[0], s[3] - s[1]
        for j, b in enumerate(panels):
            w, h = b[2] - b[0], b[3] - b[1]
            letter_sized = sw < 0.3 * w and sh < 0.2 * h
            if not (letter_sized and s[3] <= b[1] and min(abs(s[0] - b[0]), abs(b[2] - s[2])) <= 0.1 * w):
                continue
            gap = m.black[s[3]:b[1], max(b[0], s[2] + 2):b[2]]
            if gap.size == 0 or float(gap.mean()) >= fill:
                out[j][1] = min(out[j][1], max(0, s[1] - max(2, sh // 3)))
    return [(b[0], b[1], b[2], b[3]) for b in out]
