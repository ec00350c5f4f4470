"""``mmretinal samples``: generate synthetic fundus atlases with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command()
    @friendly_errors
    def samples(
        out_dir: Path = typer.Argument(..., help="folder for the PDFs and ground_truth.json"),
        seed: int = typer.Option(0, help="random seed: the same seed gives the same bytes"),
        books: int = typer.Option(9, min=1, help="number of books (the default set: EN/ZH born-digital, mixed, "
                                                 "EN and ZH scans, a broken text layer, a pdfTeX thesis in "
                                                 "ES/PT/FR, a scanned Persian paper)"),
        figures: int = typer.Option(35, "--figures", min=1, help="captioned figures per book"),
        scanned: bool = typer.Option(True, "--scanned/--no-scanned", help="also write scanned variants"),
        broken_text: bool = typer.Option(True, "--broken-text/--no-broken-text",
                                         help="also write a book with a garbage text layer"),
    ) -> None:
        """Write synthetic fundus atlases (EN/ZH, many layouts) plus ground truth in the PALM gt format."""
        from ..samples import generate_samples

        gt = generate_samples(out_dir, seed=seed, books=books, figures_per_book=figures, scanned=scanned,
                              broken_text=broken_text, show_progress=True)
        typer.echo(f"samples written to {out_dir} (ground truth: {gt})")
