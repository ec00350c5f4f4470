"""``mmretinal eval-extraction`` (figure/caption/pair metrics against ground truth) and ``mmretinal inspect``
(page overlays of a run)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import BuilderError
from ..io import atomic_write_text

console = Console()
if not console.is_terminal:  # piped or captured: keep the metrics table readable instead of 80 columns
    console = Console(width=170)


def build_extraction_run(pdfs: Path, out: Path, workers: int = 1) -> Path:
    """Run only the extraction stages (pages, pair, crop) over ``pdfs`` (a file or folder) into ``out``; returns
    the run dir."""
    from ..recipe import recipe_from_dict
    from ..runner import Runner

    recipe = recipe_from_dict({"name": "eval-extraction", "stages": ["pages", "pair", "crop"]},
                              label="eval-extraction recipe")
    Runner(recipe, out, workers=workers, show_progress=False).build([pdfs])
    return out


def print_report(result: dict[str, Any]) -> None:
    table = Table(title=f"extraction (IoU >= {result['iou_threshold']})")
    cols = ("document", "gt", "pred", "fig P", "fig R", "fig F1", "cap exact", "cap sim", "cap CER",
            "pair P", "pair R", "pair F1", "pair F1 exact", "retinal pair F1", "tables as fig")
    name_w = min(45, max([len(d["id"]) for d in result["documents"]] + [8]))
    for c in cols:
        if c == "document":
            table.add_column(c, justify="left", min_width=name_w, overflow="fold")
        else:
            table.add_column(c, justify="right")

    def row(name: str, m: dict[str, Any], style: str | None = None) -> None:
        c = m["counts"]
        table.add_row(name, str(int(c["gt"])), str(int(c["pred"])), f"{m['figure']['precision']:.3f}",
                      f"{m['figure']['recall']:.3f}", f"{m['figure']['f1']:.3f}", f"{m['caption_exact']:.3f}",
                      f"{m['caption_similarity']:.3f}", f"{m['caption_cer']:.4f}", f"{m['pair']['precision']:.3f}",
                      f"{m['pair']['recall']:.3f}", f"{m['pair']['f1']:.3f}", f"{m['pair_exact']['f1']:.3f}",
                      f"{m['retinal']['pair']['f1']:.3f}", str(m["tables_as_figures"]), style=style)

    for d in result["documents"]:
        row(d["id"], d)
    row("OVERALL", result["overall"], style="bold")
    console.print(table)
    mod = result["overall"].get("modality") or {}
    if mod.get("n"):
        cm = Table(title=f"modality of matched figures: accuracy {mod['accuracy']:.3f} (n={mod['n']}); "
                         "rows = ground truth")
        names = list(mod["confusion"])
        cm.add_column("truth \\ predicted")
        for n in names:
            cm.add_column(n, justify="right")
        for t in names:
            cm.add_row(t, *(str(mod["confusion"][t][p]) for p in names))
        console.print(cm)
    if result.get("unknown_books"):
        console.print(f"[yellow]books in the run but not in the ground truth:[/] {', '.join(result['unknown_books'])}")


def panel_metrics(gt: Path, run_dir: Path) -> dict | None:
    """Panel metrics of the panels stage's output (before curation drops any panel), when the run has one."""
    from ..evaluation.panels import evaluate_panels
    from ..evaluation.stages import key_stages, stage_outputs

    view = key_stages(stage_outputs(run_dir)).get("panels")
    if view is None:
        return None  # no panels stage in this run (e.g. --pdfs builds the extraction stages only)
    res = evaluate_panels(gt, run_dir, [f for figs in view.figures.values() for f in figs])
    table = Table(title=f"panels (stage {view.name}: compound figures; matched retinal figures only)")
    for col in ("count exact", "compound count", "box IoU>=0.9", "labels", "sub-captions", "single false splits"):
        table.add_column(col, justify="right")

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    table.add_row(fmt(res["panel_count_accuracy"]), fmt(res["compound_count_accuracy"]),
                  fmt(res["panel_iou_ok_rate"]), fmt(res["label_accuracy"]), fmt(res["subcaption_accuracy"]),
                  f"{res['single_false_splits']} of {res['single_figures']}")
    console.print(table)
    return res


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _dup(counts: dict[str, int]) -> str:
    n = counts.get("via_duplicate", 0)
    return f", {n} via duplicate" if n else ""


