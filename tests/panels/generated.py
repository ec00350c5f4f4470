"""Figure records cut with the ground-truth boxes (an ideal extract stage), so the panel stage can be scored
on its own, on generated sample books or on any PDF with a PALM-format ground truth:

    python -m tests.panels.generated SAMPLE_DIR RUN_DIR            # SAMPLE_DIR/ground_truth.json
    python -m tests.panels.generated --gt GT.json --pdfs DIR RUN_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pymupdf

from mmretinal_builder.evaluation.panels import evaluate_panels
from mmretinal_builder.geometry import area, from_fractions, intersection, rounded
from mmretinal_builder.io import ImageStore, write_jsonl
from mmretinal_builder.jobs import run_stages
from mmretinal_builder.schema import Figure, Provenance, figure_id
from mmretinal_builder.stage import Context
from mmretinal_builder.stages.pages import PagesParams, PagesStage
from mmretinal_builder.stages.panels import PanelStage


def figures_from_ground_truth(pdf: Path, doc_gt: dict[str, Any], run_dir: Path, dpi: float = 300) -> list[Figure]:
    """Every retinal figure of one book: image = render of the GT box at the extract stage's default 300 dpi,
    parts = the images inside it."""
    store = ImageStore(run_dir)
    out = []
    variant = doc_gt.get("variant") or ("scanned" if "no text layer" in str(doc_gt.get("layout", "")) else None)
    layer = "none" if variant == "scanned" else "broken" if variant == "broken-text" else "ok"
    with pymupdf.open(pdf) as doc:
        for f in doc_gt["figures"]:
            if f.get("retinal") != "yes":
                continue
            page = doc[f["page"] - 1]
            ps = [page.rect.width, page.rect.height]
            bbox = rounded(from_fractions(f["bbox"], ps))
            inside = [tuple(i["bbox"]) for i in page.get_image_info()
                      if intersection(i["bbox"], bbox) >= 0.9 * area(i["bbox"]) > 0]
            pix = page.get_pixmap(clip=pymupdf.Rect(bbox), dpi=dpi)
            rel = store.put(pix.tobytes("png"), "png")
            cap_box = f.get("caption_bbox")
            cap_page = f.get("caption_page") or f["page"]
            out.append(Figure(
                id=figure_id(pdf.name, f["page"], bbox), book=pdf.name, page=f["page"], bbox=bbox, page_size=ps,
                label=f["label"], caption=f["caption"], caption_page=cap_page,
                caption_bbox=rounded(from_fractions(cap_box, ps)) if cap_box else None,
                image=rel, image_size=[pix.width, pix.height],
                parts=[rounded(b) for b in inside] if len(inside) >= 2 else [],
                provenance=Provenance(book=pdf.name, page=f["page"], bbox=bbox, page_size=ps, rule="ground-truth",
                                      text_layer=layer)))
    return out


def score_generated(sample_dir: Path, run_dir: Path, gt_path: Path | None = None) -> dict[str, Any]:
    """Run the panel stage over every book of a ground truth (default ``sample_dir/ground_truth.json``; the
    PDFs are ``sample_dir/<id>``) and score it with :func:`evaluate_panels`."""
    gt_path = gt_path or sample_dir / "ground_truth.json"
    docs = json.loads(gt_path.read_text(encoding="utf-8"))
    figures: list[Figure] = []
    for d in docs:
        pdf = sample_dir / d["id"]
        pages, _ = run_stages([PagesStage(PagesParams(ocr=False))], run_dir=run_dir, book_path=pdf)
        ctx = Context(run_dir=run_dir, stage="panels", book=pdf.name, book_path=pdf, records={"pages": pages})
        figures += PanelStage().run(figures_from_ground_truth(pdf, d, run_dir), ctx)
    write_jsonl(run_dir / "figures.jsonl", figures)
    return evaluate_panels(gt_path, run_dir)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--gt":
        res = score_generated(Path(args[3]), Path(args[4]), gt_path=Path(args[1]))
    else:
        res = score_generated(Path(args[0]), Path(args[1]))
    failures = res.pop("failures")
    print(json.dumps(res, indent=1))
    for f in failures:
        print(f)
