"""`datacoop dataset export VERSION_ID --format F --out DIR`: a frozen version in the formats ML teams load.

With ``--data-dir`` the node built on that data directory exports the version
(``DatasetService.export``); with ``--url`` the manifest comes from that node and the
blob bytes from ``--blobs DIR`` (its blob store folder), since a node serves blob bytes
only through the exchange (``datasets.exporting.export_offline``). Formats that carry
no bytes (``datasheet``; ``parquet`` and ``croissant`` without ``--with-bytes``) need
the manifest alone. Both run the one export path of :mod:`datacoop.datasets.exporting`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from datacoop.cli._common import DEFAULT_URL, UrlOpt, console, err_console, reports_errors
from datacoop.cli.dataset import LocalDataDirOpt, open_backend
from datacoop.datasets.export import EXPORTERS, ExportResult
from datacoop.datasets.exporting import ExportOptions, check_options, export_offline
from datacoop.errors import InvalidInput

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
    size = parse_size(shard_size) if shard_size else None
    options = ExportOptions(shard_bytes=size, shard_items=shard_items, with_bytes=with_bytes)
    check_options(format_name, options)  # before a node is built or asked
    start = time.perf_counter()
    with open_backend(url, data_dir) as backend:
        version = backend.version(version_id)
        title = f"{format_name} v{version.number}"
        with _progress_bar(title, version.item_count) as progress:
            if backend.node is not None:
                result: ExportResult = backend.node.datasets.export(
                    version_id, format_name, out, options=options, progress=progress
                )
            else:
                result = export_offline(
                    backend.manifest(version_id),
                    version.manifest_cid,
                    format_name,
                    out,
                    blobs=blobs,
                    options=options,
                    progress=progress,
                )
    _report(result, time.perf_counter() - start, as_json)


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
