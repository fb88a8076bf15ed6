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
calling thread reads each blob's chunks into one of a few arenas and, once an
arena is full, hands it to a helper process (:mod:`._hashing`) and fills the
next; when an arena's digests come back it writes that arena's blocks in order,
each leaf with its CID, each dag-pb node after its children, and checks each
blob's root. Memory holds those arenas and one tree of links.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, NamedTuple

from datacoop.cid import DEFAULT_PROFILE, PROFILES, Block, Profile, get_profile, iter_blocks, parse_cid
from datacoop.cid._cidv1 import RAW_PREFIX, cid_binary
from datacoop.cid._dagpb import varint
from datacoop.cid._tree import BalancedTree
from datacoop.datasets.export._base import (
    COPY_BUFFER,
    ExportResult,
    OpenBlob,
    OptionName,
    Progress,
    atomic_file,
    prepare_out_dir,
)
from datacoop.datasets.export._hashing import MAX_SPANS, InlineHasher, ProcessHasher, open_hasher
from datacoop.datasets.export._samples import manifest_bytes
from datacoop.datasets.export._writer import Buffer, Parts, read_into, write_parts
from datacoop.datasets.manifest import Manifest, ManifestItem
from datacoop.errors import IntegrityError

__all__ = ["OPTIONS", "car_header", "car_name", "export", "write_blocks"]

OPTIONS: frozenset[OptionName] = frozenset({"blob_profile", "manifest_cid"})
"""The options :mod:`datacoop.datasets.exporting` passes this exporter (see :data:`._base.OptionName`)."""

_CBOR_TAG_CID = b"\xd8\x2a"  # CBOR tag 42: a CID, as DAG-CBOR writes links
_ARENAS = 4  # one being filled, the others being hashed or waiting to be written
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
    total = sum(item.size for item in unique)
    with (
        atomic_file(path) as partial,
        partial.open("wb", buffering=0) as raw,
        open_hasher(_ARENAS, _ARENA_BYTES, total) as hasher,
    ):
        head: list[Buffer] = [car_header([manifest_blocks[-1].cid])]
        for block in manifest_blocks:
            head += _section(block.cid, block.data)
        write_parts(raw.fileno(), head)
        writer = _BlockWriter(raw.fileno(), hasher)
        for item, position in zip(unique, positions, strict=True):
            profile = profiles.choose(item, open_blob)
            with open_blob(item.cid) as blob:
                writer.add_blob(item, blob, profile)
            blob_bytes += item.size
            if progress is not None and position < manifest.item_count:
                progress(position, manifest.item_count)
        writer.finish()
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
    """A leaf's bytes, read into an arena: the first of its blob or one after."""

    data: memoryview
    first: bool
    max_links: int  # the blob's profile's


class _End(NamedTuple):
    """The blob's last leaf is before this: its root can be checked."""

    item: ManifestItem
    profile: Profile


_Job = _Leaf | _End


class _BlockWriter:
    """Read blobs into arenas, have each full arena hashed, write its blocks once its digests are back.

    Arenas are written in the order they were filled, so blocks come out exactly
    as :func:`~datacoop.cid.iter_blocks` yields them: a blob's leaves in order,
    each dag-pb node after its children; a blob of one chunk needs no tree.
    """

    def __init__(self, fd: int, hasher: InlineHasher | ProcessHasher) -> None:
        self._fd = fd
        self._hasher = hasher
        self._free = deque(range(_ARENAS))
        self._sent: deque[tuple[int, list[_Job]]] = deque()  # arenas being hashed, oldest first
        self._index = self._free.popleft()  # the arena being filled
        self._arena = hasher.arena(self._index)
        self._filled = 0
        self._jobs: list[_Job] = []
        self._spans: list[tuple[int, int]] = []
        # The blob being written (its blocks may come from several arenas):
        self._first = b""  # its first leaf's digest, and its size
        self._first_size = 0
        self._tree: BalancedTree | None = None
        self._parts = Parts()

    def add_blob(self, item: ManifestItem, blob: BinaryIO, profile: Profile) -> None:
        """Read the blob's leaves (at least one, empty for an empty blob) into arenas."""
        chunk_size = profile.chunk_size
        if chunk_size > _ARENA_BYTES:
            raise ValueError(f"CID profile {profile.name}: chunks of {chunk_size:,} bytes pass an arena")
        first = True
        remaining = item.size  # read no further: a blob of another length fails its CID check
        while first or remaining:
            want = min(chunk_size, remaining)
            if _ARENA_BYTES - self._filled < want or len(self._spans) == MAX_SPANS:
                self._hand_on()
            region = self._arena[self._filled : self._filled + want]
            count = read_into(blob, region) if want else 0
            self._jobs.append(_Leaf(region[:count], first, profile.max_links))
            self._spans.append((self._filled, count))
            self._filled += count
            first = False
            if count < want:  # shorter than the manifest says
                break
            remaining -= count
        self._jobs.append(_End(item, profile))

    def finish(self) -> None:
        """Hash and write what is still in the arenas."""
        self._send()
        while self._sent:
            self._write_oldest()
        self._arena = memoryview(b"")  # hold no view of the arenas once done

    def _hand_on(self) -> None:
        """Send the arena being filled to be hashed and go on with a free one."""
        self._send()
        if not self._free:
            self._write_oldest()
        self._index = self._free.popleft()
        self._arena = self._hasher.arena(self._index)
        self._filled = 0

    def _send(self) -> None:
        self._hasher.send(self._index, self._spans)
        self._sent.append((self._index, self._jobs))
        self._jobs, self._spans = [], []

    def _write_oldest(self) -> None:
        index, jobs = self._sent.popleft()
        digests = iter(self._hasher.receive())
        for job in jobs:
            if isinstance(job, _Leaf):
                self._leaf(job, next(digests))
            else:
                self._end(job)
        write_parts(self._fd, self._parts.take())
        self._free.append(index)

    def _leaf(self, job: _Leaf, digest: bytes) -> None:
        cid = RAW_PREFIX + digest
        self._parts.add(varint(len(cid) + len(job.data)) + cid)
        self._parts.add(job.data)
        if job.first:
            self._first, self._first_size, self._tree = digest, len(job.data), None
            return
        if self._tree is None:  # a second leaf: from now on the blob is a tree
            self._tree = BalancedTree(job.max_links, on_node=self._node)
            self._tree.add_leaf(self._first, self._first_size)
        self._tree.add_leaf(digest, len(job.data))

    def _node(self, cid: bytes, data: bytes) -> None:
        self._parts.add(varint(len(cid) + len(data)) + cid)
        self._parts.add(data)

    def _end(self, job: _End) -> None:
        root = RAW_PREFIX + self._first if self._tree is None else self._tree.root()
        self._tree = None
        if root != cid_binary(job.item.cid):
            raise _not_its_cid(job.item, [job.profile])


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
