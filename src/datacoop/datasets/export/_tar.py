"""The one tar format every tar DataCoop writes: WebDataset shards and the exchange's order archives.

A member is a GNU header block (a regular file, uid/gid 0, no owner names, one mtime and
one mode for the whole archive), its bytes and zero padding to a whole 512-byte block; the
archive ends with two zero blocks, padded with zeros to a whole 10 KiB record. GNU rather
than POSIX ustar so that a blob of any size fits (ustar stops at 8 GiB). Every header is
tarfile's own bytes (a test compares them), built here from fixed parts because
``tarfile.addfile`` rebuilds every field per member, which costs more than copying a 100 KB blob.

Two writers share these pieces: WebDataset streams shards to files (``webdataset.py``), and
:class:`TarArchive` lays an archive out without building it, so its bytes can be produced
from any offset (an HTTP Range request resuming a download).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "BLOCK",
    "READ_ONLY",
    "HeaderWriter",
    "Member",
    "TarArchive",
    "end_of_archive",
    "member_bytes",
    "padding",
]

BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_ZEROS = bytes(2 * BLOCK + _RECORD)  # the longest run of zeros a tar needs: its end
READ_ONLY = 0o444


class HeaderWriter:
    """GNU tar headers of regular files (``mode``, uid/gid 0, no owner names) with one mtime.

    The plain case (a short ASCII name, a size below 8 GiB) is assembled from fixed parts,
    its checksum summed from their precomputed sums; anything else takes tarfile's own path.
    """

    def __init__(self, mtime: int, mode: int = READ_ONLY) -> None:
        self._mtime, self._mode = mtime, mode
        self._plain_mtime = 0 <= mtime < 8**11
        self._ids = b"%07o\0%07o\0%07o\0" % (mode, 0, 0)
        self._rest = b"".join(
            (
                b"%011o\0" % (mtime if self._plain_mtime else 0),
                b" " * 8,  # the checksum field counts as spaces while the checksum is summed
                tarfile.REGTYPE,
                bytes(100),  # linkname
                tarfile.GNU_MAGIC,
                bytes(32 + 32 + 16),  # uname, gname, devmajor and devminor: empty, as tarfile leaves them
            )
        )
        self._tail = bytes(BLOCK - 100 - len(self._ids) - 12 - len(self._rest))
        self._fixed_sum = sum(self._ids) + sum(self._rest)

    def __call__(self, name: str, size: int) -> bytes:
        """The header block(s) for a member called ``name`` holding ``size`` bytes."""
        encoded = name.encode("utf-8", "surrogateescape")
        if not (self._plain_mtime and len(encoded) < 100 and encoded.isascii() and 0 <= size < 8**11):
            return self._by_tarfile(name, size)
        size_field = b"%011o\0" % size
        checksum = self._fixed_sum + sum(encoded) + sum(size_field)
        return b"".join(
            (
                encoded,
                bytes(100 - len(encoded)),
                self._ids,
                size_field,
                self._rest[:12],
                b"%06o\0 " % checksum,
                self._rest[20:],
                self._tail,
            )
        )

    def _by_tarfile(self, name: str, size: int) -> bytes:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, self._mtime, self._mode
        return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def end_of_archive(written: int) -> bytes:
    """What closes a tar of ``written`` bytes: two zero blocks, then zeros up to a whole record."""
    return _ZEROS[: 2 * BLOCK + -(written + 2 * BLOCK) % _RECORD]


def padding(size: int) -> bytes:
    """The zeros after a member of ``size`` bytes, up to a whole block."""
    return _ZEROS[: -size % BLOCK]


def member_bytes(size: int) -> int:
    """A member's share of the tar: its header block and its data padded to whole blocks."""
    return BLOCK + -(-size // BLOCK) * BLOCK


@dataclass(frozen=True)
class Member:
    """One file of a :class:`TarArchive`: inline bytes, or a blob of the store by CID."""

    name: str
    size: int
    data: bytes | None = None
    cid: str | None = None

    @classmethod
    def inline(cls, name: str, data: bytes) -> Member:
        return cls(name, len(data), data=data)

    @classmethod
    def blob(cls, name: str, cid: str, size: int) -> Member:
        return cls(name, size, cid=cid)


class TarArchive:
    """A tar of ``members`` whose bytes can be produced from any offset without building it.

    The same members, mtime and mode always give the same bytes, so a download can resume anywhere.
    """

    def __init__(
        self,
        members: Sequence[Member],
        open_blob: Callable[[str], BinaryIO],
        *,
        mtime: int,
        mode: int = READ_ONLY,
    ) -> None:
        self._open = open_blob
        header = HeaderWriter(mtime, mode)
        # (start offset, part): a header, a member's bytes, or zero padding
        self._parts: list[tuple[int, bytes | Member]] = []
        offset = 0
        for member in members:
            for part in (header(member.name, member.size), member, padding(member.size)):
                length = len(part) if isinstance(part, bytes) else part.size
                if length:
                    self._parts.append((offset, part))
                    offset += length
        end = end_of_archive(offset)
        self._parts.append((offset, end))
        self.size = offset + len(end)

    def iter_range(self, start: int, end: int, chunk: int = 1 << 16) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` inclusive."""
        for offset, part in self._parts:
            length = len(part) if isinstance(part, bytes) else part.size
            if offset + length <= start or offset > end:
                continue
            lo, hi = max(start - offset, 0), min(end - offset, length - 1)
            if isinstance(part, bytes):
                yield part[lo : hi + 1]
            elif part.data is not None:
                yield part.data[lo : hi + 1]
            else:
                yield from self._blob(part, lo, hi, chunk)

    def _blob(self, member: Member, lo: int, hi: int, chunk: int) -> Iterator[bytes]:
        assert member.cid is not None
        with self._open(member.cid) as f:
            _skip(f, lo)
            left = hi - lo + 1
            while left > 0:
                data = f.read(min(chunk, left))
                if not data:
                    raise OSError(f"blob {member.cid} is shorter than its manifest size {member.size}")
                left -= len(data)
                yield data


def _skip(f: BinaryIO, count: int) -> None:
    if count == 0:
        return
    if f.seekable():
        f.seek(count, io.SEEK_SET)
        return
    while count > 0:  # a stream that cannot seek (an object store's body): read and drop
        data = f.read(min(count, 1 << 20))
        if not data:
            return
        count -= len(data)
