"""The build: a recipe's stages over a set of books, into a run directory.

Run-directory layout (documented in ARCHITECTURE.md)::

    RUN_DIR/
      run.json                 recipe snapshot and inputs (name, sha256) - no timestamps
      shards/<book>/<NN>-<stage>/items.jsonl     records kept by that stage (pages, pairs, figures...)
                                  rejects.jsonl   records dropped, with reasons
                                  stats.json      written LAST: marks the shard done
      shards/_run/<NN>-<stage>/...               run-scope stages (dedup, export)
      images/ab/<sha256>.<ext>  every image once, by content hash
      pairs.jsonl              the final records (one image-text pair per line)
      figures.jsonl            the figures of those pairs (one per line, with the ids of its pairs)
      rejects.jsonl            every drop of every stage, with reasons
      errors.jsonl             the run's report: books that failed (level "error", with the stage and the
                               problem) and warnings of books that finished (level "warning")
      stats.json               the funnel: per stage, in / kept / dropped by reason
      logs/build.log           timestamps and tracebacks (the only non-deterministic file)

Who does what: :mod:`~mmretinal_builder.shards` (one shard: fingerprint, resume, the funnel check),
:mod:`~mmretinal_builder.jobs` (a book's stages in one process), :mod:`~mmretinal_builder.executors` (who runs
the books), :mod:`~mmretinal_builder.funnel` (the report), :mod:`~mmretinal_builder.progress` (the terminal).
This module finds the inputs, hashes each book once, cuts the recipe into segments of one scope and runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BuilderError
from .executors import make_executor
from .funnel import collect_shard_stats, funnel, write_report
from .io import remove_temp_files, sha256_file, write_json
from .jobs import WRITE_ERRNOS, BookJob, write_failure
from .progress import Progress, setup_file_log
from .recipe import Recipe
from .shards import (
    RUN_SHARD,
    book_key,
    fingerprint,
    load_items,
    run_shard,
    stage_identity,
    stage_instance,
)
from .stage import Context, load_stage_class, stage_target

__all__ = ["RUN_SHARD", "BuildResult", "Runner", "book_key", "collect_shard_stats", "discover_pdfs", "funnel"]

log = logging.getLogger("mmretinal")

Segment = tuple[str, list[tuple[int, str, str, dict[str, Any]]]]  # (scope, [(index, name, target, params)])


def discover_pdfs(inputs: Iterable[Path]) -> list[Path]:
    """PDF files named directly, plus ``*.pdf`` found recursively in named folders (sorted)."""
    found: list[Path] = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == ".pdf"))
        elif p.exists():
            found.append(p)
        else:
            raise BuilderError(f"{p}: input not found")
    seen: dict[str, Path] = {}
    unique = []
    for p in found:
        if p.name in seen:
            if seen[p.name].resolve() == p.resolve():
                continue
            raise BuilderError(f"two inputs share the file name {p.name!r}: {seen[p.name]} and {p}; "
                               "book names must be unique within a run")
        seen[p.name] = p
        unique.append(p)
    return sorted(unique, key=lambda q: q.name)


@dataclass
class BuildResult:
    run_dir: Path
    books: list[str]
    failed: list[dict[str, Any]]
    figures: int
    stats: dict[str, Any]


class Runner:
    """Executes a recipe over a set of books into a run directory."""

    def __init__(self, recipe: Recipe, run_dir: Path, *, workers: int | None = None, executor: str = "local",
                 show_progress: bool = True) -> None:
        self.recipe = recipe
        self.run_dir = Path(run_dir).resolve()
        self.workers = workers or recipe.workers
        self.executor = make_executor(executor, self.workers)
        self.show_progress = show_progress
        self.names = [s.name for s in recipe.stages]
        self.targets = [stage_target(n) for n in self.names]

    def _segments(self) -> list[Segment]:
        """Consecutive stages of one scope: book segments run per book, run segments once."""
        segs: list[Segment] = []
        for i, spec in enumerate(self.recipe.stages):
            scope = load_stage_class(self.targets[i]).scope
            entry = (i, spec.name, self.targets[i], spec.params.model_dump(mode="json"))
            if segs and segs[-1][0] == scope:
                segs[-1][1].append(entry)
            else:
                segs.append((scope, [entry]))
        return segs

    def build(self, inputs: Iterable[Path]) -> BuildResult:
        try:
            return self._build(inputs)
        except OSError as e:
            if e.errno in WRITE_ERRNOS:  # e.g. the disk filled up while writing a run-scope shard or the summary
                raise BuilderError(f"{self.run_dir}: {write_failure(e)}") from None
            raise

    def _build(self, inputs: Iterable[Path]) -> BuildResult:
        pdfs = discover_pdfs([*self.recipe.inputs, *inputs])
        if not pdfs:
            raise BuilderError("no PDF inputs: name PDF files or folders holding PDFs")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        setup_file_log(self.run_dir / "logs" / "build.log")
        log.info("build of %d books into %s", len(pdfs), self.run_dir)
        stale = remove_temp_files(self.run_dir)  # left by a killed run; never a finished file
        if stale:
            log.info("removed %d temp files left by an interrupted run", stale)
        hashes: dict[str, str] = {}  # each book hashed once, here; the book's stages are handed the hash
        errors: list[dict[str, Any]] = []
        for p in pdfs:
            try:
                hashes[p.name] = sha256_file(p)
            except OSError as e:
                errors.append({"book": p.name, "stage": "open", "error": f"cannot read file: {e.strerror or e}"})
        write_json(self.run_dir / "run.json", {
            "recipe": self.recipe.snapshot(),
            # the path lets `mmretinal inspect` find the PDFs again
            "books": [{"name": p.name, "path": str(p.resolve()), "sha256": hashes.get(p.name)} for p in pdfs],
        })
        alive = [p for p in pdfs if p.name in hashes]
        state: dict[str, tuple[str, int | None]] = {p.name: ("", None) for p in alive}
        shard_stats: list[dict[str, Any]] = []
        run_fp, run_last = "", None
        run_items: list[Any] | None = None
        with Progress(self.show_progress) as bar:
            for scope, seg in self._segments():
                if scope == "book":
                    alive = self._book_segment(seg, alive, state, hashes, shard_stats, errors, bar)
                    run_items = None
                    continue
                for index, name, target, params in seg:
                    fp = fingerprint(name, params, [(p.name, state[p.name][0]) for p in alive], run_fp,
                                     stage_identity(target, params, self.recipe.base_dir))

                    def gather(run_last: int | None = run_last, run_items: list[Any] | None = run_items,
                               alive: list[Path] = alive) -> list[Any]:
                        if run_items is not None:
                            return run_items
                        if run_last is not None:
                            return self._items(RUN_SHARD, run_last)
                        return self._book_items(alive, state)

                    bar.add(1, name)
                    ctx = Context(run_dir=self.run_dir, stage=name, recipe_dir=self.recipe.base_dir,
                                  books={p.name: self._book_meta(p.name, secrets=False) for p in pdfs},
                                  limits=self.recipe.limits,
                                  progress=lambda d, t, n=name: bar.event("run", n, d, t),
                                  recipe=self.recipe.snapshot(), funnel=self._funnel_so_far(shard_stats, pdfs, alive))
                    run, out = run_shard(run_dir=self.run_dir, shard=RUN_SHARD, index=index, stage_name=name,
                                         stage=stage_instance(target, params), fp=fp, items=gather, ctx=ctx)
                    bar.event("run", name, -1, -1)
                    shard_stats.append(run.stats)
                    run_fp, run_last, run_items = fp, index, out
            if load_stage_class(self.targets[-1]).scope == "run":
                final = run_items if run_items is not None else self._items(RUN_SHARD, run_last)  # type: ignore[arg-type]
            else:
                final = self._book_items(alive, state)
        stats = write_report(self.run_dir, self.names, len(pdfs), {book_key(p.name): p.name for p in alive}, final,
                             shard_stats, errors)
        return BuildResult(self.run_dir, [p.name for p in alive], errors, stats["figures"], stats)

    def _book_segment(self, seg: list[tuple[int, str, str, dict[str, Any]]], alive: list[Path],
                      state: dict[str, tuple[str, int | None]], hashes: dict[str, str],
                      shard_stats: list[dict[str, Any]], errors: list[dict[str, Any]], bar: Progress) -> list[Path]:
        """Run a segment of book stages over every book still alive; returns the books still alive after it."""
        limits = self.recipe.limits.model_dump(mode="json")
        jobs = [BookJob(self.run_dir, p, p.name, seg, state[p.name][0], state[p.name][1], self._book_meta(p.name),
                        self.recipe.base_dir, hashes[p.name], self.names, self.targets, limits)
                for p in alive]
        bar.add(len(jobs) * len(seg), f"stages {seg[0][1]}..{seg[-1][1]}")
        failed = set()
        for res in self.executor.map(jobs, bar.event):
            shard_stats.extend(r.stats for r in res.runs)
            if res.ok:
                state[res.name] = (res.fingerprint, res.last_index)
            else:
                errors.append(res.error or {"book": res.name, "error": "failed"})
                failed.add(res.name)
        return [p for p in alive if p.name not in failed]

    def _items(self, shard: str, index: int) -> list[Any]:
        return load_items(self.run_dir, shard, index, self.names[index], self.targets[index])

    def _book_items(self, alive: list[Path], state: dict[str, tuple[str, int | None]]) -> list[Any]:
        out: list[Any] = []
        for p in alive:
            last = state[p.name][1]
            if last is not None:
                out.extend(self._items(book_key(p.name), last))
        return out

    def _book_meta(self, name: str, secrets: bool = True) -> dict[str, Any]:
        """A book's settings from the recipe, in one shape everywhere: its licence (else the recipe's), language,
        title, and, for the book's own stages only, its password. Run-scope stages get every book's as
        ``ctx.books``."""
        meta: dict[str, Any] = {"license": self.recipe.license}
        if name in self.recipe.books:
            meta.update(self.recipe.books[name].model_dump(exclude_none=True, exclude=None if secrets else {"password"}))
        return meta

    def _funnel_so_far(self, shard_stats: list[dict[str, Any]], pdfs: list[Path], alive: list[Path]) -> dict[str, Any]:
        """The funnel of the stages run so far (what the export writes onto the dataset card)."""
        out = funnel(shard_stats, self.names)
        out["books"] = {"total": len(pdfs), "ok": len(alive), "failed": len(pdfs) - len(alive)}
        return out
