"""``mmretinal build`` and ``mmretinal stats``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import BuilderError
from ..recipe import load_recipe
from ..runner import Runner, collect_shard_stats, funnel

console = Console(emoji=False, highlight=False)


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command()
    @friendly_errors
    def build(
        inputs: list[Path] = typer.Argument(
            None, help="PDF files or folders of PDFs (given: used instead of the recipe's own inputs)"),
        out: Path = typer.Option(..., "--out", "-o", help="run directory (created; reused to resume)"),
        recipe: Path = typer.Option(None, "--recipe", "-r", help="recipe YAML (default: all stages)"),
        workers: int = typer.Option(None, "--workers", "-j", min=1,
                                    help="processes: books in parallel, or the OCR of a book built alone"),
        executor: str = typer.Option("local", help="local (process pool) or ray"),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="show progress bars"),
        strict: bool = typer.Option(False, help="exit non-zero when any book fails"),
    ) -> None:
        """Build (or resume) a run: read pages, pair figures and captions, crop, split, curate and export every
        book."""
        rec = load_recipe(recipe, check_inputs=not inputs)
        if inputs:  # a recipe's `inputs` are its defaults: books named on the command line replace them
            rec = rec.model_copy(update={"inputs": []})
        runner = Runner(rec, out, workers=workers, executor=executor, show_progress=progress)
        result = runner.build(inputs or [])
        print_funnel(result.stats)
        for err in result.failed:
            typer.secho(f"failed: {err['book']} [{err.get('stage', '?')}]: {err['error']}", fg=typer.colors.RED,
                        err=True)
        pairs = result.stats.get("pairs", 0)
        console.print(f"[bold]{result.figures}[/] figures ({pairs} pairs) from {len(result.books)} books -> "
                      f"{result.run_dir}")
        console.print(f"  records: {result.run_dir / 'pairs.jsonl'}, {result.run_dir / 'figures.jsonl'}")
        console.print(f"  trace:   mmretinal trace {result.run_dir} PAIR_OR_FIGURE_ID")
        console.print(f"  funnel:  {result.run_dir / 'stats.json'}  (mmretinal stats {result.run_dir})")
        dataset = result.run_dir / "dataset"
        if dataset.exists():
            console.print(f"  dataset: {dataset}")
        warned = result.stats.get("books", {}).get("warned", 0)
        if result.failed or warned:
            console.print(f"  errors:  {result.run_dir / 'errors.jsonl'} ({len(result.failed)} books failed, "
                          f"{warned} with warnings)")
        if (strict and result.failed) or not result.books:
            raise typer.Exit(1)

    @app.command()
    @friendly_errors
    def stats(
        run_dir: Path = typer.Argument(..., help="a run directory"),
        per_book: bool = typer.Option(False, "--per-book", help="also show each book's rows"),
        as_json: bool = typer.Option(False, "--json", help="print the funnel as JSON"),
    ) -> None:
        """Print the funnel of a run: per stage, items in, kept, and dropped by reason."""
        path = run_dir / "stats.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
        else:  # a run still going or killed: sum what is finished
            shards = collect_shard_stats(run_dir)
            if not shards:
                raise BuilderError(f"{run_dir}: not a run directory (no stats.json, no finished shards)")
            order = list(dict.fromkeys(s["stage"] for s in sorted(shards, key=lambda s: s["stage"])))
            data = funnel(shards, order)
        if as_json:
            typer.echo(json.dumps(data, indent=1, ensure_ascii=False))
            return
        print_funnel(data, per_book=per_book)
        errors = run_dir / "errors.jsonl"
        if errors.exists() and errors.stat().st_size:
            lines = [json.loads(line) for line in errors.read_text(encoding="utf-8").splitlines() if line.strip()]
            # errors.jsonl holds failed books (level error) and warnings of books that finished (level warning)
            for level, title in (("error", "[red]failed books:[/]"), ("warning", "[yellow]warnings:[/]")):
                rows = [e for e in lines if e.get("level", "error") == level]
                if rows:
                    console.print(f"{title} see {errors}")
                for e in rows:
                    console.print("  " + escape(f"{e['book']} [{e.get('stage', '?')}]: "
                                                f"{e.get(level) or e.get('error', '')}"))


def print_funnel(data: dict, per_book: bool = False) -> None:
    table = Table(title="funnel", show_lines=False)
    for col in ("stage", "in", "kept", "dropped (reason: n)", "counters"):
        table.add_column(col, justify="right" if col in ("in", "kept") else "left")
    for s in data.get("stages", []):
        dropped = ", ".join(f"{k}: {v}" for k, v in s["dropped"].items()) or "-"
        counters = ", ".join(f"{k}: {v}" for k, v in s.get("counters", {}).items() if not k.startswith("_")) or "-"
        n_in = f"{s['in']} (from {s['items_in']})" if "items_in" in s else str(s["in"])
        table.add_row(s["stage"], n_in, str(s["kept"]), escape(dropped), escape(counters))
    console.print(table)
    books = data.get("books")
    if books:
        console.print(f"books: {books['ok']} ok, {books['failed']} failed, of {books['total']}")
    if per_book:
        bt = Table(title="per book")
        for col in ("book", "stage", "in", "kept", "dropped"):
            bt.add_column(col)
        for r in data.get("per_book", []):
            bt.add_row(escape(r["book"]), r["stage"], str(r["in"]), str(r["kept"]),
                       escape(", ".join(f"{k}: {v}" for k, v in r["dropped"].items()) or "-"))
        console.print(bt)
