"""``eval-extraction`` stage by stage: shards read generically, losses located, per-document numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmretinal_builder.cli import app
from mmretinal_builder.evaluation.stages import evaluate_stages, key_stages, stage_outputs
from mmretinal_builder.io import write_json, write_jsonl
from mmretinal_builder.schema import Figure, LineageStep, Panel, Provenance, figure_id, pairs_of

PS = [100.0, 100.0]
PALM = Path(__file__).resolve().parents[1] / "data" / "palm"


def _fig(page: int, box: list[float], caption: str, panels: list[Panel] | None = None) -> Figure:
    return Figure(id=figure_id("a.pdf", page, box), book="a.pdf", page=page, bbox=box, page_size=PS,
                  caption=caption, image="images/x.png", panels=panels or [],
                  provenance=Provenance(book="a.pdf", page=page, bbox=box, page_size=PS, rule="t"))


GT = [{"id": "a.pdf", "figures": [
    {"label": "Fig. 1", "page": 1, "bbox": [0.1, 0.1, 0.9, 0.5], "retinal": "yes", "panels": 2, "caption": "Fig. 1 A.",
     "modality": "mixed", "panel_boxes": [{"label": "a", "bbox": [0.1, 0.1, 0.5, 0.5], "modality": "CFP"},
                                          {"label": "b", "bbox": [0.5, 0.1, 0.9, 0.5], "modality": "FFA"}]},
    {"label": "Fig. 2", "page": 2, "bbox": [0.1, 0.1, 0.9, 0.5], "retinal": "yes", "panels": 1,
     "caption": "Fig. 2 B.", "modality": "OCT"},
    {"label": "Fig. 3", "page": 3, "bbox": [0.1, 0.1, 0.9, 0.5], "retinal": "no", "caption": "Fig. 3 Chart."},
]}]


def _run(tmp_path: Path) -> Path:
    """A run as the shards leave it: pages (not figures), extraction, panels (pairs), classify, the final pairs."""
    run = tmp_path / "run"
    names = ["pages", "extract", "panels", "classify"]
    write_json(run / "run.json", {"recipe": {"stages": [{"name": n, "params": {}} for n in names]},
                                  "books": [{"name": "a.pdf", "sha256": "0"}]})
    shard = run / "shards" / "a.pdf"
    write_jsonl(shard / "00-pages" / "items.jsonl", [{"number": 1, "lines": []}])
    compound = _fig(1, [10, 10, 90, 50], "Fig. 1 A.",
                    [Panel(index=0, label="a", bbox=[10, 10, 50, 50], bbox_px=[0, 0, 4, 4], caption="a"),
                     Panel(index=1, label="b", bbox=[50, 10, 90, 50], bbox_px=[4, 0, 8, 4], caption="b")])
    oct_, chart = _fig(2, [10, 10, 90, 50], "Fig. 2 b."), _fig(3, [10, 10, 90, 50], "Fig. 3 Chart.")
    write_jsonl(shard / "01-extract" / "items.jsonl", [compound.model_copy(update={"panels": []}), oct_, chart])
    pairs = pairs_of(compound) + pairs_of(oct_) + pairs_of(chart)
    for p in pairs:
        p.lineage.append(LineageStep(stage="panels", version="1", rule=p.role, detail={"panels": 2 if p.figure.id
                                                                                      == compound.id else 0}))
    write_jsonl(shard / "02-panels" / "items.jsonl", pairs)
    kept = [p for p in pairs if p.figure.id == compound.id]
    for p, m in zip(kept, ["CFP", "CFP", "OCT"], strict=True):  # panel b is an FFA: wrong
        p.modality = m
    write_jsonl(shard / "03-classify" / "items.jsonl", kept)
    write_jsonl(run / "pairs.jsonl", kept)
    write_jsonl(run / "rejects.jsonl", [
        {"shard": "a.pdf", "stage": "classify", "reason": "non-retinal:diagram", "detail": None,
         "item": p.model_dump(mode="json")} for p in pairs if p.figure.id != compound.id])
    return run


def test_stage_outputs_are_found_from_the_recipe(tmp_path: Path) -> None:
    outs = stage_outputs(_run(tmp_path))
    assert [o.name for o in outs] == ["extract", "panels", "classify", "final"]  # pages hold no figures
    assert {k: v.name for k, v in key_stages(outs).items()} == {"extract-side": "extract", "panels": "panels",
                                                                 "final": "final"}


def test_losses_show_the_stage_and_reason(tmp_path: Path) -> None:
    res = evaluate_stages(GT, _run(tmp_path))
    rows = {s["stage"]: s for s in res["stages"]}
    assert rows["extract"]["retinal_found"] == rows["panels"]["retinal_found"] == 1.0
    assert rows["classify"]["retinal_found"] == rows["final"]["retinal_found"] == 0.5
    assert rows["extract"]["caption_exact"] == 0.5  # Fig. 2's caption was read wrong ("b." for "B.")
    assert rows["panels"]["panel_count_exact"] == 1.0
    assert rows["final"]["modality_accuracy"] == 0.5 and rows["final"]["counts"]["modality_n"] == 2
    assert rows["panels"]["modality_accuracy"] is None
    assert res["losses"] == [{"document": "a.pdf", "label": "Fig. 2", "page": 2, "figure": figure_id(
        "a.pdf", 2, [10, 10, 90, 50]), "stage": "classify", "reason": "non-retinal:diagram",
        "pair": figure_id("a.pdf", 2, [10, 10, 90, 50])}]
    (doc,) = res["documents"]
    assert doc["stages"]["final"]["missed"] == [{"label": "Fig. 2", "page": 2}]


def test_a_figure_deduplicated_onto_another_books_copy_is_found_through_it(tmp_path: Path) -> None:
    """b.pdf is a copy of a.pdf: dedup dropped its Fig. 1 as a duplicate of a.pdf's. The figure is in the dataset
    through its twin (found via duplicate, its caption and panels scored on the twin); b's Fig. 2, dropped by
    classify, is still a loss."""
    run = _run(tmp_path)
    runjson = json.loads((run / "run.json").read_text())
    runjson["books"].append({"name": "b.pdf", "sha256": "1"})
    write_json(run / "run.json", runjson)
    twin = next(json.loads(line) for line in (run / "pairs.jsonl").read_text().splitlines()
                if json.loads(line)["role"] == "compound")
    shard = run / "shards" / "b.pdf"
    b_figs = []
    for f in (json.loads(line) for line in (run / "shards" / "a.pdf" / "01-extract" / "items.jsonl").read_text()
              .splitlines()):
        f.update(book="b.pdf", id="b-" + f["id"])
        f["provenance"]["book"] = "b.pdf"
        b_figs.append(f)
    write_jsonl(shard / "01-extract" / "items.jsonl", b_figs)
    b_fig1 = Figure.model_validate(b_figs[0])
    rejects = [json.loads(line) for line in (run / "rejects.jsonl").read_text().splitlines()]
    rejects += [{"shard": "_run", "stage": "dedup", "reason": "duplicate", "detail": json.dumps({"of": twin["id"]}),
                 "item": p.model_dump(mode="json")} for p in pairs_of(b_fig1)]
    write_jsonl(run / "rejects.jsonl", rejects)
    gt = GT + [{**GT[0], "id": "b.pdf"}]
    res = evaluate_stages(gt, run)
    b = next(d for d in res["documents"] if d["id"] == "b.pdf")["stages"]["final"]
    assert b["counts"]["found"] == 1 and b["counts"]["via_duplicate"] == 1 and b["retinal_found"] == 0.5
    assert b["caption_exact"] == 0.5 and b["panel_count_exact"] == 1.0  # scored on a.pdf's Fig. 1
    kept = [loss for loss in res["losses"] if loss["document"] == "b.pdf" and loss.get("kept_as")]
    assert [(k["label"], k["kept_as"]["book"]) for k in kept] == [("Fig. 1", "a.pdf")]
    assert [loss["label"] for loss in res["losses"] if not loss.get("kept_as")] == ["Fig. 2", "Fig. 2"]


@pytest.mark.slow
def test_palm_and_its_scanned_copy_built_together(tmp_path: Path) -> None:
    """Issue 16's acceptance on the real paper: PALM and its scanned copy in one build with two workers. Every
    retinal figure of both is in the dataset (the scan's duplicates of the born-digital figures through their
    twin: dedup keeps the born-digital copy), captions as printed, panel counts and modalities right."""
    books = tmp_path / "books"
    books.mkdir()
    for name in ("palm_scidata2024.pdf", "palm_scidata2024_scanned.pdf"):
        (books / name).write_bytes((PALM / name).read_bytes())
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["build", str(books), "--out", str(run), "--workers", "2", "--no-progress"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["eval-extraction", "--gt", str(PALM / "palm_scidata2024.gt.json"), "--gt",
                                   str(PALM / "palm_scidata2024_scanned.gt.json"), "--run", str(run),
                                   "--json-out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    final = report["by_stage"]["stages"][-1]
    assert final["retinal_found"] == 1.0 and final["caption_exact"] >= 0.95, final
    assert final["panel_count_exact"] == 1.0 and final["modality_accuracy"] >= 0.95, final
    assert all(loss.get("kept_as", {}).get("book") == "palm_scidata2024.pdf" for loss in report["by_stage"]["losses"])
    scanned = next(d for d in report["by_stage"]["documents"] if d["id"] == "palm_scidata2024_scanned.pdf")
    assert scanned["stages"]["extract-side"]["retinal_found"] == 1.0  # the scan's own boxes (IoU >= 0.8)


@pytest.mark.slow
def test_cli_on_palm(tmp_path: Path) -> None:
    """The real pipeline on PALM: every retinal figure survives curation, the table says so per document."""
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["build", str(PALM / "palm_scidata2024.pdf"), "--out", str(run), "--no-progress"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["eval-extraction", "--gt", str(PALM / "palm_scidata2024.gt.json"), "--run",
                                   str(run), "--json-out", str(out)])
    assert res.exit_code == 0, res.output
    assert "stage by stage" in res.output and "per document" in res.output
    report = json.loads(out.read_text())["by_stage"]
    final = report["stages"][-1]
    assert final["stage"] == "final" and final["retinal_found"] == 1.0 and final["caption_exact"] == 1.0
    assert final["modality_accuracy"] == 1.0 and report["losses"] == []
    assert next(s for s in report["stages"] if s["stage"] == "panels")["panel_count_exact"] == 1.0


@pytest.mark.slow
def test_cli_on_fundus_photographs_beside_maps(tmp_path: Path) -> None:
    """Issue 16.1 end to end: a paper's figures that show fundus photographs next to vessel, heat and lesion maps.
    Every retinal figure survives curation (also the 1x5 strip the panels stage leaves whole), the maps cut as
    panels are dropped, the figure with maps only is dropped."""
    from .mixed_pdf import write_mixed_pdf

    pdf, gt = write_mixed_pdf(tmp_path / "books")
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["build", str(pdf), "--out", str(run), "--no-progress"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["eval-extraction", "--gt", str(tmp_path / "books" / "mixed_maps.gt.json"),
                                   "--run", str(run), "--json-out", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())["by_stage"]
    final = report["stages"][-1]
    assert final["retinal_found"] == 1.0 and report["losses"] == []
    assert final["counts"]["non_retinal_panels_kept"] == 0 and final["modality_accuracy"] == 1.0
    pairs = [json.loads(line) for line in (run / "pairs.jsonl").read_text().splitlines()]
    assert "Fig. 4" not in {p["figure"]["label"] for p in pairs}  # maps only: no retinal panel
    strip = [p for p in pairs if p["figure"]["label"] == "Fig. 3"]
    assert strip and all(p["modality"] == "CFP" for p in strip)
