"""Build the labelled tile set: compound figures that are ONE raster of tiles with no or thin gutters.

Run ``python tests/data/tiles/make_set.py`` (deterministic). Writes ``*.jpg`` and ``labels.json`` next to
this file. Sources: scikit-image's ``data.retina()`` (CC0) and the four Kermany OCT B-scans in
``tests/data/oct`` (CC BY 4.0); the maps are derived from them by
:mod:`mmretinal_builder.samples.maps`. Each entry of ``labels.json``: ``file``, ``note`` and ``panels``
(reading order) with ``bbox`` (pixels, ``[x0, y0, x1, y1]``, exclusive ends; a zoomed crop beside a panel
is part of that panel's box), ``label`` (the letter drawn in the tile, or null), ``content`` (photograph,
vessel-map, lesion-map, heatmap, layer-map) and ``retinal`` ("yes" for photographs only).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mmretinal_builder.samples import maps
from mmretinal_builder.samples.panels import burn_letter
from mmretinal_builder.samples.tiles import grid as tiles_grid

HERE = Path(__file__).resolve().parent
OCT = sorted((HERE.parent / "oct").glob("*.jpeg"))


def _retina() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)


def _fit(img: np.ndarray, w: int, h: int) -> np.ndarray:
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _crop(img: np.ndarray, fx0: float, fy0: float, fx1: float, fy1: float) -> np.ndarray:
    h, w = img.shape[:2]
    return img[int(fy0 * h):int(fy1 * h), int(fx0 * w):int(fx1 * w)]


def _grid(tiles: list[list[np.ndarray]], gutter: int, value: int) -> tuple[np.ndarray, list[list[int]]]:
    """The generator's grid (samples/tiles.py), boxes as JSON lists."""
    img, boxes = tiles_grid(tiles, gutter, value)
    return img, [list(b) for b in boxes]


def _panel(box: list[int], content: str, label: str | None = None) -> dict:
    return {"bbox": [int(v) for v in box], "label": label, "content": content,
            "retinal": "yes" if content == "photograph" else "no"}


def _letters(img: np.ndarray, boxes: list[list[int]], letters: str, corner: str = "tl") -> None:
    for b, ch in zip(boxes, letters, strict=False):
        burn_letter(img, ch, corner, tuple(b))  # type: ignore[arg-type]


