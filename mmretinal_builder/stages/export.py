"""The ``export`` stage: the last stage of ``build`` writes the dataset (parquet + card, or FLAIR CSV).

One row per pair it receives; it decides nothing (a figure that reaches it without a panels stage is written as
its pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ..errors import BuilderError
from ..export.exporter import ExportOptions, NothingToExport, export_pairs, funnel_from_shards, recipe_of
from ..export.pairs import as_pairs
from ..export.splits import DEFAULT_RATIOS, normalise_ratios
from ..schema import Figure, Pair
from ..stage import Context, Params, Stage


class ExportParams(Params):
    out: str = Field(default="dataset", description="dataset folder, relative to the run directory")
    splits: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RATIOS),
                                     description="split name -> share of pairs; whole books per split")
    seed: int = Field(default=0, description="fixes which books go to which split")
    formats: list[Literal["hf", "flair-csv"]] = Field(default_factory=lambda: ["hf"], min_length=1)
    shard_rows: int = Field(default=5000, ge=1, description="most rows per parquet file")
    shard_mb: int = Field(default=500, ge=1, description="about the most image MB per parquet file")
    name: str | None = Field(default=None, description="pretty name on the dataset card")

    @field_validator("splits")
    @classmethod
    def _valid_splits(cls, v: dict[str, float]) -> dict[str, float]:
        try:
            normalise_ratios(v)
        except BuilderError as e:  # pydantic reports ValueErrors with the recipe location
            raise ValueError(str(e).removeprefix("export: ")) from None
        return v


class ExportStage(Stage):
    """Writes ``RUN_DIR/<out>`` from all books' pairs; returns them unchanged."""

    name = "export"
    scope = "run"
    Params = ExportParams
    version = "2"  # 2: pairs, pair_type and lineage columns
    consumes = None  # pairs, or the figures of a recipe without the panels stage (written as their pairs)
    produces = Pair

    def outputs_present(self, run_dir: Path) -> bool:
        return (Path(run_dir) / self.params.out).is_dir()

    def run(self, items: list[Pair | Figure], ctx: Context) -> list[Pair]:
        p: ExportParams = self.params  # type: ignore[assignment]
        # the runner hands over the recipe, every book's licence and language (one shape per book) and the funnel
        # so far; on its own the stage reads them from the run
        recipe = {**(ctx.recipe if ctx.recipe is not None else recipe_of(ctx.run_dir)),
                  **({"books": ctx.books} if ctx.books else {})}
        funnel = ctx.funnel if ctx.funnel is not None else funnel_from_shards(ctx.run_dir, before=self.name)
        opts = ExportOptions(splits=dict(p.splits), seed=p.seed, formats=list(p.formats), shard_rows=p.shard_rows,
                             shard_mb=p.shard_mb, name=p.name)
        pairs = list(as_pairs(items))
        if any(isinstance(i, Figure) for i in items):
            ctx.considered = len(pairs)  # figures (a recipe without the panels stage) are written as their pairs
        try:
            result = export_pairs(pairs, ctx.run_dir, ctx.run_dir / p.out, recipe=recipe, funnel=funnel,
                                  options=opts, progress=ctx.progress)
        except NothingToExport as e:  # an empty run is a finding, not a crash of the whole build
            ctx.warn(f"no dataset written: {e}")
            return pairs
        for pair in pairs:  # the lineage says which split each pair went to
            ctx.note(pair, "written", split=result.books.get(pair.figure.book))
        ctx.count("pairs", result.pairs)
        for split, info in result.splits.items():
            ctx.count(f"pairs:{split}", info["num_examples"])
        return pairs
