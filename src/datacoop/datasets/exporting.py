"""One export path: every way a version leaves the node goes through here.

:meth:`DatasetService.export <datacoop.datasets.service.DatasetService.export>` (the API's
one-file downloads, ``datacoop dataset export --data-dir``) and :func:`export_offline`
(``datacoop dataset export --url --blobs``: a manifest and a blob folder, no node) run a
format's exporter through :func:`export`, with the user's :class:`ExportOptions` checked
against the options the format declares. :func:`order_archive` lays out the tar the
exchange delivers of an order, in the same tar format as WebDataset's shards
(:mod:`datacoop.datasets.export._tar`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from datacoop.datasets.export import ExportFormat, ExportResult, Progress, get_format
from datacoop.datasets.export._samples import extension, item_bytes
from datacoop.datasets.export._tar import Member, TarArchive
from datacoop.datasets.manifest import Manifest
from datacoop.errors import InvalidInput
from datacoop.storage import BlobStore, LocalBlobStore

__all__ = [
    "ARCHIVE_MODE",
    "DOWNLOADS",
    "ExportOptions",
    "Member",
    "TarArchive",
    "check_options",
    "export",
    "export_offline",
    "order_archive",
]

# Formats a browser downloads as one file describing a version (no item bytes: those go through the
# exchange): the suffix of the file each writes, and its media type.
DOWNLOADS: dict[str, tuple[str, str]] = {
    "datasheet": ("datasheet.md", "text/markdown; charset=utf-8"),
    "croissant": ("croissant.json", "application/ld+json"),
    "parquet": (".parquet", "application/vnd.apache.parquet"),
}
ARCHIVE_MODE = 0o644  # an order archive's files: the buyer's own copy (mtime 0, so every copy is alike)
_FLAGS: dict[str, str] = {
    "shard_bytes": "--shard-size",
    "shard_items": "--shard-items",
    "with_bytes": "--with-bytes",
}


@dataclass(frozen=True)
class ExportOptions:
    """What a user may choose about an export; unset (None, False) leaves the format's default.

    Attributes:
        shard_bytes: webdataset: bytes per shard (``--shard-size``).
        shard_items: webdataset: samples per shard (``--shard-items``).
        with_bytes: parquet, croissant: each blob's bytes in the rows (``--with-bytes``).
    """

    shard_bytes: int | None = None
    shard_items: int | None = None
    with_bytes: bool = False

    def chosen(self) -> dict[str, Any]:
        """The options set, by name (each an :data:`~datacoop.datasets.export.OptionName`)."""
        given: dict[str, Any] = {
            "shard_bytes": self.shard_bytes,
            "shard_items": self.shard_items,
            "with_bytes": self.with_bytes or None,
        }
        return {name: value for name, value in given.items() if value is not None}


def check_options(format_name: str, options: ExportOptions) -> ExportFormat:
    """The format, once every option set is one it takes.

    Raises:
        InvalidInput: (``--format``) an unknown or unloadable format; (the option's flag, e.g.
            ``--with-bytes``) an option the format does not take, naming the option and the format.
    """
    chosen = get_format(format_name)
    for name in options.chosen():
        if name not in chosen.options:
            flag = _FLAGS[name]
            raise InvalidInput(f"{flag} does not apply to --format {format_name}", field=flag)
    return chosen


def export(
    manifest: Manifest,
    manifest_cid: str,
    format_name: str,
    out_dir: Path,
    *,
    store: BlobStore | None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the version of ``manifest`` (stored as ``manifest_cid``) as ``format_name`` into ``out_dir``.

    ``store`` holds the blobs' bytes; without one, only formats that need no bytes succeed.

    Raises:
        InvalidInput: see :func:`check_options`; (``--blobs``) the format needs bytes and there is no store.
    """
    options = options or ExportOptions()
    chosen = check_options(format_name, options)
    kwargs = options.chosen()
    if "manifest_cid" in chosen.options:
        kwargs["manifest_cid"] = manifest_cid
    if "blob_profile" in chosen.options and store is not None:
        kwargs["blob_profile"] = lambda cid: store.stat(cid).profile
    open_blob = store.open if store is not None else _no_store
    return chosen.exporter(manifest, open_blob, out_dir, progress=progress, **kwargs)


def export_offline(
    manifest_bytes: bytes,
    manifest_cid: str,
    format_name: str,
    out_dir: Path,
    *,
    blobs: Path | None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """:func:`export` with no node: the manifest's bytes (from a node's API) and a blob store folder.

    Raises:
        InvalidInput: (``--blobs``) ``blobs`` is not a folder; and as :func:`export`.
    """
    check_options(format_name, options or ExportOptions())
    if blobs is not None and not blobs.is_dir():
        raise InvalidInput(f"--blobs {blobs} is not a folder", field="--blobs")
    store = LocalBlobStore(blobs) if blobs is not None else None
    manifest = Manifest.from_bytes(manifest_bytes)
    return export(
        manifest, manifest_cid, format_name, out_dir, store=store, options=options, progress=progress
    )


def _no_store(cid: str) -> BinaryIO:
    raise InvalidInput(
        "this export needs the blobs' bytes, which a node serves only through the exchange: "
        "give --data-dir (a stopped node's folder) or --blobs (its blob store folder)",
        field="--blobs",
    )


def order_archive(
    manifest: Manifest, granted: Sequence[int], head: Sequence[tuple[str, bytes]], store: BlobStore
) -> TarArchive:
    """The tar of an order: the ``head`` files, then per granted item index ``{index:06d}.{ext}``
    (the blob) beside ``{index:06d}.json`` (its entry in the manifest, byte for byte).

    Headers are fixed (mtime 0, mode 0644, owner 0), so the same order always gives the same bytes.
    """
    members = [Member.inline(name, data) for name, data in head]
    for index in granted:
        item = manifest.items[index]
        members.append(Member.blob(f"{index:06d}.{extension(item.media_type)}", item.cid, item.size))
        members.append(Member.inline(f"{index:06d}.json", item_bytes(item)))
    return TarArchive(members, store.open, mtime=0, mode=ARCHIVE_MODE)
