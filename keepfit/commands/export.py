"""``keepfit export``: a checkpoint as a save_pretrained-style directory, optionally pushed to the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from keepfit.cli import friendly_errors

    @app.command("export")
    @friendly_errors
    def export_cmd(
        checkpoint: str = typer.Argument(..., help="training run/checkpoint dir, export dir, or reference .pth"),
        out: Path = typer.Option(..., "--out", "-o", help="directory to write (replaced if it exists)"),
        push_to_hub: str | None = typer.Option(None, "--push-to-hub", help="Hub repo id owner/name to upload to"),
        private: bool = typer.Option(False, help="create the Hub repo as private"),
        eval_report: list[Path] = typer.Option(
            [], "--eval-report", help="JSON written by `keepfit eval --out` to quote in the model card (repeatable)"),
        text_model: str | None = typer.Option(
            None, help="reference .pth only: the text tower it was trained with (default Bio_ClinicalBERT)"),
    ) -> None:
        """Write model.safetensors + config.json + README.md + text_encoder/ (loadable with
        keepfit.hub.from_pretrained). The Hub token comes from HF_TOKEN or `huggingface-cli login`."""
        from keepfit.hub import export

        options = {"text_model": text_model} if text_model else {}
        summary = export(checkpoint, out, push_to=push_to_hub, private=private, eval_reports=eval_report,
                         **options)
        typer.echo(json.dumps(summary, indent=1))
