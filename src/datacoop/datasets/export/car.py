"""CAR (CARv1): every blob's IPFS blocks and the manifest's, in one file IPFS or Filecoin can take as is.

Format (https://ipld.io/specs/transport/car/carv1/)::

    varint(len(header)) header          header = DAG-CBOR {"roots": [manifest CID], "version": 1}
    varint(len(cid) + len(block)) cid block     once per block

Each blob is cut exactly as ``ipfs add --cid-version=1`` cuts it with the
blob's CID profile (:func:`datacoop.cid.iter_blocks`), so every block keeps the
CID IPFS gives it and the blob's root block is the item's CID. A blob whose
blocks do not add up to the item's CID under its profile is refused
(IntegrityError); without a ``blob_profile`` every known profile is tried. A
blob listed twice is written once. A reader thread reads and hashes the next
blobs while this one writes; memory holds a few chunks and one tree of links.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

from datacoop.cid import DEFAULT_PROFILE, PROFILES, Block, Profile, get_profile, iter_blocks, parse_cid
from datacoop.cid._dagpb import varint
from datacoop.datasets.export._base import (
    COPY_BUFFER,
    ExportResult,
    OpenBlob,
    Progress,
    atomic_file,
    prepare_out_dir,
)
from datacoop.datasets.export._readahead import read_ahead
from datacoop.datasets.export._samples import manifest_bytes
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.errors import IntegrityError

__all__ = ["car_header", "car_name", "export", "write_blocks"]

_CBOR_TAG_CID = b"\xd8\x2a"  # CBOR tag 42: a CID, as DAG-CBOR writes links


def car_name(version: int) -> str:
    """``dataset-v{version}.car``."""
    return f"dataset-v{version}.car"


def car_header(roots: Iterable[bytes]) -> bytes:
    """The length-prefixed CARv1 header: DAG-CBOR ``{"roots": [...], "version": 1}``.

    DAG-CBOR sorts map keys by length, so ``roots`` comes before ``version``.
    """
    # A link is tag 42 over a byte string holding 0x00 (the identity multibase) and the binary CID.
    cids = [_CBOR_TAG_CID + _cbor_head(2, 1 + len(cid)) + b"\x00" + cid for cid in roots]
    body = b"\xa2" + _cbor_text("roots") + _cbor_head(4, len(cids)) + b"".join(cids)
    body += _cbor_text("version") + b"\x01"
    return varint(len(body)) + body


def write_blocks(target: BinaryIO, blocks: Iterable[Block]) -> int:
    """Write each block as a CAR section; returns the bytes written."""
    written = 0
    for block in blocks:
        head = varint(len(block.cid) + len(block.data)) + block.cid
        target.write(head)
        target.write(block.data)
        written += len(head) + len(block.data)
    return written


def export(
    manifest: Manifest,
    open_blob: OpenBlob,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    blob_profile: Callable[[str], str] | None = None,
    manifest_cid: str | None = None,
) -> ExportResult:
    """Write ``dataset-v{n}.car``: the manifest's blocks (the root) and every item's blocks.

    Args:
        blob_profile: the CID profile a blob was stored with (a node passes ``store.stat(cid).profile``);
            without it each known profile is tried until the CID matches.
        manifest_cid: the manifest's CID as the node stored it, checked against the bytes.

    Raises:
        IntegrityError: a blob (or the manifest) whose blocks do not give its recorded CID.
    """
    out_dir = prepare_out_dir(out_dir)
    manifest_blocks = _manifest_blocks(manifest_bytes(manifest), manifest_cid)
    path = out_dir / car_name(manifest.version)
    profiles = _ProfileChoice(blob_profile)
    unique, positions = _first_of_each_cid(manifest.iter_items())
    produce = functools.partial(_first_try, open_blob, profiles)
    blob_bytes = 0
    with (
        atomic_file(path) as partial,
        partial.open("wb+", buffering=COPY_BUFFER) as target,
        closing(read_ahead(unique, produce)) as pending,
    ):
        target.write(car_header([manifest_blocks[-1].cid]))
        write_blocks(target, manifest_blocks)
        for (item, blocks), position in zip(pending, positions, strict=True):
            _write_item(target, item, blocks, open_blob, profiles(item.cid))
            blob_bytes += item.size
            if progress is not None:
                progress(position, manifest.item_count)
    if progress is not None and positions[-1:] != [manifest.item_count]:
        progress(manifest.item_count, manifest.item_count)
    return ExportResult("car", (path,), manifest.item_count, blob_bytes)


class _ProfileChoice:
    """The CID profiles to try for a blob: the one the store recorded, or every known one."""

    def __init__(self, blob_profile: Callable[[str], str] | None) -> None:
        self._blob_profile = blob_profile

    def __call__(self, cid: str) -> list[Profile]:
        if self._blob_profile is None:
            return [DEFAULT_PROFILE, *(p for p in PROFILES.values() if p != DEFAULT_PROFILE)]
        return [get_profile(self._blob_profile(cid))]


def _first_of_each_cid(items: Iterable[ManifestItem]) -> tuple[list[ManifestItem], list[int]]:
    """Items whose CID appears for the first time, and their 1-based positions in the manifest."""
    seen: set[str] = set()
    unique, positions = [], []
    for position, item in enumerate(items, start=1):
        if item.cid not in seen:
            seen.add(item.cid)
            unique.append(item)
            positions.append(position)
    return unique, positions


def _first_try(open_blob: OpenBlob, profiles: _ProfileChoice, item: ManifestItem) -> Iterator[Block]:
    """The item's blocks under its first candidate profile (run ahead, on the reader thread)."""
    with open_blob(item.cid) as blob:
        yield from iter_blocks(blob, profiles(item.cid)[0])


