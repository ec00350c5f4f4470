"""The limit helpers: time limit, memory ceiling, pixel and page budgets, passwords, MuPDF's messages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pymupdf
import pytest

from mmretinal_builder.pdf import limits
from mmretinal_builder.samples import hostile


def test_time_limit_interrupts_python_work():
    t0 = time.monotonic()
    with pytest.raises(limits.PageTimeout, match="page 3 took longer than the time limit of 0.2 s"), \
            limits.time_limit(0.2, "page 3") as enforced:
        assert enforced
        while True:
            sum(range(1000))
    assert time.monotonic() - t0 < 2.0


def test_time_limit_leaves_no_timer_behind():
    with limits.time_limit(0.2) as enforced:
        assert enforced
    time.sleep(0.4)  # an alarm left armed would raise here


def test_time_limit_off_the_main_thread_is_not_enforced():
    seen = []

    def work():
        with limits.time_limit(0.1) as enforced:
            seen.append(enforced)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [False]
    with limits.time_limit(None) as enforced:
        assert not enforced


def test_memory_limit_turns_a_huge_allocation_into_an_error():
    with limits.memory_limit(256) as enforced:
        assert enforced
        with pytest.raises(MemoryError):
            bytearray(2 << 30)
        with pytest.raises(limits.PDF_ERRORS):  # MuPDF cannot get its pixmap either
            pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 20_000, 20_000), 0)
    assert len(bytearray(512 << 20)) == 512 << 20  # the old limit is back


def test_pixel_and_page_budgets():
    assert limits.over_pixel_budget(26_000, 26_000, 100_000_000)
    assert not limits.over_pixel_budget(6000, 4000, 100_000_000)
    assert "26000 x 26000 px (676 MP)" in limits.pixel_budget_warning(1, 26_000, 26_000, 100_000_000)
    assert limits.pages_to_read(10_000, 3000) == (3000, "the book has 10000 pages; only the first 3000 were read "
                                                        "(limits.max_pages)")
    assert limits.pages_to_read(12, 3000) == (12, None)


def test_password_from_recipe_then_environment(monkeypatch):
    monkeypatch.delenv(limits.PASSWORD_ENV, raising=False)
    assert limits.book_password({}) is None
    monkeypatch.setenv(limits.PASSWORD_ENV, "from-env")
    assert limits.book_password({}) == "from-env"
    assert limits.book_password({"password": "from-recipe"}) == "from-recipe"


def test_active_content_is_reported():
    for make, expect in ((hostile.javascript, "JavaScript"), (hostile.embedded_file, "embedded file")):
        doc = pymupdf.open("pdf", make())
        warnings = limits.active_content_warnings(doc)
        assert any(expect in w for w in warnings), warnings
    clean = pymupdf.open("pdf", hostile.text_pdf([hostile.PROSE]))
    assert limits.active_content_warnings(clean) == []


def test_mupdf_warnings_are_collected_once():
    limits.quiet_mupdf()
    limits.reset_mupdf_warnings()
    doc = pymupdf.open("pdf", hostile.broken_font())
    doc[0].get_text("dict")
    first = limits.mupdf_warnings()
    assert first is not None and "font" in first
    assert limits.mupdf_warnings() is None  # the store was reset


def test_memory_freed_inside_the_block_does_not_widen_the_limit():
    """Garbage from earlier work that the collector frees inside the block (a long-lived worker holds plenty) must
    not raise the ceiling: the limit is measured after a collection.

    Checked in a fresh process: the limit bounds how far the address space may *grow*, so in a test process
    whose heap already holds large free holes (left by earlier tests) an allocation can succeed without growing
    it, whatever the limit does (docs/reliability.md)."""
    import subprocess
    import sys

    code = """
import gc
from mmretinal_builder.pdf import limits

class Cycle:
    def __init__(self):
        self.me = self
        self.data = bytearray(400 << 20)

Cycle()  # unreachable now, freed only by the cycle collector
with limits.memory_limit(64) as enforced:
    assert enforced
    gc.collect()
    try:
        bytearray(200 << 20)
    except MemoryError:
        print("limited")
    else:
        print("not limited")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "limited", res.stdout + res.stderr
