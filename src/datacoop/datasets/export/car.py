"""CAR (CARv1): every blob's IPFS blocks and the manifest's, in one file IPFS or Filecoin can take as is.

Format (https://ipld.io/specs/transport/car/carv1/)::

    varint(len(header)) header          header = DAG-CBOR {"roots": [manifest CID], "version": 1}
    varint(len(cid) + len(block)) cid block     once per block

Each blob is cut exactly as ``ipfs add --cid-version=1`` cuts it with the
blob's CID profile (:func:`datacoop.cid.iter_blocks`), so every block keeps the
CID IPFS gives it and the blob's root block is the item's CID. A blob whose
blocks do not add up to the item's CID under its profile is refused
(IntegrityError); without a ``blob_profile`` each known profile is tried first
(reading and hashing the blob once more). A blob listed twice is written once.
Exactly the manifest's ``size`` bytes of a blob are read: one byte short fails
the CID check, and bytes past the size (never read) cannot reach the file.

Every byte is hashed (sha2-256), and hashing costs more than copying. So the
calling thread lays the file out and writes it: it opens blobs, reads their
chunks into a few arenas and writes each leaf with a 32-byte hole where its
digest goes, and each dag-pb node as zeros of the node's length (a node's
length follows from its children's sizes alone). One helper thread hashes each
leaf, writes its digest into the hole (``pwrite``), builds the blob's nodes
from the real digests into their places and checks the blob's root. The two
threads meet only at the arenas: one is refilled once its bytes are written
and hashed. Memory holds those arenas and one tree of links.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import deque
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
from datacoop.datasets.export._writer import (
    Arenas,
    Buffer,
    Parts,
    WriteBehind,
    read_into,
    short_switch_interval,
    write_parts,
)
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.errors import IntegrityError

__all__ = ["car_header", "car_name", "export", "write_blocks"]

_CBOR_TAG_CID = b"\xd8\x2a"  # CBOR tag 42: a CID, as DAG-CBOR writes links
_ARENAS = 4  # one being filled, the others written and waiting for their hashes
# An arena holds at least one chunk of the largest profile (1 MiB): a chunk never straddles two.
_ARENA_BYTES = max(COPY_BUFFER, *(profile.chunk_size for profile in PROFILES.values()))
_HOLE = bytes(32)  # where a sha2-256 digest will go
_CID_BYTES = len(RAW_PREFIX) + len(_HOLE)  # every CID here: CIDv1, one codec byte, sha2-256


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
            without it each known profile is tried until the CID matches (reading the blob once more).
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
    with atomic_file(path) as partial, partial.open("wb", buffering=0) as raw, short_switch_interval():
        head: list[Buffer] = [car_header([manifest_blocks[-1].cid])]
        for block in manifest_blocks:
            head += _section(block.cid, block.data)
        hasher = _Hasher(raw.fileno())
        with WriteBehind(hasher.take, hasher.discard) as behind:
            layout = _Layout(raw.fileno(), write_parts(raw.fileno(), head), hasher.arenas, behind)
            for item, position in zip(unique, positions, strict=True):
                profile = profiles.choose(item, open_blob)
                with open_blob(item.cid) as blob:
                    layout.add_blob(item, blob, profile)
                blob_bytes += item.size
                if progress is not None and position < manifest.item_count:
                    progress(position, manifest.item_count)
            layout.close()
    if progress is not None:
        progress(manifest.item_count, manifest.item_count)  # once every block is written and checked
    return ExportResult("car", (path,), manifest.item_count, blob_bytes)


class _ProfileChoice:
    """Each blob's CID profile: the one the store recorded or, without that, the one its bytes fit."""

    def __init__(self, blob_profile: Callable[[str], str] | None) -> None:
        self._blob_profile = blob_profile

    def candidates(self, cid: str) -> list[Profile]:
        if self._blob_profile is None:
            return [DEFAULT_PROFILE, *(p for p in PROFILES.values() if p != DEFAULT_PROFILE)]
        return [get_profile(self._blob_profile(cid))]

    def choose(self, item: ManifestItem, open_blob: OpenBlob) -> Profile:
        """The profile to write the blob with; without a recorded one, the first whose root is the CID.

        Raises:
            IntegrityError: no known profile gives the blob's CID (its bytes changed).
        """
        candidates = self.candidates(item.cid)
        if self._blob_profile is not None:
            return candidates[0]  # checked as the blocks are hashed
        for profile in candidates:
            with open_blob(item.cid) as blob:
                root = ""
                for block in iter_blocks(blob, profile):
                    root = block.cid_text
            if root == item.cid:
                return profile
        raise _not_its_cid(item, candidates)


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
    profiles = _ProfileChoice(None).candidates(expected) if expected else [DEFAULT_PROFILE]
    for profile in profiles:
        blocks = list(iter_blocks(io.BytesIO(data), profile))
        if expected is None or blocks[-1].cid_text == parse_cid(expected, field="manifest_cid"):
            return blocks
    raise IntegrityError(f"the manifest's bytes do not have the CID {expected}", field="manifest_cid")


