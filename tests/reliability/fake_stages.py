"""A stage that kills its own process on marked books: a stand-in for a segfault in a C library or the OOM killer."""

from __future__ import annotations

import os
import signal

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
