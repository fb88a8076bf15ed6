"""Merkle trees for the contract tests, built by DataCoop's production builder (``datacoop.merkle``).

The contracts take roots and proofs as ``bytes32``; titanoboa wants those as ``bytes``, so this
thin adapter converts the builder's hex output. Also: the leaf hash, and a proof-walker, to
build hand-made (malicious) inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak

from datacoop.merkle import MerkleTree, build


@dataclass(frozen=True)
class Tree:
    """A built tree: its root and every proof, as bytes."""

    tree: MerkleTree
    root: bytes

    def proof(self, account: str, amount: int) -> list[bytes]:
        return [bytes.fromhex(node[2:]) for node in self.tree.proof((account, amount))]

    @property
    def nodes(self) -> list[bytes]:
        """Every node, OpenZeppelin's layout: node i has children 2i+1 and 2i+2."""
        return [bytes.fromhex(node[2:]) for node in self.tree.dump()["tree"]]


def build_tree(values: list[tuple[str, int]]) -> Tree:
    tree = build(values)
    return Tree(tree=tree, root=bytes.fromhex(tree.root[2:]))


def leaf(account: str, amount: int) -> bytes:
    """``keccak256(keccak256(abi.encode(account, amount)))``."""
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a < b else b + a)


def walk(node: bytes, proof: list[bytes]) -> bytes:
    """The root a proof leads to from a node."""
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node
