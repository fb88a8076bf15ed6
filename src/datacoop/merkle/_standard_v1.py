"""Reading OpenZeppelin's ``standard-v1`` JSON dump back (``MerkleTree.dump`` writes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datacoop.errors import IntegrityError, InvalidInput
from datacoop.merkle._tree import LEAF_ENCODING, MerkleTree, build
from datacoop.merkle._values import values_from_json

__all__ = ["load"]


def load(data: Mapping[str, Any]) -> MerkleTree:
    """Rebuild a tree from a ``standard-v1`` dump (ours, or ``JSON.parse`` of OpenZeppelin's ``dump()``).

    The tree is built again from the dump's values and must equal the dump node for node.

    Raises:
        InvalidInput: not a ``standard-v1`` dump of ``(address, uint256)`` values, or bad values.
        IntegrityError: the dump's nodes or tree indices are not the ones its values give.
    """
    if data.get("format") != "standard-v1" or data.get("leafEncoding") != list(LEAF_ENCODING):
        raise InvalidInput("not a standard-v1 dump with leafEncoding [address, uint256]", field="format")
    entries = data.get("values")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise InvalidInput("a dump's values are a list of {value, treeIndex} objects", field="values")
    tree = build(values_from_json([entry.get("value") for entry in entries]))
    rebuilt = tree.dump()
    nodes = data.get("tree")
    given_nodes = (
        [node.lower() for node in nodes if isinstance(node, str)] if isinstance(nodes, list) else None
    )
    given_index = [entry.get("treeIndex") for entry in entries]
    if given_nodes != rebuilt["tree"] or given_index != [entry["treeIndex"] for entry in rebuilt["values"]]:
        raise IntegrityError(
            "the dump's tree does not match its values (was it built with sortLeaves: false?)"
        )
    return tree
