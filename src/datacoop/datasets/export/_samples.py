"""How an item looks inside every export: its key, its file extension and its metadata record.

One definition serves all formats, so a WebDataset sample, a Parquet row and a
Croissant record of the same item carry the same names and values.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from datacoop.datasets.manifest import Manifest, ManifestItem, canonical_json

__all__ = [
    "JSON_COLUMNS",
    "METADATA_COLUMNS",
    "extension",
    "item_json",
    "item_record",
    "manifest_bytes",
    "sample_key",
]

# Extensions a loader's decoders recognise (webdataset decodes by extension); anything else is "bin".
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/json": "json.blob",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "video/mp4": "mp4",
}

# Every metadata column, in order; the dict-valued ones are written as canonical JSON text.
METADATA_COLUMNS = (
    "key",
    "index",
    "submission_id",
    "cid",
    "original_cid_hash",
    "size",
    "media_type",
    "labels",
    "quality",
    "contributor",
    "task_id",
    "nonce",
    "deadline",
    "consent_hash",
    "jurisdiction",
    "licence",
    "signature",
    "review",
)
JSON_COLUMNS = frozenset({"labels", "quality", "review"})
# uint256 in the signed message: a 64-bit column could not hold every value, so they travel as decimal text.
TEXT_INTEGERS = frozenset({"nonce"})


def sample_key(item: ManifestItem) -> str:
    """The item's key in every export: its manifest index, zero-padded (sorts in manifest order)."""
    return f"{item.index:08d}"


def extension(media_type: str) -> str:
    """The file extension for a media type; ``bin`` for types no loader would decode."""
    return _EXTENSIONS.get(media_type.split(";")[0].strip().lower(), "bin")


def _json_text(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_ITEM_FIELDS = tuple(f.name for f in fields(ManifestItem))
_HEADER_FIELDS = tuple(f.name for f in fields(Manifest) if f.name != "items")


def item_json(item: ManifestItem) -> dict[str, Any]:
    """The item's JSON object, as :meth:`ManifestItem.to_json` gives it, without its deep copy.

    ``dataclasses.asdict`` copies every nested dict, which costs more than writing a 100 KB
    blob; exports only read the values, so a shallow view serves (tests check it is equal).
    """
    return {name: getattr(item, name) for name in _ITEM_FIELDS}


def manifest_bytes(manifest: Manifest) -> bytes:
    """:meth:`Manifest.to_bytes`, built from shallow item views (the same bytes, several times faster)."""
    header: dict[str, Any] = {name: getattr(manifest, name) for name in _HEADER_FIELDS}
    header["items"] = [item_json(item) for item in manifest.iter_items()]
    return canonical_json(header)


def item_record(item: ManifestItem) -> dict[str, Any]:
    """The item as one flat row: :data:`METADATA_COLUMNS`, JSON text for dicts, text for uint256."""
    values = item_json(item)
    values["key"] = sample_key(item)
    for name in JSON_COLUMNS:
        values[name] = _json_text(values[name])
    for name in TEXT_INTEGERS:
        values[name] = str(values[name])
    return {name: values[name] for name in METADATA_COLUMNS}
