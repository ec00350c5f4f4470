"""A book's job: its consecutive book-scope stages, run one shard after the other in one process.

:func:`run_book` is what every executor runs (in the build's process, in a local worker process, as a Ray task),
so outputs never depend on the executor. It opens the book once (:class:`~mmretinal_builder.book.Book`, with the
hash the runner computed and the recipe's password and limits), starts the book's time budget, hands the book
and the items of earlier stages to every stage, and catches a book's failure into its result: a bad book is
reported, never raised, so the other books go on.
"""

from __future__ import annotations

import errno
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .book import Book
from .errors import BookError, BuilderError
from .gc_pause import cyclic_gc_paused
from .pdf.limits import Limits
from .shards import (
    StageRun,
    book_key,
    check_funnel,
    fingerprint,
    load_items,
    run_shard,
    stage_identity,
    stage_instance,
    stamp_lineage,
)
from .stage import Context, Stage

log = logging.getLogger("mmretinal")

#: errno values that mean the run directory cannot take more data (reliability: a clean error, resumable)
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}

ProgressFn = Callable[[str, str, int, int], None]  # (book, stage, done, total); done == -1: shard finished


def write_failure(e: OSError) -> str:
    """A user-facing message for a failed write into the run directory."""
    return (f"cannot write to the run directory: {e.strerror or e} (errno {e.errno}); free some space and run "
            "the same command again: finished shards are kept")


@dataclass
class BookJob:
    """Everything a worker needs to run a book's stages (picklable)."""

    run_dir: Path
    path: Path
    name: str
    stages: list[tuple[int, str, str, dict[str, Any]]]  # (recipe index, name, "module:Class", params)
    prev_fingerprint: str
    prev_index: int | None  # index of the book stage before this segment, to load its items
    book_meta: dict[str, Any]  # licence, language, password... of the book's recipe entry
    recipe_dir: Path | None
    book_sha256: str
    stage_names: list[str]  # all stage names of the recipe, by index (to find earlier shards)
    stage_targets: list[str] = field(default_factory=list)  # their "module:Class", by index
    limits: dict[str, Any] = field(default_factory=dict)  # the recipe's limits (Limits fields)
    processes: int = 1  # processes the book's stages may use (OCR); 1 inside a pool worker


@dataclass
class BookResult:
    name: str
    ok: bool
    fingerprint: str
    last_index: int | None
    runs: list[StageRun] = field(default_factory=list)
    error: dict[str, Any] | None = None


def failed(job: BookJob, stage: str, error: str) -> BookResult:
    """The result of a book that failed before or outside its stages (worker died, time budget)."""
    return BookResult(job.name, False, job.prev_fingerprint, job.prev_index,
                      error={"book": job.name, "stage": stage, "error": error})


def run_book(job: BookJob, progress: ProgressFn | None = None) -> BookResult:
    """Run a book's consecutive book-scope stages; a failure is caught and reported, not raised."""
    limits = Limits.model_validate(job.limits)
    book = Book.from_meta(job.path, job.name, job.book_meta, sha256=job.book_sha256, limits=limits)
    book.start_clock()
    try:
        return _run_stages(job, book, limits, progress)
    finally:
        book.close()


