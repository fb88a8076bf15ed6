"""What every CLI command shares: options, error reporting, and the way to a client or a node."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from datacoop.errors import ERROR_TABLE, DataCoopError, InvalidInput

__all__ = ["DataDirOpt", "KeyOpt", "UrlOpt", "console", "err_console", "reports_errors", "settings_error"]

P = ParamSpec("P")
R = TypeVar("R")

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

UrlOpt = Annotated[str, typer.Option("--url", envvar="DATACOOP_URL", help="the node's API address")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="DATACOOP_KEY",
        help="signing key: dev:N (a dev account of `datacoop up`), a keystore file, "
        "or unset to read DATACOOP_PRIVATE_KEY",
    ),
]
DataDirOpt = Annotated[
    Path, typer.Option("--data-dir", envvar="DATACOOP_DATA_DIR", help="the node's data directory")
]
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_DATA_DIR = Path(".datacoop")


def settings_error(exc: ValidationError) -> InvalidInput:
    """A settings refusal (a bad value, a production one) as InvalidInput naming the setting."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return InvalidInput(str(first["msg"]).removeprefix("Value error, "), field=field)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a DataCoopError (or a settings refusal) into one line on stderr and the error's exit code
    (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return fn(*args, **kwargs)
            except ValidationError as invalid:  # Settings(...) refusing the environment
                raise settings_error(invalid) from None
        except DataCoopError as exc:
            _status, exit_code = ERROR_TABLE.get(type(exc), (exc.http_status, exc.exit_code))
            where = f" [{exc.field}]" if exc.field else ""
            err_console.print(f"error{where}: {exc.message}", markup=False)
            sys.stdout.flush()
            raise typer.Exit(exit_code) from None

    return wrapper
