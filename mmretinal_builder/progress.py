"""Progress on the terminal (a rich bar over shards, one line per book at work) and the run's log file."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("mmretinal")


class Progress:
    """A rich progress bar over shards plus one line per book that is working through its pages."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._main: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def add(self, total: int, label: str) -> None:
        if self._progress is None:
            return
        if self._main is None:
            self._main = self._progress.add_task("shards", total=0)
        self._progress.update(self._main, total=self._progress.tasks[self._main].total + total)

    def event(self, book: str, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        key = f"{book}/{stage}"
        if done == -1:  # shard finished
            if self._main is not None:
                self._progress.advance(self._main)
            if key in self._tasks:
                self._progress.remove_task(self._tasks.pop(key))
            return
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(f"  {book[:40]} {stage}", total=total)
        self._progress.update(self._tasks[key], completed=done, total=total)


def setup_file_log(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for h in list(log.handlers):
        if getattr(h, "_mmretinal_file", False):
            log.removeHandler(h)
            h.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler._mmretinal_file = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("log opened at %s", time.strftime("%Y-%m-%d %H:%M:%S"))
