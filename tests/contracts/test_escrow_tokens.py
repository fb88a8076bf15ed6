"""TaskEscrow with awkward and hostile tokens (RELIABILITY A1, A3, A4, A6)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from tests.contracts.conftest import DAY
from tests.contracts.tree import Tree, build_tree


def _open(escrow: Any, token: Any, requester: str, amount: int) -> int:
    token.mint(requester, 10 * amount)
    token.approve(escrow.address, 2**256 - 1, sender=requester)
    return int(escrow.openTask(token.address, amount, boa.env.timestamp + DAY, DAY, sender=requester))


def _post(escrow: Any, operator: str, task_id: int, values: list[tuple[str, int]]) -> Tree:
    tree = build_tree(values)
    escrow.postRoot(
        task_id, escrow.tasks(task_id).epoch + 1, tree.root, sum(v for _, v in values), sender=operator
    )
    return tree


# ---- A1: fee-on-transfer -------------------------------------------------------------------


def test_a_fee_on_transfer_deposit_credits_what_arrived(
    deployers: dict[str, Any], escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    # Prepare
    token = deployers["FeeOnTransferToken"].deploy()
    # Execute
    task_id = _open(escrow, token, requester, 1000)
    escrow.topUp(task_id, 200, sender=requester)
    # Assert: 1 % kept by the token each time; the requested amount is never credited
    assert escrow.tasks(task_id).funded == 990 + 198
    assert token.balanceOf(escrow.address) == 990 + 198
    with boa.reverts("cumulative_merkle: total above funded"):
        escrow.postRoot(task_id, 1, b"\1" * 32, 1200, sender=operator)
    alice, bob = contributors[:2]
    tree = _post(escrow, operator, task_id, [(alice, 1000), (bob, 188)])
    escrow.claim(task_id, alice, 1000, tree.proof(alice, 1000))
    escrow.claim(task_id, bob, 188, tree.proof(bob, 188))
    assert token.balanceOf(escrow.address) == 0
    assert (token.balanceOf(alice), token.balanceOf(bob)) == (990, 187)  # the token's fee, not ours


# ---- A6: tokens returning nothing or false -------------------------------------------------


def test_a_token_returning_nothing_works_end_to_end(
    deployers: dict[str, Any], escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    token = deployers["NoReturnToken"].deploy()
    alice, bob = contributors[:2]
    task_id = _open(escrow, token, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    boa.env.time_travel(seconds=2 * DAY + 1)
    escrow.refund(task_id, sender=requester)
    assert (token.balanceOf(alice), token.balanceOf(escrow.address)) == (30, 0)
    assert token.balanceOf(requester) == 1000 - 30


def test_a_token_returning_nothing_still_reverts_on_failure(
    deployers: dict[str, Any], escrow: Any, stranger: str
) -> None:
    token = deployers["NoReturnToken"].deploy()
    token.approve(escrow.address, 100, sender=stranger)  # approved but holds nothing
    with boa.reverts():
        escrow.openTask(token.address, 100, boa.env.timestamp + DAY, DAY, sender=stranger)


def test_a_token_returning_false_on_deposit_is_no_deposit(
    deployers: dict[str, Any], escrow: Any, requester: str
) -> None:
    token = deployers["FalseReturnToken"].deploy()
    token.mint(requester, 100)
    token.approve(escrow.address, 100, sender=requester)
    token.setBroken(True)
    with boa.reverts("safe_erc20: transferFrom failed"):
        escrow.openTask(token.address, 100, boa.env.timestamp + DAY, DAY, sender=requester)
    assert escrow.taskCount() == 0


def test_a_token_returning_false_on_payout_leaves_the_claim_unpaid(
    deployers: dict[str, Any], escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    token = deployers["FalseReturnToken"].deploy()
    alice, bob = contributors[:2]
    task_id = _open(escrow, token, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    token.setBroken(True)
    with boa.reverts("safe_erc20: transfer failed"):
        escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    assert escrow.claimed(task_id, alice) == 0
    assert escrow.tasks(task_id).paid == 0
    token.setBroken(False)
    escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    assert token.balanceOf(alice) == 30


# ---- A3 / A4: re-entrant token -------------------------------------------------------------


@pytest.fixture
def hostile(deployers: dict[str, Any]) -> Any:
    return deployers["ReentrantToken"].deploy()


def test_a_claim_reentered_from_the_token_pays_once(
    hostile: Any, escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    """RELIABILITY A3: the token calls `claim` again from inside the payout."""
    # Prepare
    alice, bob = contributors[:2]
    task_id = _open(escrow, hostile, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    again = escrow.claim.prepare_calldata(task_id, alice, 30, tree.proof(alice, 30))
    hostile.arm(escrow.address, again, False)
    # Execute
    escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    # Assert
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(alice) == 30
    assert escrow.tasks(task_id).paid == 30
    assert hostile.balanceOf(escrow.address) == 70


@pytest.mark.parametrize("function", ["refund", "claim", "topUp", "openTask", "postRoot"])
def test_every_entry_point_is_locked_during_a_payout(
    hostile: Any, escrow: Any, requester: str, operator: str, contributors: list[str], function: str
) -> None:
    """RELIABILITY A4: cross-function re-entry into the compiled bytecode reverts (one lock)."""
    alice, bob = contributors[:2]
    task_id = _open(escrow, hostile, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    payloads = {
        "refund": escrow.refund.prepare_calldata(task_id),
        "claim": escrow.claim.prepare_calldata(task_id, bob, 20, tree.proof(bob, 20)),
        "topUp": escrow.topUp.prepare_calldata(task_id, 1),
        "openTask": escrow.openTask.prepare_calldata(hostile.address, 1, boa.env.timestamp + DAY, DAY),
        "postRoot": escrow.postRoot.prepare_calldata(task_id, 2, b"\1" * 32, 50),
    }
    hostile.arm(escrow.address, payloads[function], True)  # bubble: the inner revert fails the claim
    with pytest.raises(BoaError) as failure:
        escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    # The innermost frame is the re-entered function, stopped with no reason at its entry: the
    # lock, not one of its own checks (each of those carries a reason string).
    innermost = failure.value.stack_trace[-1]
    assert innermost.vm_error.args[0] == b""
    assert len(failure.value.stack_trace) == 3  # claim -> token.transfer -> re-entered function
    assert escrow.claimed(task_id, alice) == 0
    hostile.arm(escrow.address, payloads[function], False)
    escrow.claim(task_id, alice, 30, tree.proof(alice, 30))
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert escrow.tasks(task_id).paid == 30


def test_a_refund_reentered_from_the_token_pays_once(
    hostile: Any, escrow: Any, requester: str, contributors: list[str]
) -> None:
    task_id = _open(escrow, hostile, requester, 100)
    boa.env.time_travel(seconds=2 * DAY + 1)
    hostile.arm(escrow.address, escrow.refund.prepare_calldata(task_id), False)
    escrow.refund(task_id, sender=requester)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(requester) == 1000
    assert hostile.balanceOf(escrow.address) == 0


def test_a_deposit_reentered_from_the_token_is_refused(hostile: Any, escrow: Any, requester: str) -> None:
    hostile.mint(requester, 1000)
    hostile.approve(escrow.address, 2**256 - 1, sender=requester)
    inner = escrow.openTask.prepare_calldata(hostile.address, 1, boa.env.timestamp + DAY, DAY)
    hostile.arm(escrow.address, inner, False)
    escrow.openTask(hostile.address, 100, boa.env.timestamp + DAY, DAY, sender=requester)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert escrow.taskCount() == 1
    assert escrow.tasks(1).funded == 100
