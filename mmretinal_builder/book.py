"""The one door to a PDF: :class:`Book` is the only code in the builder that opens a PDF file.

Every stage that needs pages (``pages`` reads them, ``crop`` renders figure regions, ``mmretinal inspect`` draws
overlays) gets them from the book's :class:`Book`, so the rules for untrusted files are applied once, the same
way, everywhere:

* **sniffing**: an empty file, HTML saved as ``.pdf``, a truncated file, a PDF without pages are refused with
  the reason (:class:`~mmretinal_builder.errors.BookError`), before or right after MuPDF opens them;
* **password**: an encrypted book is opened with the recipe's ``books.<file>.password`` (or
  ``MMRETINAL_PDF_PASSWORD``); the OCR worker processes reopen it through :meth:`BookSource.open`, with the same
  password (a reopen by path alone is how an encrypted scanned book once built to nothing);
* **limits** (:class:`~mmretinal_builder.pdf.limits.Limits`): the page budget, the time budget of the whole
  book (:meth:`Book.over_budget`), the per-page time limit and the pixel budget the stages read from here;
* **warnings**: a rebuilt cross-reference table, active content (JavaScript, embedded files) and what MuPDF
  repaired while reading (:meth:`Book.mupdf_warnings`) are collected for the run's report;
* **hash**: the book's sha256 is computed once, by the runner, and handed in (computed here only when a
  Book is used on its own).

The document is opened lazily, on first use, so stages that never look at pages (curation) cost nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymupdf

from .errors import BookError
from .io import sha256_file
from .pdf.limits import (
    PDF_ERRORS,
    Limits,
    active_content_warnings,
    book_password,
    mupdf_warnings,
    pages_to_read,
    quiet_mupdf,
    reset_mupdf_warnings,
)

__all__ = ["Book", "BookSource", "PDF_ERRORS"]


@dataclass(frozen=True)
class BookSource:
    """What it takes to open a book again in another process (picklable): path, name, hash and password."""

    path: Path
    name: str
    sha256: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed or logged

    def open(self, limits: Limits | None = None) -> Book:
        return Book(self.path, self.name, sha256=self.sha256, password=self.password, limits=limits)


class Book:
    """One PDF book: opened once, read page by page, closed at the end of the book's job."""

    def __init__(self, path: Path, name: str | None = None, *, sha256: str | None = None,
                 password: str | None = None, limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.name
        self._sha256 = sha256
        self.password = password
        self.limits = limits or Limits()
        self._doc: pymupdf.Document | None = None
        self._warnings: list[str] = []
        self._deadline: float | None = None

    @classmethod
    def from_meta(cls, path: Path, name: str | None = None, meta: dict[str, Any] | None = None, *,
                  sha256: str | None = None, limits: Limits | None = None) -> Book:
        """A book with the password of its recipe entry (``books.<file>.password``) or the environment."""
        return cls(path, name, sha256=sha256, password=book_password(meta or {}), limits=limits)

    # ------------------------------------------------------------------ identity

    @property
    def source(self) -> BookSource:
        return BookSource(self.path, self.name, self._sha256, self.password)

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = sha256_file(self.path)
        return self._sha256

    # ------------------------------------------------------------------ opening

    @property
    def doc(self) -> pymupdf.Document:
        """The open document (opened on first use; a book that cannot be read raises :class:`BookError`)."""
        if self._doc is None:
            quiet_mupdf()
            reset_mupdf_warnings()
            self._doc, warnings = _open(self.path, self.name, self.password)
            self._warnings = [*warnings, *active_content_warnings(self._doc)]
        return self._doc

    @property
    def is_open(self) -> bool:
        return self._doc is not None

    def open_warnings(self) -> list[str]:
        """Warnings found when the book was opened (rebuilt xref, JavaScript, embedded files)."""
        _ = self.doc
        return list(self._warnings)

    def mupdf_warnings(self) -> str | None:
        """What MuPDF repaired while reading since the last call (broken fonts, bad objects), as one warning."""
        return mupdf_warnings()

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
            self._doc = None

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pages

    @property
    def page_count(self) -> int:
        return self.doc.page_count

    def pages_to_read(self) -> tuple[int, str | None]:
        """How many pages the page budget lets a stage read, and the warning when the book is cut."""
        return pages_to_read(self.page_count, self.limits.max_pages)

    def page(self, number: int) -> pymupdf.Page:
        """Page ``number`` (1-based, as in every record)."""
        return self.doc.load_page(number - 1)

    # ------------------------------------------------------------------ time budget

    def start_clock(self, seconds: float | None = None) -> None:
        """Start the book's time budget (``limits.book_timeout_s`` unless given; 0 or None: no budget)."""
        budget = self.limits.book_timeout_s if seconds is None else seconds
        self._deadline = time.monotonic() + budget if budget else None

    def over_budget(self) -> bool:
        """Whether the book has used up its time budget (stages stop reading and keep what they have)."""
        return self._deadline is not None and time.monotonic() > self._deadline

    def budget_warning(self, what: str) -> str:
        return (f"the book's time budget of {self.limits.book_timeout_s:g} s (limits.book_timeout_s) ran out: "
                f"{what}")


# ----------------------------------------------------------------------------- the open call


def _open(path: Path, book: str, password: str | None) -> tuple[pymupdf.Document, list[str]]:
    """Open a PDF for reading; a book that cannot be read raises :class:`BookError` with the reason.

    Returns the document and warnings (e.g. a damaged cross-reference table that MuPDF rebuilt).
    """
    warnings: list[str] = []
    try:
        size = Path(path).stat().st_size
    except OSError as e:
        raise BookError(book, f"cannot read file: {e.strerror or e}") from None
    if size == 0:
        raise BookError(book, "empty file (0 bytes)")
    head = _head(path)
    if b"%PDF" not in head:
        kind = _sniff(head)
        raise BookError(book, f"not a PDF: no %PDF header{f' (looks like {kind})' if kind else ''}")
    try:
        doc = pymupdf.open(str(path), filetype="pdf")  # the builder's only open of a PDF file
    except pymupdf.FileDataError as e:
        raise BookError(book, f"corrupt or not a PDF: MuPDF cannot open it ({e})") from None
    except PDF_ERRORS as e:
        raise BookError(book, f"corrupt or not a PDF: {e}") from None
    if not doc.is_pdf:
        doc.close()
        raise BookError(book, "not a PDF: MuPDF reads it as another document type")
    if doc.needs_pass:
        if not password:
            doc.close()
            raise BookError(book, "encrypted: the PDF needs a password (set books.<file>.password in the recipe "
                                  "or MMRETINAL_PDF_PASSWORD)")
        if not doc.authenticate(password):
            doc.close()
            raise BookError(book, "encrypted: the password given in the recipe is wrong"
                                  " (or in MMRETINAL_PDF_PASSWORD)")
    tail = _tail(path)
    repaired = bool(doc.is_repaired)
    if b"%%EOF" not in tail and repaired:
        doc.close()
        raise BookError(book, f"truncated: the file ends at byte {size} without the %%EOF marker "
                              "and its cross-reference table is missing")
    try:
        n_pages = doc.page_count
    except PDF_ERRORS as e:
        doc.close()
        raise BookError(book, f"corrupt: the page tree cannot be read ({e})") from None
    if n_pages == 0:
        doc.close()
        what = "damaged: no readable page (cross-reference table rebuilt)" if repaired else "the PDF has no pages"
        raise BookError(book, what)
    if repaired:
        warnings.append("damaged cross-reference table, rebuilt by MuPDF: some objects may be missing")
    return doc, warnings


def _head(path: Path, n: int = 1024) -> bytes:
    with Path(path).open("rb") as f:
        return f.read(n)


def _sniff(head: bytes) -> str | None:
    """What a non-PDF file probably is (for the error message)."""
    h = head.lstrip()[:16].lower()
    for sig, kind in ((b"<!doctype html", "HTML"), (b"<html", "HTML"), (b"\x89png", "a PNG image"),
                      (b"\xff\xd8\xff", "a JPEG image"), (b"pk\x03\x04", "a ZIP archive"), (b"<?xml", "XML")):
        if h.startswith(sig):
            return kind
    return None


def _tail(path: Path, n: int = 2048) -> bytes:
    with Path(path).open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read()
