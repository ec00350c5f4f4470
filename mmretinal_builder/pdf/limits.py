"""Limits for untrusted PDFs: a time limit per page, a memory ceiling, a pixel budget, a page budget, and a
report of active content (JavaScript, embedded files) and of the problems MuPDF repaired while reading.

The policies (see docs/reliability.md):

* **time**: a page that takes longer than the limit is skipped with a warning. The limit is a ``SIGALRM``
  timer that raises :class:`PageTimeout` in the thread that set it, so it interrupts Python code at once and
  a long call into MuPDF when that call returns. Only the main thread of a process can own it (the builder
  runs books in the main thread of the build or of each worker process); elsewhere the limit is not enforced.
* **memory**: :func:`memory_limit` lowers the process's address-space limit (``RLIMIT_AS``) for a block, so
  an allocation beyond it fails (``MemoryError`` in Python, an error from MuPDF) instead of waking the
  kernel's OOM killer. Linux only; elsewhere it does nothing. Native libraries reserve address space when
  they load (OpenBLAS reserves buffers per thread and can hang when it cannot), so modules the block
  imports lazily are named in ``preload`` and imported before the limit is lowered.
* **pixels**: an image whose declared width x height exceeds the budget is never decoded (a few hundred
  bytes of Flate data can declare billions of pixels).
* **pages**: a book with more pages than the budget is read up to the budget, with a warning.
* **book time**: a book that runs longer than its budget stops reading pages and goes on with the pages it has,
  with a warning (:meth:`mmretinal_builder.book.Book.over_budget`); a worker process that overruns the budget
  by far (stuck inside a C library) is killed by the executor and the book reported.

The budgets are the recipe's ``limits:`` section (:class:`Limits`); every stage reads them from the book.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pymupdf
from pydantic import BaseModel, ConfigDict, Field

#: Everything MuPDF raises for damaged input: PyMuPDF's own RuntimeError/ValueError and the errors of the
#: MuPDF bindings (``FzErrorFormat``, ``FzErrorLimit`` ...), which do not derive from RuntimeError.
PDF_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase)

#: Environment variable with the password of encrypted books (the recipe's ``books.<file>.password`` wins).
PASSWORD_ENV = "MMRETINAL_PDF_PASSWORD"


class Limits(BaseModel):
    """The recipe's ``limits:``: budgets that keep one hostile or huge book from stalling a build."""

    model_config = ConfigDict(extra="forbid")
    max_pages: int = Field(5000, ge=1, description="pages read per book; longer books are cut, with a warning")
    book_timeout_s: float = Field(3600.0, ge=0, description="time budget of one book: past it the book stops "
                                  "reading pages and keeps what it has (warning); 0: no budget")
    page_timeout_s: float = Field(300.0, ge=0, description="a page taking longer is skipped (warning); 0: no limit")
    max_image_pixels: int = Field(150_000_000, ge=1_000_000,
                                  description="images declaring more pixels are never decoded (warning)")
    max_memory_mb: int = Field(0, ge=0, description="address space reading a book may add (Linux); 0: no limit")


class PageTimeout(Exception):  # noqa: N818 - reads as what happened, like TimeoutError
    """A page ran past its time limit."""


class LimitExceeded(Exception):  # noqa: N818
    """Work was refused because it would exceed a budget (pixels, pages)."""


# ----------------------------------------------------------------------------- time


