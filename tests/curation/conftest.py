"""Shared fixtures of the curation tests: the labelled modality set and tiny runs of fake figures."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmretinal_builder.schema import Figure, Pair, Panel, Provenance, figure_id, pairs_of
from mmretinal_builder.stage import Context

DATA = Path(__file__).resolve().parent.parent / "data"
MODALITY_DIR = DATA / "modality"
PALM_DIR = DATA / "palm"


@pytest.fixture(scope="session")
def labelled_set() -> list[dict[str, str]]:
    rows = list(csv.DictReader((MODALITY_DIR / "labels.csv").open(encoding="utf-8")))
    assert len(rows) >= 100
    return rows


def encode(img: np.ndarray, ext: str = ".png", quality: int = 90) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, img, params)
    assert ok
    return buf.tobytes()


class FakeRun:
    """A run directory with an image store, and a factory of figure records pointing into it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def ctx(self, stage: str, book: str | None = "book.pdf") -> Context:
        return Context(run_dir=self.root, stage=stage, book=book)

    def store(self, img: np.ndarray, ext: str = ".png") -> str:
        return self.ctx("store").images.put(encode(img, ext), ext)

    def figure(self, img: np.ndarray | None, caption: str | None = "Fig. 1 Fundus photograph.", *,
               book: str = "book.pdf", panels: list[tuple[np.ndarray, str | None]] | None = None,
               ext: str = ".png") -> Figure:
        self.n += 1
        bbox = [10.0, 10.0 + self.n, 200.0, 200.0 + self.n]
        if img is None and panels:  # the figure image shows its panels side by side
            bgr = [p if p.ndim == 3 else cv2.cvtColor(p, cv2.COLOR_GRAY2BGR) for p, _ in panels]
            h = max(p.shape[0] for p in bgr)
            img = np.hstack([cv2.copyMakeBorder(p, 0, h - p.shape[0], 0, 8, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                             for p in bgr])
        rel = self.store(img, ext) if img is not None else None
        fig = Figure(
            id=figure_id(book, 1, bbox), book=book, page=1, bbox=bbox, page_size=[595.0, 842.0],
            label="Fig. 1", caption=caption, image=rel,
            image_size=[int(img.shape[1]), int(img.shape[0])] if img is not None else None,
            provenance=Provenance(book=book, page=1, bbox=bbox, page_size=[595.0, 842.0], rule="test"),
        )
        for k, (pimg, pcap) in enumerate(panels or []):
            fig.panels.append(Panel(index=k, label="abcdefgh"[k], bbox=bbox, bbox_px=[0, 0, 1, 1],
                                    image=self.store(pimg, ext), image_size=[int(pimg.shape[1]), int(pimg.shape[0])],
                                    caption=pcap))
        return fig

    @staticmethod
    def pairs(*figures: Figure, compound: bool = True) -> list[Pair]:
        """The figures as the panels stage hands them on: their image-text pairs."""
        return [p for f in figures for p in pairs_of(f, compound)]


@pytest.fixture
def fake_run(tmp_path: Path) -> FakeRun:
    return FakeRun(tmp_path / "run")


@pytest.fixture(scope="session")
def fundus_images() -> dict[str, list[np.ndarray]]:
    """A few generated retinal images of each kind, and two negatives (fixed seed)."""
    from mmretinal_builder.samples import fundus as F
    from mmretinal_builder.samples import negatives as N

    rng = np.random.default_rng(123)
    return {
        "CFP": [F.draw_cfp(rng, 400, 400, lesions=("dot_haem",)) for _ in range(3)],
        "FFA": [F.draw_ffa(rng, 400, 400, phase=1) for _ in range(3)],
        "OCT": [F.draw_oct(rng, 448, 224) for _ in range(3)],
        "chart": [N.raster_chart(rng, 448, 320)],
        "device": [N.device_photo(rng, 448, 336)],
    }
