"""The cumulative-Merkle claim piece settlement and royalties share."""

from __future__ import annotations

import pytest

from datacoop import merkle
from datacoop.errors import Conflict
from datacoop.identity.addresses import normalize_address
from datacoop.settlement.cumulative import entitlement

A = normalize_address("0x" + "ab" * 20)
B = normalize_address("0x" + "cd" * 20)


def test_an_entitlement_carries_a_proof_of_the_posted_root() -> None:
    values = {A: 30, B: 12}
    root = merkle.build(sorted(values.items())).root
    account = A
    found = entitlement(values, root, account, mismatch="no", field="epoch")
    assert found is not None and merkle.verify(root, (account, 30), found.proof)
    claim = found.claim_json(claimed=10)
    assert (claim["cumulative"], claim["claimed"], claim["claimable"], claim["root"]) == (
        "30",
        "10",
        "20",
        root,
    )
    assert found.claim_json(claimed=40)["claimable"] == "0"


def test_no_entitlement_for_an_account_without_a_value() -> None:
    values = {A: 30}
    assert (
        entitlement(values, merkle.build(sorted(values.items())).root, B, mismatch="x", field="round") is None
    )


def test_stored_values_that_do_not_rebuild_the_root_are_a_conflict() -> None:
    values, account = {A: 30}, A
    with pytest.raises(Conflict, match="do not rebuild") as caught:
        entitlement(values, "0x" + "00" * 32, account, mismatch="stored values do not rebuild", field="round")
    assert caught.value.field == "round"
