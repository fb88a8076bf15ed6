"""The manifest of one dataset version: every item, how it was signed and reviewed, and a Merkle root.

A manifest is canonical JSON (keys sorted, no insignificant whitespace, UTF-8, no NaN), so the
same version always gives the same bytes and the same CID: that CID *is* the version's name.

Items root: an OpenZeppelin ``StandardMerkleTree`` with leaf encoding ``["uint256", "bytes32"]``
over ``(index, keccak256(item JSON))`` for every item, where the item JSON is the item's own
canonical JSON (the object found in ``items[index]``). So the leaf of an item is::

    keccak256(keccak256(abi.encode(uint256 index, bytes32 keccak256(canonical_json(item)))))

and ``StandardMerkleTree.verify(root, ["uint256", "bytes32"], [index, itemHash], proof)`` checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from datacoop import merkle
from datacoop.errors import InvalidInput
from datacoop.merkle._keccak import new_hasher

__all__ = [
    "ITEM_LEAF_ENCODING",
    "MANIFEST_SCHEMA",
    "Manifest",
    "ManifestItem",
    "canonical_json",
    "items_root",
]

MANIFEST_SCHEMA = "datacoop.manifest/1"
ITEM_LEAF_ENCODING = ("uint256", "bytes32")

_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_DID = re.compile(r"did:pkh:eip155:[1-9][0-9]*:0x[0-9a-fA-F]{40}")
_ALPHA2 = re.compile(r"[A-Z]{2}")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8, NaN and infinities refused."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"manifest value is not plain JSON: {exc}", field="manifest") from None


@dataclass(frozen=True)
class ManifestItem:
    """One item of a version; see the module docstring for its leaf."""

    index: int
    submission_id: int
    cid: str
    original_cid_hash: str
    size: int
    media_type: str
    labels: dict[str, Any]
    quality: dict[str, Any]
    contributor: str
    task_id: int
    nonce: int
    deadline: int
    consent_hash: str
    jurisdiction: str
    licence: str
    signature: str
    review: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The item as the JSON object in the manifest's ``items`` (shallow: nested values are shared)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def item_hash(self) -> bytes:
        """``keccak256`` of the item's canonical JSON (the ``bytes32`` half of its leaf)."""
        return new_hasher().keccak(canonical_json(self.to_json()))

    def leaf(self) -> bytes:
        """The Merkle leaf: ``keccak256(keccak256(abi.encode(uint256 index, bytes32 item_hash)))``."""
        return merkle.typed_leaf_hash(ITEM_LEAF_ENCODING, (self.index, self.item_hash()))

    @classmethod
    def from_json(cls, data: object, where: str = "item") -> ManifestItem:
        """Read one item strictly; ``where`` (e.g. ``items[3]``) prefixes the field in errors.

        Raises:
            InvalidInput: a missing, unknown or malformed field, named as ``items[i].field``.
        """
        values = _exact_keys(data, {f.name for f in fields(cls)}, where)
        for name, check in _ITEM_CHECKS.items():
            check(values[name], f"{where}.{name}")
        return cls(**values)


