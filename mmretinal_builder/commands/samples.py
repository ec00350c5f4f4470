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

    @app.command()
    @friendly_errors
    def degrade(
        src: Path = typer.Argument(..., help="the PDF to copy", exists=True, dir_okay=False),
        dest: Path = typer.Argument(..., help="the scanned copy to write (PDF)"),
        dpi: int = typer.Option(200, min=72, max=600, help="scan resolution"),
        skew: float = typer.Option(1.5, min=0.0, max=10.0, help="largest turn of a page, degrees (random per page)"),
        noise: float = typer.Option(6.0, min=0.0, max=64.0, help="Gaussian noise, grey levels (sigma)"),
        quality: int = typer.Option(85, min=10, max=100, help="JPEG quality"),
        blur: float = typer.Option(0.0, min=0.0, max=5.0, help="Gaussian blur, pixels (sigma)"),
        border: bool = typer.Option(False, "--border", help="a dark scanner-lid band along the sides (the sheet "
                                                            "smaller than the glass and off-centre)"),
        shadow: bool = typer.Option(False, "--shadow", help="a gutter shadow along the binding side"),
        yellow: bool = typer.Option(False, "--yellow", help="yellowed, unevenly aged paper"),
        seed: int = typer.Option(0, help="random seed: the same seed gives the same bytes"),
        pages: str | None = typer.Option(None, help="pages to copy, e.g. 1-3,7 (default: all)"),
        gt: Path | None = typer.Option(None, "--gt", exists=True, dir_okay=False,
                                       help="ground truth of SRC (PALM format)"),
        gt_out: Path | None = typer.Option(None, "--gt-out", help="where to write the copy's ground truth"),
    ) -> None:
        """Make a scanned copy of any PDF: every page rendered, degraded, one JPEG per page, no text layer;
        with --gt, the copy's ground truth (boxes follow the turn and the border exactly)."""
        from ..errors import BuilderError
        from ..samples.degrade import DegradeOptions, degrade_file, parse_pages

        try:
            opts = DegradeOptions(dpi=dpi, skew=skew, noise=noise, blur=blur, quality=quality, border=border,
                                  shadow=shadow, yellow=yellow)
            keep = parse_pages(pages) if pages else None
        except ValueError as e:
            raise BuilderError(str(e)) from None
        new_gt = degrade_file(src, dest, opts, seed=seed, gt=gt, gt_out=gt_out, pages=keep)
        extra = f"; ground truth: {gt_out} ({len(new_gt['figures'])} figures)" if new_gt is not None else ""
        typer.echo(f"scanned copy written to {dest}{extra}")
