"""Parquet: one row per item with every metadata column, and optionally the blob's bytes.

Rows are written by pyarrow's ``ParquetWriter`` in row groups closed after
``row_group_items`` rows or ``row_group_bytes`` of blob bytes, whichever comes
first, so memory holds one row group whatever the dataset's size. Dict-valued
fields (labels, quality, review) are canonical JSON text; ``nonce`` (a uint256)
is decimal text.

:func:`write_parquet` is shared with the Hugging Face and Croissant exporters,
which differ only in the column that carries the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from datacoop.datasets.export._base import (
    ExportResult,
    OpenBlob,
    OptionName,
    Progress,
    atomic_file,
    check_positive,
    prepare_out_dir,
    write_manifest,
)
from datacoop.datasets.export._samples import METADATA_COLUMNS, item_record
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.errors import IntegrityError, InvalidInput

__all__ = ["OPTIONS", "BlobColumn", "export", "metadata_schema", "parquet_name", "write_parquet"]

OPTIONS: frozenset[OptionName] = frozenset({"with_bytes"})
"""The options :mod:`datacoop.datasets.exporting` passes this exporter (see :data:`._base.OptionName`)."""

DEFAULT_ROW_GROUP_ITEMS = 1024
DEFAULT_ROW_GROUP_BYTES = 64 * 1024 * 1024
_INTEGERS = frozenset({"index", "submission_id", "size", "task_id", "deadline"})
BlobKind = Literal["binary", "image", "text"]


@dataclass(frozen=True)
class BlobColumn:
    """Where a row carries its blob: column ``name`` as raw ``binary``, an HF ``image`` struct or ``text``."""

    name: str = "bytes"
    kind: BlobKind = "binary"

    def arrow_type(self) -> pa.DataType:
        if self.kind == "image":  # the layout of Hugging Face's Image feature
            return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        return pa.string() if self.kind == "text" else pa.binary()

    def value(self, item: ManifestItem, data: bytes, key: str) -> Any:
        if self.kind == "image":
            return {"bytes": data, "path": f"{key}"}
        if self.kind == "text":
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise IntegrityError(f"blob {item.cid} is not UTF-8 text", field="cid") from None
        return data


def parquet_name(version: int) -> str:
    """``dataset-v{version}.parquet``."""
    return f"dataset-v{version}.parquet"


def metadata_schema(blob: BlobColumn | None = None, metadata: dict[str, str] | None = None) -> pa.Schema:
    """The Arrow schema of an export: every metadata column, then the blob column if any."""
    columns = [(name, _arrow_type(name)) for name in METADATA_COLUMNS]
    if blob is not None:
        columns.append((blob.name, blob.arrow_type()))
    return pa.schema(columns, metadata=metadata)


def export(
    manifest: Manifest,
    open_blob: OpenBlob,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    with_bytes: bool = False,
    row_group_items: int = DEFAULT_ROW_GROUP_ITEMS,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
) -> ExportResult:
    """Write ``dataset-v{n}.parquet`` (and ``manifest.json``); with ``with_bytes`` a ``bytes`` column too.

    Raises:
        InvalidInput: a row-group limit below 1.
        IntegrityError: a blob whose size differs from the manifest's.
    """
    out_dir = prepare_out_dir(out_dir)
    path = out_dir / parquet_name(manifest.version)
    blob_bytes = write_parquet(
        manifest.iter_items(),
        open_blob,
        path,
        total=manifest.item_count,
        blob=BlobColumn() if with_bytes else None,
        progress=progress,
        row_group_items=row_group_items,
        row_group_bytes=row_group_bytes,
    )
    return ExportResult("parquet", (path, write_manifest(manifest, out_dir)), manifest.item_count, blob_bytes)


def write_parquet(
    items: Iterable[ManifestItem],
    open_blob: OpenBlob,
    path: Path,
    *,
    total: int,
    blob: BlobColumn | None = None,
    schema_metadata: dict[str, str] | None = None,
    progress: Progress | None = None,
    row_group_items: int = DEFAULT_ROW_GROUP_ITEMS,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
) -> int:
    """Write one Parquet file of ``items`` in bounded row groups; returns the blob bytes written."""
    check_positive(row_group_items, "--row-group-items")
    check_positive(row_group_bytes, "--row-group-bytes")
    schema = metadata_schema(blob, schema_metadata)
    batch = _Batch(schema, blob, open_blob)
    with atomic_file(path) as partial, pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        for done, item in enumerate(items, start=1):
            batch.add(item)
            if len(batch) >= row_group_items or batch.blob_bytes >= row_group_bytes:
                writer.write_table(batch.take(), row_group_size=row_group_items)
            if progress is not None:
                progress(done, total)
        if len(batch):
            writer.write_table(batch.take(), row_group_size=row_group_items)
    return batch.total_bytes


class _Batch:
    """Rows waiting for the next row group."""

    def __init__(self, schema: pa.Schema, blob: BlobColumn | None, open_blob: OpenBlob) -> None:
        self._schema = schema
        self._blob = blob
        self._open_blob = open_blob
        self._rows: list[dict[str, Any]] = []
        self.blob_bytes = 0
        self.total_bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, item: ManifestItem) -> None:
        row = item_record(item)
        if self._blob is not None:
            data = self._read(item)
            row[self._blob.name] = self._blob.value(item, data, row["key"])
            self.blob_bytes += len(data)
            self.total_bytes += len(data)
        self._rows.append(row)

    def take(self) -> pa.Table:
        try:
            table = pa.Table.from_pylist(self._rows, schema=self._schema)
        except (pa.ArrowInvalid, OverflowError) as exc:
            raise InvalidInput(f"an item does not fit its Parquet column: {exc}", field="items") from None
        self._rows, self.blob_bytes = [], 0
        return table

    def _read(self, item: ManifestItem) -> bytes:
        with self._open_blob(item.cid) as stream:
            data = stream.read(item.size + 1)  # one byte more: a longer blob must not pass as complete
        if len(data) != item.size:
            raise IntegrityError(
                f"blob {item.cid} does not have the {item.size:,} bytes the manifest records",
                field="cid",
                limit=item.size,
            )
        return data


def _arrow_type(column: str) -> pa.DataType:
    if column in _INTEGERS:
        return pa.int64()
    return pa.string()  # dicts as JSON text, the uint256 nonce as decimal text
