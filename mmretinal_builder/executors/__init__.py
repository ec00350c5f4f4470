"""Executors: who runs the books' jobs. One protocol, two implementations, the same job function.

* :class:`~mmretinal_builder.executors.local.LocalExecutor` (default): in the build's process for one book or
  ``--workers 1``; otherwise a pool of worker processes it watches (a worker that dies is noticed at once and
  its book run again alone, then reported; a worker far past its book's time budget is killed).
* :class:`~mmretinal_builder.executors.ray.RayExecutor` (optional extra): one Ray task per book.

Both run :func:`mmretinal_builder.jobs.run_book`, so outputs never depend on the executor. ``--workers`` is the
build's budget of processes: books in parallel, and the OCR processes a book may start when it runs alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ..errors import BuilderError
from ..jobs import BookJob, BookResult, ProgressFn


class Executor(Protocol):
    """Runs book jobs and yields their results (in any order)."""

    def map(self, jobs: list[BookJob], progress: ProgressFn | None) -> Iterator[BookResult]: ...


def make_executor(kind: str, workers: int) -> Executor:
    if kind == "local":
        from .local import LocalExecutor

        return LocalExecutor(workers)
    if kind == "ray":
        from .ray import RayExecutor

        return RayExecutor(workers)
    raise BuilderError(f"unknown executor {kind!r} (use 'local' or 'ray')")
