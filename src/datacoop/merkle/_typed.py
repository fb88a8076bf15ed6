"""Trees over leaves of any ABI types, as ``StandardMerkleTree.of(values, leafEncoding)`` builds them.

The ``(address, uint256)`` tree in :mod:`datacoop.merkle._tree` is tuned for millions of
entitlements; this one takes any leaf encoding (e.g. ``["uint256", "bytes32"]`` for dataset
items) through ``eth_abi`` and shares its layout: the same leaf hash
``keccak256(keccak256(abi.encode(...)))``, the same array of nodes, the same proofs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError

from datacoop.errors import InvalidInput, NotFound
from datacoop.merkle._keccak import new_hasher
from datacoop.merkle._tree import _collector_paused, _hash_internal_nodes
from datacoop.merkle._verify import _node, process_proof

__all__ = ["LeafTree", "build_from_leaves", "build_typed", "typed_leaf_hash", "verify_typed"]


def typed_leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any], field: str = "value") -> bytes:
    """``keccak256(keccak256(abi.encode(value)))`` for a value of the given ABI types.

    Raises:
        InvalidInput: (``field``) the value does not fit the types.
    """
    _check_fixed_bytes(leaf_encoding, value, field)
    try:
        encoded = abi_encode(list(leaf_encoding), list(value))
    except (EncodingError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"{field} {list(value)!r} does not fit {list(leaf_encoding)}: {exc}", field=field
        ) from None
    return new_hasher().keccak2(encoded)


def _check_fixed_bytes(leaf_encoding: Sequence[str], value: Sequence[Any], field: str) -> None:
    # eth_abi pads a short bytesN value with zeros; OpenZeppelin (ethers) refuses it, and so do we.
    for abi_type, member in zip(leaf_encoding, value, strict=False):
        if abi_type.startswith("bytes") and abi_type[5:].isdigit() and isinstance(member, bytes | str):
            size = len(member) if isinstance(member, bytes) else (len(member) - 2) / 2
            if size != int(abi_type[5:]):
                raise InvalidInput(
                    f"{field}: {abi_type} member {member!r} is not {abi_type[5:]} bytes",
                    field=field,
                    limit=int(abi_type[5:]),
                )


class LeafTree:
    """A StandardMerkleTree over leaf hashes given in input order; ``proof(i)`` is ``getProof(i)``."""

    __slots__ = ("_nodes", "_tree_index")

    def __init__(self, nodes: list[str], tree_index: list[int]) -> None:
        self._nodes = nodes
        self._tree_index = tree_index

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lower-case hex."""
        return self._nodes[0]

    def __len__(self) -> int:
        return len(self._tree_index)

    def proof(self, index: int) -> list[str]:
        """Sibling hashes from leaf ``index`` up, as 0x-hex (what ``MerkleProof.verify`` takes).

        Raises:
            NotFound: (``index``) no leaf at that index.
        """
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self):
            raise NotFound(f"no leaf at index {index!r}: the tree has {len(self)}", field="index")
        nodes, at, proof = self._nodes, self._tree_index[index], []
        while at:
            proof.append(nodes[((at - 1) ^ 1) + 1])
            at = (at - 1) >> 1
        return proof


def build_from_leaves(leaves: Sequence[bytes]) -> LeafTree:
    """The tree over already-hashed 32-byte leaves, laid out as OpenZeppelin lays them out.

    Raises:
        InvalidInput: (``leaves``) none given, or one that is not 32 bytes.
    """
    if len(leaves) == 0:
        raise InvalidInput("leaves is empty: a Merkle tree needs at least one leaf", field="leaves")
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, bytes) or len(leaf) != 32:
            raise InvalidInput(f"leaves[{i}] is not a 32-byte hash", field="leaves", limit=32)
    with _collector_paused():
        order = sorted(range(len(leaves)), key=leaves.__getitem__)
        nodes = [b""] * (len(leaves) - 1) + [leaves[i] for i in reversed(order)]
        _hash_internal_nodes(nodes, new_hasher().keccak)
        tree_index = [0] * len(order)
        for rank, value_index in enumerate(order):
            tree_index[value_index] = len(nodes) - 1 - rank
        return LeafTree(["0x" + node.hex() for node in nodes], tree_index)


def build_typed(values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]) -> LeafTree:
    """``StandardMerkleTree.of(values, leaf_encoding)``: values hashed as ABI-encoded leaves.

    Raises:
        InvalidInput: no values, or a value that does not fit ``leaf_encoding`` (its index is named).
    """
    return build_from_leaves(
        [typed_leaf_hash(leaf_encoding, value, f"values[{i}]") for i, value in enumerate(values)]
    )


def verify_typed(root: str, leaf_encoding: Sequence[str], value: Sequence[Any], proof: Sequence[str]) -> bool:
    """``StandardMerkleTree.verify(root, leaf_encoding, value, proof)``.

    Raises:
        InvalidInput: a malformed root, value or proof element (a well-formed wrong proof gives False).
    """
    expected = _node(root, "root")
    return process_proof(typed_leaf_hash(leaf_encoding, value), proof) == expected
