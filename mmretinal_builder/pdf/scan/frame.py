"""The straight frame of a skewed scan: where its layout is analysed, and the way back to the page.

A scanned page is usually turned by a degree or two. Its page model stays in the page frame (the frame
renders and ground truth use), with :attr:`~mmretinal_builder.pdf.page_model.PageModel.skew` telling by
how much the print is turned. Layout decisions - which regions are one figure, which label belongs to
which picture, which caption sits under which figure - are made in the *straight frame*, where rows and
columns of the print are axis-aligned again: on the skewed page the axis-aligned hulls of two neighbouring
pictures grow towards each other (by ``height x sin(angle)``) and merge, and the cells of a grid no
longer line up.

* :func:`region_placement` stores a region found on the straightened image as an
  :class:`~mmretinal_builder.pdf.page_model.ImagePlacement` whose transform is the *turned* rectangle on
  the page (its ``bbox`` is the hull), so nothing is lost on the way into the page model;
* :func:`straighten_model` gives the page model in the straight frame (lines moved back rigidly,
  regions exactly the rectangles found, other boxes as hulls);
* :func:`box_to_page` maps a straight-frame box back: the axis-aligned hull of the turned box on the page
  (the convention of the ground truth for scans).

Angles follow :mod:`~mmretinal_builder.pdf.scan.deskew` (OpenCV's convention: positive = the print is
turned counter-clockwise as displayed), rotation about the page centre, in points.
"""

from __future__ import annotations

from ...geometry import BBox, clip
from ..page_model import DrawingCluster, ImagePlacement, PageModel, Span, TextLine
from ..rotation import box_to_page as reading_box_to_page
from .deskew import Rotation

MIN_SKEW = 0.01  # degrees: smaller skews are no skew (the page model is used as it is)


def page_rotation(skew: float, size: tuple[float, float]) -> Rotation:
    """The rotation that takes straight-frame points of a page of ``size`` (points) to the page frame."""
    return Rotation(skew, size[0], size[1])  # type: ignore[arg-type]  # Rotation works in any unit


def box_to_page(box: BBox, skew: float, size: tuple[float, float]) -> BBox:
    """A straight-frame box on the page: the hull of the turned box, clipped to the page."""
    if abs(skew) < MIN_SKEW:
        return box
    return clip(page_rotation(skew, size).hull_to_skewed(box), size)


def box_to_straight(box: BBox, skew: float, size: tuple[float, float]) -> BBox:
    """A page-frame box in the straight frame (the hull of the box turned back)."""
    if abs(skew) < MIN_SKEW:
        return box
    return page_rotation(-skew, size).hull_to_skewed(box)


def region_placement(box: BBox, skew: float, size: tuple[float, float], dpi: float) -> ImagePlacement:
    """A region found on the straightened page (``box``, straight-frame points) as an image placement of
    the page frame: the transform is the turned rectangle, the bbox its hull on the page, the pixel size
    that of the region at the scan's resolution ``dpi``. It is never passed through (``xref`` 0)."""
    rot = page_rotation(skew, size)
    x0, y0, x1, y1 = box
    ox, oy = rot.to_skewed(x0, y0)  # the corner the image's first row and column start at
    rx, ry = rot.to_skewed(x1, y0)
    dx, dy = rot.to_skewed(x0, y1)
    transform = (rx - ox, ry - oy, dx - ox, dy - oy, ox, oy)
    w, h = x1 - x0, y1 - y0
    return ImagePlacement(xref=0, bbox=box_to_page(box, skew, size), transform=transform,
                          width_px=max(1, round(w * dpi / 72.0)), height_px=max(1, round(h * dpi / 72.0)))


def _straight_placement(im: ImagePlacement, rot: Rotation, size: tuple[float, float]) -> ImagePlacement:
    """An image placement in the straight frame: a region (``xref`` 0) becomes exactly the rectangle it was
    found as; anything else keeps its transform turned back and gets the hull of its box."""
    a, b, c, d, e, f = im.transform
    ox, oy = rot.to_skewed(e, f)
    rx, ry = rot.to_skewed(a + e, b + f)
    dx, dy = rot.to_skewed(c + e, d + f)
    transform = (rx - ox, ry - oy, dx - ox, dy - oy, ox, oy)
    if im.xref == 0:
        xs, ys = (ox, rx, dx, rx + dx - ox), (oy, ry, dy, ry + dy - oy)
        bbox = clip((min(xs), min(ys), max(xs), max(ys)), size)
    else:
        bbox = rot.hull_to_skewed(im.bbox)
    return ImagePlacement(xref=im.xref, bbox=bbox, transform=transform, width_px=im.width_px,
                          height_px=im.height_px, clip=rot.hull_to_skewed(im.clip) if im.clip else None,
                          has_mask=im.has_mask, decoration=im.decoration)


def _straight_line(ln: TextLine, back: Rotation, width: float) -> TextLine:
    """A line moved back rigidly: OCR lines were moved onto the skewed page by the shift of their centre,
    their baselines by the shift at the page's centre column
    (:func:`~mmretinal_builder.pdf.scan.ocr_lines.build_lines`), so this restores them exactly."""
    b = ln.bbox
    cx, cy = (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0
    sx, sy = back.to_skewed(cx, cy)
    dx, dy = sx - cx, sy - cy

    def move(box: BBox) -> BBox:
        return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)

    baseline = None
    if ln.baseline is not None:
        fwd = Rotation(-back.angle, back.width, back.height)
        baseline = ln.baseline - (fwd.to_skewed(width / 2.0, sy)[1] - sy)
    return TextLine(text=ln.text, bbox=move(b), block_id=ln.block_id, source=ln.source,
                    spans=[Span(s.text, move(s.bbox), s.font, s.size, s.bold, s.italic) for s in ln.spans],
                    baseline=baseline, horizontal=ln.horizontal, direction=ln.direction)


def straighten_model(model: PageModel) -> PageModel:
    """The page model in its straight frame (same lines, images and drawings, same order and indices); the
    model itself when it is not skewed. Boxes found in it go back with :func:`box_to_page`."""
    if abs(model.skew) < MIN_SKEW:
        return model
    back = page_rotation(-model.skew, model.size)  # page frame -> straight frame
    drawings = [DrawingCluster(back.hull_to_skewed(dc.bbox), dc.n_paths, dc.n_curves, dc.n_fills, dc.n_diagonals,
                               dc.rule_only, dc.decoration) for dc in model.drawings]
    lines = [_straight_line(ln, back, model.size[0]) for ln in model.lines]
    return PageModel(number=model.number, size=model.size, lines=lines,
                     images=[_straight_placement(im, back, model.size) for im in model.images], drawings=drawings,
                     text_layer=model.text_layer, rotation=model.rotation, scan_image=model.scan_image, skew=0.0)


def to_page(box: BBox, turn: int, model: PageModel) -> BBox:
    """A box of the page's reading frame (straightened, then turned: ``turn_model(straighten_model(m))``)
    back in the page frame of ``model``."""
    return box_to_page(reading_box_to_page(box, turn, model.size), model.skew, model.size)
