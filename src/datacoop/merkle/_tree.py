"""Building the tree and reading proofs out of it, in OpenZeppelin's ``StandardMerkleTree`` layout."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from datacoop.errors import NotFound
from datacoop.merkle._address import checksum_address, checksum_bodies
from datacoop.merkle._keccak import new_hasher
from datacoop.merkle._values import Entries, check_entry, check_values

__all__ = ["LEAF_ENCODING", "MerkleTree", "build"]

LEAF_ENCODING = ("address", "uint256")


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Millions of new lists set off repeated full collections that more than double the time of
    # all proofs; nothing made here forms a cycle, so nothing is left for the collector.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MerkleTree:
    """A Merkle tree over ``(address, uint256)`` values; build one with :func:`build`.

    The nodes sit in one array as a complete binary tree: node ``i`` has children ``2i+1`` and
    ``2i+2``; the ``n`` leaves fill the last ``n`` slots with the smallest leaf hash last, and
    node 0 is the root. Values keep their input order; a value's *index* is its position there,
    as in OpenZeppelin's ``getProof(index)``. Accounts are given back in EIP-55 form.
    """

    __slots__ = ("_amounts", "_bodies", "_checksummed", "_index_of", "_nodes", "_tree_index")

    def __init__(self, entries: Entries, nodes: list[str], tree_index: list[int]) -> None:
        self._bodies = entries.bodies
        self._checksummed = entries.checksummed
        self._amounts = entries.amounts
        self._index_of = entries.index_of
        self._nodes = nodes  # 0x-hex, the form proofs and dumps are made of
        self._tree_index = tree_index

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lower-case hex (what the contract stores)."""
        return self._nodes[0]

    @property
    def accounts(self) -> list[str]:
        """The accounts in input order, in EIP-55 form."""
        if self._checksummed is None:  # made on first use: one hash per account
            self._checksummed = checksum_bodies(self._bodies, new_hasher().keccak)
        digits = self._checksummed
        return ["0x" + digits[i : i + 40] for i in range(0, len(digits), 40)]

    @property
    def values(self) -> list[tuple[str, int]]:
        """The ``(account, amount)`` values in input order, accounts in EIP-55 form."""
        return list(zip(self.accounts, self._amounts, strict=True))

    def __len__(self) -> int:
        return len(self._amounts)

    def index(self, account: str) -> int:
        """The index of an account's value.

        Raises:
            InvalidInput: ``account`` is not an address.
            NotFound: the account has no value in this tree.
        """
        hasher = new_hasher()
        raw, lower, _amount, _encoded = check_entry((account, 0), hasher, "account")
        found = self._index_of.get(raw)
        if found is None:
            raise NotFound(
                f"account {checksum_address(lower, hasher.keccak)} is not in this tree", field="account"
            )
        return found

    def proof(self, leaf: int | tuple[str, int]) -> list[str]:
        """The proof of one value, given by index or as ``(account, amount)``.

        Returns:
            Sibling hashes from the leaf up, as 0x-hex: what ``MerkleProof.verify`` takes.

        Raises:
            InvalidInput: a malformed ``(account, amount)``.
            NotFound: no such index, or the value is not in this tree.
        """
        index = leaf if isinstance(leaf, int) and not isinstance(leaf, bool) else self._lookup(leaf)
        if not 0 <= index < len(self._amounts):
            raise NotFound(f"no value at index {index}: the tree has {len(self._amounts)}", field="index")
        nodes, at, proof = self._nodes, self._tree_index[index], []
        while at:
            proof.append(nodes[((at - 1) ^ 1) + 1])  # the sibling: odd i pairs with i+1, even with i-1
            at = (at - 1) >> 1
        return proof

    def _lookup(self, value: object) -> int:
        hasher = new_hasher()
        raw, lower, amount, _encoded = check_entry(value, hasher)
        index = self._index_of.get(raw)
        if index is None or self._amounts[index] != amount:
            account = checksum_address(lower, hasher.keccak)
            raise NotFound(f"value ({account}, {amount}) is not in this tree", field="value")
        return index

    def proofs(self) -> list[list[str]]:
        """Every value's proof, in input order (all at once: far faster than one by one)."""
        with _collector_paused():
            paths = self._leaf_paths()
            first_leaf = len(self._nodes) // 2
            return [paths[at - first_leaf] for at in self._tree_index]

    def proofs_by_account(self) -> dict[str, list[str]]:
        """Every proof keyed by the account in EIP-55 form."""
        return dict(zip(self.accounts, self.proofs(), strict=True))

    def _leaf_paths(self) -> list[list[str]]:
        # A node's proof is its sibling followed by its parent's proof, so one pass from the root
        # down, a level at a time, makes every proof with one list each. Only the level above is
        # kept, so the internal nodes' lists are freed (and their memory reused) as it goes.
        nodes, first_leaf = self._nodes, len(self._nodes) // 2
        level: list[list[str]] = [[]]  # the root's proof
        leaf_paths = level if first_leaf == 0 else []
        start = 1
        while start < len(nodes):
            stop, above = min(2 * start + 1, len(nodes)), (start - 1) >> 1
            level = [
                [nodes[((at - 1) ^ 1) + 1], *level[((at - 1) >> 1) - above]] for at in range(start, stop)
            ]
            leaf_paths += level[max(first_leaf - start, 0) :]
            start = stop
        return leaf_paths

    def dump(self) -> dict[str, Any]:
        """The tree in OpenZeppelin's ``standard-v1`` JSON form (``StandardMerkleTree.load`` reads it).

        Amounts are decimal strings, as JSON numbers cannot hold uint256 exactly.
        """
        return {
            "format": "standard-v1",
            "leafEncoding": list(LEAF_ENCODING),
            "tree": list(self._nodes),
            "values": [
                {"value": [account, str(amount)], "treeIndex": at}
                for account, amount, at in zip(self.accounts, self._amounts, self._tree_index, strict=True)
            ],
        }


