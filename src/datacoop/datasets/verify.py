"""Checking a dataset version from its manifest alone: signatures, blobs, Merkle root, chain record.

Every check runs and is reported, so one run tells everything that is wrong; the report is
``ok`` only when nothing failed. Nothing here trusts the node that produced the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from datacoop.cid import cid_of_bytes, cid_of_stream
from datacoop.datasets.manifest import ITEM_LEAF_ENCODING, Manifest, ManifestItem, items_root
from datacoop.datasets.signatures import domain_from_manifest, item_signer
from datacoop.errors import DataCoopError, InvalidInput, NotFound
from datacoop.identity.addresses import parse_did_pkh
from datacoop.merkle import verify_typed

__all__ = [
    "PROOF_SCHEMA",
    "BlobSource",
    "ChainRecord",
    "Check",
    "VerifyReport",
    "check_proof",
    "directory_blobs",
    "make_proof",
    "verify_manifest",
]

PROOF_SCHEMA = "datacoop.proof/1"

BlobSource = Callable[[str], BinaryIO | None]
"""Opens a blob by CID for reading, or gives None where it is missing."""


@dataclass(frozen=True)
class ChainRecord:
    """A version as DatasetRegistry holds it."""

    manifest_cid: str
    items_root: str
    item_count: int


@dataclass(frozen=True)
class Check:
    """One check: its name (``signature``, ``blob``, ``root``, ``chain``, ``manifest``), result and detail."""

    name: str
    ok: bool
    detail: str
    index: int | None = None


@dataclass
class VerifyReport:
    manifest_cid: str
    item_count: int
    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, name: str, ok: bool, detail: str, index: int | None = None) -> None:
        self.checks.append(Check(name, ok, detail, index))

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_cid": self.manifest_cid,
            "item_count": self.item_count,
            "ok": self.ok,
            "failures": [c.__dict__ for c in self.failures],
            "checked": {name: sum(1 for c in self.checks if c.name == name) for name in _NAMES},
        }


_NAMES = ("manifest", "signature", "blob", "root", "chain")


def directory_blobs(path: Path) -> BlobSource:
    """Blobs in a folder: files named by CID, a node's blob store, or a node's data directory."""
    from datacoop.storage.local import LocalBlobStore

    root = path / "blobs" if (path / "blobs").is_dir() else path
    store = LocalBlobStore(root)

    def open_blob(cid: str) -> BinaryIO | None:
        flat = path / cid
        if flat.is_file():
            return flat.open("rb")
        try:
            return store.open(cid)
        except NotFound:
            return None

    return open_blob


def verify_manifest(
    data: bytes, *, blobs: BlobSource | None = None, chain: ChainRecord | None = None
) -> VerifyReport:
    """Check a manifest's bytes; raises InvalidInput only where they are not a manifest at all."""
    manifest = Manifest.from_bytes(data)
    report = VerifyReport(cid_of_bytes(data), manifest.item_count)
    _check_shape(manifest, data, report)
    _check_signatures(manifest, report)
    if blobs is not None:
        for item in manifest.iter_items():
            _check_blob(item, blobs, report)
    _check_root(manifest, report)
    if chain is not None:
        _check_chain(manifest, report, chain)
    return report


def _check_shape(manifest: Manifest, data: bytes, report: VerifyReport) -> None:
    canonical = manifest.to_bytes() == data
    report.add("manifest", canonical, "canonical JSON" if canonical else "the bytes are not canonical JSON")
    indexes = [item.index for item in manifest.items]
    in_order = indexes == list(range(len(indexes))) and manifest.item_count == len(indexes)
    detail = (
        f"{len(indexes)} items indexed 0..n-1" if in_order else "items are not indexed 0..n-1 or miscounted"
    )
    report.add("manifest", in_order, detail)


