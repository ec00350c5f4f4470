"""``mmretinal degrade``: a scanned copy of any PDF whose ground truth follows the pixels exactly."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.samples.degrade import DegradeOptions, degrade_document, parse_pages

W, H = 400.0, 520.0
SQUARE = pymupdf.Rect(100, 140, 260, 300)


def _doc(pages: int = 3) -> pymupdf.Document:
    """Pages with a red square (the figure) and a caption line under it."""
    doc = pymupdf.open()
    square = np.zeros((300, 300, 3), np.uint8)
    square[:] = (0, 0, 230)  # red in BGR
    ok, buf = cv2.imencode(".png", square)
    assert ok
    for k in range(pages):
        page = doc.new_page(width=W, height=H)
        page.insert_image(SQUARE, stream=buf.tobytes())
        page.insert_text((100, 320), f"Fig. {k + 1} A red square.", fontsize=9)
    return doc


def _gt(pages: int = 3) -> dict:
    frac = [SQUARE.x0 / W, SQUARE.y0 / H, SQUARE.x1 / W, SQUARE.y1 / H]
    return {"id": "in.pdf", "pages": pages, "figures": [
        {"label": f"Fig. {k + 1}", "page": k + 1, "bbox": frac, "caption_page": k + 1,
         "caption_bbox": [100 / W, 310 / H, 220 / W, 322 / H], "caption": f"Fig. {k + 1} A red square."}
        for k in range(pages)]}


def _red_box(page: pymupdf.Page) -> tuple[float, float, float, float]:
    pix = page.get_pixmap(dpi=200)
    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)
    red = (img[..., 0] > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
    ys, xs = np.nonzero(red)
    s = pix.w / W
    return (xs.min() / s, ys.min() / s, (xs.max() + 1) / s, (ys.max() + 1) / s)


@pytest.mark.parametrize("border", [False, True])
def test_boxes_follow_the_pixels(border: bool) -> None:
    opts = DegradeOptions(dpi=200, skew=2.0, min_skew=0.5, noise=4, quality=95, border=border, shadow=True,
                          yellow=True)
    scanned, gt = degrade_document(_doc(), opts, random.Random(1), np.random.default_rng(1), _gt())
    assert gt is not None and gt["variant"] == "scanned" and len(gt["figures"]) == 3
    for page, fig in zip(scanned, gt["figures"], strict=True):
        want = [v * s for v, s in zip(fig["bbox"], (W, H, W, H), strict=True)]
        found = _red_box(page)
        assert max(abs(a - b) for a, b in zip(found, want, strict=True)) <= 1.5, (found, want)
        assert page.get_text().strip() == "" and len(page.get_images()) == 1  # one JPEG, no text layer
    angles, scales = gt["degrade"]["rotation_deg"], gt["degrade"]["scale"]
    assert all(0.5 <= abs(a) <= 2.0 for a in angles)
    assert all(0.9 < s < 1.0 for s in scales) if border else scales == [1.0] * 3


def test_border_shadow_and_yellow_show() -> None:
    opts = DegradeOptions(dpi=100, skew=0.0, noise=0, border=True, shadow=True, yellow=True)
    scanned, _ = degrade_document(_doc(2), opts, random.Random(2), np.random.default_rng(2))
    for number, page in enumerate(scanned, 1):
        pix = page.get_pixmap(dpi=100)
        img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n).astype(int)
        grey = img.mean(axis=2)
        edges = [grey[:3].mean(), grey[-3:].mean(), grey[:, :3].mean(), grey[:, -3:].mean()]
        assert min(edges) < 100  # the scanner lid shows along at least one side
        paper = img[pix.h // 2, pix.w // 2 - 60]  # left of the square, right of the gutter
        assert paper[2] < paper[0] - 10  # yellowed: less blue than red
        # the gutter shadow: left on odd pages, right on even ones, darker than the paper mid-page
        row = grey[pix.h // 3]
        inner = slice(int(0.12 * pix.w), int(0.14 * pix.w)) if number % 2 else slice(int(0.86 * pix.w),
                                                                                      int(0.88 * pix.w))
        outer = slice(int(0.05 * pix.w), int(0.06 * pix.w)) if number % 2 else slice(int(0.94 * pix.w),
                                                                                     int(0.95 * pix.w))
        assert row[outer].mean() < row[inner].mean() - 15


def test_pages_are_selected_and_renumbered() -> None:
    opts = DegradeOptions(dpi=72, skew=1.0)
    scanned, gt = degrade_document(_doc(3), opts, random.Random(0), np.random.default_rng(0), _gt(), pages=[3, 1])
    assert scanned.page_count == 2 and gt is not None and gt["pages"] == 2
    assert [(f["label"], f["page"], f["caption_page"]) for f in gt["figures"]] == [("Fig. 1", 2, 2), ("Fig. 3", 1, 1)]
    assert gt["degrade"]["pages_of_source"] == [3, 1]
    assert parse_pages("1-3, 7,2") == [1, 2, 3, 7]
    for bad in ("0", "3-1", "x", ","):
        with pytest.raises(ValueError):
            parse_pages(bad)
    with pytest.raises(ValueError, match="not in 1-3"):
        degrade_document(_doc(3), opts, random.Random(0), np.random.default_rng(0), pages=[4])


def test_cli_writes_the_copy_and_its_ground_truth(tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    doc = _doc(2)
    doc.save(src)
    doc.close()
    gt_in = tmp_path / "in.gt.json"
    gt_in.write_text(json.dumps([_gt(2)]), encoding="utf-8")
    runner = CliRunner()
    args = ["degrade", str(src), str(tmp_path / "out.pdf"), "--dpi", "100", "--skew", "1.5", "--noise", "6",
            "--border", "--shadow", "--yellow", "--seed", "5", "--gt", str(gt_in), "--gt-out",
            str(tmp_path / "out.gt.json")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    (gt,) = json.loads((tmp_path / "out.gt.json").read_text(encoding="utf-8"))
    assert gt["id"] == "out.pdf" and gt["source"] == "in.pdf" and len(gt["figures"]) == 2
    first = (tmp_path / "out.pdf").read_bytes()
    assert len(first) == gt["size"]
    assert runner.invoke(app, args).exit_code == 0
    assert (tmp_path / "out.pdf").read_bytes() == first  # the same seed gives the same bytes
    with pymupdf.open(tmp_path / "out.pdf") as out:
        assert out.page_count == 2 and all(not p.get_text().strip() for p in out)
    # bad input: a clear error naming the file, no traceback
    bad = runner.invoke(app, ["degrade", str(gt_in), str(tmp_path / "x.pdf")])
    assert bad.exit_code == 2 and "not a PDF" in bad.output and "Traceback" not in bad.output
    other = tmp_path / "two.gt.json"
    other.write_text(json.dumps([{**_gt(2), "id": "a.pdf"}, {**_gt(2), "id": "b.pdf"}]), encoding="utf-8")
    res = runner.invoke(app, ["degrade", str(src), str(tmp_path / "y.pdf"), "--gt", str(other), "--gt-out",
                              str(tmp_path / "y.gt.json")])
    assert res.exit_code == 2 and "no document with id 'in.pdf'" in res.output
    res = runner.invoke(app, ["degrade", str(src), str(tmp_path / "z.pdf"), "--pages", "5"])
    assert res.exit_code == 2 and "not in 1-2" in res.output
