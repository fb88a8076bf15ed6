"""The few protobuf bytes a UnixFS file node needs, written by hand.

A file node is a dag-pb ``PBNode`` whose ``Data`` is a UnixFS ``Data`` message.
Only the fields kubo's importer sets for a plain file are written, in the order
the dag-pb spec makes canonical (``Links`` before ``Data``)::

    PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
    PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
    Data   { Type = 1 (File = 2); filesize = 3; repeated blocksizes = 4 (not packed) }

Sources: the dag-pb spec (ipld/specs ``block-layer/codecs/dag-pb.md``) and the
UnixFS spec (ipfs/specs ``UNIXFS.md``); field usage checked against
js-ipfs-unixfs (``ipfs-unixfs`` ``marshal``) and boxo ``ipld/unixfs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = ["Link", "encode_file_node", "varint"]

# Protobuf keys: (field number << 3) | wire type (0 = varint, 2 = length-delimited).
_NODE_DATA = b"\x0a"
_NODE_LINK = b"\x12"
_LINK_HASH = b"\x0a"
_LINK_EMPTY_NAME = b"\x12\x00"  # Name = "" is written: kubo and the JS importer both set it
_LINK_TSIZE = b"\x18"
_UNIXFS_TYPE_FILE = b"\x08\x02"
_UNIXFS_FILESIZE = b"\x18"
_UNIXFS_BLOCKSIZE = b"\x20"


class Link(NamedTuple):
    """A child as its parent names it.

    Attributes:
        cid: the child's binary CID.
        tsize: every block byte below the link (the child block included), as ``Tsize`` says.
        filesize: the file bytes the child holds (its entry in the parent's ``blocksizes``).
    """

    cid: bytes
    tsize: int
    filesize: int


def varint(value: int) -> bytes:
    """Unsigned LEB128, the protobuf and multiformats varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(key: bytes, payload: bytes) -> bytes:
    return key + varint(len(payload)) + payload


def _encode_link(link: Link) -> bytes:
    body = _length_delimited(_LINK_HASH, link.cid) + _LINK_EMPTY_NAME + _LINK_TSIZE + varint(link.tsize)
    return _length_delimited(_NODE_LINK, body)


def _encode_unixfs_file(blocksizes: Iterable[int]) -> bytes:
    sizes = list(blocksizes)
    parts = [_UNIXFS_TYPE_FILE, _UNIXFS_FILESIZE, varint(sum(sizes))]
    parts.extend(_UNIXFS_BLOCKSIZE + varint(size) for size in sizes)
    return b"".join(parts)


def encode_file_node(children: Sequence[Link]) -> bytes:
    """The dag-pb block of a UnixFS file node over ``children``, in order.

    Args:
        children: the node's links, first file byte first.

    Returns:
        The block's bytes, exactly as kubo and the JS importer write them.
    """
    links = b"".join(_encode_link(child) for child in children)
    data = _encode_unixfs_file(child.filesize for child in children)
    return links + _length_delimited(_NODE_DATA, data)