def _check_signatures(manifest: Manifest, report: VerifyReport) -> None:
    try:
        domain = domain_from_manifest(manifest.eip712_domain)
    except DataCoopError as exc:
        report.add("signature", False, f"eip712_domain: {exc.message}")
        return
    for item in manifest.iter_items():
        chain_id, address = parse_did_pkh(item.contributor)
        signer = item_signer(domain, item)
        if signer is None:
            report.add("signature", False, "the signature is malformed or recovers to no account", item.index)
        elif signer != address or chain_id != domain.chain_id:
            report.add("signature", False, f"signed by {signer}, not by {item.contributor}", item.index)
        else:
            report.add("signature", True, f"signed by {signer}", item.index)


def _check_blob(item: ManifestItem, blobs: BlobSource, report: VerifyReport) -> None:
    stream = blobs(item.cid)
    if stream is None:
        report.add("blob", False, f"blob {item.cid} is missing", item.index)
        return
    with stream:
        actual = cid_of_stream(stream)
        size = stream.tell()
    if actual != item.cid:
        report.add("blob", False, f"the bytes of {item.cid} hash to {actual}", item.index)
    elif size != item.size:
        report.add("blob", False, f"{item.cid} is {size} bytes, the manifest says {item.size}", item.index)
    else:
        report.add("blob", True, f"{item.cid} ({size} bytes)", item.index)


def _check_root(manifest: Manifest, report: VerifyReport) -> None:
    try:
        root = items_root(manifest.items)
    except InvalidInput as exc:
        report.add("root", False, exc.message)
        return
    ok = root == manifest.items_root
    report.add(
        "root",
        ok,
        f"items root {root}" + ("" if ok else f" differs from the manifest's {manifest.items_root}"),
    )


def _check_chain(manifest: Manifest, report: VerifyReport, chain: ChainRecord) -> None:
    expected = (report.manifest_cid, manifest.items_root, manifest.item_count)
    actual = (chain.manifest_cid, chain.items_root, chain.item_count)
    for label, mine, theirs in zip(
        ("manifest CID", "items root", "item count"), expected, actual, strict=True
    ):
        ok = mine == theirs
        report.add("chain", ok, f"{label} on chain {theirs}" + ("" if ok else f" differs from {mine}"))


def make_proof(manifest: Manifest, manifest_cid: str, index: int) -> dict[str, Any]:
    """An inclusion proof of item ``index`` that :func:`check_proof` checks on its own.

    Raises:
        NotFound: (``index``) the manifest has no such item.
    """
    from datacoop.merkle import build_from_leaves

    if isinstance(index, bool) or not 0 <= index < len(manifest.items):
        raise NotFound(f"no item at index {index}: the version has {len(manifest.items)}", field="index")
    tree = build_from_leaves([item.leaf() for item in manifest.items])
    item = manifest.items[index]
    return {
        "schema": PROOF_SCHEMA,
        "manifest_cid": manifest_cid,
        "items_root": manifest.items_root,
        "leaf_encoding": list(ITEM_LEAF_ENCODING),
        "index": index,
        "item_hash": "0x" + item.item_hash().hex(),
        "item": item.to_json(),
        "proof": tree.proof(index),
    }


def check_proof(proof: dict[str, Any]) -> bool:
    """Whether an inclusion proof shows its item under its root (the item's hash is recomputed).

    Raises:
        InvalidInput: not a proof of this schema, or a malformed member (named).
    """
    if not isinstance(proof, dict) or proof.get("schema") != PROOF_SCHEMA:
        raise InvalidInput(f"not a {PROOF_SCHEMA} proof", field="schema", limit=PROOF_SCHEMA)
    for key in ("items_root", "index", "item", "proof"):
        if key not in proof:
            raise InvalidInput(f"the proof lacks {key}", field=key)
    item = ManifestItem.from_json(proof["item"], "item")
    if item.index != proof["index"]:
        return False
    if not isinstance(proof["proof"], list):
        raise InvalidInput("proof must be a list of 0x hashes", field="proof")
    return verify_typed(
        proof["items_root"], ITEM_LEAF_ENCODING, (item.index, item.item_hash()), proof["proof"]
    )