def _run_stages(job: BookJob, book: Book, limits: Limits, progress: ProgressFn | None) -> BookResult:
    key = book_key(job.name)
    fp, last = job.prev_fingerprint, job.prev_index
    # only the last stage's output stays in memory (it is the next stage's input); earlier stages' items are read
    # from their shards when a stage asks (a 5000-page book's pages are not held through every stage)
    cached: tuple[str, list[Any]] | None = None
    result = BookResult(job.name, True, fp, last)
    names = job.stage_names

    def earlier(stage: str, keep: Callable[[Any], bool] | None = None) -> list[Any] | None:
        """Items of an earlier book stage of this recipe: in memory when it ran last, else from its shard."""
        if cached is not None and cached[0] == stage:
            return cached[1] if keep is None else [x for x in cached[1] if keep(x)]
        if stage not in names or not job.stage_targets:
            return None
        index = names.index(stage)
        if last is None or index > last:
            return None
        return load_items(job.run_dir, key, index, stage, job.stage_targets[index], keep)

    for index, name, target, params in job.stages:
        stage = stage_instance(target, params)
        fp_new = fingerprint(job.book_sha256, limits.model_dump(mode="json"), name, params, fp,
                             stage_identity(target, params, job.recipe_dir))
        prev_last, prev_name = last, names[last] if last is not None else None

        def items(prev_last: int | None = prev_last, prev_name: str | None = prev_name) -> list[Any]:
            if prev_last is None or prev_name is None:
                return []
            return list(earlier(prev_name) or [])

        def report(done: int, total: int, name: str = name) -> None:
            if progress:
                progress(job.name, name, done, total)

        ctx = Context(run_dir=job.run_dir, stage=name, book=job.name, book_path=job.path, book_meta=job.book_meta,
                      recipe_dir=job.recipe_dir, progress=report, limits=limits, processes=job.processes,
                      records=earlier, book_obj=book)
        try:
            run, out = run_shard(run_dir=job.run_dir, shard=key, index=index, stage_name=name, stage=stage, fp=fp_new,
                                 items=items, ctx=ctx)
        except BookError as e:
            return _fail(result, name, e.problem)
        except BuilderError as e:
            return _fail(result, name, str(e))
        except MemoryError:
            return _fail(result, name, "out of memory")
        except OSError as e:  # a full disk is the run's problem, not the book's: said plainly, no shard marked done
            if e.errno in WRITE_ERRNOS:
                return _fail(result, name, write_failure(e))
            log.error("%s: stage %s failed:\n%s", job.name, name, traceback.format_exc())
            return _fail(result, name, f"internal error: {type(e).__name__}: {e}")
        except Exception as e:  # a bug or a library crash on hostile input: report it, keep the run going
            log.error("%s: stage %s failed:\n%s", job.name, name, traceback.format_exc())
            return _fail(result, name, f"internal error: {type(e).__name__}: {e}")
        result.runs.append(run)
        cached = (name, out) if out is not None else None
        fp, last = fp_new, index
        result.fingerprint, result.last_index = fp, last
        if progress:
            progress(job.name, name, -1, -1)  # shard finished
    return result


def _fail(result: BookResult, stage: str, error: str) -> BookResult:
    result.ok, result.error = False, {"book": result.name, "stage": stage, "error": error}
    return result


def run_stages(stages: list[Stage], *, run_dir: Path, book_path: Path, book_meta: dict[str, Any] | None = None,
               limits: Limits | None = None, processes: int | None = None) -> tuple[list[Any], Context]:
    """Run book stages one after the other in this process, without shards (tests, benchmarks, notebooks): each
    gets the same book and the items of the stages before it, as in a build, and the funnel is checked the same
    way. Returns the last stage's items and one context holding every stage's counters, drops, reports and
    warnings."""
    limits = limits or Limits()
    meta = book_meta or {}
    total = Context(run_dir=Path(run_dir), stage="+".join(s.name for s in stages), book=Path(book_path).name,
                    book_path=Path(book_path), book_meta=meta, limits=limits, processes=processes)
    outputs: dict[str, list[Any]] = {}
    items: list[Any] = []
    with Book.from_meta(book_path, Path(book_path).name, meta, limits=limits) as book:
        book.start_clock()
        for stage in stages:
            ctx = Context(run_dir=Path(run_dir), stage=stage.name, book=book.name, book_path=book.path,
                          book_meta=meta, limits=limits, processes=processes, records=outputs, book_obj=book)
            with cyclic_gc_paused():  # as a build runs it (shards.run_shard)
                out = stage.run(list(items), ctx)
            check_funnel(stage.name, len(items), out, ctx)
            stamp_lineage(out, stage.name, type(stage).version, ctx)
            total.counters.update(ctx.counters)
            total.dropped.update(ctx.dropped)
            total.rejects.extend(ctx.rejects)
            total.warnings.extend(ctx.warnings)
            outputs[stage.name] = items = out
    return items, total
