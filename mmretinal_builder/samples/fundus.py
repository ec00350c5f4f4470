"""Procedural retinal images: colour fundus photographs (CFP), fluorescein angiograms (FFA), OCT B-scans.

Everything smooth (illumination, choroid, macula, disc) is computed on a small grid and upsampled;
vessels and lesions are drawn at full resolution with OpenCV, which keeps a 1500 px image well under
0.1 s. All randomness comes from the numpy Generator passed in, so images are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

Rng = np.random.Generator


@dataclass
class Vessel:
    """One vessel segment chain in FOV-normalised coordinates (FOV centre 0,0, radius 1)."""

    points: np.ndarray  # (n, 2) float
    width: np.ndarray  # (n,) width at each point, fraction of R
    artery: bool


@dataclass
class Geometry:
    """Where the disc and fovea are, in FOV-normalised coordinates; `side` is +1 when the disc is right."""

    disc: tuple[float, float]
    fovea: tuple[float, float]
    disc_r: float
    side: int


def _geometry(rng: Rng) -> Geometry:
    side = 1 if rng.random() < 0.5 else -1
    f_off = rng.uniform(0.0, 0.32)
    fovea = (-side * f_off, rng.uniform(-0.05, 0.05))
    disc = (fovea[0] + side * rng.uniform(0.62, 0.72), fovea[1] - rng.uniform(0.0, 0.06))
    return Geometry(disc, fovea, rng.uniform(0.105, 0.135), side)


def _grow(
    rng: Rng, out: list[Vessel], start: tuple[float, float], heading: float, width: float, length: float,
    artery: bool, geo: Geometry, depth: int, arcade: int = 0, wiggle: float = 0.08,
) -> None:
    """Grow one vessel by a steered random walk and spawn thinner branches along it."""
    step = 0.022
    n = max(3, int(length / step))
    noise = rng.normal(0, wiggle, n)  # one draw per vessel, not per step
    px, py = start
    pts = [(px, py)]
    h = heading
    fx, fy = geo.fovea
    next_branch = float(rng.uniform(0.12, 0.3))
    walked = 0.0
    sgn = -geo.side * arcade
    for i in range(n):
        if arcade:
            # arcades bend round the macula: steer toward the tangent of a circle about the fovea
            tang = math.atan2(-sgn * (px - fx), sgn * (py - fy))
            w_turn = 0.22 * max(0.0, 1.0 - walked / 1.1)
            h += w_turn * math.atan2(math.sin(tang - h), math.cos(tang - h))
        h += noise[i]
        px += step * math.cos(h)
        py += step * math.sin(h)
        pts.append((px, py))
        walked += step
        if px * px + py * py > 1.1:
            break
        if not arcade and (px - fx) ** 2 + (py - fy) ** 2 < 0.0081:
            break  # capillary-free zone round the fovea
        if depth > 0 and walked > next_branch and i < n - 3:
            next_branch = walked + float(rng.uniform(0.15, 0.32))
            sign = 1 if rng.random() < 0.5 else -1
            child_h = h + sign * float(rng.uniform(0.45, 1.0))
            frac = 1.0 - walked / length
            _grow(rng, out, (px, py), child_h, width * float(rng.uniform(0.55, 0.72)),
                  length * float(rng.uniform(0.35, 0.6)) * max(frac, 0.4), artery, geo, depth - 1, 0, wiggle * 1.2)
    arr = np.array(pts)
    taper = np.linspace(1.0, 0.55, len(arr))
    out.append(Vessel(arr, width * taper, artery))


def vessel_tree(rng: Rng, geo: Geometry, tortuous: bool = False, thin_arteries: bool = False) -> list[Vessel]:
    """Arteries and veins leaving the disc: four arcades plus nasal and macular twigs."""
    out: list[Vessel] = []
    d = geo.disc
    wiggle = 0.14 if tortuous else 0.07
    for artery in (False, True):
        base_w = 0.0165 * (0.82 if artery else 1.0) * (1.35 if tortuous and not artery else 1.0)
        if artery and thin_arteries:
            base_w *= 0.6
        for vert in (-1, 1):
            start = (d[0] + float(rng.uniform(-0.02, 0.02)), d[1] + float(rng.uniform(-0.02, 0.02)))
            # temporal arcade: leaves upward/downward, bends toward the temporal side
            h0 = math.atan2(vert * 1.0, -geo.side * rng.uniform(0.2, 0.5))
            _grow(rng, out, start, h0, base_w, rng.uniform(1.3, 1.7), artery, geo, 3,
                  arcade=vert, wiggle=wiggle)
            # nasal vessel
            h1 = math.atan2(vert * rng.uniform(0.5, 1.0), geo.side * 1.0)
            _grow(rng, out, start, h1, base_w * 0.75, rng.uniform(0.6, 0.9), artery, geo, 2, wiggle=wiggle)
        # small macular twig toward the fovea
        h2 = math.atan2(geo.fovea[1] - d[1], geo.fovea[0] - d[0]) + rng.normal(0, 0.2)
        _grow(rng, out, d, h2, base_w * 0.45, 0.45, artery, geo, 1, wiggle=wiggle)
    return out


@lru_cache(maxsize=4)
def _noise_tile(seed: int, size: int = 512) -> np.ndarray:
    """A reusable gaussian noise tile (uint8 centred on 128, sigma 32), so per-image noise costs no draws."""
    noise = np.random.default_rng(seed).normal(128, 32, (size, size, 3))
    return np.clip(noise, 0, 255).astype(np.uint8)


def add_noise(img: np.ndarray, rng: Rng, sigma: float) -> np.ndarray:
    """Add tiled gaussian noise of `sigma` grey levels (cheap at any size)."""
    tile = _noise_tile(int(rng.integers(0, 4)))
    h, w = img.shape[:2]
    reps = (h // tile.shape[0] + 2, w // tile.shape[1] + 2, 1)
    oy, ox = (int(v) for v in rng.integers(0, tile.shape[0], 2))
    big = np.tile(tile, reps)[oy : oy + h, ox : ox + w]
    big = big[..., 0] if img.ndim == 2 else big[..., : img.shape[2]]
    k = sigma / 32.0
    return cv2.addWeighted(img, 1.0, np.ascontiguousarray(big), k, -128.0 * k)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _lowres_noise(rng: Rng, shape: tuple[int, int], cells: int) -> np.ndarray:
    small = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _fov(w: int, h: int, rng: Rng) -> tuple[float, float, float]:
    """Centre and radius (px) of the circular field of view; sometimes clipped top and bottom."""
    r = 0.56 * h if w > h * 1.15 and rng.random() < 0.5 else 0.48 * min(w, h)
    return w / 2.0, h / 2.0, r


def _to_px(p: tuple[float, float] | np.ndarray, cx: float, cy: float, r: float) -> tuple[int, int]:
    return int(round(cx + p[0] * r)), int(round(cy + p[1] * r))


def _circle_mask(w: int, h: int, cx: float, cy: float, r: float, soft: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    cv2.circle(m, (int(cx), int(cy)), int(r), 255, -1, cv2.LINE_AA)
    if soft:
        k = soft * 2 + 1
        m = cv2.GaussianBlur(m, (k, k), 0)
    return m


def _apply_mask(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Multiply by a 0-255 mask (black outside the field of view)."""
    m = mask if img.ndim == 2 else cv2.merge([mask] * img.shape[2])
    return cv2.multiply(img, m, scale=1.0 / 255.0)


