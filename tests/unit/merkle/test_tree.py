"""The tree's layout, lookups, dumps and the errors it gives for bad values."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from tests.unit.merkle.conftest import UINT256_MAX, numbered

from datacoop import merkle
from datacoop.errors import IntegrityError, InvalidInput, NotFound

ALICE = "0x00000000000000000000000000000000000a11ce"
BOB = "0x0000000000000000000000000000000000000b0b"


def node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def test_leaf_is_double_keccak_of_abi_encoding() -> None:
    encoded = bytes(12) + bytes.fromhex(ALICE[2:]) + (5 * 10**18).to_bytes(32, "big")
    assert merkle.leaf_hash(ALICE, 5 * 10**18) == keccak(keccak(encoded))


def test_one_value_is_its_own_root_with_an_empty_proof() -> None:
    tree = merkle.build([(ALICE, 7)])
    assert tree.root == "0x" + merkle.leaf_hash(ALICE, 7).hex()
    assert tree.proof(0) == []
    assert merkle.verify(tree.root, (ALICE, 7), [])


def test_layout_leaves_last_in_reverse_sorted_order() -> None:
    # Prepare
    values = numbered(5)
    leaves = [merkle.leaf_hash(a, x) for a, x in values]
    # Execute
    nodes = [bytes.fromhex(h[2:]) for h in merkle.build(values).dump()["tree"]]
    # Assert
    assert nodes[4:] == sorted(leaves, reverse=True)  # smallest hash in the last slot
    for i in range(4):
        assert nodes[i] == node_hash(nodes[2 * i + 1], nodes[2 * i + 2])


def test_index_is_the_input_position_not_the_sorted_one() -> None:
    values = numbered(9)
    tree = merkle.build(values)
    for i, value in enumerate(values):
        assert tree.proof(i) == tree.proof(value)
        assert tree.index(value[0]) == i
        assert merkle.verify(tree.root, value, tree.proof(i))


def test_accounts_come_back_in_eip55_form_whatever_their_case() -> None:
    raw = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
    for spelling in (raw, raw.upper().replace("0X", "0x"), to_checksum_address(raw)):
        tree = merkle.build([(spelling, 1), (ALICE, 2)])
        assert list(tree.proofs_by_account()) == [to_checksum_address(raw), to_checksum_address(ALICE)]
        assert tree.values[0] == (to_checksum_address(raw), 1)
        assert tree.index(raw) == 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "values is empty"),
        ([(ALICE,)], "values[0]: "),
        ([(ALICE, 1), (BOB, -1)], "values[1]: amount -1 is outside uint256"),
        ([(ALICE, UINT256_MAX + 1)], "values[0]: amount"),
        ([(ALICE, 1.0)], "values[0]: amount 1.0 is not an integer"),
        ([(ALICE, True)], "values[0]: amount True is not an integer"),
        ([(ALICE, "5")], "values[0]: amount '5' is not an integer"),
        ([(ALICE, 1), ("0x1234", 1)], "values[1]: address '0x1234' is not 0x followed by 40 hex digits"),
        ([(ALICE[2:] + "00", 1)], "is not 0x followed by 40 hex digits"),
        ([("0x" + "g" * 40, 1)], "is not 0x followed by 40 hex digits"),
        ([("0x" + "12 " * 13 + "1", 1)], "is not 0x followed by 40 hex digits"),
        ([(ALICE, 1), ("0x" + "1234 " * 8, 1)], "values[1]: address '0x1234 1234"),  # spaces fromhex skips
        ([(ALICE, 1), ("0x0x" + "ab" * 19, 1)], "values[1]: address '0x0xabab"),
        ([(None, 1)], "values[0]: address None"),
        ([("0xFb6916095ca1df60bB79Ce92cE3Ea74c37c5d359", 1)], "wrong EIP-55 checksum (did you mean 0xfB69"),
    ],
)
def test_malformed_values_are_refused_naming_the_index(values: list[Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        merkle.build(values)
    assert caught.value.field == "values"
    assert message in caught.value.message


def test_a_repeated_account_is_refused_in_any_spelling() -> None:
    with pytest.raises(InvalidInput) as caught:
        merkle.build([(ALICE, 1), (BOB, 2), (ALICE.upper().replace("0X", "0x"), 3)])
    assert caught.value.field == "values"
    assert caught.value.message.startswith(
        f"values[2]: account {to_checksum_address(ALICE)} already appears at values[0]"
    )


def test_lookups_of_what_is_not_there() -> None:
    tree = merkle.build(numbered(3))
    with pytest.raises(NotFound):
        tree.proof(3)
    with pytest.raises(NotFound):
        tree.proof(-1)  # not Python's "from the end"
    with pytest.raises(NotFound):
        tree.proof((numbered(1)[0][0], 999))  # right account, wrong amount
    with pytest.raises(NotFound):
        tree.index(BOB)
    with pytest.raises(InvalidInput):
        tree.proof(("0xnope", 1))


def test_dump_round_trips_and_refuses_tampering() -> None:
    # Prepare
    dump = merkle.build(numbered(6)).dump()
    tampered = copy.deepcopy(dump)
    tampered["tree"][3] = "0x" + "00" * 32
    reordered = copy.deepcopy(dump)
    reordered["values"][0]["treeIndex"], reordered["values"][1]["treeIndex"] = (
        dump["values"][1]["treeIndex"],
        dump["values"][0]["treeIndex"],
    )
    # Execute / Assert
    assert merkle.load(dump).dump() == dump
    assert dump["values"][0] == {
        "value": [numbered(1)[0][0], "1000"],
        "treeIndex": dump["values"][0]["treeIndex"],
    }
    for bad in (tampered, reordered):
        with pytest.raises(IntegrityError):
            merkle.load(bad)
    with pytest.raises(InvalidInput):
        merkle.load({**dump, "leafEncoding": ["address", "uint128"]})


def test_values_from_json_takes_decimal_strings_and_integers_only() -> None:
    assert merkle.values_from_json([[ALICE, "0010"], [BOB, 7]]) == [(ALICE, 10), (BOB, 7)]
    for bad in ("1e3", "0x10", "-1", " 1", "1_000", "\u0661", 1.5, True, None, "9" * 79):
        with pytest.raises(InvalidInput):
            merkle.values_from_json([[ALICE, bad]])
    for shape in ({"a": 1}, [[ALICE]], [ALICE]):
        with pytest.raises(InvalidInput):
            merkle.values_from_json(shape)


def test_verify_refuses_malformed_roots_and_proofs() -> None:
    tree = merkle.build(numbered(4))
    with pytest.raises(InvalidInput):
        merkle.verify("0x1234", numbered(1)[0], tree.proof(0))
    with pytest.raises(InvalidInput):
        merkle.verify(tree.root, numbered(1)[0], [*tree.proof(0)[:-1], "0xzz"])
    with pytest.raises(InvalidInput):
        merkle.process_proof(b"short", [])
