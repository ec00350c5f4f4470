"""Figure boxes against what the PDFs really contain: image placements, drawings, a rendered debug page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from .conftest import docs_of, page_rect

TOL = 0.5  # points
LETTER = re.compile(r"^\(?[a-zA-Z]\)?$")


def _center_in(r: pymupdf.Rect, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def _check_book(path: Path, doc: dict[str, Any]) -> int:
    """Every image placement belongs to one figure; raster figure boxes equal the placements' union."""
    pdf = pymupdf.open(path)
    checked = 0
    for pno, page in enumerate(pdf, start=1):
        w, h = page.rect.width, page.rect.height
        infos = page.get_image_info(xrefs=True)
        owner = [0] * len(infos)
        for f in (f for f in doc["figures"] if f["page"] == pno):
            box = page_rect(f["bbox"], w, h)
            mine = [i for i, inf in enumerate(infos) if _center_in(pymupdf.Rect(inf["bbox"]), box)]
            for i in mine:
                owner[i] += 1
            if f["kind"] == "vector":
                for i in mine:  # thumbnails of a diagram lie inside its box
                    r = pymupdf.Rect(infos[i]["bbox"])
                    assert r.x0 >= box[0] - TOL and r.y1 <= box[3] + TOL, f["label"]
                continue
            assert mine, (doc["id"], f["label"], "no image placement inside the figure box")
            u = pymupdf.Rect(infos[mine[0]]["bbox"])
            for i in mine[1:]:
                u |= pymupdf.Rect(infos[i]["bbox"])
            if f["kind"] == "compound-separate":
                assert len(mine) == f["panels"], (doc["id"], f["label"])
            else:
                assert len(mine) == 1, (doc["id"], f["label"])
            assert u.x0 >= box[0] - TOL and u.y0 >= box[1] - TOL and u.x1 <= box[2] + TOL and u.y1 <= box[3] + TOL
            if "PDF text below" in f["panel_note"]:
                # the box also holds the panel letters printed under the panels, and nothing else
                assert abs(u.y0 - box[1]) <= TOL and abs(u.x0 - box[0]) <= TOL + 1
                strip = pymupdf.Rect(box[0], u.y1 - 30, box[2], box[3] + 0.5)
                words = [wd[4] for wd in page.get_text("words", clip=strip)]
                garbled = doc["variant"] == "broken-text"  # letters extract as other characters there
                assert words and all(len(wd) <= 3 if garbled else LETTER.match(wd) for wd in words), (
                    doc["id"], f["label"], words)
            else:
                dev = max(abs(a - b) for a, b in zip(u, box, strict=True))
                assert dev <= TOL, (doc["id"], f["label"], dev)
            checked += 1
        assert all(n == 1 for n in owner), (doc["id"], pno, "image outside every figure box, or in two")
    return checked


def test_raster_figure_boxes_match_image_placements(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = sample_set
    checked = 0
    for doc in docs_of(sample_set, "born-digital") + docs_of(sample_set, "broken-text"):
        checked += _check_book(out / doc["id"], doc)
    assert checked >= 40


def test_vector_figure_boxes_hold_their_drawings(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = sample_set
    n = 0
    for doc in docs_of(sample_set, "born-digital"):
        pdf = pymupdf.open(out / doc["id"])
        for f in (f for f in doc["figures"] if f["kind"] == "vector"):
            page = pdf[f["page"] - 1]
            box = page_rect(f["bbox"], page.rect.width, page.rect.height)
            paths = [d["rect"] for d in page.get_drawings() if _center_in(d["rect"], box)]
            assert len(paths) >= 10, f["label"]
            u = paths[0]
            for r in paths[1:]:
                u = u | r
            assert u.x0 >= box[0] - 1 and u.y0 >= box[1] - 1 and u.x1 <= box[2] + 1 and u.y1 <= box[3] + 1
            n += 1
    assert n >= 8


def test_tables_are_not_figures(sample_set: tuple[Path, list[dict[str, Any]]]) -> None:
    out, _ = sample_set
    for doc in docs_of(sample_set, "born-digital"):
        pdf = pymupdf.open(out / doc["id"])
        for t in doc["tables"]:
            page = pdf[t["page"] - 1]
            box = pymupdf.Rect(page_rect(t["bbox"], page.rect.width, page.rect.height)) + (-TOL, -TOL, TOL, TOL)
            rules = [d for d in page.get_drawings() if box.contains(d["rect"].tl) and d["rect"].height < 1]
            assert len(rules) >= 3, t["label"]
            assert not any(box.intersects(pymupdf.Rect(i["bbox"])) for i in page.get_image_info())
            figs = [f for f in doc["figures"] if f["page"] == t["page"]]
            for f in figs:
                assert not box.intersects(pymupdf.Rect(page_rect(f["bbox"], page.rect.width, page.rect.height)))


def test_debug_render_of_boxes_matches_placements(sample_set: tuple[Path, list[dict[str, Any]]],
                                                  tmp_path: Path) -> None:
    """Draw the GT boxes on a rendered page (the debug PNG) and find them again in its pixels."""
    out, _ = sample_set
    doc = docs_of(sample_set, "born-digital")[0]
    f = next(f for f in doc["figures"] if f["kind"] == "raster")
    pdf = pymupdf.open(out / doc["id"])
    page = pdf[f["page"] - 1]
    w, h = page.rect.width, page.rect.height
    box = pymupdf.Rect(page_rect(f["bbox"], w, h))
    page.draw_rect(box, color=(0, 1, 0), width=1.0, overlay=True)  # pure green: absent from fundus images
    cap = pymupdf.Rect(page_rect(f["caption_bbox"], w, h))
    page.draw_rect(cap, color=(0, 0, 1), width=1.0, overlay=True)
    png = tmp_path / "debug_page.png"
    page.get_pixmap(dpi=144).save(png)
    img = cv2.imread(str(png))
    assert img is not None
    green = (img[..., 1] > 200) & (img[..., 2] < 60) & (img[..., 0] < 60)
    ys, xs = np.nonzero(green)
    s = 144 / 72
    found = (xs.min() / s, ys.min() / s, (xs.max() + 1) / s, (ys.max() + 1) / s)
    near = box + (-TOL, -TOL, TOL, TOL)
    placement = pymupdf.Rect(next(i["bbox"] for i in page.get_image_info() if near.contains(i["bbox"])))
    # the 1 pt stroke is centred on the box edge: the green pixels reach half a point beyond it
    assert max(abs(a - b) for a, b in zip(found, placement + (-0.5, -0.5, 0.5, 0.5), strict=True)) <= 1.0
    blue = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
    assert blue.any() and not (green & blue).any()
