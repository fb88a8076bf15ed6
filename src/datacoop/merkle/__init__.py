"""Merkle trees of ``(address, uint256)`` values, byte for byte as OpenZeppelin's ``StandardMerkleTree``.

What is built is what ``StandardMerkleTree.of(values, ["address", "uint256"])`` of
``@openzeppelin/merkle-tree`` 1.0.8 builds, read from its source:

- leaf = ``keccak256(keccak256(abi.encode(address, amount)))``;
- leaves are sorted by hash (ascending) and stored at the end of one array in *reverse* order,
  so the smallest hash is the last element; node ``i`` has children ``2i+1`` and ``2i+2``;
- a parent is ``keccak256`` of its two children concatenated smaller first;
- a proof lists sibling hashes from the leaf up; ``proof(i)`` addresses the value by its input
  position, not its place in the sorted order.

Two deliberate differences: each address may appear only once (DataCoop's entitlements are
cumulative; OpenZeppelin would accept repeats), and a mixed-case address must carry a correct
EIP-55 checksum. Accounts come back in EIP-55 form; the root and proofs are lower-case hex.

Speed (``benchmarks/merkle.py``): a tree of 1,000,000 values and all its proofs take ~9 s on one
core with pycryptodome's Keccak, ~8 s where safe-pysha3 is installed (picked up by itself).
Every function makes its own hasher, so trees may be built and read from several threads.

Trees over other leaf types (e.g. ``["uint256", "bytes32"]`` for dataset items) come from
:func:`build_typed` in the same layout, through ``eth_abi``.
"""

from datacoop.merkle._keccak import BACKEND as KECCAK_BACKEND
from datacoop.merkle._standard_v1 import load
from datacoop.merkle._tree import LEAF_ENCODING, MerkleTree, build
from datacoop.merkle._typed import LeafTree, build_from_leaves, build_typed, typed_leaf_hash, verify_typed
from datacoop.merkle._values import values_from_json
from datacoop.merkle._verify import leaf_hash, process_proof, verify

__all__ = [
    "KECCAK_BACKEND",
    "LEAF_ENCODING",
    "LeafTree",
    "MerkleTree",
    "build",
    "build_from_leaves",
    "build_typed",
    "leaf_hash",
    "load",
    "process_proof",
    "typed_leaf_hash",
    "values_from_json",
    "verify",
    "verify_typed",
]
