"""``mmretinal export`` (run -> Hugging Face dataset / FLAIR CSV) and ``mmretinal publish`` (-> the Hub)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..errors import BuilderError

console = Console()


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _parse_splits(values: list[str] | None) -> dict[str, float] | None:
    if not values:
        return None
    out: dict[str, float] = {}
    for v in values:
        name, sep, ratio = v.partition("=")
        try:
            out[name.strip()] = float(ratio)
        except ValueError:
            raise BuilderError(f"--split {v!r}: expected NAME=RATIO, e.g. train=0.8") from None
        if not sep or not name.strip():
            raise BuilderError(f"--split {v!r}: expected NAME=RATIO, e.g. train=0.8")
    return out


def register(app: typer.Typer) -> None:
    from ..cli import friendly_errors

    @app.command()
    @friendly_errors
    def export(
        run_dir: Path = typer.Argument(..., help="a finished run directory (holds pairs.jsonl)"),
        out: Path = typer.Option(..., "--out", "-o", help="dataset folder to write (new, or an earlier export)"),
        fmt: list[str] = typer.Option(["hf"], "--format", "-f",
                                      help="hf (parquet + dataset card) or flair-csv; repeat for both"),
        split: list[str] = typer.Option(None, "--split",
                                        help="NAME=RATIO, repeatable (default train=0.8 validation=0.1 test=0.1)"),
        seed: int = typer.Option(0, help="fixes which books go to which split"),
        shard_rows: int = typer.Option(5000, min=1, help="most rows per parquet file"),
        shard_mb: int = typer.Option(500, min=1, help="about the most image MB per parquet file"),
        name: str = typer.Option(None, help="pretty name on the dataset card"),
    ) -> None:
        """Export a run as a Hugging Face dataset (parquet shards with images + card) or FLAIR CSV."""
        from ..export import ExportOptions, export_run

        opts = ExportOptions(seed=seed, formats=list(fmt), shard_rows=shard_rows, shard_mb=shard_mb, name=name)
        splits = _parse_splits(split)
        if splits is not None:
            opts.splits = splits
        result = export_run(run_dir, out, opts)
        if result.splits:
            table = Table(title=f"{result.pairs} pairs -> {out}")
            for col in ("split", "pairs", "books", "files", "size"):
                table.add_column(col, justify="left" if col == "split" else "right")
            for s, info in result.splits.items():
                books = sum(1 for v in result.books.values() if v == s)
                table.add_row(s, str(info["num_examples"]), str(books), str(info["num_shards"]),
                              _human(info["download_size"]))
            console.print(table)
            console.print(f"  card: {out / 'README.md'}")
        if "flair-csv" in fmt:
            console.print(f"  FLAIR CSV: {out / 'mm_retinal.csv'}, {out / 'mm_retinal_categorical.csv'} "
                          f"({result.pairs} rows, images in {out / 'images'})")

    @app.command()
    @friendly_errors
    def publish(
        dataset_dir: Path = typer.Argument(..., help="an exported dataset folder (README.md + data/)"),
        repo_id: str = typer.Option(..., "--repo-id", help="ORG/NAME of the dataset repo on the Hub"),
        private: bool = typer.Option(False, "--private", help="create the repo as private"),
        revision: str = typer.Option(None, "--revision", help="branch to upload to (created if missing)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="list what would be uploaded, upload nothing"),
    ) -> None:
        """Upload an exported dataset to the Hugging Face Hub (token: HF_TOKEN or `hf auth login`)."""
        from ..export.publish import find_token, plan_upload
        from ..export.publish import publish as do_publish

        plan = plan_upload(dataset_dir, repo_id, revision=revision, private=private)
        if dry_run:
            table = Table(title=f"dry run: would upload to datasets/{plan.repo_id} "
                                f"(revision {plan.revision or 'main'}, {'private' if plan.private else 'public'})")
            table.add_column("file")
            table.add_column("size", justify="right")
            for rel, size in plan.files:
                table.add_row(rel, _human(size))
            console.print(table)
            console.print(f"{len(plan.files)} files, {_human(plan.total_bytes)} in total")
            console.print("token: " + ("found (not shown)" if find_token() else
                                       "none - set HF_TOKEN or run `hf auth login` before uploading"))
            return
        url = do_publish(plan)
        console.print(f"uploaded {len(plan.files)} files ({_human(plan.total_bytes)}) to datasets/{plan.repo_id}: {url}")
