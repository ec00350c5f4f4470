"""``keepfit train``: run or resume a training config (single process or under torchrun)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from keepfit.cli import friendly_errors

    @app.command("train")
    @friendly_errors
    def train_cmd(
        config: Path = typer.Option(..., "--config", "-c", help="training config YAML (pipelines/*.yaml)"),
        overrides: list[str] = typer.Option(
            [],
            "--set",
            help="override a config value: section.key=value (repeatable); unknown keys are errors",
        ),
        resume: str | None = typer.Option(
            None, "--resume", help="'latest' (in train.out_dir), a run dir or a checkpoint dir"
        ),
        stop_at_step: int | None = typer.Option(
            None, "--stop-at-step", help="checkpoint and stop after this step (the LR schedule is unchanged)"
        ),
    ) -> None:
        """Pretrain KeepFIT. Multi-GPU: torchrun --nproc_per_node N --no-python keepfit train --config ..."""
        from keepfit.train import train
        from keepfit.train.config import load_config

        cfg = load_config(config, overrides)
        summary = train(cfg, resume=resume, stop_at_step=stop_at_step)
        keys = ("total_steps", "end_step", "data", "heldout", "retrieval_before", "retrieval_after", "loss_curve")
        typer.echo(json.dumps({k: summary[k] for k in keys if k in summary}, indent=1))
