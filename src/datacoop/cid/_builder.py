"""Streaming CID computation: bytes in, in any pieces, and the CID ``ipfs add`` would print out.

Memory stays constant whatever the input size: the builder keeps the current
partial chunk, a few chunk buffers being hashed, and one open group of links
per tree level (at most ``max_links`` each).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import BinaryIO

from datacoop.cid._cidv1 import cid_text
from datacoop.cid._leaves import LeafHasher
from datacoop.cid._profiles import DEFAULT_PROFILE, Profile
from datacoop.cid._tree import BalancedTree

__all__ = ["CidBuilder", "cid_of_bytes", "cid_of_file", "cid_of_stream"]

_READ_BYTES = 4 * 1024 * 1024  # per read: fits in cache while being hashed; measured faster than 16 MiB
_ReadInto = Callable[[memoryview], "int | None"]


class CidBuilder:
    """Computes a file's CIDv1 while its bytes stream past.

    Args:
        profile: chunk size and node width (default: kubo's ``ipfs add --cid-version=1``).

    Example::

        builder = CidBuilder()
        for piece in pieces:
            builder.update(piece)
        cid = builder.finish()
    """

    def __init__(self, profile: Profile = DEFAULT_PROFILE) -> None:
        self.profile = profile
        self._chunk = profile.chunk_size
        self._tree = BalancedTree(profile.max_links)
        self._hasher = LeafHasher(self._chunk, self._tree.add_leaf)
        self._partial: bytearray | None = None  # taken on first need: tiny inputs never allocate a chunk
        self._filled = 0
        self._size = 0
        self._cid: str | None = None

    @property
    def size(self) -> int:
        """Bytes received so far."""
        return self._size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add the next bytes of the file; pieces of any size are re-chunked here.

        The builder keeps no reference to ``data`` once this returns.

        Raises:
            ValueError: after :meth:`finish`.
        """
        self._check_open()
        view = memoryview(data).cast("B")
        self._size += len(view)
        view = self._top_up(view)
        whole = len(view) - len(view) % self._chunk
        if whole:
            self._hasher.hash_chunks(view[:whole])
        if whole < len(view):
            self._top_up(view[whole:])

    def read_from(self, stream: BinaryIO) -> None:
        """Add everything left in ``stream``, read straight into the builder's own buffers.

        Faster than :meth:`update` on big inputs: reading the next block overlaps
        the hashing of the previous ones, and no byte is copied.
        """
        self._check_open()
        readinto: _ReadInto | None = getattr(stream, "readinto", None)
        if readinto is None:
            while piece := stream.read(_READ_BYTES):
                self.update(piece)
            return
        if not self._fill_partial(readinto):  # small inputs end here, before any big buffer exists
            return
        block_size = max(1, _READ_BYTES // self._chunk) * self._chunk
        while True:
            buffer = self._hasher.take_buffer(block_size)
            got = _read_fully(readinto, memoryview(buffer))
            self._size += got
            whole = got - got % self._chunk
            if whole < got:  # only a short, last read leaves a tail
                self._top_up(memoryview(buffer)[whole:got])
            if whole:
                self._hasher.hash_chunks(memoryview(buffer)[:whole], owner=buffer)
            else:
                self._hasher.recycle(buffer)
            if got < block_size:
                return

    def finish(self) -> str:
        """The CID of everything added; calling it again returns the same CID."""
        if self._cid is None:
            self._hasher.drain()
            if self._filled or self._tree.leaves == 0:  # the empty file is one empty leaf
                tail = memoryview(self._partial or b"")[: self._filled]
                self._tree.add_leaf(hashlib.sha256(tail).digest(), self._filled)
            self._cid = cid_text(self._tree.root())
            self._partial = None
        return self._cid

    def _check_open(self) -> None:
        if self._cid is not None:
            raise ValueError("this CidBuilder is finished; start a new one")

    def _top_up(self, view: memoryview) -> memoryview:
        """Copy into the partial chunk what fits, hand it on when full; return the rest of ``view``."""
        if not view or (not self._filled and len(view) >= self._chunk):
            return view  # whole chunks are hashed where they lie
        partial = self._partial_buffer()
        taken = min(len(view), self._chunk - self._filled)
        partial[self._filled : self._filled + taken] = view[:taken]
        self._filled += taken
        if self._filled == self._chunk:
            self._hand_on_partial()
        return view[taken:]

    def _fill_partial(self, readinto: _ReadInto) -> bool:
        """Complete the partial chunk from the stream; False when the stream ended first."""
        partial = self._partial_buffer()
        got = _read_fully(readinto, memoryview(partial)[self._filled :])
        self._size += got
        self._filled += got
        if self._filled < self._chunk:
            return False
        self._hand_on_partial()
        return True

    def _partial_buffer(self) -> bytearray:
        if self._partial is None:
            self._partial = self._hasher.take_buffer(self._chunk)
        return self._partial

    def _hand_on_partial(self) -> None:
        partial, self._partial, self._filled = self._partial_buffer(), None, 0
        self._hasher.hash_chunks(memoryview(partial), owner=partial)


def _read_fully(readinto: _ReadInto, view: memoryview) -> int:
    """Fill ``view`` from the stream (pipes give short reads); fewer bytes only at end of stream."""
    total = 0
    while total < len(view):
        got = readinto(view[total:])
        if not got:
            break
        total += got
    return total


def cid_of_bytes(data: bytes | bytearray | memoryview, profile: Profile = DEFAULT_PROFILE) -> str:
    """The CIDv1 of ``data`` (what ``ipfs add --cid-version=1`` prints for a file holding it)."""
    builder = CidBuilder(profile)
    builder.update(data)
    return builder.finish()


def cid_of_stream(stream: BinaryIO, profile: Profile = DEFAULT_PROFILE) -> str:
    """The CIDv1 of everything left in a binary stream, read to its end."""
    builder = CidBuilder(profile)
    builder.read_from(stream)
    return builder.finish()


def cid_of_file(path: str | os.PathLike[str], profile: Profile = DEFAULT_PROFILE) -> str:
    """The CIDv1 of the file at ``path``, as ``ipfs add --cid-version=1 <path>`` names it.

    Raises:
        OSError: when the file cannot be opened or read.
    """
    with open(path, "rb", buffering=0) as stream:
        return cid_of_stream(stream, profile)
