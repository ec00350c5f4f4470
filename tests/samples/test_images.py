"""Procedural retinal images and negatives: shapes, colours, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmretinal_builder.samples import fundus, negatives
from mmretinal_builder.samples.panels import burn_letter, composite, encode, justify_rows


def test_cfp_is_an_orange_disc_on_black_and_deterministic() -> None:
    a = fundus.draw_cfp(np.random.default_rng(4), 400, 300, ("dot_haem", "exudate_ring", "cws"))
    b = fundus.draw_cfp(np.random.default_rng(4), 400, 300, ("dot_haem", "exudate_ring", "cws"))
    assert a.shape == (300, 400, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a[:10, :10].max() < 20 and a[-10:, -10:].max() < 20  # black corners outside the field of view
    centre = a[100:200, 150:250].reshape(-1, 3).mean(0)  # BGR
    assert centre[2] > centre[1] > centre[0]  # red > green > blue
    with pytest.raises(ValueError, match="unknown lesion"):
        fundus.draw_cfp(np.random.default_rng(0), 100, 100, ("nonsense",))


def test_ffa_and_oct_are_grey_images() -> None:
    f = fundus.draw_ffa(np.random.default_rng(1), 320, 320, ("leak_disc", "ma"), phase=2)
    o = fundus.draw_oct(np.random.default_rng(1), 512, 300, ("cysts", "srf"))
    assert f.ndim == 2 and f.shape == (320, 320)
    assert o.ndim == 2 and o.shape == (300, 512)
    assert o[:20].mean() < o[int(300 * 0.5) : int(300 * 0.7)].mean()  # dark vitreous above bright retina
    with pytest.raises(ValueError, match="unknown sign"):
        fundus.draw_oct(np.random.default_rng(0), 100, 100, ("bogus",))


def test_retina_variant_and_negatives() -> None:
    rng = np.random.default_rng(2)
    r = fundus.retina_variant(rng, 300, 300)
    assert r.shape == (300, 300, 3)
    for fn in (negatives.device_photo, negatives.external_eye, negatives.raster_chart):
        img = fn(rng, 320, 240)
        assert img.shape == (240, 320, 3) and img.std() > 5


def test_composite_panels_and_gutters() -> None:
    imgs = [np.full((100, 100), 200, np.uint8), np.full((100, 200), 120, np.uint8), np.full((50, 300), 90, np.uint8)]
    comp, boxes = composite(imgs, [[0, 1], [2]], 600, 10, 0)
    assert comp.shape[1] == 600
    for img, (x0, y0, x1, y1) in zip(imgs, boxes, strict=True):
        assert comp[(y0 + y1) // 2, (x0 + x1) // 2] == img[0, 0]
    assert comp[boxes[0][3] + 5, 50] == 0  # black gutter between the rows
    burn_letter(comp, "A", "tl", boxes[0])
    assert comp[boxes[0][1] : boxes[0][1] + 40, boxes[0][0] : boxes[0][0] + 40].max() == 255
    rows, h = justify_rows([[1.0, 2.0]], 310, 10)
    assert rows[0][1][2] == pytest.approx(310) and h == pytest.approx(100)
    assert encode(comp, "png")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="format"):
        encode(comp, "gif")