def build(values: Sequence[tuple[str, int]]) -> MerkleTree:
    """Build the tree OpenZeppelin's ``StandardMerkleTree.of(values, ["address", "uint256"])`` builds.

    Args:
        values: ``(address, amount)`` pairs; each address once (entitlements are cumulative).

    Raises:
        InvalidInput: no values, a malformed address or amount (its index is named), a repeated address.
    """
    hasher = new_hasher()
    with _collector_paused():
        entries = check_values(values, hasher)
        leaves = entries.leaves
        order = sorted(range(len(leaves)), key=leaves.__getitem__)
        nodes = [b""] * (len(leaves) - 1) + list(map(leaves.__getitem__, reversed(order)))
        _hash_internal_nodes(nodes, hasher.keccak)
        tree_index = [0] * len(order)
        for rank, value_index in enumerate(order):  # the leaf of rank r sits r slots from the end
            tree_index[value_index] = len(nodes) - 1 - rank
        return MerkleTree(entries, ["0x" + digits for digits in map(bytes.hex, nodes)], tree_index)


def _hash_internal_nodes(nodes: list[bytes], keccak: Callable[[bytes], bytes]) -> None:
    # Internal nodes are 0 .. len//2 - 1, level d starting at 2**d - 1. Deepest level first, so
    # both children (2i+1, 2i+2) are ready; slices keep the per-node work in C.
    internal = len(nodes) // 2
    start = (1 << (internal.bit_length() - 1)) - 1 if internal else -1
    while start >= 0:
        stop = min(2 * start + 1, internal)
        left = nodes[2 * start + 1 : 2 * stop + 1 : 2]
        right = nodes[2 * start + 2 : 2 * stop + 2 : 2]
        nodes[start:stop] = [keccak(a + b if a < b else b + a) for a, b in zip(left, right, strict=True)]
        start = (start - 1) >> 1
