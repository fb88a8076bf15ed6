"""Hugging Face: a folder ``datasets.load_dataset(folder)`` loads in one call, offline.

Layout::

    README.md                              dataset card: YAML header (configs, features, licence) + datasheet
    data/train-00000-of-00001.parquet      one row per item, the blob in an ``image``/``text``/``data`` column
    manifest.json                          the version's manifest (its CID names the version)

The blob column is an ``Image`` feature when every item is an image, a string
when every item is plain text, raw bytes otherwise. The features are written
both in the card and in the Parquet schema's ``huggingface`` metadata, the two
places ``datasets`` reads them from, so no type is guessed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from datacoop.datasets.export import datasheet
from datacoop.datasets.export._base import (
    ExportResult,
    OpenBlob,
    OptionName,
    Progress,
    atomic_file,
    prepare_out_dir,
    write_manifest,
)
from datacoop.datasets.export.parquet import (
    DEFAULT_ROW_GROUP_BYTES,
    BlobColumn,
    metadata_schema,
    write_parquet,
)
from datacoop.datasets.manifest import Manifest

__all__ = ["DATA_FILE", "OPTIONS", "blob_column", "export"]

OPTIONS: frozenset[OptionName] = frozenset()
"""The options :mod:`datacoop.datasets.exporting` passes this exporter (see :data:`._base.OptionName`)."""

DATA_FILE = "data/train-00000-of-00001.parquet"
_SPDX_LIKE = re.compile(r"[a-z0-9][a-z0-9.+-]*")


def blob_column(manifest: Manifest) -> BlobColumn:
    """``image`` (HF Image) if every item is an image, ``text`` if every one is plain text, else ``data``."""
    types = {item.media_type.split(";")[0].strip().lower() for item in manifest.iter_items()}
    if types and all(media.startswith("image/") for media in types):
        return BlobColumn("image", "image")
    if types == {"text/plain"}:
        return BlobColumn("text", "text")
    return BlobColumn("data", "binary")


def export(
    manifest: Manifest,
    open_blob: OpenBlob,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
) -> ExportResult:
    """Write the dataset card, the Parquet data file and ``manifest.json`` under ``out_dir``."""
    out_dir = prepare_out_dir(out_dir)
    blob = blob_column(manifest)
    features = _features(blob)
    data = out_dir / DATA_FILE
    data.parent.mkdir(exist_ok=True)
    # Row groups of ~100 rows: the datasets library reads a group at a time when it streams.
    blob_bytes = write_parquet(
        manifest.iter_items(),
        open_blob,
        data,
        total=manifest.item_count,
        blob=blob,
        schema_metadata={"huggingface": json.dumps({"info": {"features": features}})},
        progress=progress,
        row_group_items=100,
        row_group_bytes=row_group_bytes,
    )
    card = out_dir / "README.md"
    with atomic_file(card) as partial:
        partial.write_text(_card(manifest, features), encoding="utf-8")
    files = (card, data, write_manifest(manifest, out_dir))
    return ExportResult("hf", files, manifest.item_count, blob_bytes)


def _features(blob: BlobColumn) -> dict[str, Any]:
    """The ``datasets.Features`` of the data file, serialised as the library does."""
    features: dict[str, Any] = {}
    for field in metadata_schema(blob):
        if field.name == blob.name and blob.kind == "image":
            features[field.name] = {"_type": "Image"}
        else:  # Arrow's names for int64, string and binary are the datasets library's dtypes too
            features[field.name] = {"dtype": str(field.type), "_type": "Value"}
    return features


def _card(manifest: Manifest, features: dict[str, Any]) -> str:
    licence = manifest.licence.lower()
    lines = [
        "---",
        f"license: {json.dumps(licence if _SPDX_LIKE.fullmatch(licence) else 'other')}",
        f"pretty_name: {json.dumps(f'{manifest.name} v{manifest.version}')}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {json.dumps(DATA_FILE)}",
        "dataset_info:",
        "  features:",
    ]
    for name, feature in features.items():
        dtype = "image" if feature["_type"] == "Image" else feature["dtype"]
        lines += [f"  - name: {json.dumps(name)}", f"    dtype: {json.dumps(dtype)}"]
    lines += ["---", ""]
    return "\n".join(lines) + datasheet.render(manifest)
