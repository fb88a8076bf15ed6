"""CAR (CARv1): every blob's IPFS blocks and the manifest's, in one file IPFS or Filecoin can take as is.

Format (https://ipld.io/specs/transport/car/carv1/)::

    varint(len(header)) header          header = DAG-CBOR {"roots": [manifest CID], "version": 1}
    varint(len(cid) + len(block)) cid block     once per block

Each blob is cut exactly as ``ipfs add --cid-version=1`` cuts it with the
blob's CID profile (:func:`datacoop.cid.iter_blocks`), so every block keeps the
CID IPFS gives it and the blob's root block is the item's CID. A blob whose
blocks do not add up to the item's CID under its profile is refused
(IntegrityError); without a ``blob_profile`` every known profile is tried. A
blob listed twice is written once.

The calling thread opens blobs and reads their chunks straight into a few
arenas; one helper thread hashes each chunk, writes it with its CID and checks
each blob's root (:mod:`._writer`). Memory holds those arenas and one tree of links.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, NamedTuple

from datacoop.cid import DEFAULT_PROFILE, PROFILES, Block, Profile, get_profile, iter_blocks, parse_cid
from datacoop.cid._cidv1 import RAW_PREFIX, cid_text
from datacoop.cid._dagpb import varint
from datacoop.cid._tree import BalancedTree
from datacoop.datasets.export._base import (
    COPY_BUFFER,
    ExportResult,
    OpenBlob,
    Progress,
    atomic_file,
    prepare_out_dir,
)
from datacoop.datasets.export._samples import manifest_bytes
from datacoop.datasets.export._writer import Arenas, Buffer, Parts, WriteBehind, read_into, write_parts
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.errors import IntegrityError

__all__ = ["car_header", "car_name", "export", "write_blocks"]

_CBOR_TAG_CID = b"\xd8\x2a"  # CBOR tag 42: a CID, as DAG-CBOR writes links
_ARENAS = 3  # one being filled, one being hashed and written, one spare
# An arena holds at least one chunk of the largest profile (1 MiB): a chunk never straddles two.
_ARENA_BYTES = max(COPY_BUFFER, *(profile.chunk_size for profile in PROFILES.values()))


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
        for part in _section(block.cid, block.data):
            target.write(part)
            written += len(part)
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
    blob_bytes = 0
    with atomic_file(path) as partial, partial.open("wb", buffering=0) as raw:
        head: list[Buffer] = [car_header([manifest_blocks[-1].cid])]
        for block in manifest_blocks:
            head += _section(block.cid, block.data)
        writer = _BlockWriter(raw.fileno(), write_parts(raw.fileno(), head), open_blob, profiles)
        with WriteBehind(writer.take, writer.discard) as behind:
            reader = _ChunkReader(writer.arenas, behind)
            for item, position in zip(unique, positions, strict=True):
                profile = profiles(item.cid)[0]
                with open_blob(item.cid) as blob:
                    reader.read_blob(item, blob, profile)
                blob_bytes += item.size
                if progress is not None and position < manifest.item_count:
                    progress(position, manifest.item_count)
            reader.close()
    if progress is not None:
        progress(manifest.item_count, manifest.item_count)  # once every block is written
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


def _manifest_blocks(data: bytes, expected: str | None) -> list[Block]:
    profiles = _ProfileChoice(None)(expected) if expected else [DEFAULT_PROFILE]
    for profile in profiles:
        blocks = list(iter_blocks(io.BytesIO(data), profile))
        if expected is None or blocks[-1].cid_text == parse_cid(expected, field="manifest_cid"):
            return blocks
    raise IntegrityError(f"the manifest's bytes do not have the CID {expected}", field="manifest_cid")


def _section(cid: bytes, data: Buffer) -> tuple[bytes, Buffer]:
    """A block's CAR section, as its two parts: the length and the CID, then the bytes."""
    return varint(len(cid) + len(data)) + cid, data


class _Chunk(NamedTuple):
    """A leaf's bytes, read into an arena: the first of its blob or one after."""

    item: ManifestItem
    data: memoryview
    first: bool
    profile: Profile


class _End(NamedTuple):
    """The blob's last chunk has been sent: its root can be checked."""

    item: ManifestItem


class _Release(NamedTuple):
    """No chunk to come reads from this arena: once its bytes are written it can be filled again."""

    arena: bytearray


_Job = _Chunk | _End | _Release


