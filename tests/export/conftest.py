"""A tiny finished run directory built in code: pairs (a figure with panels gives three) and small real images."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mmretinal_builder.io import ImageStore, write_json, write_jsonl
from mmretinal_builder.schema import (
    CaptionText,
    Figure,
    LineageStep,
    Pair,
    Panel,
    Provenance,
    figure_id,
    figures_of,
    pairs_of,
)

BOOKS = {
    "atlas_a.pdf": {"license": "CC BY 4.0", "lang": "en"},
    "atlas_b.pdf": {"license": "cc-by-nc-sa-4.0", "lang": "en+zh"},
    "atlas_c.pdf": {},  # falls back to the recipe licence
    "atlas_d.pdf": {"license": "Publisher permission for research", "lang": "en"},
}
RECIPE_LICENSE = "unknown"


def make_image(seed: int, size: tuple[int, int] = (48, 32), fmt: str = "PNG") -> bytes:
    """A small deterministic picture (a gradient with a seed-dependent disc) in ``fmt``."""
    w, h = size
    im = Image.new("RGB", size)
    px = im.load()
    cx, cy, r = (seed * 7) % w, (seed * 5) % h, 6 + seed % 7
    for y in range(h):
        for x in range(w):
            inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
            px[x, y] = (200 if inside else (x * 5 + seed) % 256, (y * 7) % 256, (seed * 31) % 256)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def make_pairs(run_dir: Path, per_book: int = 4) -> list[Pair]:
    """Per book, as the stages would leave them: a CFP figure, a 2-panel FFA figure (its whole figure and two
    panels: one with its own crop, one cut from the figure image at export), a cleaned OCT figure (zh in atlas_b,
    reviewed) and a figure no stage classified (a run without the classify stage): 6 pairs."""
    store = ImageStore(run_dir)
    pairs: list[Pair] = []
    seed = 0
    for book in BOOKS:
        for k in range(per_book):
            seed += 1
            page = 10 + k
            bbox = [50.0 + k, 80.0, 300.0 + k, 260.3333]
            fid = figure_id(book, page, bbox)
            img = store.put(make_image(seed, fmt="JPEG" if seed % 2 else "PNG"), "jpg" if seed % 2 else "png")
            prov = Provenance(book=book, page=page, bbox=bbox, page_size=[595.0, 842.0], rule="embedded-raster",
                              text_layer="none" if book == "atlas_c.pdf" else "ok", caption_rule="label")
            caption = f"Fig. {k + 1}-{seed} Drusen in the macula, case {seed}."
            kw = dict(id=fid, book=book, page=page, bbox=bbox, page_size=[595.0, 842.0], label=f"Fig. {k + 1}-{seed}",
                      number=f"{k + 1}-{seed}", caption=caption, image=img, image_size=[48, 32], provenance=prov,
                      lineage=[LineageStep(stage="extract", version="1", rule="embedded-raster",
                                           detail={"bbox": bbox})])
            if k == 1:  # two panels: one with its own crop, one cut from the figure image at export
                pa = store.put(make_image(seed + 100, (20, 30)), "png")
                kw["panels"] = [
                    Panel(index=1, label="B", bbox=[176.0, 80.0, 300.0, 260.0], bbox_px=[24, 0, 48, 32],
                          caption="Fluorescein angiogram. B: late leakage from the optic disc."),
                    Panel(index=0, label="A", bbox=[50.0, 80.0, 175.0, 260.0], bbox_px=[0, 0, 24, 32], image=pa,
                          caption="Fluorescein angiogram. A: early phase with drusen."),
                ]
                kw["caption"] = ("Fluorescein angiogram. A: early phase with drusen. "
                                 "B: late leakage from the optic disc.")
            fig_pairs = pairs_of(Figure(**kw))
            for p in fig_pairs:
                p.lineage.append(LineageStep(stage="panels", version="2", rule=p.role, detail={}))
                if k == 0:
                    p.modality, p.modality_confidence = "CFP", 0.91
                if k == 1:
                    p.modality, p.modality_confidence = "FFA", 0.8
                if k == 2:
                    p.text = CaptionText(en=f"Optic disc oedema with drusen, case {seed}.",
                                         zh="视盘水肿" if book == "atlas_b.pdf" else None,
                                         entities=[{"text": "optic disc oedema", "label": "DISEASE", "start": 0,
                                                    "end": 17}],
                                         keywords=["drusen"])
                    p.caption = p.figure_caption = p.text.en
                    p.caption_zh = p.text.zh or ""
                    p.modality = "OCT"
                    p.review = {"decision": "accept", "reviewer": "r1"}
            pairs.extend(fig_pairs)
    return pairs


def stats_doc() -> dict:
    """A run funnel as the runner writes it, with review decisions."""
    return {
        "stages": [
            {"stage": "extract", "in": 0, "kept": 14, "dropped": {}, "counters": {"pages": 40}},
            {"stage": "quality", "in": 14, "kept": 13, "dropped": {"too-small": 1}, "counters": {}},
            {"stage": "review", "in": 13, "kept": 12, "dropped": {"rejected": 1},
             "counters": {"caption-edited": 2, "modality-changed": 1}},
        ],
        "per_book": [],
        "books": {"total": 4, "ok": 4, "failed": 0},
        "figures": 12,
    }


def write_run(run_dir: Path, pairs: list[Pair], name: str = "test-atlases") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    ordered = sorted(pairs, key=lambda p: p.id)
    write_jsonl(run_dir / "pairs.jsonl", ordered)
    write_jsonl(run_dir / "figures.jsonl", figures_of(ordered))
    write_json(run_dir / "stats.json", stats_doc())
    write_json(run_dir / "run.json", {
        "recipe": {"name": name, "license": RECIPE_LICENSE,
                   "books": {b: m for b, m in BOOKS.items() if m},
                   "stages": [{"name": "extract", "params": {}}, {"name": "export", "params": {}}]},
        "books": [{"name": b, "sha256": "0" * 64} for b in BOOKS],
    })
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A finished run with 16 figures (24 pairs) from 4 books."""
    rd = tmp_path / "run"
    rd.mkdir()
    return write_run(rd, make_pairs(rd))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
