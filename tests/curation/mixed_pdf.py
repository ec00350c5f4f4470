"""A small PDF whose figures mix fundus photographs with vessel segmentations, heat maps and lesion maps, with its
ground truth (PALM format, per-panel ``retinal`` and ``modality``): what issue 16.1 says curation used to drop.

Figures (one per page, caption below, a paragraph of body text above):

1. four separate embedded images in a row: photograph, vessel map, heat map, lesion map;
2. one raster holding a 2x4 grid with 2 px white gutters: photographs, maps, an overlay (a photograph with marks);
3. one raster holding a 1x5 strip (2 px gutters): a photograph and four vessel maps;
4. three separate maps and no photograph (a negative: no retinal panel);
5. a single photograph.

Run ``python -m tests.curation.mixed_pdf OUT_DIR`` to write ``mixed_maps.pdf`` and ``mixed_maps.gt.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from . import mixed

PAGE = (595.0, 842.0)
BODY = ("Segmentation methods are usually shown beside the photograph they were applied to. The figure below "
        "compares the colour fundus photograph with the outputs of the method.")


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def _frac(r: pymupdf.Rect) -> list[float]:
    return [round(r.x0 / PAGE[0], 6), round(r.y0 / PAGE[1], 6), round(r.x1 / PAGE[0], 6), round(r.y1 / PAGE[1], 6)]


def _panel_gt(kind: str, label: str, rect: pymupdf.Rect) -> dict[str, Any]:
    retinal = mixed.RETINAL[kind]
    return {"label": label, "bbox": _frac(rect), "content": kind, "retinal": "yes" if retinal else "no",
            "modality": "CFP" if retinal else "other"}


def _caption(page: pymupdf.Page, y: float, text: str) -> pymupdf.Rect:
    rect = pymupdf.Rect(60, y + 10, PAGE[0] - 60, y + 70)
    left = page.insert_textbox(rect, text, fontsize=9, fontname="helv")
    assert left >= 0, "caption does not fit"
    return pymupdf.Rect(rect.x0, rect.y0, rect.x1, rect.y1 - left)


def write_mixed_pdf(out_dir: Path) -> tuple[Path, dict[str, Any]]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    figures: list[dict[str, Any]] = []
    letters = "abcdefgh"

    def page_with_body() -> pymupdf.Page:
        page = doc.new_page(width=PAGE[0], height=PAGE[1])
        page.insert_textbox(pymupdf.Rect(60, 60, PAGE[0] - 60, 120), BODY, fontsize=10, fontname="helv")
        return page

    def separate(n: int, kinds: list[str], caption: str, retinal: str, size: int = 300) -> None:
        page = page_with_body()
        images = mixed.mixed_panels(kinds, size=size, seed=n)
        w, gap, top = 110.0, 8.0, 140.0
        x0 = (PAGE[0] - len(kinds) * w - (len(kinds) - 1) * gap) / 2
        rects = []
        for i, im in enumerate(images):
            r = pymupdf.Rect(x0 + i * (w + gap), top, x0 + i * (w + gap) + w, top + w)
            page.insert_image(r, stream=_png(im))
            rects.append(r)
        box = pymupdf.Rect(rects[0].x0, top, rects[-1].x1, top + w)
        cap = _caption(page, box.y1, caption)
        figures.append({"label": f"Fig. {n}", "page": n, "bbox": _frac(box), "panels": len(kinds),
                        "modality": "CFP" if retinal == "yes" else "other", "retinal": retinal, "caption": caption,
                        "caption_bbox": _frac(cap), "caption_page": n, "caption_position": "below",
                        "kind": "compound-separate",
                        "panel_boxes": [_panel_gt(k, letters[i], r) for i, (k, r) in enumerate(zip(kinds, rects,
                                                                                                   strict=True))]})

    def one_raster(n: int, kinds: list[str], cols: int, gutter: int, caption: str, width: float) -> None:
        page = page_with_body()
        images = mixed.mixed_panels(kinds, size=240, seed=n)
        grid = mixed.tile(images, cols=cols, gutter=gutter)
        h_px, w_px = grid.shape[:2]
        top = 140.0
        x0 = (PAGE[0] - width) / 2
        box = pymupdf.Rect(x0, top, x0 + width, top + width * h_px / w_px)
        page.insert_image(box, stream=_png(grid))
        s = width / w_px
        rects = []
        for k in range(len(kinds)):
            r, c = divmod(k, cols)
            px, py = gutter + c * (240 + gutter), gutter + r * (240 + gutter)
            rects.append(pymupdf.Rect(x0 + px * s, top + py * s, x0 + (px + 240) * s, top + (py + 240) * s))
        cap = _caption(page, box.y1, caption)
        figures.append({"label": f"Fig. {n}", "page": n, "bbox": _frac(box), "panels": len(kinds), "modality": "CFP",
                        "retinal": "yes", "caption": caption, "caption_bbox": _frac(cap), "caption_page": n,
                        "caption_position": "below", "kind": "compound-single",
                        "panel_boxes": [_panel_gt(k, letters[i], r) for i, (k, r) in enumerate(zip(kinds, rects,
                                                                                                   strict=True))]})

    separate(1, ["photo", "vessels", "heatmap", "lesions"],
             "Fig. 1 (a) Colour fundus photograph of the left eye. (b) Vessel segmentation. (c) Attention heat map "
             "of the classifier. (d) Lesion map: exudates in yellow, haemorrhages in red, optic disc in green.", "yes")
    one_raster(2, ["photo", "vessels", "heatmap", "lesions", "photo", "vessels", "heatmap", "overlay"], 4, 2,
               "Fig. 2 Two eyes, each as the fundus photograph, its vessel segmentation, the heat map and the lesion "
               "map; the last panel shows the lesions drawn on the photograph.", 470.0)
    one_raster(3, ["photo", "vessels", "vessels", "vessels", "vessels"], 5, 2,
               "Fig. 3 Fundus photograph and the vessel segmentations of four methods.", 470.0)
    separate(4, ["vessels", "lesions", "heatmap"],
             "Fig. 4 Outputs of the segmentation network: (a) vessels, (b) lesions, (c) saliency.", "no")
    page = page_with_body()
    r = pymupdf.Rect(180, 140, 415, 375)
    page.insert_image(r, stream=_png(mixed.retina(400, variant=55)))
    caption = "Fig. 5 Colour fundus photograph of a healthy right eye."
    cap = _caption(page, r.y1, caption)
    figures.append({"label": "Fig. 5", "page": 5, "bbox": _frac(r), "panels": 1, "modality": "CFP", "retinal": "yes",
                    "caption": caption, "caption_bbox": _frac(cap), "caption_page": 5, "caption_position": "below",
                    "kind": "raster"})
    pdf = out_dir / "mixed_maps.pdf"
    doc.save(str(pdf), garbage=3, deflate=True)
    gt = {"id": pdf.name, "pages": doc.page_count, "lang": "English", "license": "CC0 (generated from scikit-image's "
          "CC0 retina())", "traps": "fundus photographs beside vessel, heat and lesion maps", "figures": figures}
    (out_dir / "mixed_maps.gt.json").write_text(json.dumps([gt], indent=1), encoding="utf-8")
    return pdf, gt


if __name__ == "__main__":  # pragma: no cover - a tool for measuring by hand
    print(write_mixed_pdf(Path(sys.argv[1]))[0])
