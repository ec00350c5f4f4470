"""A scanned copy of any PDF: every page rendered, degraded as a scanner and old paper would, stored as one
JPEG per page with no text layer; its ground truth follows every pixel exactly.

What a page goes through (each step optional except the render and the JPEG):

1. **paper**: yellowed, unevenly aged paper (a tint per channel and a smooth blotchy brightness field);
2. **gutter shadow**: the binding side darkens towards the edge (left on odd pages, right on even ones);
3. **the sheet on the glass**: the page turned by up to ``skew`` degrees about its centre; with a
   **border**, the sheet is also a little smaller than the glass and off-centre, so a dark band (the
   scanner lid, the book's edge) shows along its sides, a wedge where the sheet is turned. The book lies
   at one place on the glass; each page is moved from there by up to 0.8% of the page side;
4. slight blur, Gaussian noise of ``noise`` grey levels, JPEG at ``quality``.

Steps 1-2 act on the sheet before it is placed, so they turn with it. The placement is one affine map per
page (pixels of the render -> pixels of the scan); every ground-truth box (figure, panel, caption, table)
goes through the same map and becomes the axis-aligned hull of the turned box, clipped to the page.

Used by ``mmretinal degrade`` (any PDF, a PALM-format ground truth) and by the sample generator's scanned
variant (:func:`mmretinal_builder.samples.corrupt.scan`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from .fundus import add_noise

Box = list[float]


@dataclass(frozen=True)
class DegradeOptions:
    """How a copy is degraded (angles in degrees, noise in grey levels)."""

    dpi: int = 200
    skew: float = 1.5  # pages are turned by a random angle of at most this
    min_skew: float = 0.0  # ... and at least this (when turned at all)
    straight_share: float = 0.0  # share of pages laid on the glass straight
    noise: float = 6.0  # Gaussian noise (sigma, grey levels)
    blur: float = 0.0  # Gaussian blur sigma in pixels (0: none)
    quality: int = 85  # JPEG quality
    border: bool = False  # dark band of the scanner lid along the sides
    shadow: bool = False  # gutter shadow along the binding side
    yellow: bool = False  # yellowed, uneven paper

    def check(self) -> None:
        if not 72 <= self.dpi <= 600:
            raise ValueError(f"degrade: dpi {self.dpi} out of range 72-600")
        if not 0 <= self.min_skew <= self.skew <= 10:
            raise ValueError(f"degrade: skew must satisfy 0 <= min_skew <= skew <= 10 (got {self.min_skew}, "
                             f"{self.skew})")
        if not 0 <= self.noise <= 64 or not 0 <= self.blur <= 5:
            raise ValueError(f"degrade: noise {self.noise} (0-64) or blur {self.blur} (0-5) out of range")
        if not 10 <= self.quality <= 100:
            raise ValueError(f"degrade: JPEG quality {self.quality} out of range 10-100")


@dataclass(frozen=True)
class PagePlacement:
    """Where the sheet landed: the affine map (render pixels -> scan pixels) and what it was made of."""

    matrix: np.ndarray  # 2 x 3, OpenCV convention (pixel centres at integer coordinates)
    angle: float
    scale: float
    offset: tuple[float, float]  # pixels


def _paper(sheet: np.ndarray, rng: random.Random, nprng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Yellowed paper: a tint per channel (BGR) and a smooth field of brighter and darker patches."""
    tint = np.array([rng.uniform(0.80, 0.90), rng.uniform(0.91, 0.96), rng.uniform(0.96, 1.0)], np.float32)
    h, w = sheet.shape[:2]
    field = cv2.resize(nprng.normal(0.0, 1.0, (5, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    gain = (1.0 + rng.uniform(0.01, 0.025) * field)[..., None] * tint
    out = np.clip(sheet.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return out, tint


def _gutter_shadow(sheet: np.ndarray, page_no: int, rng: random.Random) -> np.ndarray:
    """Darken the binding side: left on odd (recto) pages, right on even ones; deepest at the edge."""
    h, w = sheet.shape[:2]
    depth = rng.uniform(0.35, 0.6)
    reach = rng.uniform(0.03, 0.07) * w
    d = np.arange(w, dtype=np.float32)
    if page_no % 2 == 0:
        d = d[::-1]
    gain = 1.0 - depth * np.exp(-d / reach)
    return np.clip(sheet.astype(np.float32) * gain[None, :, None], 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Glass:
    """Where a book lies on the scanner: the sheet's scale and its offset from the centre as shares of the
    slack around it (-1..1). Each page lies there again, give or take ``jitter`` of the page side."""

    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.0

    @staticmethod
    def draw(opts: DegradeOptions, rng: random.Random) -> Glass:
        if not opts.border:
            return Glass()
        # off-centre: one side shows a wide band, the other a narrow one (or none once turned)
        return Glass(scale=rng.uniform(0.93, 0.97), offset=(rng.choice((-1, 1)) * rng.uniform(0.3, 0.8),
                                                             rng.choice((-1, 1)) * rng.uniform(0.2, 0.7)),
                     jitter=0.008)


def place_sheet(size: tuple[int, int], opts: DegradeOptions, rng: random.Random,
                glass: Glass | None = None) -> PagePlacement:
    """The affine map of one page: a turn about the centre; on ``glass`` with a border, a smaller sheet
    off-centre (where the book lies, moved a little from page to page)."""
    w, h = size
    glass = glass or Glass.draw(opts, rng)
    turned = opts.skew > 0 and rng.random() >= opts.straight_share
    angle = round(rng.choice((-1, 1)) * rng.uniform(opts.min_skew, opts.skew), 3) if turned else 0.0
    scale, offset = glass.scale, (0.0, 0.0)
    if opts.border:
        slack_x, slack_y = (1 - scale) * w / 2, (1 - scale) * h / 2
        offset = (glass.offset[0] * slack_x + rng.uniform(-1, 1) * glass.jitter * w,
                  glass.offset[1] * slack_y + rng.uniform(-1, 1) * glass.jitter * h)
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)
    m[0, 2] += offset[0]
    m[1, 2] += offset[1]
    return PagePlacement(matrix=m, angle=angle, scale=scale, offset=offset)


def degrade_image(img: np.ndarray, page_no: int, opts: DegradeOptions, rng: random.Random,
                  nprng: np.random.Generator, glass: Glass | None = None) -> tuple[np.ndarray, PagePlacement]:
    """One rendered page (BGR, uint8) as the scanner delivers it, and where its pixels went."""
    sheet = img
    paper = np.array([255.0, 255.0, 255.0], np.float32)
    if opts.yellow:
        sheet, tint = _paper(sheet, rng, nprng)
        paper = paper * tint
    if opts.shadow:
        sheet = _gutter_shadow(sheet, page_no, rng)
    h, w = sheet.shape[:2]
    placed = place_sheet((w, h), opts, rng, glass)
    if opts.border:
        lid = rng.uniform(25, 70)
        fill = (lid, lid, lid)
    else:
        fill = tuple(float(v) for v in paper)
    out = cv2.warpAffine(sheet, placed.matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=fill)
    if opts.blur > 0:  # a scanner's optics: a 3 x 3 kernel up to a pixel of sigma, wider beyond
        out = cv2.GaussianBlur(out, (3, 3) if opts.blur <= 1.0 else (0, 0), opts.blur)
    if opts.noise > 0:
        out = add_noise(out, nprng, opts.noise)
    return out, placed


def map_box(b: Sequence[float], m: np.ndarray, page: tuple[float, float], px: tuple[float, float]) -> Box:
    """A fractional page box through the pixel map ``m``: the hull of the turned box, as fractions, clipped.

    ``page``: page size in points; ``px``: pixels per point (x, y) of the render ``m`` applies to.
    """
    pw, ph = page
    sx, sy = px
    xs, ys = (b[0] * pw, b[2] * pw), (b[1] * ph, b[3] * ph)
    pts = np.array([[x * sx - 0.5, y * sy - 0.5, 1.0] for x in xs for y in ys])  # pixel-centre coordinates
    q = pts @ m.T + 0.5
    x0, x1 = max(0.0, q[:, 0].min() / sx), min(pw, q[:, 0].max() / sx)
    y0, y1 = max(0.0, q[:, 1].min() / sy), min(ph, q[:, 1].max() / sy)
    return [round(x0 / pw, 6), round(y0 / ph, 6), round(x1 / pw, 6), round(y1 / ph, 6)]


def _map_gt(gt: dict[str, Any], placements: dict[int, tuple[np.ndarray, tuple[float, float], tuple[float, float]]],
            renumber: dict[int, int]) -> dict[str, Any]:
    """The ground truth of the copy: boxes through their page's map, pages renumbered, others dropped."""
    out = copy.deepcopy(gt)

    def moved(box: Sequence[float], page: int) -> Box:
        m, size, px = placements[page]
        return map_box(box, m, size, px)

    figures = []
    for f in out.get("figures", []):
        if f["page"] not in renumber or f.get("caption_page", f["page"]) not in renumber:
            continue
        f["bbox"] = moved(f["bbox"], f["page"])
        for pb in f.get("panel_boxes", []):
            pb["bbox"] = moved(pb["bbox"], f["page"])
        if "caption_bbox" in f:
            f["caption_bbox"] = moved(f["caption_bbox"], f.get("caption_page", f["page"]))
        f["page"] = renumber[f["page"]]
        if "caption_page" in f:
            f["caption_page"] = renumber[f["caption_page"]]
        figures.append(f)
    out["figures"] = figures
    if "tables" in out:
        tables = []
        for t in out["tables"]:
            if t["page"] not in renumber:
                continue
            t["bbox"] = moved(t["bbox"], t["page"])
            if "caption_bbox" in t:
                t["caption_bbox"] = moved(t["caption_bbox"], t["page"])
            t["page"] = renumber[t["page"]]
            tables.append(t)
        out["tables"] = tables
    out["pages"] = len(renumber)
    return out


def degrade_document(src: pymupdf.Document, opts: DegradeOptions, rng: random.Random,
                     nprng: np.random.Generator, gt: dict[str, Any] | None = None,
                     pages: Sequence[int] | None = None) -> tuple[pymupdf.Document, dict[str, Any] | None]:
    """The scanned copy of ``src`` (a new image-only document) and, when ``gt`` (one document of a
    PALM-format ground truth) is given, its ground truth. ``pages``: 1-based pages to keep (default all),
    renumbered from 1 in the copy."""
    opts.check()
    keep = list(range(1, src.page_count + 1)) if pages is None else list(pages)
    bad = [p for p in keep if not 1 <= p <= src.page_count]
    if bad or not keep:
        raise ValueError(f"degrade: pages {bad or keep} not in 1-{src.page_count}")
    out = pymupdf.open()
    glass = Glass.draw(opts, rng)  # the book lies at one place on the scanner, each page a little moved
    placements: dict[int, tuple[np.ndarray, tuple[float, float], tuple[float, float]]] = {}
    angles: list[float] = []
    scales: list[float] = []
    for pno in keep:
        page = src[pno - 1]
        pw, ph = page.rect.width, page.rect.height
        pix = page.get_pixmap(dpi=opts.dpi, alpha=False, annots=True)
        img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)
        img = cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR) if pix.n >= 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        scanned, placed = degrade_image(img, pno, opts, rng, nprng, glass)
        ok, buf = cv2.imencode(".jpg", scanned, [cv2.IMWRITE_JPEG_QUALITY, opts.quality])
        if not ok:
            raise RuntimeError(f"degrade: JPEG encoding failed on page {pno}")
        new = out.new_page(width=pw, height=ph)
        new.insert_image(new.rect, stream=buf.tobytes(), keep_proportion=False)
        placements[pno] = (placed.matrix, (pw, ph), (pix.w / pw, pix.h / ph))
        angles.append(placed.angle)
        scales.append(round(placed.scale, 4))
    if gt is None:
        return out, None
    new_gt = _map_gt(gt, placements, {p: k + 1 for k, p in enumerate(keep)})
    new_gt["variant"] = "scanned"
    new_gt["degrade"] = {**asdict(opts), "rotation_deg": angles, "scale": scales, "pages_of_source": keep,
                         "note": "every page one JPEG, no text layer; boxes are the axis-aligned hulls of the "
                                 "boxes moved with the page (turn, border shift and scale), clipped to the page"}
    return out, new_gt


# ----------------------------------------------------------------------------- files (``mmretinal degrade``)


def parse_pages(spec: str) -> list[int]:
    """``"1-3,7"`` -> ``[1, 2, 3, 7]`` (1-based, in the order given, no repeats)."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"degrade: bad page range {part!r} (write e.g. 1-3,7)") from None
        if a < 1 or b < a:
            raise ValueError(f"degrade: bad page range {part!r} (pages count from 1)")
        out += [p for p in range(a, b + 1) if p not in out]
    if not out:
        raise ValueError(f"degrade: no pages in {spec!r}")
    return out


def _gt_document(path: Path, name: str) -> dict[str, Any]:
    """The document of a PALM-format ground-truth file (a list of documents, or one) that describes ``name``."""
    from ..errors import BuilderError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BuilderError(f"{path}: cannot read the ground truth ({e})") from None
    docs = data if isinstance(data, list) else [data]
    if not all(isinstance(d, dict) and isinstance(d.get("figures"), list) for d in docs):
        raise BuilderError(f"{path}: not a PALM-format ground truth (a list of documents with 'figures')")
    named = [d for d in docs if d.get("id") == name]
    if named:
        return named[0]
    if len(docs) == 1:
        return docs[0]
    raise BuilderError(f"{path}: no document with id {name!r} (ids: {', '.join(str(d.get('id')) for d in docs)})")


def degrade_file(src: Path, dest: Path, opts: DegradeOptions, seed: int = 0, gt: Path | None = None,
                 gt_out: Path | None = None, pages: Sequence[int] | None = None) -> dict[str, Any] | None:
    """Write the scanned copy of the PDF ``src`` to ``dest`` (and, with ``gt``, its ground truth to ``gt_out``,
    the document renamed after ``dest``). Deterministic for a seed. Returns the copy's ground truth."""
    from ..book import Book
    from ..errors import BuilderError
    from ..io import atomic_write_bytes, atomic_write_text
    from .atlas import save_pdf

    if (gt is None) != (gt_out is None):
        raise BuilderError("degrade: --gt and --gt-out go together (the ground truth in, the copy's out)")
    doc_gt = _gt_document(gt, src.name) if gt is not None else None
    book = Book.from_meta(src)  # the one door to a PDF: password from the environment, clear errors
    doc = book.doc
    rng = random.Random(f"mmretinal-degrade:{seed}")
    nprng = np.random.default_rng([seed, 17])
    try:
        try:
            out, new_gt = degrade_document(doc, opts, rng, nprng, doc_gt, pages)
        except ValueError as e:
            raise BuilderError(f"{src}: {e}") from None
    finally:
        book.close()
    data = save_pdf(out, dest.stem)
    out.close()
    atomic_write_bytes(dest, data)
    if new_gt is None or gt_out is None:
        return None
    new_gt["id"] = dest.name
    new_gt["size"] = len(data)
    new_gt["sha256"] = hashlib.sha256(data).hexdigest()
    new_gt["source"] = src.name
    atomic_write_text(gt_out, json.dumps([new_gt], ensure_ascii=False, indent=1) + "\n")
    return new_gt
