"""Tiles inside one raster with no or thin gutters: the labelled set in tests/data/tiles (real photographs
and OCT scans, maps derived from them), seams, equal-tile grids, zoomed crops; and pictures that must stay
whole (photographs, charts and tables whose straight edges are no seams)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmretinal_builder.panels.insets import merge_zooms, zoom_of
from mmretinal_builder.panels.seams import SeamMaps, SeamParams, find_seams, profile
from mmretinal_builder.panels.split import split_raster

from .synth import box_iou

DATA = Path(__file__).resolve().parents[1] / "data"
TILES = json.loads((DATA / "tiles" / "labels.json").read_text(encoding="utf-8"))


def _retina() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.retina(), cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("entry", TILES, ids=[e["file"] for e in TILES])
def test_labelled_tiles_are_found(entry: dict) -> None:
    img = cv2.imread(str(DATA / "tiles" / entry["file"]))
    res = split_raster(img)
    want = [tuple(p["bbox"]) for p in entry["panels"]]
    assert len(res.panels) == len(want), (entry["file"], res.panels)
    ious = [box_iou(a, b) for a, b in zip(res.panels, want, strict=True)]
    assert min(ious) >= 0.9, (entry["file"], ious)


def test_without_seams_the_strip_is_what_the_gutter_splitter_made_of_it() -> None:
    """The same strip with seam finding off: the 1x5 strip comes out as 2 panels (the reported failure)."""
    entry = next(e for e in TILES if e["file"].startswith("strip_1x5"))
    img = cv2.imread(str(DATA / "tiles" / entry["file"]))
    assert len(split_raster(img, seams=SeamParams(enabled=False)).panels) == 2
    assert len(split_raster(img).panels) == 5


def _singles() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins"):
        im = getattr(data, name)()
        im = np.stack([im] * 3, -1) if im.ndim == 2 else im[:, :, :3]
        out.append((name, cv2.cvtColor(im, cv2.COLOR_RGB2BGR)))
    ret = _retina()
    out.append(("retina-wide-crop", cv2.resize(ret[400:1000, 50:1360], (1100, 500), interpolation=cv2.INTER_AREA)))
    out.append(("retina-boxed", cv2.rectangle(cv2.resize(ret, (500, 500)), (150, 150), (260, 260),
                                              (255, 255, 255), 2)))
    for p in sorted((DATA / "oct").glob("*.jpeg")):
        oct_img = cv2.imread(str(p))
        out.append((p.name + "-wide", cv2.resize(oct_img, (1200, 420))))
    for p in sorted((DATA / "modality").glob("chart_*.png")) + sorted((DATA / "modality").glob("table_*.png")):
        out.append((p.name, cv2.imread(str(p))))
    return out


@pytest.mark.parametrize("name,img", _singles(), ids=lambda v: v if isinstance(v, str) else "")
def test_seams_never_split_a_single_picture(name: str, img: np.ndarray) -> None:
    """Photographs (straight edges of objects, a box drawn on a fundus photo), wide OCT scans (long
    layer edges) and charts or tables (ruled lines, bars): the seam finder adds no panel."""
    off = len(split_raster(img, seams=SeamParams(enabled=False)).panels)
    assert len(split_raster(img).panels) == off, name


def test_a_seam_between_two_photographs_is_found_and_nothing_else() -> None:
    ret = cv2.resize(_retina()[300:1100, 300:1100], (300, 300), interpolation=cv2.INTER_AREA)
    other = cv2.flip(cv2.resize(_retina()[200:1000, 400:1200], (300, 300), interpolation=cv2.INTER_AREA), 0)
    img = np.hstack([ret, other])
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    maps = SeamMaps(img, 1, SeamParams())
    seams = find_seams(profile(maps, (0, 0, 600, 300), 1), maps)
    assert len(seams) == 1 and seams[0].start <= 300 <= seams[0].end, seams
    assert find_seams(profile(maps, (0, 0, 300, 300), 1), maps) == []


def test_a_zoomed_crop_beside_its_photograph_is_part_of_it() -> None:
    photo = cv2.resize(_retina(), (400, 400), interpolation=cv2.INTER_AREA)
    zoom = cv2.resize(photo[120:220, 150:250], (200, 200), interpolation=cv2.INTER_CUBIC)
    img = np.full((400, 620, 3), 255, np.uint8)
    img[:, :400] = photo
    img[:200, 420:] = zoom
    assert zoom_of(img, (420, 0, 620, 200), (0, 0, 400, 400)) >= 0.8
    boxes, merged = merge_zooms(img, [(0, 0, 400, 400), (420, 0, 620, 200)])
    assert (boxes, merged) == ([(0, 0, 620, 400)], 1)
    # another photograph of that size is no zoom
    other = cv2.resize(cv2.flip(_retina(), 1)[100:700, 300:900], (200, 200))
    img[:200, 420:] = other
    assert merge_zooms(img, [(0, 0, 400, 400), (420, 0, 620, 200)])[1] == 0


def test_a_magnified_view_with_its_own_letter_stays_a_panel() -> None:
    from mmretinal_builder.samples.panels import burn_letter

    photo = cv2.resize(_retina(), (400, 400), interpolation=cv2.INTER_AREA)
    zoom = cv2.resize(photo[120:220, 150:250], (200, 200), interpolation=cv2.INTER_CUBIC)
    img = np.full((400, 620, 3), 255, np.uint8)
    img[:, :400] = photo
    img[:200, 420:] = zoom
    burn_letter(img, "a", "tl", (0, 0, 400, 400))
    burn_letter(img, "b", "tl", (420, 0, 620, 200))
    assert merge_zooms(img, [(0, 0, 400, 400), (420, 0, 620, 200)])[1] == 0
