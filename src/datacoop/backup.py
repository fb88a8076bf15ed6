"""Backing a node up, and restoring it into a fresh place: its database, its blobs by CID, its own files.

A backup is a directory::

    manifest.json        what is inside, each file's SHA-256, each blob's CID, size and profile
    database.sqlite      SQLite's online backup (a consistent copy while the node serves), or
    database.pgdump      pg_dump's custom format, for PostgreSQL
    blobs/<cid>          every blob the store holds, byte for byte
    files/...            what the node cannot rebuild: download_secret, dev-accounts.json,
                         chain/deployment.json, and the embedded chain's state.json

It is written beside its final name and renamed into place when complete, so a crash never leaves
something that looks like a backup. Restoring checks every SHA-256 first, and every blob's CID again
as the store writes it: a corrupted backup is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from datacoop import __version__
from datacoop.db import Database
from datacoop.db.models import Blob
from datacoop.errors import IntegrityError, InvalidInput, Unavailable
from datacoop.storage.base import BlobStore

__all__ = ["FORMAT", "BackupManifest", "create_backup", "read_backup", "restore_blobs", "restore_files"]

FORMAT = 1
# What the node cannot rebuild; chain/state.json is the embedded anvil's state as of its last save
# (every few seconds while it runs, and on a clean stop).
NODE_FILES = ("download_secret", "dev-accounts.json", "chain/deployment.json", "chain/state.json")
_CHUNK = 1 << 20

Progress = Callable[[str], None]


@dataclass
class BlobEntry:
    cid: str
    size: int
    profile: str
    sha256: str


@dataclass
class BackupManifest:
    format: int
    created_at: str
    datacoop_version: str
    database: str  # "database.sqlite" or "database.pgdump"
    dialect: str
    files: dict[str, str] = field(default_factory=dict)  # path under the backup -> SHA-256
    blobs: list[BlobEntry] = field(default_factory=list)

    @property
    def blob_bytes(self) -> int:
        return sum(b.size for b in self.blobs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _libpq_url(db: Database) -> str:
    """The database's URL as pg_dump and pg_restore read it (no SQLAlchemy driver suffix)."""
    url = db.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _dump_database(db: Database, staging: Path) -> str:
    if db.dialect == "sqlite":
        target = staging / "database.sqlite"
        raw = db.engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            with sqlite3.connect(target) as copy:
                source.backup(copy)  # SQLite's online backup: consistent while others write
            copy.close()
        finally:
            raw.close()
        return target.name
    target = staging / "database.pgdump"
    cmd = ["pg_dump", "--format=custom", "--no-owner", "--file", str(target), _libpq_url(db)]
    if db.schema:
        cmd[1:1] = ["--schema", db.schema]
    _run(cmd, "pg_dump")
    return target.name


def _run(cmd: list[str], tool: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise Unavailable(
            f"{tool} is needed for a PostgreSQL node (apt-get install postgresql-client)"
        ) from exc
    if done.returncode != 0:
        raise Unavailable(f"{tool} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")


def _copy_blobs(db: Database, store: BlobStore, staging: Path, progress: Progress) -> list[BlobEntry]:
    with db.transaction() as s:
        named = set(s.scalars(select(Blob.cid)))
    held = {info.cid: info for info in store.list()}
    if missing := sorted(named - held.keys()):
        raise IntegrityError(
            f"{len(missing)} blob(s) the database names are not in the store, e.g. {missing[0]}"
        )
    folder = staging / "blobs"
    folder.mkdir()
    entries = []
    for i, (cid, info) in enumerate(sorted(held.items()), 1):
        digest = hashlib.sha256()
        with (folder / cid).open("wb") as out:
            for chunk in store.iter_bytes(cid, _CHUNK):
                digest.update(chunk)
                out.write(chunk)
        entries.append(BlobEntry(cid, info.size, info.profile, digest.hexdigest()))
        if i % 1000 == 0:
            progress(f"{i} of {len(held)} blobs copied")
    return entries


def _copy_node_files(data_dir: Path, staging: Path) -> list[str]:
    copied = []
    for name in NODE_FILES:
        if (data_dir / name).is_file():
            (staging / "files" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(data_dir / name, staging / "files" / name)
            copied.append(f"files/{name}")
    return copied


def create_backup(
    db: Database, store: BlobStore, data_dir: Path, out: Path, *, progress: Progress = lambda _: None
) -> BackupManifest:
    """Back the node up into the new directory ``out``; refuses a path that exists."""
    if out.exists():
        raise InvalidInput(f"{out} exists: a backup goes into a new directory", field="out")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        progress("copying the database")
        database = _dump_database(db, staging)
        progress("copying the blobs")
        blobs = _copy_blobs(db, store, staging, progress)
        files = [database, *_copy_node_files(data_dir, staging)]
        manifest = BackupManifest(
            FORMAT, datetime.now(UTC).isoformat(), __version__, database, db.dialect,
            files={name: _sha256(staging / name) for name in files}, blobs=blobs,
        )  # fmt: skip
        (staging / "manifest.json").write_text(json.dumps(asdict(manifest), indent=1) + "\n")
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_backup(backup: Path) -> BackupManifest:
    """The backup's manifest, once every file and blob in it matches its SHA-256."""
    try:
        raw: dict[str, Any] = json.loads((backup / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{backup} is not a DataCoop backup (no readable manifest.json)", field="backup"
        ) from exc
    if raw.get("format") != FORMAT:
        raise InvalidInput(
            f"backup format {raw.get('format')!r}: this version reads {FORMAT}", field="backup"
        )
    manifest = BackupManifest(**{**raw, "blobs": [BlobEntry(**b) for b in raw["blobs"]]})
    checks = [*manifest.files.items(), *((f"blobs/{b.cid}", b.sha256) for b in manifest.blobs)]
    for name, sha in checks:
        if not (backup / name).is_file() or _sha256(backup / name) != sha:
            raise IntegrityError(f"the backup's {name} is missing or does not match its SHA-256")
    return manifest


def _empty(data_dir: Path) -> None:
    if data_dir.exists() and any(data_dir.iterdir()):
        raise InvalidInput(f"{data_dir} is not empty: restore into a new data directory", field="data_dir")


def restore_files(backup: Path, data_dir: Path, database_url: str) -> BackupManifest:
    """Check the backup, then put its node files and its database in place (before the node is built)."""
    manifest = read_backup(backup)
    _empty(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in manifest.files:
        if name.startswith("files/"):
            target = data_dir / name.removeprefix("files/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(backup / name, target)
    source = backup / manifest.database
    if manifest.dialect == "sqlite":
        if not database_url.startswith("sqlite:///"):
            raise InvalidInput("a SQLite backup restores into a SQLite database_url", field="database_url")
        target = Path(database_url.removeprefix("sqlite:///"))
        if target.exists():
            raise InvalidInput(f"{target} exists: restore into a new database", field="database_url")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    else:
        url = (
            Database(database_url)
            .engine.url.set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", url, str(source)], "pg_restore")
    return manifest


def restore_blobs(backup: Path, manifest: BackupManifest, store: BlobStore) -> Iterator[str]:
    """Write every blob into ``store``, its CID computed again as it is written; yields each CID."""
    for entry in manifest.blobs:
        with (
            store.writer(max_bytes=max(entry.size, 1), profile=entry.profile) as w,
            (backup / "blobs" / entry.cid).open("rb") as f,
        ):
            while chunk := f.read(_CHUNK):
                w.write(chunk)
            w.commit(entry.cid)
        yield entry.cid
