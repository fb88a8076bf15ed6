"""A file's DAG as blocks: every (CID, bytes) pair ``ipfs add --cid-version=1`` would store, streamed.

The CID is the same one :class:`~datacoop.cid.CidBuilder` computes (the same
leaves, the same :class:`~datacoop.cid._tree.BalancedTree`); here the blocks
themselves come out too, so a CAR file can carry them. Only one chunk and the
tree's open groups are held at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from datacoop.cid._cidv1 import RAW_PREFIX, cid_text
from datacoop.cid._profiles import DEFAULT_PROFILE, Profile
from datacoop.cid._tree import BalancedTree

__all__ = ["Block", "iter_blocks"]


class Block(NamedTuple):
    """One IPLD block: its binary CID and its bytes (a raw leaf or a dag-pb node)."""

    cid: bytes
    data: bytes

    @property
    def cid_text(self) -> str:
        """The block's CID in base32 text."""
        return cid_text(self.cid)


def iter_blocks(stream: BinaryIO, profile: Profile = DEFAULT_PROFILE) -> Iterator[Block]:
    """Every block of the file in ``stream``, leaves in file order, each node after its children.

    The last block yielded is the root: its CID is the file's CID (for a file of
    one chunk, the empty file included, the only block is that raw leaf).

    Args:
        stream: the file's bytes, read to the end.
        profile: how the file is cut (use the one its CID was made with).
    """
    nodes: list[Block] = []
    tree = BalancedTree(profile.max_links, on_node=lambda cid, data: nodes.append(Block(cid, data)))
    last: Block | None = None
    while chunk := _read_chunk(stream, profile.chunk_size):
        last = Block(RAW_PREFIX + hashlib.sha256(chunk).digest(), chunk)
        tree.add_leaf(last.cid[len(RAW_PREFIX) :], len(chunk))
        yield last
        yield from nodes
        nodes.clear()
    if last is None:  # the empty file is one empty leaf
        last = Block(RAW_PREFIX + hashlib.sha256(b"").digest(), b"")
        tree.add_leaf(last.cid[len(RAW_PREFIX) :], 0)
        yield last
    tree.root()  # closes the open groups: the remaining nodes, the root last
    yield from nodes


def _read_chunk(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream (pipes give short reads)."""
    chunk = stream.read(size)
    if not chunk or len(chunk) == size:
        return chunk
    parts = [chunk]
    got = len(chunk)
    while got < size and (more := stream.read(size - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)