class _ChunkReader:
    """On the calling thread: cut each blob into its profile's chunks, read straight into arenas."""

    def __init__(self, arenas: Arenas, behind: WriteBehind[_Job]) -> None:
        self._arenas = arenas
        self._behind = behind
        self._arena = arenas.take()
        self._view = memoryview(self._arena)
        self._filled = 0

    def read_blob(self, item: ManifestItem, blob: BinaryIO, profile: Profile) -> None:
        """Queue the blob's chunks (at least one, empty for an empty blob) and then its end."""
        chunk_size = profile.chunk_size
        if chunk_size > self._arenas.size:
            raise ValueError(f"CID profile {profile.name}: chunks of {chunk_size:,} bytes pass an arena")
        first = True
        while True:
            if self._arenas.size - self._filled < chunk_size:
                self._hand_on()
            region = self._view[self._filled : self._filled + chunk_size]
            count = read_into(blob, region)
            if count or first:
                self._behind.put(_Chunk(item, region[:count], first, profile))
                self._filled += count
                first = False
            if count < chunk_size:
                break
        self._behind.put(_End(item))

    def close(self) -> None:
        self._behind.put(_Release(self._arena))

    def _hand_on(self) -> None:
        self._behind.put(_Release(self._arena))
        self._arena = self._arenas.take()
        self._view = memoryview(self._arena)
        self._filled = 0


class _BlockWriter:
    """On the helper thread: hash each chunk, write it as a block with its CID, check each blob's root.

    Blocks come out exactly as :func:`~datacoop.cid.iter_blocks` yields them (the blob's
    leaves in order, each dag-pb node after its children); a blob of one chunk needs no tree.
    """

    def __init__(self, fd: int, offset: int, open_blob: OpenBlob, profiles: _ProfileChoice) -> None:
        self.arenas = Arenas(_ARENAS, _ARENA_BYTES)
        self._fd = fd
        self._written = offset  # bytes already in the file
        self._open_blob = open_blob
        self._profiles = profiles
        self._parts = Parts()
        self._start = offset  # where the current blob's blocks begin
        self._first: bytes | None = None  # the current blob's first leaf's digest and size, until a second
        self._first_size = 0
        self._tree: BalancedTree | None = None
        self._root = b""

    def take(self, job: _Job) -> None:
        if isinstance(job, _Chunk):
            self._chunk(job)
        elif isinstance(job, _End):
            self._end(job.item)
        else:
            self._flush()
            self.arenas.give_back(job.arena)

    def discard(self, job: _Job) -> None:
        if isinstance(job, _Release):
            self.arenas.give_back(job.arena)

    def _chunk(self, job: _Chunk) -> None:
        digest = hashlib.sha256(job.data).digest()
        cid = RAW_PREFIX + digest
        if job.first:
            self._start = self._written + self._parts.size
            self._first, self._first_size, self._tree = digest, len(job.data), None
        elif self._tree is None:  # a second leaf: from now on the blob is a tree
            self._tree = BalancedTree(job.profile.max_links, on_node=self._node)
            assert self._first is not None
            self._tree.add_leaf(self._first, self._first_size)
        self._root = cid
        self._parts.add(varint(len(cid) + len(job.data)) + cid)
        self._parts.add(job.data)
        if self._tree is not None:
            self._tree.add_leaf(digest, len(job.data))

    def _node(self, cid: bytes, data: bytes) -> None:
        self._parts.add(varint(len(cid) + len(data)) + cid)
        self._parts.add(data)

    def _end(self, item: ManifestItem) -> None:
        root = self._root if self._tree is None else self._tree.root()
        self._tree = None
        if cid_text(root) == item.cid:
            return
        profiles = self._profiles(item.cid)
        for profile in profiles[1:]:  # read the blob again under each other profile
            self._truncate(self._start)
            if self._rewrite(item, profile) == item.cid:
                return
        self._truncate(self._start)
        tried = ", ".join(profile.name for profile in profiles)
        raise IntegrityError(
            f"blob {item.cid} (item {item.index}) does not give its CID under the CID profile(s) {tried}",
            field="cid",
        )

    def _rewrite(self, item: ManifestItem, profile: Profile) -> str:
        """Write the blob's blocks under ``profile``, read again from the store; returns the root's CID."""
        root = ""
        with self._open_blob(item.cid) as blob:
            for block in iter_blocks(blob, profile):
                for part in _section(block.cid, block.data):
                    self._parts.add(part)
                if self._parts.size >= COPY_BUFFER:
                    self._flush()
                root = block.cid_text
        return root

    def _flush(self) -> None:
        self._written += write_parts(self._fd, self._parts.take())

    def _truncate(self, offset: int) -> None:
        """Drop every byte from ``offset`` on (written or still gathered)."""
        self._flush()
        os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self._written = offset


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
