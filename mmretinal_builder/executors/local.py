"""The local executor: books in the build's own process, or in worker processes it watches.

* ``--workers 1``, or a single book: the book runs in the build's process, and its OCR may use all ``workers``
  processes (the only pool then is OCR's own, one level deep).
* Several books and workers: ``min(workers, books)`` worker processes (spawned: the build may hold threads), each
  running one book at a time with OCR in its own process: the book pool and OCR share one budget of processes,
  and no pool is ever started inside a pool worker.

The build's process watches every worker through its process sentinel and its pipe
(:func:`multiprocessing.connection.wait`), never by polling futures, so

* a worker that dies (a crash inside a C library, the OOM killer) is noticed within a fraction of a second; its
  book is run again **alone** once every other book is done (a fresh process, nothing else running), and when
  it dies again it is reported (``stage: worker``) while the other books' outputs stay as they would be without
  it;
* a worker still busy far past its book's time budget (``limits.book_timeout_s`` plus a grace of
  ``max(120 s, budget / 4)``: the book's stages stop reading pages at the budget and keep what they have, so
  only a call stuck inside a library gets here) is killed and its book reported.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..jobs import BookJob, BookResult, ProgressFn, failed, run_book

log = logging.getLogger("mmretinal")

#: how long the watcher sleeps at most between looks at its workers (seconds)
TICK = 0.5
#: the least grace a worker gets past its book's time budget before it is killed (seconds)
GRACE_MIN = 120.0
DIED = ("the worker process died while processing this book (a crash inside a library, or killed for using too "
        "much memory)")


def hard_limit(job: BookJob) -> float | None:
    """Seconds after which a worker still on ``job`` is killed (None: never)."""
    budget = float(job.limits.get("book_timeout_s", 0) or 0)
    return budget + max(GRACE_MIN, budget / 4) if budget > 0 else None


class LocalExecutor:
    """In-process for one worker or one book; watched worker processes for several."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def map(self, jobs: list[BookJob], progress: ProgressFn | None) -> Iterator[BookResult]:
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                job.processes = self.workers  # alone: OCR may use the whole budget
                yield run_book(job, progress)
            return
        for job in jobs:
            job.processes = 1  # in a pool worker: OCR in the worker's own process
        crashed: list[BookJob] = []
        pool = _Pool(min(self.workers, len(jobs)), progress)
        try:
            yield from pool.run(jobs, crashed)
        finally:
            pool.close()
        # each book whose worker died runs again alone: the book that kills its process is found and reported,
        # a book that only shared a pool with it finishes (its finished shards are resumed)
        for job in sorted(crashed, key=lambda j: j.name):
            solo, again = _Pool(1, progress), []
            try:
                results = list(solo.run([job], again))
            finally:
                solo.close()
            yield results[0] if results else failed(job, "worker", DIED)


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process (spawn context)
    conn: Connection
    job: BookJob | None = None
    started: float = 0.0


def _worker_main(conn: Connection) -> None:
    """A worker process: run the jobs it is sent, report progress and results, until told to stop."""

    def progress(book: str, stage: str, done: int, total: int) -> None:
        conn.send(("progress", (book, stage, done, total)))

    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(("started", job.name))  # the book's clock starts now, not when the process was spawned
        conn.send(("result", run_book(job, progress)))


class _Pool:
    def __init__(self, size: int, progress: ProgressFn | None) -> None:
        self.size = size
        self.progress = progress
        self.ctx = mp.get_context("spawn")  # fork with live threads (progress bar, logging) can deadlock
        self.workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=_worker_main, args=(child,), daemon=True, name="mmretinal-book-worker")
        proc.start()
        child.close()  # the worker holds its end: EOF here when it dies
        w = _Worker(proc, parent)
        self.workers.append(w)
        return w

    def run(self, jobs: list[BookJob], crashed: list[BookJob]) -> Iterator[BookResult]:
        """Results of ``jobs`` as they finish; jobs whose worker died are appended to ``crashed``."""
        queue = list(jobs)
        while queue or any(w.job is not None for w in self.workers):
            for w in self.workers:
                if w.job is None and queue:
                    self._start(w, queue.pop(0))
            while queue and len(self.workers) < self.size:
                self._start(self._spawn(), queue.pop(0))
            busy = [w for w in self.workers if w.job is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=TICK)
            for w in busy:
                if w.conn in ready or w.process.sentinel in ready:
                    yield from self._collect(w, crashed)
            now = time.monotonic()
            for w in [w for w in self.workers if w.job is not None]:
                limit = hard_limit(w.job)
                if limit is not None and w.started != float("inf") and now - w.started > limit:
                    job = w.job
                    log.error("%s: still running %.0f s after it started: killed", job.name, now - w.started)
                    self._discard(w)
                    yield failed(job, "time-budget", f"killed after {now - w.started:.0f} s: the book overran its "
                                 f"time budget (limits.book_timeout_s = {job.limits.get('book_timeout_s'):g} s) "
                                 "inside a library call that could not be stopped")

    def _start(self, w: _Worker, job: BookJob) -> None:
        w.job, w.started = job, float("inf")  # the clock starts when the worker says it began
        w.conn.send(job)

    def _collect(self, w: _Worker, crashed: list[BookJob]) -> Iterator[BookResult]:
        """Read what worker ``w`` sent; a worker that is gone puts its book on ``crashed``."""
        try:
            while w.job is not None and w.conn.poll():
                kind, payload = w.conn.recv()
                if kind == "progress":
                    if self.progress:
                        self.progress(*payload)
                elif kind == "started":
                    w.started = time.monotonic()
                else:
                    w.job = None
                    yield payload
        except (EOFError, OSError):
            pass  # the pipe broke: the process is gone (checked below)
        if w.job is not None and not w.process.is_alive():
            log.error("%s: the worker process died (exit code %s)", w.job.name, w.process.exitcode)
            crashed.append(w.job)
            self._discard(w)

    def _discard(self, w: _Worker) -> None:
        w.job = None
        if w.process.is_alive():
            w.process.kill()
        w.process.join(timeout=5)
        w.conn.close()
        self.workers.remove(w)

    def close(self) -> None:
        """Stop every worker (told to stop; killed when it does not within a few seconds)."""
        for w in list(self.workers):
            try:
                if w.job is None:
                    w.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 5
        for w in list(self.workers):
            if w.job is None:
                w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=5)
            w.conn.close()
        self.workers.clear()
