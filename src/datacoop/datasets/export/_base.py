"""What every exporter shares: its call signature, its result, and files that appear only when complete.

An exporter is a function::

    export(manifest, open_blob, out_dir, *, progress=None, **options) -> ExportResult

``open_blob(cid)`` opens a blob's bytes (a node's ``BlobStore.open``), so an
exporter needs no database; ``progress(done, total)`` is called as items are
written. The exporter's module declares which of the options the export path
(:mod:`datacoop.datasets.exporting`) may pass it in ``OPTIONS``, a frozenset of
:data:`OptionName`: a user's option that a format does not declare is refused by
name, and the node's facts (``manifest_cid``, ``blob_profile``) go only to the
formats that declare them. A module without ``OPTIONS`` takes none.

Exporters stream: they hold one blob's read buffer, one bounded batch of rows or
one shard's header at a time, never the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from datacoop.datasets.export._samples import manifest_bytes
from datacoop.datasets.manifest import Manifest
from datacoop.errors import InvalidInput

__all__ = [
    "COPY_BUFFER",
    "ExportResult",
    "Exporter",
    "OpenBlob",
    "OptionName",
    "Progress",
    "atomic_file",
    "check_positive",
    "prepare_out_dir",
    "write_manifest",
]

OpenBlob = Callable[[str], BinaryIO]
Progress = Callable[[int, int], None]
OptionName = Literal["shard_bytes", "shard_items", "with_bytes", "manifest_cid", "blob_profile"]
"""An option the export path passes to the exporters that declare it (their module's ``OPTIONS``):
the user's ``shard_bytes``, ``shard_items``, ``with_bytes``; the node's ``manifest_cid`` (the
version's manifest CID as stored) and ``blob_profile`` (``cid -> profile`` each blob was stored with)."""
COPY_BUFFER = 1 << 20  # 1 MiB per read: large enough that per-call costs vanish, small enough to stay cached
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        format: the exporter's name (``webdataset``, ``parquet`` …).
        files: every file written, in order.
        items: how many items the export holds.
        blob_bytes: the blob bytes read and written (0 for metadata-only exports).
    """

    format: str
    files: tuple[Path, ...]
    items: int
    blob_bytes: int


class Exporter(Protocol):
    """The signature every exporter has (format options are keyword-only and optional)."""

    def __call__(
        self,
        manifest: Manifest,
        open_blob: OpenBlob,
        out_dir: Path,
        *,
        progress: Progress | None = None,
        **options: Any,
    ) -> ExportResult: ...


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` (and parents) if needed; InvalidInput (``--out``) when it is a file."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"--out {out_dir} exists and is not a directory", field="--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only if the block ends normally.

    A reader never sees a half-written shard under its final name, even after a crash.
    """
    partial = path.with_name(f".{path.name}.part")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def check_positive(value: int, field: str) -> None:
    """InvalidInput naming ``field`` (an option such as ``--shard-items``) when ``value`` is below 1."""
    if value < 1:
        raise InvalidInput(f"{field} must be at least 1, got {value}", field=field, limit=1)


def write_manifest(manifest: Manifest, out_dir: Path) -> Path:
    """Write the manifest's canonical bytes as ``manifest.json`` (its CID is the version's name)."""
    path = out_dir / MANIFEST_FILE
    with atomic_file(path) as partial:
        partial.write_bytes(manifest_bytes(manifest))
    return path