def build() -> list[tuple[str, np.ndarray, list[dict], str]]:
    rng = np.random.default_rng(16)
    ret = _retina()
    octs = [cv2.imread(str(p)) for p in OCT]
    out = []

    # 1. a 1x5 strip: the photograph and maps of it, no gutter, letters inside the tiles
    photo = _fit(ret, 300, 300)
    tiles = [photo, maps.vessel_map(photo), maps.vessel_map(photo, inverted=True), maps.lesion_map(photo, rng),
             maps.heat_map(photo, rng)]
    img, boxes = _grid([tiles], 0, 255)
    _letters(img, boxes, "abcde")
    contents = ["photograph", "vessel-map", "vessel-map", "lesion-map", "heatmap"]
    out.append(("strip_1x5_maps_nogutter", img, [_panel(b, c, ch) for b, c, ch in zip(boxes, contents, "abcde",
                                                                                        strict=True)],
                "fundus photograph, two vessel maps, lesion map, heat map; no gutter; letters a-e inside"))

    # 2. a 4x2 grid: four crops of the photograph (content to the edges) over their vessel maps, 2 px white
    crops = [_fit(_crop(ret, *c), 260, 260) for c in ((0.2, 0.2, 0.6, 0.6), (0.4, 0.2, 0.8, 0.6),
                                                       (0.2, 0.4, 0.6, 0.8), (0.4, 0.4, 0.8, 0.8))]
    vmaps = [maps.vessel_map(c, share=0.12) for c in crops]
    img, boxes = _grid([crops, vmaps], 2, 255)
    _letters(img, boxes, "ABCDEFGH")
    contents = ["photograph"] * 4 + ["vessel-map"] * 4
    out.append(("grid_4x2_crops_maps_2px", img, [_panel(b, c, ch) for b, c, ch in zip(boxes, contents, "ABCDEFGH",
                                                                                        strict=True)],
                "four photograph crops over their vessel maps; 2 px white gutters; letters A-H"))

    # 3. two photographs side by side, no gutter, no letters: a right eye and a (mirrored, darker) left eye,
    # the fields of view touching the frame at the seam
    right = _fit(ret, 420, 420)
    left = np.clip(cv2.flip(_fit(_crop(ret, 0.02, 0.02, 0.98, 0.98), 420, 420), 1).astype(np.float32)
                   * np.array([0.8, 0.85, 0.95], np.float32), 0, 255).astype(np.uint8)
    img, boxes = _grid([[right, left]], 0, 255)
    out.append(("pair_photos_nogutter", img, [_panel(b, "photograph") for b in boxes],
                "two fundus photographs (right and left eye) side by side; no gutter; no letters"))

    # 4. a 2x2 grid of OCT B-scans, no gutter, letters
    tiles = [_fit(o, 384, 372) for o in octs[:4]]
    img, boxes = _grid([tiles[:2], tiles[2:]], 0, 255)
    _letters(img, boxes, "abcd")
    out.append(("grid_2x2_oct_nogutter", img, [_panel(b, "photograph", ch) for b, ch in zip(boxes, "abcd",
                                                                                             strict=True)],
                "four OCT B-scans; no gutter; letters a-d"))

    # 5. a photograph beside an OCT B-scan and its layer map, 1 px black gutters
    o = _fit(octs[1], 420, 400)
    tiles = [_fit(_crop(ret, 0.1, 0.1, 0.9, 0.9), 400, 400), o, maps.layer_map(o)]
    img, boxes = _grid([tiles], 1, 0)
    _letters(img, boxes, "abc")
    out.append(("row_cfp_oct_layers_1px", img, [_panel(b, c, ch) for b, c, ch in
                                                zip(boxes, ["photograph", "photograph", "layer-map"], "abc",
                                                    strict=True)],
                "photograph, OCT B-scan, its layer map; 1 px black gutters; letters a-c"))

    # 6. one photograph with two zoomed crops stacked beside it (one panel), rectangles mark the crops
    photo = _fit(ret, 480, 480).copy()
    zooms = []
    for (x0, y0) in ((150, 170), (260, 260)):
        zooms.append(_fit(photo[y0:y0 + 96, x0:x0 + 96].copy(), 236, 236))
        cv2.rectangle(photo, (x0, y0), (x0 + 96, y0 + 96), (255, 255, 255), 2)
    img = np.full((480, 480 + 8 + 236, 3), 255, np.uint8)
    img[:, :480] = photo
    img[:236, 488:] = zooms[0]
    img[244:480, 488:] = zooms[1]
    out.append(("inset_two_zooms_beside", img, [_panel([0, 0, img.shape[1], 480], "photograph")],
                "one photograph with two 2.5x zoomed crops stacked at its right (8 px white gutters): ONE panel"))

    # 7. two panels, each a photograph with one zoomed crop beside it, letters a-b
    parts = []
    for k, (fx, fy) in enumerate(((0.0, 0.0), (0.2, 0.1))):
        p = _fit(_crop(ret, fx, fy, fx + 0.8, fy + 0.8), 360, 360).copy()
        x0, y0 = 120 + 40 * k, 140
        z = _fit(p[y0:y0 + 90, x0:x0 + 90].copy(), 176, 176)
        cv2.rectangle(p, (x0, y0), (x0 + 90, y0 + 90), (0, 255, 255), 2)
        parts.append((p, z))
    img = np.full((360, 2 * (360 + 6 + 176) + 24, 3), 255, np.uint8)
    panels = []
    x = 0
    for k, (p, z) in enumerate(parts):
        img[:, x:x + 360] = p
        img[:176, x + 366:x + 542] = z
        burn_letter(img, "ab"[k], "tl", (x, 0, x + 360, 360))
        panels.append(_panel([x, 0, x + 542, 360], "photograph", "ab"[k]))
        x += 542 + 24
    out.append(("two_panels_with_zooms", img, panels,
                "two photographs, each with a 2x zoomed crop at its top right (6 px gutter); 24 px between panels"))

    # 8. the photograph, its vessel map and a heat map alone, 1x3 on black with no gutter (maps touch the frame)
    photo = _fit(_crop(ret, 0.12, 0.12, 0.88, 0.88), 320, 320)
    tiles = [photo, maps.vessel_map(photo, outline=True), maps.heat_map(photo, rng, overlay=False)]
    img, boxes = _grid([tiles], 0, 0)
    out.append(("strip_1x3_photo_maps_black", img, [_panel(b, c) for b, c in
                                                    zip(boxes, ["photograph", "vessel-map", "heatmap"], strict=True)],
                "photograph crop, vessel map with its rim, heat map; no gutter on black; no letters"))

    # 9-10. single pictures that must stay whole: a wide photograph crop and a wide OCT B-scan
    out.append(("single_wide_photo", _fit(_crop(ret, 0.05, 0.3, 0.95, 0.7), 900, 400),
                [_panel([0, 0, 900, 400], "photograph")], "one wide photograph crop: never split"))
    out.append(("single_wide_oct", _fit(octs[3], 1100, 420), [_panel([0, 0, 1100, 420], "photograph")],
                "one OCT B-scan stretched wide: never split"))
    return out


def main() -> None:
    entries = []
    for name, img, panels, note in build():
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        (HERE / f"{name}.jpg").write_bytes(buf.tobytes())
        entries.append({"file": f"{name}.jpg", "size": [img.shape[1], img.shape[0]], "note": note,
                        "panels": panels})
    (HERE / "labels.json").write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    print(f"{len(entries)} images -> {HERE}")


if __name__ == "__main__":
    main()