def _draw_vessels(img: np.ndarray, vessels: list[Vessel], cx: float, cy: float, r: float,
                  colours: dict[bool, tuple[int, ...]], reflex: tuple[int, ...] | None) -> None:
    """Draw vessels as tapered polylines (pieces of a few points, each with its own thickness)."""
    order = sorted(vessels, key=lambda v: v.artery)  # veins first, arteries cross over them
    for v in order:
        pts = np.column_stack([cx + v.points[:, 0] * r, cy + v.points[:, 1] * r])
        n = len(pts)
        for a in range(0, n - 1, 4):
            b = min(n, a + 5)
            seg = np.round(pts[a:b] * 4).astype(np.int32)  # 2 fractional bits for smooth curves
            t = max(1, int(round(v.width[a] * r)))
            cv2.polylines(img, [seg], False, colours[v.artery], t, cv2.LINE_AA, shift=2)
            if reflex is not None and v.artery and t >= 5:
                cv2.polylines(img, [seg], False, reflex, max(1, t // 4), cv2.LINE_AA, shift=2)


def _rand_point(rng: Rng, geo: Geometry, rmin: float, rmax: float, around: tuple[float, float] = (0, 0),
                avoid_disc: bool = True) -> tuple[float, float]:
    for _ in range(50):
        a = rng.uniform(0, 2 * math.pi)
        rad = math.sqrt(rng.uniform(rmin**2, rmax**2))
        p = (around[0] + rad * math.cos(a), around[1] + rad * math.sin(a))
        if math.hypot(*p) > 0.95:
            continue
        if avoid_disc and math.hypot(p[0] - geo.disc[0], p[1] - geo.disc[1]) < geo.disc_r * 1.3:
            continue
        return p
    return around


CFP_LESIONS = {"ma", "dot_haem", "exudate_ring", "cws", "nvd", "prp", "flame_sector", "flame_all", "tortuous",
               "disc_swelling", "whitening", "cherry", "drusen", "cnv_haem", "ga", "tessellation", "ppa",
               "splinter", "serous", "spicules", "pale_disc", "thin_vessels"}


def draw_cfp(rng: Rng, w: int, h: int, lesions: tuple[str, ...] = (), cup: float = 0.35,
             arrows: bool = False) -> np.ndarray:
    """A colour fundus photograph (BGR uint8): orange-red field in a circular mask, disc, vessels, lesions."""
    unknown = set(lesions) - CFP_LESIONS
    if unknown:
        raise ValueError(f"draw_cfp: unknown lesion keys {sorted(unknown)}")
    les = set(lesions)
    geo = _geometry(rng)
    cx, cy, r = _fov(w, h, rng)
    # --- smooth field on a small grid -------------------------------------------------------
    lw = 192
    lh = max(8, int(round(lw * h / w)))
    xs = (np.arange(lw, dtype=np.float32) + 0.5) * (w / lw)
    ys = (np.arange(lh, dtype=np.float32) + 0.5) * (h / lh)
    u = (xs[None, :] - cx) / r
    v = (ys[:, None] - cy) / r
    rr2 = u * u + v * v
    tone = rng.choice(["normal", "dark", "blond"], p=[0.6, 0.2, 0.2])
    base = {
        "normal": (rng.uniform(185, 225), rng.uniform(70, 105), rng.uniform(25, 45)),
        "dark": (rng.uniform(130, 165), rng.uniform(45, 70), rng.uniform(18, 30)),
        "blond": (rng.uniform(215, 245), rng.uniform(105, 140), rng.uniform(50, 80)),
    }[tone]
    dxd, dyd = u - geo.disc[0], v - geo.disc[1]
    illum = np.clip(1.0 - 0.5 * rr2, 0.25, 1.0) * (1.0 + 0.18 * np.exp(-(dxd**2 + dyd**2) / 0.12))
    tex = 0.07 * _lowres_noise(rng, (lh, lw), 10) + 0.035 * _lowres_noise(rng, (lh, lw), 36)
    rgb = np.stack([np.full((lh, lw), c, np.float32) for c in base], -1) * (illum * (1 + tex))[..., None]
    if "tessellation" in les:
        # choroidal vessels: elongated, radially oriented stripes (noise stretched along one axis)
        streak = cv2.resize(rng.normal(0, 1, (6, 40)).astype(np.float32), (lw, lh), interpolation=cv2.INTER_CUBIC)
        stripes = np.clip(0.5 + 0.5 * np.sin(5 * streak), 0, 1) ** 2
        rgb *= (1 - 0.25 * stripes * np.clip(1.2 - rr2, 0, 1))[..., None]
        rgb[..., 1:] *= 0.9
    fu, fv = u - geo.fovea[0], v - geo.fovea[1]
    mac = np.exp(-(fu**2 + fv**2) / (2 * 0.12**2))
    rgb *= np.stack([1 - 0.22 * mac, 1 - 0.45 * mac, 1 - 0.40 * mac], -1)
    if "whitening" in les:
        wmask = np.exp(-(fu**2 + fv**2) / (2 * 0.33**2)) * (1 - np.exp(-(fu**2 + fv**2) / (2 * 0.035**2)))
        rgb = rgb * (1 - 0.75 * wmask[..., None]) + np.array([235, 225, 215], np.float32) * 0.75 * wmask[..., None]
    if "ga" in les:
        gmask = _sigmoid((1 - (fu**2 + fv**2) / 0.11**2) * 8)
        stripes = 0.5 + 0.5 * np.sin(18 * _lowres_noise(rng, (lh, lw), 16))
        ga_col = np.stack([200 - 60 * stripes, 150 - 50 * stripes, 110 - 40 * stripes], -1)
        rgb = rgb * (1 - gmask[..., None]) + ga_col * gmask[..., None]
    if "serous" in les:
        smask = np.exp(-((fu**2 + fv**2) / 0.14**2) ** 3)
        rgb *= (1 - 0.12 * smask)[..., None]
    # optic disc (slightly vertical ellipse) with cup and optional atrophy crescent
    rdx, rdy = geo.disc_r * 0.92, geo.disc_r
    dd = (dxd / rdx) ** 2 + (dyd / rdy) ** 2
    steep = 3.0 if "disc_swelling" in les else 10.0
    disc = _sigmoid((1 - dd) * steep)
    if "ppa" in les:
        temporal = np.clip(-geo.side * dxd / geo.disc_r, 0, None)
        crescent = ((dd > 0.9) & (dd < 2.6 + 1.2 * temporal)).astype(np.float32) * np.clip(temporal + 0.3, 0, 1)
        crescent = cv2.GaussianBlur(crescent, (5, 5), 0)
        rgb = rgb * (1 - 0.8 * crescent[..., None]) + np.array([235, 205, 165], np.float32) * 0.8 * crescent[..., None]
    disc_col = np.array([250, 215, 180] if "pale_disc" in les else [248, 185, 130], np.float32)
    if "disc_swelling" in les:
        disc_col = np.array([235, 140, 95], np.float32)
    rgb = rgb * (1 - disc[..., None]) + disc_col * disc[..., None]
    cup_c = (geo.disc[0] - geo.side * geo.disc_r * 0.12, geo.disc[1])
    dc = ((u - cup_c[0]) / (rdx * cup)) ** 2 + ((v - cup_c[1]) / (rdy * cup)) ** 2
    cup_m = _sigmoid((1 - dc) * 6) * disc
    rgb = rgb * (1 - 0.8 * cup_m[..., None]) + np.array([255, 238, 205], np.float32) * 0.8 * cup_m[..., None]
    gain = rng.uniform(0.85, 1.1)
    bgr = np.clip(rgb[..., ::-1] * gain, 0, 255).astype(np.uint8)
    img = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_CUBIC)
    # --- full-resolution drawing ------------------------------------------------------------
    s = r / 500.0  # lesion sizes are tuned at R = 500 px
    vessels = vessel_tree(rng, geo, tortuous="tortuous" in les, thin_arteries="thin_vessels" in les)
    vein = (22, 28, int(125 * gain))
    art = (32, 48, int(172 * gain))
    _draw_vessels(img, vessels, cx, cy, r, {False: vein, True: art}, (80, 120, 215))
    px = lambda p: _to_px(p, cx, cy, r)  # noqa: E731
    soft = np.zeros((h, w), np.uint8)
    soft_col = np.zeros((h, w, 3), np.uint8)
    marks: list[tuple[float, float]] = []
    if "ma" in les:
        for _ in range(int(rng.integers(20, 60))):
            p = _rand_point(rng, geo, 0.05, 0.6, geo.fovea)
            cv2.circle(img, px(p), max(1, int(rng.uniform(1.2, 2.6) * s)), (20, 20, 120), -1, cv2.LINE_AA)
    if "dot_haem" in les:
        for _ in range(int(rng.integers(12, 35))):
            p = _rand_point(rng, geo, 0.08, 0.75, geo.fovea)
            cv2.circle(img, px(p), max(2, int(rng.uniform(3, 9) * s)), (15, 18, 105), -1, cv2.LINE_AA)
            marks.append(p)
    if les & {"flame_sector", "flame_all", "splinter"}:
        n = 6 if les == {"splinter"} or "flame_sector" not in les and "flame_all" not in les else (
            int(rng.integers(25, 45)) if "flame_sector" in les else int(rng.integers(70, 120)))
        for _ in range(n):
            if "splinter" in les and "flame_all" not in les and "flame_sector" not in les:
                a = rng.uniform(0, 2 * math.pi)
                p = (geo.disc[0] + geo.disc_r * 1.05 * math.cos(a), geo.disc[1] + geo.disc_r * 1.05 * math.sin(a))
            elif "flame_sector" in les:
                p = _rand_point(rng, geo, 0.1, 0.55, geo.disc)
                p = (geo.disc[0] - geo.side * abs(p[0] - geo.disc[0]), geo.disc[1] - abs(p[1] - geo.disc[1]))
            else:
                p = _rand_point(rng, geo, 0.08, 0.85, geo.disc)
            ang = math.degrees(math.atan2(p[1] - geo.disc[1], p[0] - geo.disc[0]))
            ax = (max(3, int(rng.uniform(8, 22) * s)), max(1, int(rng.uniform(2, 5) * s)))
            cv2.ellipse(img, px(p), ax, ang, 0, 360, (18, 22, 140), -1, cv2.LINE_AA)
            marks.append(p)
    if "exudate_ring" in les:
        c = (geo.fovea[0] - geo.side * 0.12, geo.fovea[1] + rng.uniform(-0.05, 0.05))
        rad = rng.uniform(0.08, 0.14)
        for _ in range(int(rng.integers(40, 90))):
            a = rng.uniform(0, 2 * math.pi)
            q = (c[0] + rad * math.cos(a) * rng.uniform(0.8, 1.2), c[1] + rad * math.sin(a) * rng.uniform(0.8, 1.2))
            cv2.circle(img, px(q), max(1, int(rng.uniform(1.5, 4.5) * s)), (110, 215, 240), -1, cv2.LINE_AA)
        marks.append(c)
    if "cws" in les:
        for _ in range(int(rng.integers(3, 8))):
            p = _rand_point(rng, geo, 0.15, 0.5, geo.disc)
            ax = (max(3, int(rng.uniform(10, 20) * s)), max(2, int(rng.uniform(6, 12) * s)))
            cv2.ellipse(soft, px(p), ax, rng.uniform(0, 180), 0, 360, 200, -1)
            cv2.ellipse(soft_col, px(p), ax, 0, 0, 360, (205, 222, 232), -1)
            marks.append(p)
    if "drusen" in les:
        for _ in range(int(rng.integers(25, 70))):
            p = _rand_point(rng, geo, 0.02, 0.22, geo.fovea)
            rad = max(2, int(rng.uniform(2.5, 8) * s))
            cv2.circle(soft, px(p), rad, 190, -1)
            cv2.circle(soft_col, px(p), rad, (110, 200, 225), -1)
        marks.append(geo.fovea)
    if "cnv_haem" in les:
        for _ in range(int(rng.integers(4, 9))):
            p = _rand_point(rng, geo, 0.0, 0.1, geo.fovea, avoid_disc=False)
            ax = (max(4, int(rng.uniform(20, 45) * s)), max(3, int(rng.uniform(15, 35) * s)))
            cv2.ellipse(img, px(p), ax, rng.uniform(0, 180), 0, 360, (20, 22, 95), -1, cv2.LINE_AA)
        cv2.circle(soft, px(geo.fovea), max(3, int(22 * s)), 170, -1)
        cv2.circle(soft_col, px(geo.fovea), max(3, int(22 * s)), (100, 135, 120), -1)
        marks.append(geo.fovea)
    if "nvd" in les:
        for _ in range(int(rng.integers(10, 20))):
            p0 = np.array(geo.disc) + rng.normal(0, geo.disc_r * 0.6, 2)
            pts = [p0]
            for _k in range(6):
                pts.append(pts[-1] + rng.normal(0, 0.025, 2))
            arr = np.round((np.array(pts) * r + [cx, cy]) * 4).astype(np.int32)
            cv2.polylines(img, [arr], False, (30, 35, 150), max(1, int(1.5 * s)), cv2.LINE_AA, shift=2)
        marks.append(geo.disc)
    if "prp" in les:
        for _ in range(int(rng.integers(120, 260))):
            p = _rand_point(rng, geo, 0.6, 0.95)
            rad = max(2, int(rng.uniform(5, 9) * s))
            cv2.circle(img, px(p), rad + max(1, int(2 * s)), (120, 170, 205), -1, cv2.LINE_AA)
            cv2.circle(img, px(p), rad, (30, 45, 70), -1, cv2.LINE_AA)
    if "spicules" in les:
        for _ in range(int(rng.integers(60, 150))):
            p = _rand_point(rng, geo, 0.45, 0.9)
            c = np.array(px(p))
            for _k in range(int(rng.integers(3, 6))):
                a = rng.uniform(0, 2 * math.pi)
                ln = rng.uniform(4, 12) * s
                q = c + np.array([math.cos(a) * ln, math.sin(a) * ln])
                cv2.line(img, tuple(int(t) for t in c), tuple(int(t) for t in q), (25, 30, 40),
                         max(1, int(2 * s)), cv2.LINE_AA)
        marks.append(_rand_point(rng, geo, 0.5, 0.7))
    if "cherry" in les or "whitening" in les:
        cv2.circle(img, px(geo.fovea), max(3, int(18 * s)), (30, 30, 170), -1, cv2.LINE_AA)
    elif "cnv_haem" not in les and "ga" not in les:
        cv2.circle(img, px(geo.fovea), max(1, int(3 * s)), (150, 190, 230), -1, cv2.LINE_AA)  # foveal reflex
    if soft.any():
        k = max(3, int(9 * s) | 1)
        bx, by, bw, bh = cv2.boundingRect(soft)
        x0, y0 = max(0, bx - k), max(0, by - k)
        x1, y1 = min(w, bx + bw + k), min(h, by + bh + k)
        a = cv2.GaussianBlur(soft[y0:y1, x0:x1], (k, k), 0).astype(np.float32) / 255.0
        col = cv2.GaussianBlur(soft_col[y0:y1, x0:x1], (k, k), 0)
        img[y0:y1, x0:x1] = cv2.blendLinear(img[y0:y1, x0:x1], col, 1.0 - a, a)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    img = add_noise(img, rng, rng.uniform(2, 5))
    if arrows and marks:
        for i in range(min(len(marks), int(rng.integers(1, 4)))):
            p = marks[int(rng.integers(0, len(marks)))] if i else marks[0]
            tip = np.array(px(p), float)
            a = rng.uniform(0, 2 * math.pi)
            tail = tip + np.array([math.cos(a), math.sin(a)]) * 60 * s
            tip2 = tip + (tail - tip) * 0.18
            cv2.arrowedLine(img, tuple(int(t) for t in tail), tuple(int(t) for t in tip2), (0, 230, 255),
                            max(2, int(4 * s)), cv2.LINE_AA, tipLength=0.35)
    mask = _circle_mask(w, h, cx, cy, r, soft=max(1, int(3 * s)))
    return _apply_mask(img, mask)


FFA_SIGNS = {"ma", "leak_macula", "leak_disc", "nonperf", "nonperf_sector", "cnv", "smokestack", "window",
             "blocked", "delayed"}


def draw_ffa(rng: Rng, w: int, h: int, signs: tuple[str, ...] = (), phase: int = 1,
             timestamp: bool = True) -> np.ndarray:
    """A fluorescein angiogram (grey uint8): bright vessels on mottled choroidal flush, leakage, dark surround.

    `phase`: 0 early arterial, 1 arteriovenous, 2 mid, 3 late.
    """
    unknown = set(signs) - FFA_SIGNS
    if unknown:
        raise ValueError(f"draw_ffa: unknown sign keys {sorted(unknown)}")
    sg = set(signs)
    geo = _geometry(rng)
    circular = rng.random() < 0.55
    cx, cy = w / 2.0, h / 2.0
    r = 0.48 * min(w, h) if circular else 0.62 * max(w, h)
    lw = 160
    lh = max(8, int(round(lw * h / w)))
    xs = (np.arange(lw, dtype=np.float32) + 0.5) * (w / lw)
    ys = (np.arange(lh, dtype=np.float32) + 0.5) * (h / lh)
    u = (xs[None, :] - cx) / r
    v = (ys[:, None] - cy) / r
    rr2 = u * u + v * v
    bg_level = [45, 95, 105, 95][phase]
    field = bg_level * np.clip(1 - 0.45 * rr2, 0.3, 1) * (1 + 0.18 * _lowres_noise(rng, (lh, lw), 24))
    fu, fv = u - geo.fovea[0], v - geo.fovea[1]
    field *= 1 - 0.55 * np.exp(-(fu**2 + fv**2) / (2 * 0.07**2))
    dxd, dyd = u - geo.disc[0], v - geo.disc[1]
    dd = (dxd**2 + dyd**2) / geo.disc_r**2
    disc_level = [120, 190, 200, 215][phase]
    field = field + (disc_level - field) * _sigmoid((1 - dd) * 8)
    img = cv2.resize(np.clip(field, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    s = r / 500.0
    vessels = vessel_tree(rng, geo)
    art_v = [215, 235, 220, 150][phase]
    vein_v = [70 if "delayed" in sg else 110, 225, 215, 145][phase]
    _draw_vessels(img, vessels, cx, cy, r, {False: (vein_v,), True: (art_v,)}, None)
    px = lambda p: _to_px(p, cx, cy, r)  # noqa: E731
    glow = np.zeros((h, w), np.uint8)
    if "nonperf" in sg or "nonperf_sector" in sg:
        for _ in range(int(rng.integers(3, 7))):
            p = _rand_point(rng, geo, 0.45, 0.85)
            if "nonperf_sector" in sg:
                p = (geo.disc[0] - geo.side * abs(p[0] - geo.disc[0]) * 0.6, -abs(p[1]) - 0.1)
            ax = (max(5, int(rng.uniform(40, 90) * s)), max(5, int(rng.uniform(30, 70) * s)))
            cv2.ellipse(img, px(p), ax, rng.uniform(0, 180), 0, 360, int(bg_level * 0.35), -1, cv2.LINE_AA)
    if "blocked" in sg:
        for _ in range(int(rng.integers(20, 50))):
            p = _rand_point(rng, geo, 0.1, 0.8, geo.disc)
            ax = (max(3, int(rng.uniform(8, 20) * s)), max(2, int(rng.uniform(3, 6) * s)))
            ang = math.degrees(math.atan2(p[1] - geo.disc[1], p[0] - geo.disc[0]))
            cv2.ellipse(img, px(p), ax, ang, 0, 360, 25, -1, cv2.LINE_AA)
    if "ma" in sg:
        for _ in range(int(rng.integers(30, 80))):
            p = _rand_point(rng, geo, 0.04, 0.45, geo.fovea)
            cv2.circle(img, px(p), max(1, int(rng.uniform(1.5, 3) * s)), 245, -1, cv2.LINE_AA)
    late = 0.4 + 0.2 * phase
    if "leak_macula" in sg:
        for _ in range(8):
            p = _rand_point(rng, geo, 0.0, 0.09, geo.fovea, avoid_disc=False)
            cv2.circle(glow, px(p), max(3, int(rng.uniform(15, 30) * s * late * 1.5)), 255, -1)
    if "leak_disc" in sg:
        cv2.circle(glow, px(geo.disc), max(4, int(geo.disc_r * r * (1.1 + late))), 255, -1)
    if "cnv" in sg:
        c = px(geo.fovea)
        for _ in range(40):
            q = (c[0] + int(rng.normal(0, 18 * s)), c[1] + int(rng.normal(0, 18 * s)))
            cv2.line(img, c, q, 235, max(1, int(2 * s)), cv2.LINE_AA)
        cv2.circle(glow, c, max(4, int(35 * s * (0.6 + late))), 230, -1)
    if "smokestack" in sg:
        base = (geo.fovea[0] + 0.05, geo.fovea[1] - 0.04)
        b = px(base)
        cv2.circle(glow, b, max(2, int(6 * s)), 255, -1)
        if phase >= 2:
            top = (b[0] + int(rng.normal(0, 8 * s)), b[1] - int(60 * s))
            cv2.line(glow, b, top, 240, max(3, int(12 * s)))
            cv2.ellipse(glow, top, (max(3, int(25 * s)), max(2, int(14 * s))), 0, 0, 360, 240, -1)
    if "window" in sg:
        for _ in range(int(rng.integers(2, 5))):
            p = _rand_point(rng, geo, 0.0, 0.25, geo.fovea, avoid_disc=False)
            cv2.circle(img, px(p), max(4, int(rng.uniform(12, 30) * s)), 200, -1, cv2.LINE_AA)
    if glow.any():
        k = max(5, int(31 * s) | 1)
        glow = cv2.GaussianBlur(glow, (k, k), 0)
        img = np.maximum(img, (glow.astype(np.float32) * (0.5 + 0.4 * late)).astype(np.uint8))
    img = cv2.GaussianBlur(img, (3, 3), 0)
    img = add_noise(img, rng, rng.uniform(3, 7))
    if circular:
        img = _apply_mask(img, _circle_mask(w, h, cx, cy, r, max(1, int(3 * s))))
    if timestamp:
        t = [rng.uniform(12, 20), rng.uniform(20, 40), rng.uniform(60, 180), rng.uniform(300, 720)][phase]
        txt = f"{int(t // 60)}:{t % 60:04.1f}"
        fs = max(0.4, h / 700)
        cv2.putText(img, txt, (int(0.03 * w), int(0.96 * h)), cv2.FONT_HERSHEY_SIMPLEX, fs, 235,
                    max(1, int(fs * 2)), cv2.LINE_AA)
    return img


OCT_SIGNS = {"cysts", "hrf", "erm", "srf", "ped", "ped_small", "drusen", "staphyloma", "rnfl_thin", "ez_loss",
             "inner_hyper"}

# retinal layers from the inner limiting membrane down: (name, relative thickness, reflectivity)
_LAYERS = (
    ("RNFL", 0.10, 0.80), ("GCL", 0.11, 0.42), ("IPL", 0.09, 0.60), ("INL", 0.09, 0.26), ("OPL", 0.06, 0.55),
    ("ONL", 0.22, 0.16), ("ELM", 0.015, 0.55), ("MZ", 0.03, 0.22), ("EZ", 0.025, 0.88), ("IZ", 0.02, 0.45),
    ("RPE", 0.045, 0.97), ("CC", 0.03, 0.55), ("CHOROID", 0.45, 0.52), ("SCLERA", 3.0, 0.07),
)


def draw_oct(rng: Rng, w: int, h: int, signs: tuple[str, ...] = ()) -> np.ndarray:
    """An OCT B-scan (grey uint8): curved retinal layers with a foveal pit, speckle, optional fluid and PED."""
    unknown = set(signs) - OCT_SIGNS
    if unknown:
        raise ValueError(f"draw_oct: unknown sign keys {sorted(unknown)}")
    sg = set(signs)
    x = np.arange(w, dtype=np.float32) / w
    xf = rng.uniform(0.42, 0.58)
    curv = rng.uniform(0.35, 0.7) if "staphyloma" in sg else rng.uniform(-0.05, 0.25)
    thick = h * rng.uniform(0.24, 0.32)
    # the RPE is the reference surface; layers are stacked upward (inner retina) and downward (choroid)
    rpe_top = h * (rng.uniform(0.58, 0.68) - curv * (x - xf) ** 2 * 1.6 + rng.uniform(-0.06, 0.06) * (x - 0.5))
    pit = np.exp(-(((x - xf) / rng.uniform(0.06, 0.09)) ** 2))
    nasal = 1 + 0.6 * np.clip((x - xf) * (1 if rng.random() < 0.5 else -1), 0, None)
    inner_scale = (1 - 0.92 * pit) * (0.4 if "rnfl_thin" in sg else 1.0)
    names = [n for n, *_ in _LAYERS]
    rpe_i = names.index("RPE")
    tops = [np.zeros(w, np.float32)] * len(_LAYERS)
    tops[rpe_i] = rpe_top
    for i in range(rpe_i - 1, -1, -1):
        name, t, _refl = _LAYERS[i]
        tt = np.full(w, t * thick, np.float32)
        if i < 5:
            tt *= inner_scale
            if name == "RNFL":
                tt *= nasal
            if "inner_hyper" in sg:
                tt *= 1.3
        elif name == "ONL":
            tt *= 1 + 0.9 * pit
        tops[i] = tops[i + 1] - tt
    for i in range(rpe_i + 1, len(_LAYERS)):
        t = _LAYERS[i - 1][1] * thick * (0.3 if _LAYERS[i - 1][0] == "CHOROID" and "staphyloma" in sg else 1.0)
        tops[i] = tops[i - 1] + t
    bounds = np.stack(tops)  # (K, w): top of each layer
    # fluid and PED lift the layers above the RPE (or above Bruch's membrane)
    lift_rpe = np.zeros(w, np.float32)
    lift_retina = np.zeros(w, np.float32)
    dome = lambda c, half, hgt: hgt * np.clip(1 - ((x - c) / half) ** 2, 0, None) ** 0.7  # noqa: E731
    if "ped" in sg:
        lift_rpe += dome(xf + rng.uniform(-0.05, 0.05), rng.uniform(0.08, 0.14), thick * rng.uniform(0.2, 0.4))
    if "ped_small" in sg:
        lift_rpe += dome(xf + rng.uniform(0.04, 0.09), 0.025, thick * 0.18)
    if "drusen" in sg:
        for _ in range(int(rng.integers(3, 7))):
            lift_rpe += dome(xf + rng.uniform(-0.2, 0.2), rng.uniform(0.015, 0.035), thick * rng.uniform(0.05, 0.12))
    if "srf" in sg:
        lift_retina += dome(xf + rng.uniform(-0.03, 0.03), rng.uniform(0.1, 0.18), thick * rng.uniform(0.15, 0.35))
    bounds[: rpe_i + 2] -= lift_rpe[None, :]
    bounds[: rpe_i] -= lift_retina[None, :]
    top = bounds[0]
    yy = np.arange(h, dtype=np.float32)[:, None]
    label = np.zeros((h, w), np.int16)
    for k in range(bounds.shape[0]):
        label += (yy >= bounds[k][None, :]).astype(np.int16)
    refl = np.array([0.03] + [r for _, _, r in _LAYERS], np.float32)
    if "ez_loss" in sg:
        refl[names.index("EZ") + 1] = 0.3
    img = refl[label]
    if "ez_loss" in sg:  # EZ survives only under the central macula
        ez = label == names.index("EZ") + 1
        central = np.abs(x - xf)[None, :] < 0.12
        img[ez & central] = 0.88
    # choroid texture: dark vessel lumens in a mid-grey stroma
    ch = label == names.index("CHOROID") + 1
    tex = 1 + 0.5 * cv2.resize(rng.normal(0, 1, (h // 12 + 1, w // 20 + 1)).astype(np.float32), (w, h))
    img = np.where(ch, img * np.clip(tex, 0.2, 1.6), img)
    # subretinal fluid fills the gap between the lifted interdigitation zone and the RPE
    if "srf" in sg:
        sub = (yy >= bounds[rpe_i - 1][None, :] + _LAYERS[rpe_i - 1][1] * thick) & (yy < bounds[rpe_i][None, :])
        img = np.where(sub & (lift_retina[None, :] > 1), 0.04, img)
    if "ped" in sg or "ped_small" in sg or "drusen" in sg:
        bruch = bounds[rpe_i + 1] + lift_rpe  # Bruch's membrane stays where the RPE was
        ped = (yy >= bounds[rpe_i + 1][None, :]) & (yy < bruch[None, :]) & (lift_rpe[None, :] > 1)
        img = np.where(ped, 0.35 if "drusen" in sg else 0.12, img)
    if "cysts" in sg:
        cyst = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(4, 10))):
            cxp = int((xf + rng.uniform(-0.12, 0.12)) * w)
            lay = names.index("INL" if rng.random() < 0.5 else "ONL")
            yc = int((bounds[lay][cxp] + bounds[lay + 1][cxp]) / 2)
            ax = (max(2, int(rng.uniform(0.012, 0.035) * w)), max(2, int(rng.uniform(0.02, 0.06) * h)))
            cv2.ellipse(cyst, (cxp, yc), ax, 0, 0, 360, 1, -1)
        img = np.where(cyst > 0, 0.05, img)
    if "hrf" in sg:
        for _ in range(int(rng.integers(8, 20))):
            cxp = int(rng.uniform(0.2, 0.8) * w)
            yc = int(rng.uniform(bounds[2][cxp], bounds[6][cxp]))
            cv2.circle(img, (cxp, yc), max(1, int(h * 0.006)), 0.95, -1)
    if "erm" in sg:
        pts = np.column_stack([np.arange(w), top - 2 - 2 * np.sin(x * 60)]).astype(np.int32)
        cv2.polylines(img, [pts[int(w * 0.2) : int(w * 0.8)]], False, 0.95, max(1, h // 250))
    img = cv2.GaussianBlur(img, (1, 3), 0)
    speckle = rng.gamma(2.2, 1 / 2.2, (h, w)).astype(np.float32)
    img = img * speckle + 0.03 * rng.random((h, w), dtype=np.float32)
    img = cv2.GaussianBlur(img, (3, 1), 0)
    out = np.clip(np.power(np.clip(img, 0, None), 0.8) * 235, 0, 255).astype(np.uint8)
    return out


@lru_cache(maxsize=1)
def _skimage_retina() -> np.ndarray:
    from skimage import data  # imported lazily: only this image needs scikit-image

    return cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)


def retina_variant(rng: Rng, w: int, h: int) -> np.ndarray:
    """A crop/resize/flip/colour-jitter of scikit-image's CC0 `retina()` photograph (BGR uint8)."""
    src = _skimage_retina()
    n = src.shape[0]
    frac = rng.uniform(0.75, 1.0)
    cw = int(n * frac)
    ch = min(n, int(cw * h / w))
    x0 = int(rng.integers(0, n - cw + 1))
    y0 = int(rng.integers(0, n - ch + 1))
    crop = src[y0 : y0 + ch, x0 : x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    gains = rng.uniform(0.85, 1.15, 3)
    img = np.clip(img.astype(np.float32) * gains[None, None, :], 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
