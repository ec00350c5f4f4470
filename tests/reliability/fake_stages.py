"""A stage that kills its own process on marked books: a stand-in for a segfault in a C library or the OOM killer."""

from __future__ import annotations

import os
import signal
import time

from mmretinal_builder.schema import Figure
from mmretinal_builder.stage import Context, Stage


class KillSelfStage(Stage):
    """Passes items through; on a book whose file name contains ``crash`` its process dies by SIGKILL."""

    name = "kill_self"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        if "crash" in (ctx.book or ""):
            os.kill(os.getpid(), signal.SIGKILL)
        ctx.count("survived")
        return items


class HangStage(Stage):
    """Passes items through; on a book whose file name contains ``hang`` it never returns (a call stuck inside a
    library: no page loop, no budget check)."""

    name = "hang"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        while "hang" in (ctx.book or ""):
            time.sleep(0.05)
        return items


class ProcessesStage(Stage):
    """Passes items through and counts the processes the runner lets the book's stages use."""

    name = "processes"

    def run(self, items: list[Figure], ctx: Context) -> list[Figure]:
        ctx.count(f"processes:{ctx.processes}")
        return items
