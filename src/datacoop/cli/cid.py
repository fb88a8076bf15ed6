"""`datacoop cid`: print the CIDv1 of files, as `ipfs add --cid-version=1 --only-hash` would name them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datacoop.cid import DEFAULT_PROFILE_NAME, PROFILES, Profile, cid_of_file, cid_of_stream, get_profile
from datacoop.cli._common import reports_errors
from datacoop.errors import ERROR_TABLE, InvalidInput

__all__ = ["register"]

STDIN = "-"
FilesArg = Annotated[
    list[Path], typer.Argument(help="files to name; '-' reads standard input", show_default=False)
]
ProfileOpt = Annotated[str, typer.Option("--profile", help=f"CID profile: {', '.join(PROFILES)}")]


@reports_errors
def cid(files: FilesArg, profile: ProfileOpt = DEFAULT_PROFILE_NAME) -> None:
    """Print 'CID  FILE' for each file; unreadable files are reported and the exit code is 2."""
    chosen = get_profile(profile)
    failed = False
    for path in files:
        try:
            typer.echo(f"{_cid_of(path, chosen)}  {path}")
        except OSError as exc:
            failed = True
            typer.echo(f"error [files]: cannot read {path}: {exc.strerror or exc}", err=True)
    if failed:
        raise typer.Exit(ERROR_TABLE[InvalidInput][1])


def _cid_of(path: Path, profile: Profile) -> str:
    if str(path) == STDIN:
        return cid_of_stream(typer.get_binary_stream("stdin"), profile)
    return cid_of_file(path, profile)


def register(app: typer.Typer) -> None:
    """Add the ``cid`` command to ``app``."""
    app.command("cid")(cid)
