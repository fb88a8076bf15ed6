"""`datacoop backup` and `datacoop restore`: a node's database, blobs and own files, and back again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datacoop.app import build_node
from datacoop.backup import create_backup, restore_blobs, restore_files
from datacoop.cli._common import DEFAULT_DATA_DIR, DataDirOpt, console, reports_errors
from datacoop.settings import Settings

__all__ = ["register"]


@reports_errors
def backup(
    out: Annotated[Path, typer.Argument(help="a new directory to write the backup into")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Back the node up while it runs: database (SQLite online backup or pg_dump), every blob, its own files.

    The node's settings (DATACOOP_DATABASE_URL, DATACOOP_BLOB_STORE, ...) say where to read from.
    Restore with `datacoop restore OUT --data-dir NEW`, then check with `datacoop audit verify`.
    """
    node = build_node(Settings(data_dir=data_dir), with_chain=False, check_stages=False)
    try:
        manifest = create_backup(node.db, node.store, data_dir, out, progress=console.print)
    finally:
        node.close()
    console.print(
        f"backup in {out}: {manifest.dialect} database, {len(manifest.blobs)} blobs "
        f"({manifest.blob_bytes} bytes), {len(manifest.files) - 1} node files",
        markup=False,
    )


@reports_errors
def restore(
    backup_dir: Annotated[Path, typer.Argument(help="a directory `datacoop backup` wrote")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
) -> None:
    """Restore a backup into a new, empty data directory (and the empty database its settings name).

    Every file is checked against the backup's SHA-256 before anything is written, and every blob's
    CID is computed again as the store writes it.
    """
    settings = Settings(data_dir=data_dir)
    manifest = restore_files(backup_dir, data_dir, settings.resolved_database_url)
    node = build_node(
        settings, with_chain=False, check_stages=False
    )  # migrates a backup from an older version
    try:
        restored = sum(1 for _ in restore_blobs(backup_dir, manifest, node.store))
    finally:
        node.close()
    console.print(
        f"restored into {data_dir}: the database and {restored} blobs; now run `datacoop audit verify`"
    )


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
