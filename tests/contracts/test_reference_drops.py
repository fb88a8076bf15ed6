"""The measurement-only reference distributions (``contracts/tests/reference``) pay what they should.

``contracts/scripts/measure_gas.py`` sets their gas beside TaskEscrow's; these checks keep that
comparison about contracts that work: a reference that skipped its proof check or its cap
would look cheaper than it is.
"""

from __future__ import annotations

from typing import Any

import boa
import pytest
from tests.contracts.conftest import REPO, UNIT
from tests.contracts.tree import build_tree

REFERENCE = REPO / "contracts" / "tests" / "reference"


@pytest.fixture(scope="module")
def reference_deployers() -> dict[str, Any]:
    return {
        name: boa.load_partial(str(REFERENCE / f"{name}.vy"))
        for name in ("ReferenceDrop", "ReferenceCappedDrop")
    }


def test_the_reference_drop_pays_a_valid_proof_once_and_refuses_a_forged_one(
    reference_deployers: dict[str, Any], token: Any, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    drop = reference_deployers["ReferenceDrop"].deploy(token.address)
    token.mint(drop.address, 100 * UNIT)
    tree = build_tree([(alice, 10 * UNIT), (bob, 20 * UNIT)])
    drop.setRoot(tree.root)
    with boa.reverts("ReferenceDrop: invalid proof"):
        drop.claim(alice, 20 * UNIT, tree.proof(alice, 10 * UNIT))
    drop.claim(alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    with boa.reverts("ReferenceDrop: nothing to claim"):
        drop.claim(alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    assert token.balanceOf(alice) == 10 * UNIT


def test_the_capped_reference_cannot_pay_past_its_total(
    reference_deployers: dict[str, Any], token: Any, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    drop = reference_deployers["ReferenceCappedDrop"].deploy(token.address)
    token.mint(drop.address, 100 * UNIT)
    tree = build_tree([(alice, 10 * UNIT), (bob, 20 * UNIT)])
    drop.setRoot(tree.root, 25 * UNIT)  # a faulty total: the leaves add up to 30
    drop.claim(bob, 20 * UNIT, tree.proof(bob, 20 * UNIT))
    with boa.reverts("ReferenceCappedDrop: claim above total"):
        drop.claim(alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    with boa.reverts("ReferenceCappedDrop: invalid proof"):
        drop.claim(alice, 5 * UNIT, tree.proof(alice, 10 * UNIT))
    assert (token.balanceOf(alice), token.balanceOf(bob)) == (0, 20 * UNIT)
