"""The balanced UnixFS layout, built as leaves arrive, holding only one pending row per level.

kubo (boxo ``ipld/unixfs/importer/balanced``) and the JS importer
(``ipfs-unixfs-importer`` ``layout/balanced``) give the same tree: leaves are
grouped ``max_links`` at a time, left to right, into nodes; those nodes are
grouped the same way one level up, and so on until one node is left. A group
closes as soon as it is full, so only each level's open group is kept.

What the sources settle (checked in both):

* every leaf sits at the same depth: a short last group at an upper level is
  still a node, even with a single child (JS ``reduce`` wraps any batch that is
  not the file's only leaf; boxo's ``fillNodeRec`` builds each new subtree to
  full depth before adding it);
* only a file of one chunk collapses to that raw leaf (``reduceSingleLeafToSelf``;
  boxo returns the leaf when the input ends after it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from datacoop.cid._cidv1 import DAG_PB_PREFIX, RAW_PREFIX
from datacoop.cid._dagpb import Link, encode_file_node

__all__ = ["BalancedTree"]


class BalancedTree:
    """Leaves in, root CID out.

    Args:
        max_links: the most children a node may have (at least 2).
        on_node: called with (binary CID, block bytes) for every dag-pb node as it closes,
            children before parents; CAR export writes the blocks through it.
    """

    def __init__(self, max_links: int, on_node: Callable[[bytes, bytes], None] | None = None) -> None:
        self._max_links = max_links
        self._on_node = on_node
        self._levels: list[list[Link]] = [[]]  # level 0 holds leaves; each list is its open group
        self.leaves = 0

    def add_leaf(self, digest: bytes, size: int) -> None:
        """Append the next raw leaf, given its sha2-256 digest and its length."""
        self.leaves += 1
        self._add(0, Link(RAW_PREFIX + digest, size, size))

    def root(self) -> bytes:
        """Close every open group, bottom up, and return the root's binary CID.

        A group is closed into a node unless it is the tree's last survivor: the
        only entry left at the top level with nothing open below it.
        """
        if self.leaves == 0:
            raise ValueError("a tree needs at least one leaf (the empty file has one empty leaf)")
        level = 0
        while True:  # closing a group may open the level above, so the top moves while we climb
            group = self._levels[level]
            if len(group) == 1 and level == len(self._levels) - 1:
                return group[0].cid
            if group:
                self._levels[level] = []
                self._add(level + 1, self._close(group))
            level += 1

    def _add(self, level: int, link: Link) -> None:
        if level == len(self._levels):
            self._levels.append([])
        group = self._levels[level]
        group.append(link)
        if len(group) == self._max_links:
            self._levels[level] = []
            self._add(level + 1, self._close(group))

    def _close(self, children: list[Link]) -> Link:
        block = encode_file_node(children)
        link = _node(block, children)
        if self._on_node is not None:
            self._on_node(link.cid, block)
        return link


def _node(block: bytes, children: list[Link]) -> Link:
    cid = DAG_PB_PREFIX + hashlib.sha256(block).digest()
    tsize = len(block) + sum(child.tsize for child in children)
    return Link(cid, tsize, sum(child.filesize for child in children))
