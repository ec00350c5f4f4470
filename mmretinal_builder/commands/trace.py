"""``mmretinal trace RUN_DIR ID``: what each stage did to one pair (or to every pair of one figure)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
if not console.is_terminal:  # piped: wide enough for boxes and captions on one line
    console = Console(width=170)


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command()
    @friendly_errors
    def trace(
        run_dir: Path = typer.Argument(..., help="a run directory (holds pairs.jsonl and rejects.jsonl)"),
        item_id: str = typer.Argument(..., metavar="ID", help="a pair id, a figure id (all its pairs) or a prefix"),
        as_json: bool = typer.Option(False, "--json", help="print the traces as JSON"),
    ) -> None:
        """Print every stage's step for a pair: the rule that decided, boxes, text before/after, scores; for a
        dropped pair, the stage that dropped it and why."""
        from ..errors import BuilderError
        from ..trace import describe, detail_lines, find

        traces = find(run_dir, item_id)
        if not traces:
            raise BuilderError(f"{run_dir}: no pair or figure {item_id!r} in pairs.jsonl or rejects.jsonl")
        if as_json:
            typer.echo(json.dumps([{**asdict(t), "steps": [s.model_dump(mode="json") for s in t.steps]}
                                   for t in traces], ensure_ascii=False, indent=1))
            return
        for t in traces:
            table = Table(title=escape(describe(t)), title_justify="left", show_lines=True)
            for col in ("#", "stage", "version", "rule", "what it saw"):
                table.add_column(col, overflow="fold")
            for n, step in enumerate(t.steps, 1):
                table.add_row(str(n), step.stage, step.version, escape(step.rule or "-"),
                              escape("\n".join(detail_lines(step.detail)) or "-"))
            if t.dropped and not (t.steps and t.steps[-1].stage == t.dropped["stage"]):
                table.add_row("", t.dropped["stage"] or "?", "", escape(f"dropped: {t.dropped['reason']}"),
                              escape(str(t.dropped.get("detail") or "")))
            console.print(table)
            console.print("  extraction found the figure by: " + escape("; ".join(detail_lines(t.found, 200))))
            if t.final:
                console.print("  ends as: " + escape(", ".join(f"{k}={v}" for k, v in t.final.items())))
