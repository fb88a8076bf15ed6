"""`datacoop gc`: remove blobs nothing names, once they are older than a grace period."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from datacoop.app import build_node
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def gc(
    grace_hours: Annotated[
        float | None, typer.Option(help="keep blobs younger than this (default: settings)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="only report what would go")] = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Garbage-collect unreferenced blobs of a node's data directory."""
    settings = Settings(data_dir=data_dir)
    grace = (
        timedelta(hours=grace_hours)
        if grace_hours is not None
        else timedelta(seconds=settings.gc_grace_seconds)
    )
    node = build_node(settings, with_chain=False)
    try:
        report = node.blobs.collect_garbage(grace, dry_run=dry_run)
    finally:
        node.close()
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"scanned {report.scanned} blobs: {verb} {len(report.deleted)} ({report.freed_bytes:,} bytes), "
        f"kept {report.kept_referenced} referenced and {report.kept_young} younger than {grace}"
    )
    for cid in report.deleted:
        console.print(f"  {cid}")


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)