def _section(cid: bytes, data: Buffer) -> tuple[bytes, Buffer]:
    """A block's CAR section, as its two parts: the length and the CID, then the bytes."""
    return varint(len(cid) + len(data)) + cid, data


def _not_its_cid(item: ManifestItem, tried: list[Profile]) -> IntegrityError:
    names = ", ".join(profile.name for profile in tried)
    return IntegrityError(
        f"blob {item.cid} (item {item.index}) does not give its CID under the CID profile(s) {names}",
        field="cid",
    )


class _Leaf(NamedTuple):
    """A leaf written with a hole for its digest: hash ``data``, put the digest at ``digest_at``."""

    data: memoryview
    digest_at: int
    first: bool  # the blob's first leaf
    max_links: int  # the blob's profile's
    nodes: tuple[tuple[int, int], ...]  # (offset, length) of each node that closes after this leaf


class _End(NamedTuple):
    """The blob's last leaf has been sent: close its tree into the places left and check its root."""

    item: ManifestItem
    nodes: tuple[tuple[int, int], ...]
    profile: Profile


_Job = _Leaf | _End


class _Batch(NamedTuple):
    """The jobs over one arena's bytes, all written; once done the arena can be filled again."""

    jobs: list[_Job]
    arena: bytearray


class _Layout:
    """On the calling thread: read each blob into arenas and write its blocks, holes where hashes go.

    A job reaches the hasher only after the bytes it fills in are written, so a
    digest or node written into its place is never overwritten by the holes.
    """

    def __init__(self, fd: int, written: int, arenas: Arenas, behind: WriteBehind[_Batch]) -> None:
        self._fd = fd
        self._written = written  # bytes in the file
        self._arenas = arenas
        self._behind = behind
        self._parts = Parts()  # bytes laid out, not yet written
        self._jobs: list[_Job] = []  # for the hasher, once those bytes are written
        self._arena = arenas.take()
        self._view = memoryview(self._arena)
        self._filled = 0
        self._nodes: list[tuple[int, int]] = []  # node places laid out since the last leaf

    def add_blob(self, item: ManifestItem, blob: BinaryIO, profile: Profile) -> None:
        """Lay out the blob's blocks: its leaves (at least one, empty for an empty blob) and nodes."""
        chunk_size = profile.chunk_size
        if chunk_size > self._arenas.size:
            raise ValueError(f"CID profile {profile.name}: chunks of {chunk_size:,} bytes pass an arena")
        shape: BalancedTree | None = None  # the blob's tree, with holes for digests: its nodes' lengths
        first, first_size = True, 0
        remaining = item.size  # read no further: a blob of another length fails its CID check
        while first or remaining:
            want = min(chunk_size, remaining)
            if self._arenas.size - self._filled < want:
                self._hand_on()
            region = self._view[self._filled : self._filled + want]
            count = read_into(blob, region) if want else 0
            data = region[:count]
            head = varint(_CID_BYTES + count) + RAW_PREFIX
            digest_at = self._written + self._parts.size + len(head)
            self._parts.add(head + _HOLE)
            self._parts.add(data)
            self._filled += count
            if first:
                first_size = count
            else:
                if shape is None:  # a second leaf: from now on the blob is a tree
                    shape = BalancedTree(profile.max_links, on_node=self._node_place)
                    shape.add_leaf(_HOLE, first_size)
                shape.add_leaf(_HOLE, count)
            self._jobs.append(_Leaf(data, digest_at, first, profile.max_links, self._take_nodes()))
            first = False
            if count < want:  # shorter than the manifest says
                break
            remaining -= count
        if shape is not None:
            shape.root()
        self._jobs.append(_End(item, self._take_nodes(), profile))

    def close(self) -> None:
        """Write what is laid out and hand the last arena over."""
        self._hand_on(last=True)

    def _node_place(self, cid: bytes, block: bytes) -> None:
        head = varint(len(cid) + len(block))
        length = len(head) + len(cid) + len(block)
        self._nodes.append((self._written + self._parts.size, length))
        self._parts.add(bytes(length))

    def _take_nodes(self) -> tuple[tuple[int, int], ...]:
        if not self._nodes:
            return ()
        nodes, self._nodes = tuple(self._nodes), []
        return nodes

    def _hand_on(self, *, last: bool = False) -> None:
        self._written += write_parts(self._fd, self._parts.take())
        self._behind.put(_Batch(self._jobs, self._arena))  # one hand-over per arena, not per leaf
        self._jobs = []
        if not last:
            self._arena = self._arenas.take()
            self._view = memoryview(self._arena)
            self._filled = 0


