"""Small synthetic PDFs for the extraction tests, built with PyMuPDF in a few milliseconds each."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from mmretinal_builder.jobs import run_stages
from mmretinal_builder.schema import Figure
from mmretinal_builder.stage import Context, Stage
from mmretinal_builder.stages.crop import CropStage
from mmretinal_builder.stages.pages import PagesStage
from mmretinal_builder.stages.pair import PairStage

A4 = (595.0, 842.0)
BODY = ("The retina is examined with indirect ophthalmoscopy and the findings are recorded in the chart of "
        "every patient, together with the visual acuity and the intraocular pressure measured at each visit. ")


def picture(w: int = 300, h: int = 200, fmt: str = "PNG", seed: int = 0) -> bytes:
    """A test raster whose corners differ (top-left red, top-right green, bottom-left blue), so that a
    rotated or flipped extraction is detectable."""
    rng = np.random.default_rng(seed)
    arr = np.full((h, w, 3), 128, np.uint8)
    arr += rng.integers(0, 40, size=arr.shape, dtype=np.uint8)
    arr[: h // 4, : w // 4] = (255, 0, 0)
    arr[: h // 4, -w // 4:] = (0, 255, 0)
    arr[-h // 4:, : w // 4] = (0, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def corners(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Mean colour of the top-left, top-right and bottom-left eighth of an encoded image."""
    arr = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)
    h, w = arr.shape[:2]
    h8, w8 = max(1, h // 8), max(1, w // 8)

    def mean(a: np.ndarray) -> tuple[int, ...]:
        return tuple(int(round(v)) for v in a.reshape(-1, 3).mean(0))

    return mean(arr[:h8, :w8]), mean(arr[:h8, -w8:]), mean(arr[-h8:, :w8])


def body(page: pymupdf.Page, rect: tuple[float, float, float, float], text: str = BODY * 3,
         size: float = 10) -> None:
    """A paragraph of running text filling ``rect``."""
    rc = page.insert_textbox(pymupdf.Rect(rect), text, fontsize=size, fontname="helv")
    assert rc >= 0, "paragraph does not fit its box"


def caption(page: pymupdf.Page, x: float, y: float, label: str, text: str, size: float = 9,
            width: float = 400, bold: bool = True) -> float:
    """A caption: bold label then regular text, wrapped at ``width``; returns the y below it."""
    font_b, font_r = ("hebo" if bold else "helv"), "helv"
    page.insert_text((x, y), label, fontsize=size, fontname=font_b)
    lx = x + pymupdf.get_text_length(label + " ", fontname=font_b, fontsize=size)
    words = text.split()
    line, cx, cy = [], lx, y
    for w in words:
        trial = " ".join(line + [w])
        if cx + pymupdf.get_text_length(trial, fontname=font_r, fontsize=size) > x + width and line:
            page.insert_text((cx, cy), " ".join(line), fontsize=size, fontname=font_r)
            line, cx, cy = [w], x, cy + size * 1.25
        else:
            line.append(w)
    if line:
        page.insert_text((cx, cy), " ".join(line), fontsize=size, fontname=font_r)
    return cy + size * 1.25


def vector_chart(page: pymupdf.Page, rect: tuple[float, float, float, float]) -> None:
    """A small line chart: axes, a polyline and filled markers (curves, diagonals, fills)."""
    x0, y0, x1, y1 = rect
    page.draw_line((x0, y1), (x1, y1), color=(0, 0, 0))
    page.draw_line((x0, y0), (x0, y1), color=(0, 0, 0))
    pts = [(x0 + (x1 - x0) * t / 6, y1 - (y1 - y0) * (0.2 + 0.6 * ((t * 7) % 5) / 5)) for t in range(7)]
    page.draw_polyline(pts, color=(0.1, 0.3, 0.8), width=1.5)
    for p in pts:
        page.draw_circle(p, 3, color=(0.8, 0.1, 0.1), fill=(0.8, 0.1, 0.1))


def clip_last_image(doc: pymupdf.Document, page: pymupdf.Page, clip: tuple[float, float, float, float]) -> None:
    """Wrap the page's content stream in a rectangular clip (``clip`` in top-left page points)."""
    h = page.rect.height
    x0, y0, x1, y1 = clip
    xref = page.get_contents()[0]
    stream = doc.xref_stream(xref)
    doc.update_stream(xref, f"q {x0} {h - y1} {x1 - x0} {y1 - y0} re W n ".encode() + stream + b" Q")


def save(doc: pymupdf.Document, path: Path) -> Path:
    doc.save(str(path))
    doc.close()
    return path


def extraction_stages(**params: object) -> list[Stage]:
    """The extraction stages (pages, pair, crop), each with the parameters in ``params`` that are its own."""
    out = []
    for cls in (PagesStage, PairStage, CropStage):
        own = {k: v for k, v in params.items() if k in cls.Params.model_fields}
        out.append(cls(cls.Params(**own)))
    unknown = set(params) - {k for cls in (PagesStage, PairStage, CropStage) for k in cls.Params.model_fields}
    assert not unknown, f"no extraction stage takes {sorted(unknown)}"
    return out


def extract(pdf: Path, run_dir: Path, **params: object) -> tuple[list[Figure], Context]:
    """Figures of ``pdf`` through pages -> pair -> crop, in this process; the context holds every stage's counters,
    drops and warnings."""
    return run_stages(extraction_stages(**params), run_dir=run_dir, book_path=pdf)


def reports(ctx: Context, reason: str) -> list[dict]:
    return [r for r in ctx.rejects if r["reason"] == reason]
