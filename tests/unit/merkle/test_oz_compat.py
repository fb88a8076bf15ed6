"""Byte for byte against OpenZeppelin's @openzeppelin/merkle-tree: roots, proofs, dumps both ways."""

from __future__ import annotations

import random

from hypothesis import given, settings
from tests.unit.merkle.conftest import UINT256_MAX, OpenZeppelin, Values, numbered, value_lists

from datacoop import merkle


def _random_values(count: int, seed: int) -> Values:
    rng = random.Random(seed)
    return [(f"0x{rng.getrandbits(160):040x}", rng.randrange(UINT256_MAX + 1)) for _ in range(count)]


FIXED_SETS: list[Values] = [
    numbered(1),
    numbered(2),
    numbered(3),
    numbered(7),
    _random_values(100, seed=1),
    _random_values(2**7, seed=2),  # a power of two: every leaf on the last level
    [
        ("0x0000000000000000000000000000000000000000", 0),
        ("0xffffffffffffffffffffffffffffffffffffffff", UINT256_MAX),
    ],
]


def assert_same_as_openzeppelin(sets: list[Values], openzeppelin: OpenZeppelin) -> None:
    trees = [merkle.build(values) for values in sets]
    answer = openzeppelin(sets, dumps=[tree.dump() for tree in trees])
    for values, tree, theirs, loaded in zip(sets, trees, answer["trees"], answer["loaded"], strict=True):
        assert tree.root == theirs["root"]
        assert tree.proofs() == theirs["proofs"]  # getProof(index), every index
        assert [tree.proof(i) for i in range(len(values))] == theirs["proofs"]
        assert [tree.proof(value) for value in values] == theirs["byValue"]  # getProof(value)
        assert tree.dump()["tree"] == theirs["dump"]["tree"]
        assert [v["treeIndex"] for v in tree.dump()["values"]] == [
            v["treeIndex"] for v in theirs["dump"]["values"]
        ]
        assert loaded == {"root": tree.root, "verified": True}  # StandardMerkleTree.load(our dump)
        assert merkle.load(theirs["dump"]).root == tree.root  # and we load theirs


def test_fixed_sets_match_openzeppelin(openzeppelin: OpenZeppelin) -> None:
    assert_same_as_openzeppelin(FIXED_SETS, openzeppelin)


@settings(max_examples=15, deadline=None)
@given(values=value_lists(max_size=40))
def test_drawn_sets_match_openzeppelin(openzeppelin: OpenZeppelin, values: Values) -> None:
    assert_same_as_openzeppelin([values], openzeppelin)
