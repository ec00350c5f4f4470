"""One small generated sample set shared by the sample-atlas tests (about ten seconds to build)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmretinal_builder.samples.figures import ImageOptions
from mmretinal_builder.samples.generate import default_books, write_books

SMALL_IMAGES = ImageOptions(min_px=300, max_px=560, jpeg_quality=80)
SET_ARGS: dict[str, Any] = {"seed": 7, "figures_per_book": 12, "image_options": SMALL_IMAGES, "scan_dpi": 200,
                            "scan_quality": 60}


@pytest.fixture(scope="session")
def sample_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The six default books (born-digital, Chinese, mixed, scanned, broken-text) with 12 small figures each."""
    out = tmp_path_factory.mktemp("samples")
    gt = write_books(out, default_books(6), **SET_ARGS)
    return out, json.loads(gt.read_text(encoding="utf-8"))


def docs_of(sample_set: tuple[Path, list[dict[str, Any]]], variant: str) -> list[dict[str, Any]]:
    return [d for d in sample_set[1] if d["variant"] == variant]


def page_rect(frac: list[float], w: float, h: float) -> tuple[float, float, float, float]:
    return (frac[0] * w, frac[1] * h, frac[2] * w, frac[3] * h)