class _Hasher:
    """On the helper thread: hash each leaf into its hole, build each blob's nodes, check its root."""

    def __init__(self, fd: int) -> None:
        self.arenas = Arenas(_ARENAS, _ARENA_BYTES)
        self._fd = fd
        self._places: deque[tuple[int, int]] = deque()  # where the current blob's next nodes go
        self._first = b""  # the current blob's first leaf's digest, and its size
        self._first_size = 0
        self._tree: BalancedTree | None = None

    def take(self, batch: _Batch) -> None:
        for job in batch.jobs:
            if isinstance(job, _Leaf):
                self._leaf(job)
            else:
                self._end(job)
        self.arenas.give_back(batch.arena)

    def discard(self, batch: _Batch) -> None:
        self.arenas.give_back(batch.arena)

    def _end(self, job: _End) -> None:
        self._places.extend(job.nodes)
        root = RAW_PREFIX + self._first if self._tree is None else self._tree.root()
        self._tree = None
        if cid_text(root) != job.item.cid:
            raise _not_its_cid(job.item, [job.profile])

    def _leaf(self, job: _Leaf) -> None:
        digest = hashlib.sha256(job.data).digest()
        os.pwrite(self._fd, digest, job.digest_at)
        self._places.extend(job.nodes)
        if job.first:
            self._first, self._first_size, self._tree = digest, len(job.data), None
            return
        if self._tree is None:
            self._tree = BalancedTree(job.max_links, on_node=self._node)
            self._tree.add_leaf(self._first, self._first_size)
        self._tree.add_leaf(digest, len(job.data))

    def _node(self, cid: bytes, block: bytes) -> None:
        offset, length = self._places.popleft()
        section = varint(len(cid) + len(block)) + cid + block
        if len(section) != length:  # the layout and the tree disagree: a bug, never a user's input
            raise AssertionError(f"a dag-pb node of {len(section)} bytes laid out as {length}")
        os.pwrite(self._fd, section, offset)


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
