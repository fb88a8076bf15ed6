"""How an item looks inside every export: its key, its file extension and its metadata record.

One definition serves all formats, so a WebDataset sample, a Parquet row and a
Croissant record of the same item carry the same names and values.
"""

from __future__ import annotations

import json
from dataclasses import fields
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from datacoop.datasets.manifest import Manifest, ManifestItem, canonical_json

__all__ = [
    "JSON_COLUMNS",
    "METADATA_COLUMNS",
    "extension",
    "item_bytes",
    "item_json",
    "item_record",
    "manifest_bytes",
    "manifest_frame",
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


# canonical_json's encoding (sorted keys, no spaces, UTF-8, no NaN) built once: json.dumps builds a
# new C encoder per call, which costs as much as encoding one item. No check for cycles (items come
# from JSON and cannot hold any).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_encode_canonical = (
    c_make_encoder(None, _CANONICAL.default, encode_basestring, None, ":", ",", True, False, False)
    if c_make_encoder is not None
    else lambda value, _level: (_CANONICAL.encode(value),)
)
_ITEMS_MARK = "\x00datacoop items\x00"  # a placeholder for the items (JSON writes each NUL as \u0000)


def item_bytes(item: ManifestItem) -> bytes:
    """The item's canonical JSON: exactly its bytes inside :func:`manifest_bytes`."""
    try:
        return "".join(_encode_canonical(item_json(item), 0)).encode("utf-8")
    except (TypeError, ValueError):
        return canonical_json(item_json(item))  # raises the manifest's own error


def manifest_frame(manifest: Manifest) -> tuple[bytes, bytes] | None:
    """The manifest's bytes around its items, so that a writer can stream them.

    ``manifest_bytes(m) == before + b",".join(item_bytes(i) for i in m.iter_items()) + after``.
    None in the (theoretical) case that a header value holds the placeholder's text.
    """
    header: dict[str, Any] = {name: getattr(manifest, name) for name in _HEADER_FIELDS}
    header["items"] = [_ITEMS_MARK]
    whole = canonical_json(header)
    parts = whole.split(b"[" + canonical_json(_ITEMS_MARK) + b"]")
    if len(parts) != 2:
        return None
    return parts[0] + b"[", b"]" + parts[1]


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
