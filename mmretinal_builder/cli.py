"""The ``mmretinal`` command line (Typer). Commands live in :mod:`mmretinal_builder.commands`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from .commands import MODULES
from .errors import BuilderError

app = typer.Typer(
    name="mmretinal",
    help="Build a fundus image-text dataset from ophthalmology atlases (PDF books).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Print a user-facing error (no traceback) and exit 2 for problems the user can fix."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BuilderError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


for _name in MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _e:
        if _e.name != _name:  # a missing dependency inside the module is a real error
            raise
        continue  # that command group has not landed in this checkout
    _module.register(app)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
