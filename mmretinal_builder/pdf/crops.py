"""Figure images: the embedded raster at native resolution when it is the whole figure, else a page render.

* One placed image, nothing drawn over it: its bytes pass through untouched (JPEG/PNG, RGB or grey),
  or, when clipped, rotated, flipped, CMYK or otherwise not directly usable, its own pixels are cropped,
  turned and re-encoded — never resampled.
* Anything else (several images, vector drawings, labels, overlays, skewed placements, soft masks): the
  figure's page region is rendered at ``max(render_dpi, native dpi of its images)``, capped by ``max_dpi``
  and ``max_pixels``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pymupdf
from PIL import Image

from ..geometry import BBox
from .born_digital import PDF_ERRORS
from .page_model import ImagePlacement


@dataclass
class FigureImage:
    data: bytes
    ext: str
    size: tuple[int, int]
    dpi: float
    rule: str  # embedded-raster (bytes as stored), embedded-raster-pixels (cropped/turned), region-render


def native_image(doc: pymupdf.Document, img: ImagePlacement) -> FigureImage | None:
    """The placed image at native resolution, clip and rotation applied; None when only a render will do."""
    if img.xref <= 0 or img.has_mask or img.rotation is None:
        return None
    a, b, c, d, _, _ = img.transform
    upright = img.rotation == 0 and a > 0 and d > 0
    if upright and img.clip is None:
        try:
            info = doc.extract_image(img.xref)
        except PDF_ERRORS:
            info = None
        if info and info.get("ext") in ("jpeg", "jpg", "png") and info.get("colorspace") in (1, 3) \
                and not info.get("smask") and doc.xref_get_key(img.xref, "Decode")[0] == "null":
            return FigureImage(info["image"], "jpg" if info["ext"] in ("jpeg", "jpg") else "png",
                               (int(info["width"]), int(info["height"])), round(img.native_dpi, 1),
                               "embedded-raster")
    try:
        pix = pymupdf.Pixmap(doc, img.xref)
    except PDF_ERRORS:
        return None
    if pix.colorspace is None:
        return None  # stencil masks: only meaningful when painted
    if pix.alpha:
        pix = pymupdf.Pixmap(pix, 0)
    if pix.colorspace.n not in (1, 3):
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    arr = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    arr = orient(arr, img.transform)
    if img.clip is not None:
        arr = _crop_to(arr, img.full_bbox, img.clip)
        if arr.size == 0:
            return None
    h, w = arr.shape[:2]
    try:
        ext = doc.extract_image(img.xref).get("ext", "png")
    except PDF_ERRORS:
        ext = "png"
    data, out_ext = encode(arr, photo=ext in ("jpeg", "jpg", "jpx"))
    return FigureImage(data, out_ext, (w, h), round(img.native_dpi, 1), "embedded-raster-pixels")


def encode(arr: np.ndarray, photo: bool) -> tuple[bytes, str]:
    """Encode an HxWx(1|3) uint8 array: JPEG (quality 92) for photographs, else PNG (fast, lossless).

    Pillow's libjpeg-turbo is an order of magnitude faster than MuPDF's encoder on figure-sized images.
    """
    mode = "L" if arr.shape[2] == 1 else "RGB"
    im = Image.fromarray(np.ascontiguousarray(arr[:, :, 0] if mode == "L" else arr), mode)
    buf = io.BytesIO()
    if photo:
        im.save(buf, "JPEG", quality=92)
        return buf.getvalue(), "jpg"
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue(), "png"


def orient(arr: np.ndarray, transform: tuple[float, ...]) -> np.ndarray:
    """Turn/flip the stored pixels so rows run down and columns run right on the (visible) page.

    The transform maps image column u and row v (unit square, v = 0 the first stored row) to the page:
    ``x = a*u + c*v + e``, ``y = b*u + d*v + f``.
    """
    a, b, c, d = transform[:4]
    if abs(b) <= 1e-6 * max(abs(a), 1) and abs(c) <= 1e-6 * max(abs(d), 1):
        out = arr
        if a < 0:
            out = out[:, ::-1]
        if d < 0:
            out = out[::-1, :]
        return out
    out = arr.transpose(1, 0, 2)  # rows now follow u, columns follow v
    if c < 0:
        out = out[:, ::-1]
    if b < 0:
        out = out[::-1, :]
    return out


def _crop_to(arr: np.ndarray, full: BBox, clip: BBox) -> np.ndarray:
    h, w = arr.shape[:2]
    fw, fh = max(full[2] - full[0], 1e-6), max(full[3] - full[1], 1e-6)
    x0 = int(np.floor((clip[0] - full[0]) / fw * w + 1e-6))
    x1 = int(np.ceil((clip[2] - full[0]) / fw * w - 1e-6))
    y0 = int(np.floor((clip[1] - full[1]) / fh * h + 1e-6))
    y1 = int(np.ceil((clip[3] - full[1]) / fh * h - 1e-6))
    return arr[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]


def page_display_list(page: pymupdf.Page) -> pymupdf.DisplayList:
    """The page's content as MuPDF's display list, without annotations: what :func:`render_region` draws from.

    ``page.get_pixmap`` builds this list on every call; a page with several figures builds it once."""
    return page.get_displaylist(annots=False)


def render_region(page: pymupdf.Page | pymupdf.DisplayList, box: BBox, dpi: float, max_pixels: int,
                  photo: bool) -> FigureImage:
    """Render a page region (visible frame) at ``dpi``, lowered if the image would exceed ``max_pixels``.

    ``page``: the page, or its :func:`page_display_list` (the same pixels: ``page.get_pixmap`` renders that list)."""
    w_in, h_in = (box[2] - box[0]) / 72.0, (box[3] - box[1]) / 72.0
    if w_in * h_in * dpi * dpi > max_pixels:
        dpi = (max_pixels / max(w_in * h_in, 1e-9)) ** 0.5
    dpi = max(36.0, round(dpi, 1))
    zoom = dpi / 72.0
    dl = page if isinstance(page, pymupdf.DisplayList) else page_display_list(page)
    pix = dl.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False,
                        clip=pymupdf.Rect(box))
    if pix.n not in (1, 3):
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    # the pixmap's own memory (no copy of the samples); pix outlives the array's use
    arr = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    data, ext = encode(arr, photo)
    return FigureImage(data, ext, (pix.width, pix.height), dpi, "region-render")


def turn_image(img: FigureImage, turn: int) -> FigureImage:
    """The figure image turned to its reading frame (content set sideways on the page)."""
    from .rotation import upright

    with Image.open(io.BytesIO(img.data)) as im:
        arr = np.asarray(im.convert("L" if im.mode in ("1", "L", "I;16") else "RGB"))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = upright(arr, turn)
    data, ext = encode(arr, photo=img.ext == "jpg")
    rule = img.rule if img.rule == "region-render" else "embedded-raster-pixels"
    return FigureImage(data, ext, (arr.shape[1], arr.shape[0]), img.dpi, rule)
