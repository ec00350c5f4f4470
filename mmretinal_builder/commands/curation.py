"""``mmretinal classify IMAGE...``: modality and retinal decision of image files, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command()
    @friendly_errors
    def classify(
        images: list[Path] = typer.Argument(..., help="image files (JPEG, PNG, ...)"),
        caption: str = typer.Option(None, "--caption", "-c", help="caption text used as a modality cue"),
        features: bool = typer.Option(False, "--features", help="also print the image statistics"),
    ) -> None:
        """Print path, modality, confidence and retinal decision (+ reason) of each image as JSON."""
        from ..curation.imagefeatures import read_image
        from ..curation.modality import classify_image
        from ..curation.retinal import non_retinal_kind

        for path in images:
            img = read_image(path)
            res = classify_image(img, caption)
            row = {
                "path": str(path),
                "modality": res.modality,
                "confidence": res.confidence,
                "retinal": res.retinal,
                "reason": None if res.retinal else f"non-retinal:{non_retinal_kind(res.features, img)}",
                "image_modality": res.image_modality,
                "caption_cue": res.cue_modality,
                "probabilities": res.probabilities,
            }
            if features:
                row["features"] = res.features.as_dict()
            typer.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
