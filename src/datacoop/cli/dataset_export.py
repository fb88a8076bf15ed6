"""`datacoop dataset export VERSION_ID --format F --out DIR`: a frozen version in the formats ML teams load.

The manifest comes from the node at ``--url`` or, with ``--data-dir``, from the
data directory itself. Blob bytes are read from the node's store: the data
directory's, or ``--blobs DIR`` (a blob store folder) beside ``--url``, since a
node serves blob bytes only through the exchange. Formats that carry no bytes
(``datasheet``; ``parquet`` and ``croissant`` without ``--with-bytes``) need
the manifest alone.
"""

from __future__ import annotations

import inspect
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from datacoop.cli._common import DEFAULT_URL, UrlOpt, console, err_console, reports_errors
from datacoop.cli.dataset import LocalDataDirOpt, open_backend
from datacoop.datasets.export import EXPORTERS, Exporter, ExportResult, get_exporter
from datacoop.datasets.manifest import Manifest
from datacoop.errors import InvalidInput
from datacoop.storage import BlobStore, LocalBlobStore

__all__ = ["export", "parse_size", "register"]

_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?i?b?)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}

FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help=f"one of: {', '.join(EXPORTERS)} (or an installed plugin's)")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="folder to write into (created if missing)")]
BlobsOpt = Annotated[
    Path | None,
    typer.Option(
        "--blobs", help="the node's blob store folder, when exporting from --url (bytes are read here)"
    ),
]
ShardSizeOpt = Annotated[
    str | None, typer.Option("--shard-size", help="webdataset: bytes per shard, e.g. 500MB, 1GB, 2GiB")
]
ShardItemsOpt = Annotated[int | None, typer.Option("--shard-items", help="webdataset: samples per shard")]
WithBytesOpt = Annotated[
    bool, typer.Option("--with-bytes", help="parquet, croissant: put each blob's bytes in the rows")
]


def parse_size(text: str, field: str = "--shard-size") -> int:
    """Bytes from ``500MB``, ``1GB``, ``2GiB`` or a plain number; InvalidInput naming ``field`` otherwise."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{field} {text!r} is not a size such as 500MB, 1GB or 2GiB", field=field)
    unit = (match.group(2) or "").lower().removesuffix("b")
    factor = _BINARY.get(unit) or _UNITS.get(unit)
    if factor is None:
        raise InvalidInput(f"{field} {text!r} has an unknown unit", field=field)
    return int(match.group(1)) * factor


@reports_errors
def export(
    version_id: Annotated[int, typer.Argument(help="the version's id (`datacoop dataset list`)")],
    format_name: FormatOpt,
    out: OutOpt,
    shard_size: ShardSizeOpt = None,
    shard_items: ShardItemsOpt = None,
    with_bytes: WithBytesOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="print what was written as JSON")] = False,
    url: UrlOpt = DEFAULT_URL,
    data_dir: LocalDataDirOpt = None,
    blobs: BlobsOpt = None,
) -> None:
    """Export a dataset version: webdataset, parquet, hf, croissant, car or datasheet."""
    exporter = get_exporter(format_name)
    given = {"shard_bytes": parse_size(shard_size) if shard_size else None, "shard_items": shard_items}
    options = _options(exporter, format_name, given | {"with_bytes": with_bytes or None})
    start = time.perf_counter()
    with open_backend(url, data_dir) as backend:
        manifest = Manifest.from_bytes(backend.manifest(version_id))
        manifest_cid = backend.version(version_id).manifest_cid
        store = backend.node.store if backend.node is not None else _blob_folder(blobs)
        options |= _node_options(exporter, store, manifest_cid)
        with _progress_bar(f"{format_name} v{manifest.version}", manifest.item_count) as progress:
            result = exporter(manifest, _opener(store), out, progress=progress, **options)
    _report(result, time.perf_counter() - start, as_json)


def _options(exporter: Exporter, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options the user set, refused by name where this format takes none of that kind."""
    accepted = inspect.signature(exporter).parameters
    chosen = {key: value for key, value in given.items() if value is not None}
    for key in chosen:
        if key not in accepted:
            flag = "--shard-size" if key == "shard_bytes" else "--" + key.replace("_", "-")
            raise InvalidInput(f"{flag} does not apply to --format {name}", field=flag)
    return chosen


def _node_options(exporter: Exporter, store: BlobStore | None, manifest_cid: str) -> dict[str, Any]:
    """What the node knows that an exporter may use: each blob's CID profile, the manifest's CID."""
    accepted = inspect.signature(exporter).parameters
    options: dict[str, Any] = {}
    if "blob_profile" in accepted and store is not None:
        options["blob_profile"] = lambda cid: store.stat(cid).profile
    if "manifest_cid" in accepted:
        options["manifest_cid"] = manifest_cid
    return options


def _blob_folder(blobs: Path | None) -> BlobStore | None:
    if blobs is None:
        return None
    if not blobs.is_dir():
        raise InvalidInput(f"--blobs {blobs} is not a folder", field="--blobs")
    return LocalBlobStore(blobs)


def _opener(store: BlobStore | None) -> Callable[[str], BinaryIO]:
    def no_store(cid: str) -> BinaryIO:
        raise InvalidInput(
            "this export needs the blobs' bytes, which a node serves only through the exchange: "
            "give --data-dir (a stopped node's folder) or --blobs (its blob store folder)",
            field="--blobs",
        )

    return store.open if store is not None else no_store


@contextmanager
def _progress_bar(title: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (stdout stays clean for --json), fed as (done, total)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(title, total=total)
        yield lambda done, of: bar.update(task, completed=done, total=of)


def _report(result: ExportResult, seconds: float, as_json: bool) -> None:
    summary = {
        "format": result.format,
        "items": result.items,
        "blob_bytes": result.blob_bytes,
        "seconds": round(seconds, 3),
        "files": [str(path) for path in result.files],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    speed = f", {result.blob_bytes / 1e6 / seconds:.1f} MB/s" if result.blob_bytes and seconds else ""
    console.print(
        f"exported {result.items:,} items as {result.format} in {seconds:.1f} s{speed}:", markup=False
    )
    for path in result.files:
        console.print(f"  {path}", markup=False)


def register(dataset_app: typer.Typer) -> None:
    """Add ``export`` to the ``dataset`` command group."""
    dataset_app.command("export")(export)
