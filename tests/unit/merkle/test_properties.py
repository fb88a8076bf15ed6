"""Properties over drawn value sets: proofs verify, any change breaks them, nodes are not leaves."""

from __future__ import annotations

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.unit.merkle.conftest import UINT256_MAX, Values, addresses, value_lists

from datacoop import merkle
from datacoop.errors import InvalidInput
from datacoop.merkle._keccak import new_hasher
from datacoop.merkle._values import _check_in_bulk, _check_one_by_one


@settings(max_examples=60)
@given(values=value_lists(max_size=60))
def test_every_proof_verifies(values: Values) -> None:
    tree = merkle.build(values)
    for value, proof in zip(values, tree.proofs(), strict=True):
        assert merkle.verify(tree.root, value, proof)


@settings(max_examples=60)
@given(values=value_lists(min_size=2, max_size=40), data=st.data())
def test_an_altered_amount_account_or_proof_fails(values: Values, data: st.DataObject) -> None:
    # Prepare
    tree = merkle.build(values)
    i = data.draw(st.integers(0, len(values) - 1), label="index")
    account, amount = values[i]
    proof = tree.proof(i)
    other_amount = data.draw(st.integers(0, UINT256_MAX).filter(lambda x: x != amount), label="amount")
    other_account = data.draw(addresses().filter(lambda a: a.lower() != account.lower()), label="account")
    step = data.draw(st.integers(0, len(proof) - 1), label="step")
    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = int(proof[step], 16) ^ (1 << bit)
    # Execute / Assert
    assert not merkle.verify(tree.root, (account, other_amount), proof)
    assert not merkle.verify(tree.root, (other_account, amount), proof)
    assert not merkle.verify(tree.root, values[i], [*proof[:step], f"0x{flipped:064x}", *proof[step + 1 :]])
    assert not merkle.verify(tree.root, values[i], proof[:-1])  # a shortened proof


@settings(max_examples=40)
@given(values=value_lists(min_size=3, max_size=40), data=st.data())
def test_an_internal_node_presented_as_a_leaf_fails(values: Values, data: st.DataObject) -> None:
    # Prepare: an internal node, its 64-byte preimage (the sorted children) and its proof to the root.
    tree = merkle.build(values)
    root = bytes.fromhex(tree.root[2:])
    nodes = [bytes.fromhex(h[2:]) for h in tree.dump()["tree"]]
    at = data.draw(st.integers(1, len(nodes) // 2 - 1), label="internal node")
    left, right = nodes[2 * at + 1], nodes[2 * at + 2]
    preimage = min(left, right) + max(left, right)  # 64 bytes, as long as abi.encode(address, uint256)
    shortened = _proof_from(nodes, at)
    # Execute
    node_itself = merkle.process_proof(nodes[at], shortened)
    node_as_value = merkle.process_proof(new_hasher().keccak2(preimage), shortened)
    # Assert: the raw node reaches the root (so the attempt is a real one), but a verifier hashes any
    # claimed value twice, and that never lands on the node.
    assert node_itself == root
    assert node_as_value != root


def _proof_from(nodes: list[bytes], at: int) -> list[str]:
    proof = []
    while at:
        proof.append("0x" + nodes[((at - 1) ^ 1) + 1].hex())
        at = (at - 1) >> 1
    return proof


@settings(max_examples=40)
@given(values=value_lists(min_size=1, max_size=20), data=st.data())
def test_a_repeated_account_is_always_refused(values: Values, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(values) - 1), label="repeated")
    spelling = data.draw(st.sampled_from([str.lower, str.upper]), label="case")
    repeat = ("0x" + spelling(values[i][0][2:]), values[i][1] // 2)  # same account, any amount
    at = data.draw(st.integers(0, len(values)), label="at")
    with pytest.raises(InvalidInput) as caught:
        merkle.build([*values[:at], repeat, *values[at:]])
    assert caught.value.field == "values"
    assert "already appears at" in caught.value.message


@settings(max_examples=60)
@given(values=value_lists(max_size=30, spelling="lower") | value_lists(max_size=30, spelling="checksum"))
def test_bulk_checks_agree_with_one_by_one(values: Values) -> None:
    hasher = new_hasher()
    bulk = _check_in_bulk(values, hasher)
    single, _raws = _check_one_by_one(values, hasher)
    assert bulk is not None  # lower case and EIP-55 lists take the bulk path
    entries, _raws = bulk
    assert (entries.bodies, entries.amounts, entries.leaves, entries.index_of) == (
        single.bodies,
        single.amounts,
        single.leaves,
        single.index_of,
    )
    assert entries.checksummed in (None, "".join(to_checksum_address(a)[2:] for a, _x in values))


@settings(max_examples=40)
@given(values=value_lists(max_size=30))
def test_spelling_of_accounts_does_not_change_the_tree(values: Values) -> None:
    lowered = [(account.lower(), amount) for account, amount in values]
    assert merkle.build(values).dump() == merkle.build(lowered).dump()


@given(values=value_lists(min_size=2, max_size=10), data=st.data())
def test_one_bad_value_among_good_ones_is_named(values: Values, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(values) - 1), label="bad")
    bad = data.draw(st.sampled_from([(values[i][0], -1), (values[i][0], UINT256_MAX + 1), ("0x12", 1)]))
    assume(bad[0] != values[i][0] or bad[1] != values[i][1])
    with pytest.raises(InvalidInput) as caught:
        merkle.build([*values[:i], bad, *values[i + 1 :]])
    assert caught.value.message.startswith(f"values[{i}]: ")
