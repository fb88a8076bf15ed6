"""Leaf hashes and proof checks, the off-chain twin of OpenZeppelin's ``MerkleProof.verify``."""

from __future__ import annotations

from collections.abc import Sequence

from datacoop.errors import InvalidInput
from datacoop.merkle._keccak import new_hasher
from datacoop.merkle._values import check_entry

__all__ = ["leaf_hash", "process_proof", "verify"]


def leaf_hash(address: str, amount: int) -> bytes:
    """``keccak256(keccak256(abi.encode(address, amount)))``, the leaf a value stands for.

    Hashed twice, a leaf is the hash of 32 bytes while an internal node is the hash of 64, so a
    node cannot pass for a value short of a Keccak collision.

    Raises:
        InvalidInput: a malformed address or amount.
    """
    hasher = new_hasher()
    _raw, _account, _amount, encoded = check_entry((address, amount), hasher)
    return hasher.keccak2(encoded)


def process_proof(leaf: bytes, proof: Sequence[str]) -> bytes:
    """The root a proof leads to from a leaf hash: each step hashes the sorted pair.

    Raises:
        InvalidInput: ``leaf`` is not 32 bytes, or a proof element is not 0x and 64 hex digits.
    """
    if len(leaf) != 32:
        raise InvalidInput(f"a leaf hash is 32 bytes, not {len(leaf)}", field="leaf")
    keccak = new_hasher().keccak
    node = leaf
    for i, element in enumerate(proof):
        sibling = _node(element, f"proof[{i}]")
        node = keccak(node + sibling if node < sibling else sibling + node)
    return node


def verify(root: str, leaf_values: tuple[str, int], proof: Sequence[str]) -> bool:
    """Whether ``proof`` shows that ``(address, amount)`` is in the tree with this root.

    Like ``StandardMerkleTree.verify(root, ["address", "uint256"], leaf, proof)``.

    Raises:
        InvalidInput: a malformed root, value or proof element (a well-formed wrong proof gives False).
    """
    expected = _node(root, "root")
    hasher = new_hasher()
    _raw, _account, _amount, encoded = check_entry(leaf_values, hasher, "leaf_values")
    return process_proof(hasher.keccak2(encoded), proof) == expected


def _node(text: str, field: str) -> bytes:
    if isinstance(text, str) and len(text) == 66 and text.startswith("0x"):
        try:
            node = bytes.fromhex(text[2:])
        except ValueError:
            node = b""
        if len(node) == 32:
            return node
    raise InvalidInput(f"{field} {text!r} is not 0x followed by 64 hex digits", field=field)