def _manifest_blocks(data: bytes, expected: str | None) -> list[Block]:
    profiles = _ProfileChoice(None)(expected) if expected else [DEFAULT_PROFILE]
    for profile in profiles:
        blocks = list(iter_blocks(io.BytesIO(data), profile))
        if expected is None or blocks[-1].cid_text == parse_cid(expected, field="manifest_cid"):
            return blocks
    raise IntegrityError(f"the manifest's bytes do not have the CID {expected}", field="manifest_cid")


def _write_item(
    target: BinaryIO,
    item: ManifestItem,
    blocks: Iterator[Block],
    open_blob: OpenBlob,
    profiles: list[Profile],
) -> None:
    """Write the item's blocks (``blocks``: under the first profile); undo them if the CID differs.

    The other profiles are then tried in turn, reading the blob again.
    """
    start = target.tell()
    if _write_blob(target, blocks) == item.cid:
        return
    for profile in profiles[1:]:
        target.seek(start)
        target.truncate()
        with open_blob(item.cid) as blob:
            if _write_blob(target, iter_blocks(blob, profile)) == item.cid:
                return
    target.seek(start)
    target.truncate()
    tried = ", ".join(profile.name for profile in profiles)
    raise IntegrityError(
        f"blob {item.cid} (item {item.index}) does not give its CID under the CID profile(s) {tried}",
        field="cid",
    )


def _write_blob(target: BinaryIO, blocks: Iterable[Block]) -> str:
    """Write the blob's blocks; returns the root's CID (the last block's)."""
    last: Block | None = None

    def remember(blocks: Iterable[Block]) -> Iterable[Block]:
        nonlocal last
        for block in blocks:
            last = block
            yield block

    write_blocks(target, remember(blocks))
    assert last is not None  # iter_blocks yields at least the root
    return last.cid_text


def _cbor_head(major: int, value: int) -> bytes:
    """A CBOR item head (major type, argument) in its shortest form, as DAG-CBOR requires."""
    if value < 24:
        return bytes((major << 5 | value,))
    for extra, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes((major << 5 | extra,)) + value.to_bytes(width, "big")
    raise ValueError("CBOR argument too large")


def _cbor_text(text: str) -> bytes:
    data = text.encode("utf-8")
    return _cbor_head(3, len(data)) + data
