"""Errors that carry a clear, user-facing message (the CLI prints them without a traceback)."""

from __future__ import annotations

from pathlib import Path


class BuilderError(Exception):
    """A problem the user can act on: the message names the file and what is wrong."""


class RecipeError(BuilderError):
    """An invalid recipe (unknown key, wrong type, missing file)."""


class BookError(BuilderError):
    """One book cannot be processed (corrupt, encrypted, truncated...). The run goes on without it."""

    def __init__(self, book: str | Path, problem: str) -> None:
        self.book = str(book)
        self.problem = problem
        super().__init__(f"{book}: {problem}")

    def __reduce__(self) -> tuple[type[BookError], tuple[str, str]]:
        return (BookError, (self.book, self.problem))  # picklable: it crosses process boundaries