def _exact_keys(data: object, expected: set[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where} must be a JSON object", field=where)
    missing, unknown = expected - data.keys(), data.keys() - expected
    if missing:
        raise InvalidInput(f"{where} lacks {', '.join(sorted(missing))}", field=f"{where}.{min(missing)}")
    if unknown:
        raise InvalidInput(
            f"{where} has unknown field(s) {', '.join(sorted(unknown))}", field=f"{where}.{min(unknown)}"
        )
    return dict(data)


def _integer(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidInput(f"{field} must be an integer in [0, 2**256), got {value!r}", field=field)


def _text(value: object, field: str) -> None:
    if not isinstance(value, str) or value == "":
        raise InvalidInput(f"{field} must be a non-empty string, got {value!r}", field=field)


def _pattern(regex: re.Pattern[str], shape: str) -> Callable[[object, str], None]:
    def check(value: object, field: str) -> None:
        if not isinstance(value, str) or not regex.fullmatch(value):
            raise InvalidInput(f"{field} must be {shape}, got {value!r}", field=field)

    return check


def _object(value: object, field: str) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object, got {type(value).__name__}", field=field)


def _cid(value: object, field: str) -> None:
    from datacoop.cid import parse_cid

    if parse_cid(value, field=field) != value:  # type: ignore[arg-type]  # parse_cid checks the type
        raise InvalidInput(f"{field} must be written in lower-case base32", field=field)


_ITEM_CHECKS: dict[str, Callable[[object, str], None]] = {
    "index": _integer,
    "submission_id": _integer,
    "cid": _cid,
    "original_cid_hash": _pattern(_HEX32, "0x followed by 64 lower-case hex digits"),
    "size": _integer,
    "media_type": _text,
    "labels": _object,
    "quality": _object,
    "contributor": _pattern(_DID, "did:pkh:eip155:<chainId>:0x<40 hex digits>"),
    "task_id": _integer,
    "nonce": _integer,
    "deadline": _integer,
    "consent_hash": _pattern(_HEX32, "0x followed by 64 lower-case hex digits"),
    "jurisdiction": _pattern(_ALPHA2, "an ISO 3166-1 alpha-2 code"),
    "licence": _text,
    "signature": _pattern(_SIGNATURE, "0x followed by 130 hex digits"),
    "review": _object,
}


def items_root(items: Iterable[ManifestItem]) -> str:
    """The Merkle root over the items' leaves (0x-hex); raises InvalidInput (``items``) for none."""
    leaves = [item.leaf() for item in items]
    if not leaves:
        raise InvalidInput("items is empty: a dataset version needs at least one item", field="items")
    return merkle.build_from_leaves(leaves).root


@dataclass(frozen=True)
class Manifest:
    """One frozen dataset version; its canonical bytes are stored as a blob, whose CID names it."""

    schema: str
    dataset_id: int
    name: str
    version: int
    created_at: str
    query: dict[str, Any]
    licence: str
    eip712_domain: dict[str, Any]
    previous: str | None
    changes: dict[str, Any]
    items: tuple[ManifestItem, ...]
    items_root: str
    item_count: int

    @classmethod
    def create(cls, *, items: Iterable[ManifestItem], **header: Any) -> Manifest:
        """A manifest with ``schema``, ``items_root`` and ``item_count`` computed from the items."""
        frozen = tuple(items)
        return cls(
            schema=MANIFEST_SCHEMA,
            items=frozen,
            items_root=items_root(frozen),
            item_count=len(frozen),
            **header,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest as plain JSON values."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "items"}
        data["items"] = [item.to_json() for item in self.items]
        return data

    def to_bytes(self) -> bytes:
        """Canonical JSON: its CID is the manifest CID."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Read a manifest strictly (shape and types; :mod:`datacoop.datasets.verify` checks content).

        Raises:
            InvalidInput: not UTF-8 JSON, an unknown schema, or a missing, unknown or malformed field.
        """
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(f"manifest is not UTF-8 JSON: {exc}", field="manifest") from None
        if isinstance(parsed, dict) and parsed.get("schema") != MANIFEST_SCHEMA:
            raise InvalidInput(
                f"schema {parsed.get('schema')!r} is not {MANIFEST_SCHEMA!r}",
                field="schema",
                limit=MANIFEST_SCHEMA,
            )
        values = _exact_keys(parsed, {f.name for f in fields(cls)}, "manifest")
        for name, check in _HEADER_CHECKS.items():
            check(values[name], name)
        if not isinstance(values["items"], list):
            raise InvalidInput("items must be a JSON array", field="items")
        values["items"] = tuple(
            ManifestItem.from_json(item, f"items[{i}]") for i, item in enumerate(values["items"])
        )
        return cls(**values)

    def iter_items(self) -> Iterator[ManifestItem]:
        """The items in manifest order."""
        return iter(self.items)


def _optional_cid(value: object, field: str) -> None:
    if value is not None:
        _cid(value, field)


def _changes(value: object, field: str) -> None:
    _object(value, field)
    assert isinstance(value, Mapping)
    added, removed = value.get("added"), value.get("removed")
    if set(value) != {"added", "removed"} or not isinstance(added, list) or not isinstance(removed, list):
        raise InvalidInput(f"{field} must be {{'added': [...], 'removed': [...]}}", field=field)


_HEADER_CHECKS: dict[str, Callable[[object, str], None]] = {
    "dataset_id": _integer,
    "name": _text,
    "version": _integer,
    "created_at": _text,
    "query": _object,
    "licence": _text,
    "eip712_domain": _object,
    "previous": _optional_cid,
    "changes": _changes,
    "items_root": _pattern(_HEX32, "0x followed by 64 lower-case hex digits"),
    "item_count": _integer,
}