def can_time_limit() -> bool:
    """Whether :func:`time_limit` can interrupt work in this thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str = "page") -> Iterator[bool]:
    """Raise :class:`PageTimeout` in the block when it runs longer than ``seconds``; yields whether the limit
    is enforced (``False`` off the main thread, on Windows, or for ``None``/0)."""
    if not seconds or seconds <= 0 or not can_time_limit():
        yield False
        return
    active = True

    def on_alarm(signum: int, frame: Any) -> None:
        if active:  # the block may have ended between the timer firing and the handler running
            raise PageTimeout(f"{what} took longer than the time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        active = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- memory


def _vm_size() -> int | None:
    """The process's current address-space size in bytes (Linux), else None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def memory_limit(extra_mb: int | None, preload: tuple[str, ...] = ()) -> Iterator[bool]:
    """Let the block grow the address space by at most ``extra_mb`` MiB; yields whether a limit was set.

    ``preload``: modules to import first (native libraries cannot start under a tight limit). The previous
    limit is restored afterwards; a lower limit already in force is kept.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        yield False
        return
    if extra_mb:
        for name in preload:
            importlib.import_module(name)
        # garbage left by earlier work (cyclic numpy buffers, freed when the collector next runs) would be freed
        # inside the block and widen the allowance by its size: collect it before measuring. One pass is not
        # always enough (finalisers of freed objects release further cycles), so collect until nothing is left.
        for _ in range(5):
            if not gc.collect():
                break
    current = _vm_size() if extra_mb else None
    if not extra_mb or extra_mb <= 0 or current is None:
        yield False
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new = current + (int(extra_mb) << 20)
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    if soft != resource.RLIM_INFINITY and soft <= new:
        yield False  # an outer, lower limit already applies
        return
    resource.setrlimit(resource.RLIMIT_AS, (new, hard))
    try:
        yield True
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# ----------------------------------------------------------------------------- pixels and pages


def over_pixel_budget(width: int, height: int, max_pixels: int) -> bool:
    """An image declaring more than ``max_pixels`` pixels must not be decoded."""
    return max(0, int(width)) * max(0, int(height)) > max_pixels


def pixel_budget_warning(page: int, width: int, height: int, max_pixels: int) -> str:
    return (f"page {page}: image of {width} x {height} px ({width * height / 1e6:.0f} MP) is over the pixel "
            f"budget of {max_pixels / 1e6:.0f} MP (limits.max_image_pixels): not decoded, left out")


def pages_to_read(page_count: int, max_pages: int | None) -> tuple[int, str | None]:
    """How many pages to read and, when the book is cut, the warning to give."""
    if max_pages is None or page_count <= max_pages:
        return page_count, None
    return max_pages, (f"the book has {page_count} pages; only the first {max_pages} were read "
                       "(limits.max_pages)")


# ----------------------------------------------------------------------------- passwords


def book_password(book_meta: dict[str, Any]) -> str | None:
    """The password for an encrypted book: the recipe's ``books.<file>.password``, else the environment."""
    return book_meta.get("password") or os.environ.get(PASSWORD_ENV) or None


# ----------------------------------------------------------------------------- active content


_JS = re.compile(r"/S\s*/JavaScript\b|/JS\b|/JavaScript\b")
_LAUNCH = re.compile(r"/S\s*/Launch\b")
_XFA = re.compile(r"/XFA\b")


def active_content_warnings(doc: pymupdf.Document, max_objects: int = 500_000) -> list[str]:
    """Warnings for content a PDF reader might act on; the builder never runs or extracts any of it."""
    js = launch = xfa = 0
    n = min(doc.xref_length(), max_objects)
    for xref in range(1, n):
        try:
            src = doc.xref_object(xref, compressed=True)
        except PDF_ERRORS:
            continue
        js += bool(_JS.search(src))
        launch += bool(_LAUNCH.search(src))
        xfa += bool(_XFA.search(src))
    out = []
    if js:
        out.append(f"contains JavaScript ({js} objects): ignored, never run")
    if launch:
        out.append(f"contains launch actions ({launch} objects): ignored")
    if xfa:
        out.append("contains an XFA form: ignored")
    try:
        files = doc.embfile_count()
    except PDF_ERRORS:
        files = 0
    if files:
        out.append(f"contains {files} embedded file(s): ignored, never extracted")
    return out


# ----------------------------------------------------------------------------- MuPDF's own messages


def quiet_mupdf() -> None:
    """Keep MuPDF's messages off stderr; :func:`mupdf_warnings` collects them for the run's report."""
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)


def reset_mupdf_warnings() -> None:
    pymupdf.TOOLS.reset_mupdf_warnings()


def mupdf_warnings(limit: int = 5) -> str | None:
    """One warning summarising what MuPDF reported (repairs, broken fonts, bad objects) since the last
    reset, or None; the store is reset."""
    text = pymupdf.TOOLS.mupdf_warnings(reset=True) or ""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("... repeated") and line not in lines:
            lines.append(line)
    if not lines:
        return None
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return f"MuPDF reported problems while reading: {'; '.join(lines[:limit])}{more}"
