"""Python's cyclic garbage collector paused while a stage runs.

A stage builds many small objects it keeps (a long book's page models hold a span object, a dict and a tuple per
word, and MuPDF's ``dict`` output is a dict per span): each of them counts towards the collector's next pass, and
every pass walks all the young objects kept since the last one. On a 200-page text-heavy book that walking was
0.3 CPU s of the 2.2 s that extraction takes (a seventh; 11% on a real 111-page manual), and it frees nothing:
the records the stages build hold no reference cycles (checked by ``tests/foundation/test_gc_pause.py``, which
runs the book stages with the collector off and counts what it finds after). Reference counting frees everything
as before; a cycle made meanwhile waits for the collector's next full pass.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; restore its previous state after (nesting is safe)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                # What the block allocated is still young: the collector's next pass would walk all of it once
                # (a long book's page models: a third of what the pause saved). Freezing and unfreezing puts every
                # tracked object into the oldest generation instead, without walking them (documented behaviour
                # of gc.unfreeze); full passes, rare, still look at them. Skipped when the process froze objects
                # itself (a server before fork): unfreezing would release those.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
