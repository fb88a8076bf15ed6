"""An independent UnixFS file encoder: whole tree in memory, recursive, written from the specs.

It shares no code with ``datacoop.cid``: protobuf fields come from one generic
writer, CIDs from the ``multiformats`` package, and the layout is written twice,
once as the JS importer describes it (batch, then batch the batches) and once
as boxo does (grow the root, fill each new subtree to full depth). The
streaming builder must agree with both.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from multiformats import CID, multicodec, multihash

_CID_V1 = 1
# The codec codes and the sha2-256 multihash header, from the multiformats tables (looked up once:
# the package validates every call, too slowly for the 30,000-leaf trees the tests build).
_CODECS = {name: multicodec.get(name).code for name in ("raw", "dag-pb")}
_SHA2_256_HEADER = bytes(multihash.wrap(bytes(32), "sha2-256"))[:-32]


@dataclass
class Block:
    """A block of the DAG with what its parent needs to know, and its children for inspection."""

    cid: bytes  # binary CIDv1
    tsize: int
    filesize: int
    children: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The CID as ``ipfs add --cid-version=1`` prints it (multibase base32)."""
        return str(CID.decode(self.cid).set(base="base32"))

    def depths(self, depth: int = 0) -> set[int]:
        """The depth of every leaf below this block."""
        if not self.children:
            return {depth}
        return set().union(*(child.depths(depth + 1) for child in self.children))


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3 | 0) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _cid(codec: str, block: bytes) -> bytes:
    """<version><codec><multihash>: a binary CIDv1."""
    return _varint(_CID_V1) + _varint(_CODECS[codec]) + _SHA2_256_HEADER + hashlib.sha256(block).digest()


def raw_leaf(data: bytes) -> Block:
    return Block(_cid("raw", data), len(data), len(data))


def file_node(children: list[Block]) -> Block:
    """A dag-pb node: Links (field 2) first, then Data (field 1) holding UnixFS Data{Type=File}."""
    unixfs = _field(1, 2) + _field(3, sum(c.filesize for c in children))
    unixfs += b"".join(_field(4, c.filesize) for c in children)
    links = b"".join(_field(2, _field(1, c.cid) + _field(2, b"") + _field(3, c.tsize)) for c in children)
    block = links + _field(1, unixfs)
    tsize = len(block) + sum(c.tsize for c in children)
    return Block(_cid("dag-pb", block), tsize, sum(c.filesize for c in children), children)


def chunked(data: bytes, size: int) -> list[bytes]:
    """Fixed-size chunks; the empty file is one empty chunk."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def js_layout(chunks: Iterable[bytes], max_links: int) -> Block:
    """ipfs-unixfs-importer's balanced layout: batch, then batch the batches, until one is left."""
    layer = [raw_leaf(chunk) for chunk in chunks]
    if len(layer) == 1:
        return layer[0]  # reduceSingleLeafToSelf: a one-chunk file is its leaf
    while len(layer) > 1:
        layer = [file_node(layer[i : i + max_links]) for i in range(0, len(layer), max_links)]
    return layer[0]


def go_layout(chunks: Iterable[bytes], max_links: int) -> Block:
    """boxo's balanced layout: the root grows one level at a time; each new subtree is filled to depth."""
    leaves: deque[Block] = deque(raw_leaf(chunk) for chunk in chunks)
    root = leaves.popleft()
    depth = 1
    while leaves:
        root = _fill([root], depth, leaves, max_links)
        depth += 1
    return root


def _fill(children: list[Block], depth: int, leaves: deque[Block], max_links: int) -> Block:
    while len(children) < max_links and leaves:
        children.append(leaves.popleft() if depth == 1 else _fill([], depth - 1, leaves, max_links))
    return file_node(children)


def reference_cid(data: bytes, chunk_size: int, max_links: int) -> str:
    """The CID of ``data`` by the JS layout (checked against the Go layout by the tests)."""
    return js_layout(chunked(data, chunk_size), max_links).text


def file_chunks(path: str, chunk_size: int) -> Iterator[bytes]:
    """A file's chunks, read one at a time (for files too big to hold twice)."""
    with open(path, "rb") as stream:
        first = stream.read(chunk_size)
        yield first
        while chunk := stream.read(chunk_size):
            yield chunk