def print_stage_report(res: dict[str, Any]) -> None:
    """Retinal figures stage by stage (overall), the per-document table, and what curation lost."""
    table = Table(title="retinal figures, stage by stage (a loss shows where it happens; 'via duplicate': dropped "
                        "by dedup, its twin from another book kept)")
    for col in ("stage", "figures", "pairs", "retinal found", "captions exact", "panel count exact",
                "modality (retinal panels)", "non-retinal panels kept"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in res["stages"]:
        c = s["counts"]
        table.add_row(s["stage"], str(s["figures"]), str(s["pairs"] or "-"),
                      f"{_fmt(s['retinal_found'])} ({c.get('found', 0)}/{c.get('retinal', 0)}{_dup(c)})",
                      _fmt(s["caption_exact"]),
                      _fmt(s["panel_count_exact"]) if s["has_pairs"] else "-",
                      f"{_fmt(s['modality_accuracy'])} (n={c.get('modality_n', 0)})" if c.get("modality_n") else "-",
                      f"{c.get('non_retinal_panels_kept', 0)}/{c['non_retinal_panels']}"
                      if s["has_pairs"] and c.get("non_retinal_panels") else "-")
    console.print(table)
    keys = res["key_stages"]
    views = [v for v in ("extract-side", "panels", "final") if v in keys]
    doc = Table(title="per document: " + ", ".join(f"{v} = stage {keys[v]}" for v in views))
    doc.add_column("document", justify="left", overflow="fold")
    cap_views = [v for v in ("extract-side", "final") if v in keys]
    cols = ([(f"found {v}", v, "found") for v in views] + [(f"captions {v}", v, "captions") for v in cap_views]
            + [("panels (panels)", "panels", "panels")] * ("panels" in keys)
            + [("modality final", "final", "modality")] * ("final" in keys))
    for title, _, _ in cols:
        doc.add_column(title, justify="right")
    for d in res["documents"]:
        st, row = d["stages"], [d["id"]]
        for _, v, what in cols:
            m = st.get(v)
            if m is None:
                row.append("-")
            elif what == "found":
                row.append(f"{_fmt(m['retinal_found'])} ({m['counts'].get('found', 0)}/{m['counts']['retinal']}"
                           f"{_dup(m['counts'])})")
            else:
                row.append(_fmt(m[{"captions": "caption_exact", "panels": "panel_count_exact",
                                   "modality": "modality_accuracy"}[what]]))
        doc.add_row(*row)
    console.print(doc)
    for loss in res["losses"]:
        why = f"dropped by {loss['stage']}: {loss['reason']}" if loss.get("stage") else loss["reason"]
        if loss.get("kept_as"):
            k = loss["kept_as"]
            console.print(f"[cyan]kept as a duplicate[/] {loss['document']} p{loss['page']} {loss['label']} "
                          f"({loss['figure']}): {why}; in the dataset as {k['book']} p{k['page']} ({k['figure']})")
            continue
        console.print(f"[red]lost after extraction[/] {loss['document']} p{loss['page']} {loss['label']} "
                      f"({loss['figure']}): {why}")


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command("eval-extraction")
    @friendly_errors
    def eval_extraction(
        gts: list[Path] = typer.Option(..., "--gt", help="ground truth JSON (PALM gt format / samples' "
                                       "ground_truth.json); repeat for books of several files"),
        run: Path = typer.Option(None, "--run", help="a run directory holding figures.jsonl"),
        pdfs: Path = typer.Option(None, "--pdfs", help="PDF file or folder: run the extraction stages first"),
        out: Path = typer.Option(None, "--out", help="with --pdfs: run directory to build into (default: temp)"),
        workers: int = typer.Option(1, "--workers", "-j", min=1, help="with --pdfs: books in parallel"),
        iou_threshold: float = typer.Option(0.8, "--iou", min=0.0, max=1.0, help="box IoU for a match"),
        json_out: Path = typer.Option(None, "--json-out", help="write the full report (per figure) as JSON"),
        show_errors: bool = typer.Option(False, "--show-errors", help="list missed figures and wrong captions"),
    ) -> None:
        """Figure precision/recall/F1, caption accuracy and CER, pair F1 (also on retinal figures); with --run,
        also every stage side by side (retinal figures found, captions exact, panel counts, modality of retinal
        panels) per document, and the retinal figures lost after extraction with the stage that dropped them."""
        from ..evaluation.extraction import evaluate, load_ground_truth, load_predictions, write_report

        if (run is None) == (pdfs is None):
            raise BuilderError("give exactly one of --run RUN_DIR or --pdfs PDF_OR_FOLDER")
        docs = [d for g in gts for d in load_ground_truth(g)]
        ids = [d["id"] for d in docs]
        if len(set(ids)) != len(ids):
            raise BuilderError(f"--gt: a document is in two ground-truth files ({sorted({i for i in ids if ids.count(i) > 1})})")
        if pdfs is not None:
            if not pdfs.exists():
                raise BuilderError(f"{pdfs}: not found")
            if out is None:
                with tempfile.TemporaryDirectory(prefix="mmretinal-eval-") as tmp:
                    run_dir = build_extraction_run(pdfs, Path(tmp) / "run", workers)
                    result = evaluate(docs, load_predictions(run_dir), iou_threshold)
            else:
                run_dir = build_extraction_run(pdfs, out, workers)
                result = evaluate(docs, load_predictions(run_dir), iou_threshold)
        else:
            result = evaluate(docs, load_predictions(run), iou_threshold)
        print_report(result)
        if run is not None:
            from ..evaluation.stages import evaluate_stages

            result["by_stage"] = evaluate_stages(docs, run, iou_threshold)
            print_stage_report(result["by_stage"])
            with tempfile.TemporaryDirectory(prefix="mmretinal-gt-") as tmp:
                gt = gts[0] if len(gts) == 1 else Path(tmp) / "ground_truth.json"
                if len(gts) > 1:  # the panel metrics read one file: all documents in one list
                    atomic_write_text(gt, json.dumps(docs, ensure_ascii=False))
                result["panels"] = panel_metrics(gt, run)
        if show_errors:
            for d in result["documents"]:
                for m in d["missed"]:
                    console.print(f"[red]missed[/] {d['id']} p{m['page']} {m['label']}")
                for s in d["spurious"]:
                    console.print(f"[yellow]spurious[/] {d['id']} p{s['page']} {s['label']} {s['bbox']}")
                for m in d["matches"]:
                    if not m["caption_exact"]:
                        console.print(f"[magenta]caption[/] {d['id']} p{m['page']} {m['gt']}:\n"
                                      f"  pred: {m['pred_caption']}\n  gt:   {m['gt_caption']}")
        if json_out is not None:
            write_report(result, json_out)
            console.print(f"report: {json_out}")

    @app.command()
    @friendly_errors
    def inspect(
        run_dir: Path = typer.Argument(..., help="a run directory"),
        book: str = typer.Option(None, "--book", help="only this book (file name)"),
        page: int = typer.Option(None, "--page", min=1, help="only this page (1-based)"),
        out: Path = typer.Option(None, "--out", help="folder for the PNGs (default RUN_DIR/inspect)"),
        pdfs: list[Path] = typer.Option(None, "--pdfs", help="where the run's PDFs are (files or folders)"),
        dpi: float = typer.Option(110, min=30, max=600, help="resolution of the overlays"),
    ) -> None:
        """Draw figure boxes (green), caption boxes (blue), pair lines and leftovers on the pages."""
        from ..debug import inspect_run

        target = out or (run_dir / "inspect")
        written = inspect_run(run_dir, target, list(pdfs or []), book=book, page=page, dpi=dpi)
        console.print(f"{len(written)} page overlays -> {target}")
