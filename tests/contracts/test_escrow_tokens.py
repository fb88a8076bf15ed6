"""TaskEscrow with awkward and hostile tokens (RELIABILITY A1, A3, A4, A6)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError
from eth.exceptions import Revert
from tests.contracts.conftest import DAY, NO_CAP
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
    assert escrow.held(task_id, token) == 990 + 198
    with boa.reverts("TaskEscrow: total above funded"):
        escrow.postRoot(task_id, 1, b"\1" * 32, 1200, sender=operator)
    alice, bob = contributors[:2]
    tree = _post(escrow, operator, task_id, [(alice, 1000), (bob, 188)])
    escrow.claim(task_id, alice, 1000, tree.proof(alice, 1000))
    escrow.claim(task_id, bob, 188, tree.proof(bob, 188))
    assert escrow.held(task_id, token) == 0
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
    assert (token.balanceOf(alice), escrow.held(task_id, token)) == (30, 0)
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
    with boa.reverts("TaskEscrow: transferFrom failed"):
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
    with boa.reverts("TaskVault: transfer failed"):
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
    vault = escrow.vault(task_id)
    again = vault.claim.prepare_calldata(alice, 30, tree.proof(alice, 30))
    hostile.arm(vault.address, again, False)
    # Execute
    vault.claim(alice, 30, tree.proof(alice, 30))
    # Assert
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(alice) == 30
    assert escrow.tasks(task_id).paid == 30
    assert hostile.balanceOf(vault.address) == 70


def test_a_claim_for_another_account_inside_a_payout_keeps_the_books(
    hostile: Any, escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    """The vault's claim takes no lock (gas): it writes `claimed` before paying, so a claim that
    re-enters it for another account pays that account exactly what it is owed, once."""
    alice, bob = contributors[:2]
    task_id = _open(escrow, hostile, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    vault = escrow.vault(task_id)
    hostile.arm(vault.address, vault.claim.prepare_calldata(bob, 20, tree.proof(bob, 20)), True)
    vault.claim(alice, 30, tree.proof(alice, 30))
    assert hostile.reentered() and hostile.reentrySucceeded()
    balances = [hostile.balanceOf(a) for a in (alice, bob, vault.address)]
    assert balances == [30, 20, 50]
    assert (vault.claimed(alice), vault.claimed(bob), escrow.tasks(task_id).paid) == (30, 20, 50)
    for account, amount in ((alice, 30), (bob, 20)):
        with boa.reverts("TaskVault: nothing to claim"):
            vault.claim(account, amount, tree.proof(account, amount))


@pytest.mark.parametrize("function", ["refund", "topUp", "openTask", "postRoot"])
def test_every_escrow_entry_point_is_locked_during_a_refund(
    hostile: Any, escrow: Any, requester: str, operator: str, function: str
) -> None:
    """RELIABILITY A4: re-entry into the factory while it pays out (refund) reverts at its lock."""
    task_id = _open(escrow, hostile, requester, 100)
    payloads = {
        "refund": escrow.refund.prepare_calldata(task_id),
        "topUp": escrow.topUp.prepare_calldata(task_id, 1),
        "openTask": escrow.openTask.prepare_calldata(hostile.address, 1, boa.env.timestamp + DAY, DAY),
        "postRoot": escrow.factory.postRoot.prepare_calldata(task_id, 1, b"\1" * 32, 50, NO_CAP),
    }
    boa.env.time_travel(seconds=2 * DAY + 1)
    hostile.arm(escrow.address, payloads[function], True)  # bubble: the inner revert fails the refund
    with pytest.raises(BoaError) as failure:
        escrow.refund(task_id, sender=requester)
    # The innermost frame is the re-entered function, stopped with no reason at its entry: the
    # lock, not one of its own checks (each of those carries a reason string).
    innermost = failure.value.stack_trace[-1]
    assert innermost.vm_error.args[0] == b""
    # refund -> the vault (a proxy) -> its implementation's release (DELEGATECALL) -> transfer -> re-entered
    assert len(failure.value.stack_trace) == 5
    assert not escrow.tasks(task_id).refunded
    hostile.arm(escrow.address, payloads[function], False)
    escrow.refund(task_id, sender=requester)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(requester) == 1000


def test_the_vault_takes_roots_only_from_its_escrow(
    hostile: Any, escrow: Any, requester: str, operator: str, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    task_id = _open(escrow, hostile, requester, 100)
    tree = _post(escrow, operator, task_id, [(alice, 30), (bob, 20)])
    vault = escrow.vault(task_id)
    payload = vault.setRoot.prepare_calldata(b"\1" * 32, 0)
    for caller in (requester, operator):
        with pytest.raises(Revert):
            boa.env.raw_call(vault.address, data=payload, sender=caller)
    hostile.arm(vault.address, payload, False)  # from inside a payout: refused too
    vault.claim(alice, 30, tree.proof(alice, 30))
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert vault.root() == tree.root


def test_the_vault_releases_its_tokens_only_to_its_escrow(
    token: Any, escrow: Any, requester: str, operator: str, stranger: str
) -> None:
    task_id = _open(escrow, token, requester, 100)
    vault = escrow.vault(task_id)
    boa.env.time_travel(seconds=2 * DAY + 1)  # past the closing time: only the caller is wrong
    for caller in (requester, operator, stranger):
        with pytest.raises(Revert):
            boa.env.raw_call(vault.address, data=vault.release.prepare_calldata(caller), sender=caller)
    assert escrow.held(task_id, token) == 100
    escrow.refund(task_id, sender=requester)
    assert (escrow.held(task_id, token), token.balanceOf(requester)) == (0, 1000)


def test_a_refund_reentered_from_the_token_pays_once(
    hostile: Any, escrow: Any, requester: str, contributors: list[str]
) -> None:
    task_id = _open(escrow, hostile, requester, 100)
    boa.env.time_travel(seconds=2 * DAY + 1)
    hostile.arm(escrow.address, escrow.refund.prepare_calldata(task_id), False)
    escrow.refund(task_id, sender=requester)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert hostile.balanceOf(requester) == 1000
    assert escrow.held(task_id, hostile) == 0


def test_a_deposit_reentered_from_the_token_is_refused(hostile: Any, escrow: Any, requester: str) -> None:
    hostile.mint(requester, 1000)
    hostile.approve(escrow.address, 2**256 - 1, sender=requester)
    inner = escrow.openTask.prepare_calldata(hostile.address, 1, boa.env.timestamp + DAY, DAY)
    hostile.arm(escrow.address, inner, False)
    escrow.openTask(hostile.address, 100, boa.env.timestamp + DAY, DAY, sender=requester)
    assert hostile.reentered() and not hostile.reentrySucceeded()
    assert escrow.taskCount() == 1
    assert escrow.tasks(1).funded == 100
