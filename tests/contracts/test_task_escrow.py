"""TaskEscrow: open, top up, post roots, claim, refund, and every revert (RELIABILITY A2, A5, B7-B12)."""

from __future__ import annotations

from typing import Any

import boa
import pytest
from eth.exceptions import Revert
from tests.contracts.conftest import DAY, UNIT, OpenTask, PostTree
from tests.contracts.tree import build_tree, hash_pair, leaf, walk


def events(contract: Any, name: str) -> list[Any]:
    return [log for log in contract.get_logs() if type(log).__name__ == name]


def assert_solvent(escrow: Any, token: Any) -> None:
    """Each task's vault holds what the task could still pay or refund (RELIABILITY A2)."""
    for task_id in range(1, escrow.taskCount() + 1):
        task = escrow.tasks(task_id)
        assert task.paid <= task.funded and task.total <= task.funded
        assert escrow.held(task_id, token) == (0 if task.refunded else task.funded - task.paid)
    assert token.balanceOf(escrow.address) == 0  # the factory itself never holds tokens


# ---- openTask ------------------------------------------------------------------------------


def test_open_task_pulls_the_budget_and_numbers_tasks_from_one(
    escrow: Any, token: Any, funded_requester: str
) -> None:
    # Prepare
    deadline = boa.env.timestamp + 10 * DAY
    before = token.balanceOf(funded_requester)
    # Execute
    first = escrow.openTask(token.address, 100 * UNIT, deadline, 3 * DAY, sender=funded_requester)
    (opened,) = events(escrow, "TaskOpened")
    second = escrow.openTask(token.address, 5 * UNIT, deadline, 3 * DAY, sender=funded_requester)
    # Assert
    assert (first, second) == (1, 2)
    assert escrow.taskCount() == 2
    task = escrow.tasks(1)
    assert (task.requester, task.token, task.funded, task.paid, task.total, task.epoch) == (
        funded_requester,
        token.address,
        100 * UNIT,
        0,
        0,
        0,
    )
    assert (task.root, task.deadline, task.claimWindow, task.refunded) == (
        b"\0" * 32,
        deadline,
        3 * DAY,
        False,
    )
    assert (opened.taskId, opened.requester, opened.token, opened.funded) == (
        1,
        funded_requester,
        token.address,
        100 * UNIT,
    )
    assert (opened.deadline, opened.claimWindow, opened.vault) == (deadline, 3 * DAY, task.vault)
    # one vault per task, holding only that task's budget
    assert task.vault == escrow.vaultOf(1) != escrow.vaultOf(2) == escrow.tasks(2).vault
    assert (escrow.held(1, token), escrow.held(2, token)) == (100 * UNIT, 5 * UNIT)
    assert token.balanceOf(escrow.address) == 0
    assert token.balanceOf(funded_requester) == before - 105 * UNIT
    vault = escrow.vault(1)
    assert (vault.TOKEN(), vault.ESCROW(), vault.TASK_ID(), vault.CLOSES_AT()) == (
        token.address,
        escrow.address,
        1,
        deadline + 3 * DAY,
    )
    assert vault.root() == b"\0" * 32


def test_open_task_rejects_the_zero_token(escrow: Any, funded_requester: str) -> None:
    with boa.reverts("TaskEscrow: token is zero"):
        escrow.openTask("0x" + "00" * 20, UNIT, boa.env.timestamp + DAY, DAY, sender=funded_requester)


def test_open_task_rejects_a_zero_amount(escrow: Any, token: Any, funded_requester: str) -> None:
    with boa.reverts("TaskEscrow: amount is zero"):
        escrow.openTask(token.address, 0, boa.env.timestamp + DAY, DAY, sender=funded_requester)


def test_open_task_rejects_a_deadline_not_in_the_future(
    escrow: Any, token: Any, funded_requester: str
) -> None:
    with boa.reverts("TaskEscrow: deadline passed"):
        escrow.openTask(token.address, UNIT, boa.env.timestamp, DAY, sender=funded_requester)


def test_open_task_rejects_a_claim_window_below_one_day(
    escrow: Any, token: Any, funded_requester: str
) -> None:
    assert escrow.MIN_CLAIM_WINDOW() == DAY
    with boa.reverts("TaskEscrow: claim window too short"):
        escrow.openTask(token.address, UNIT, boa.env.timestamp + DAY, DAY - 1, sender=funded_requester)


def test_open_task_rejects_an_end_beyond_64_bits(escrow: Any, token: Any, funded_requester: str) -> None:
    with boa.reverts("TaskEscrow: deadline too far"):
        escrow.openTask(token.address, UNIT, 2**64 - DAY, DAY, sender=funded_requester)


def test_open_task_fails_without_allowance(escrow: Any, token: Any, stranger: str) -> None:
    token.mint(stranger, UNIT)
    with boa.reverts():
        escrow.openTask(token.address, UNIT, boa.env.timestamp + DAY, DAY, sender=stranger)
    assert escrow.taskCount() == 0


def test_open_task_rejects_an_address_without_code_as_token(escrow: Any, funded_requester: str) -> None:
    not_a_token = boa.env.generate_address()
    with boa.reverts():
        escrow.openTask(not_a_token, UNIT, boa.env.timestamp + DAY, DAY, sender=funded_requester)


# ---- topUp ---------------------------------------------------------------------------------


def test_top_up_adds_to_the_budget(
    escrow: Any, token: Any, open_task: OpenTask, funded_requester: str
) -> None:
    task_id = open_task(100 * UNIT)
    escrow.topUp(task_id, 50 * UNIT, sender=funded_requester)
    (topped,) = events(escrow, "TaskToppedUp")
    assert (topped.taskId, topped.amount, topped.funded) == (task_id, 50 * UNIT, 150 * UNIT)
    assert escrow.tasks(task_id).funded == 150 * UNIT
    assert escrow.held(task_id, token) == 150 * UNIT


def test_top_up_is_for_the_requester_only(
    escrow: Any, token: Any, open_task: OpenTask, stranger: str
) -> None:
    task_id = open_task()
    token.mint(stranger, UNIT)
    token.approve(escrow.address, UNIT, sender=stranger)
    with boa.reverts("TaskEscrow: not the requester"):
        escrow.topUp(task_id, UNIT, sender=stranger)


def test_top_up_of_an_unknown_task_reverts(escrow: Any, funded_requester: str) -> None:
    with boa.reverts("TaskEscrow: not the requester"):
        escrow.topUp(7, UNIT, sender=funded_requester)


def test_top_up_closes_at_the_deadline(escrow: Any, open_task: OpenTask, funded_requester: str) -> None:
    task_id = open_task(deadline_in=DAY)
    boa.env.time_travel(seconds=DAY)
    with boa.reverts("TaskEscrow: deadline passed"):
        escrow.topUp(task_id, UNIT, sender=funded_requester)


def test_top_up_rejects_a_zero_amount(escrow: Any, open_task: OpenTask, funded_requester: str) -> None:
    task_id = open_task()
    with boa.reverts("TaskEscrow: amount is zero"):
        escrow.topUp(task_id, 0, sender=funded_requester)


# ---- postRoot ------------------------------------------------------------------------------


def test_post_root_records_epoch_root_and_total(
    escrow: Any, open_task: OpenTask, operator: str, contributors: list[str]
) -> None:
    task_id = open_task(100 * UNIT)
    tree = build_tree([(contributors[0], 10 * UNIT), (contributors[1], 20 * UNIT)])
    escrow.postRoot(task_id, 1, tree.root, 30 * UNIT, sender=operator)
    (posted,) = events(escrow, "RootPosted")
    assert (posted.taskId, posted.epoch, posted.root, posted.total) == (task_id, 1, tree.root, 30 * UNIT)
    task = escrow.tasks(task_id)
    assert (task.epoch, task.root, task.total, task.paid) == (1, tree.root, 30 * UNIT, 0)


def test_post_root_is_for_the_operator_only(
    escrow: Any, open_task: OpenTask, admin: str, stranger: str
) -> None:
    task_id = open_task()
    for caller in (admin, stranger):
        with boa.reverts("access_control: account is missing role"):
            escrow.postRoot(task_id, 1, b"\1" * 32, 0, sender=caller)


def test_the_admin_grants_and_revokes_the_operator_role(
    escrow: Any, open_task: OpenTask, admin: str, operator: str, stranger: str
) -> None:
    task_id = open_task()
    role = escrow.OPERATOR_ROLE()
    escrow.grantRole(role, stranger, sender=admin)
    escrow.postRoot(task_id, 1, b"\1" * 32, 0, sender=stranger)
    escrow.revokeRole(role, operator, sender=admin)
    with boa.reverts("access_control: account is missing role"):
        escrow.postRoot(task_id, 2, b"\1" * 32, 0, sender=operator)
    with boa.reverts("access_control: account is missing role"):
        escrow.grantRole(role, operator, sender=stranger)


@pytest.mark.parametrize("epoch", [0, 2, 5])
def test_post_root_needs_the_next_epoch(escrow: Any, open_task: OpenTask, operator: str, epoch: int) -> None:
    task_id = open_task()
    with boa.reverts("TaskEscrow: epoch out of order"):
        escrow.postRoot(task_id, epoch, b"\1" * 32, 0, sender=operator)


def test_post_root_cannot_repeat_an_epoch(escrow: Any, open_task: OpenTask, operator: str) -> None:
    task_id = open_task()
    escrow.postRoot(task_id, 1, b"\1" * 32, 0, sender=operator)
    with boa.reverts("TaskEscrow: epoch out of order"):
        escrow.postRoot(task_id, 1, b"\2" * 32, 0, sender=operator)


def test_post_root_rejects_the_zero_root(escrow: Any, open_task: OpenTask, operator: str) -> None:
    task_id = open_task()
    with boa.reverts("TaskEscrow: root is zero"):
        escrow.postRoot(task_id, 1, b"\0" * 32, 0, sender=operator)


def test_post_root_total_never_decreases(escrow: Any, open_task: OpenTask, operator: str) -> None:
    task_id = open_task(100 * UNIT)
    escrow.postRoot(task_id, 1, b"\1" * 32, 50 * UNIT, sender=operator)
    with boa.reverts("TaskEscrow: total decreased"):
        escrow.postRoot(task_id, 2, b"\2" * 32, 50 * UNIT - 1, sender=operator)
    escrow.postRoot(task_id, 2, b"\2" * 32, 50 * UNIT, sender=operator)  # equal is fine


def test_post_root_total_never_exceeds_the_budget(escrow: Any, open_task: OpenTask, operator: str) -> None:
    task_id = open_task(100 * UNIT)
    with boa.reverts("TaskEscrow: total above funded"):
        escrow.postRoot(task_id, 1, b"\1" * 32, 100 * UNIT + 1, sender=operator)
    escrow.postRoot(task_id, 1, b"\1" * 32, 100 * UNIT, sender=operator)


def test_post_root_of_an_unknown_task_reverts(escrow: Any, operator: str) -> None:
    with boa.reverts("TaskEscrow: unknown task"):
        escrow.postRoot(3, 1, b"\1" * 32, 0, sender=operator)


def test_post_root_stops_when_claims_close(escrow: Any, open_task: OpenTask, operator: str) -> None:
    task_id = open_task(deadline_in=DAY, window=DAY)
    boa.env.time_travel(seconds=2 * DAY)
    escrow.postRoot(task_id, 1, b"\1" * 32, 0, sender=operator)  # the last second still counts
    boa.env.time_travel(seconds=1)
    with boa.reverts("TaskEscrow: claims close before the challenge window ends"):
        escrow.postRoot(task_id, 2, b"\1" * 32, 0, sender=operator)


# ---- claim ---------------------------------------------------------------------------------


def test_claim_pays_the_entitlement_to_the_account(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str], stranger: str
) -> None:
    # Prepare
    alice, bob = contributors[:2]
    task_id = open_task(100 * UNIT)
    tree = post_tree(task_id, [(alice, 10 * UNIT), (bob, 20 * UNIT)])
    # Execute: anyone may submit; the tokens go to the account
    vault = escrow.vault(task_id)
    vault.claim(alice, 10 * UNIT, tree.proof(alice, 10 * UNIT), sender=stranger)
    # Assert
    (claimed,) = events(vault, "Claimed")
    assert (claimed.account, claimed.amount, claimed.cumulativeAmount) == (alice, 10 * UNIT, 10 * UNIT)
    assert token.balanceOf(alice) == 10 * UNIT
    assert token.balanceOf(stranger) == 0
    assert escrow.claimed(task_id, alice) == 10 * UNIT
    assert escrow.tasks(task_id).paid == 10 * UNIT
    assert_solvent(escrow, token)


def test_claimed_is_kept_per_task_and_account_and_never_aliases(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """Each task's vault keeps its own `claimed`; the factory's views read the right one."""
    alice, bob = contributors[:2]
    first, second = open_task(100 * UNIT), open_task(100 * UNIT)
    tree = post_tree(first, [(alice, 10 * UNIT), (bob, 20 * UNIT)])
    escrow.claim(first, alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    assert escrow.claimed(first, alice) == escrow.vault(first).claimed(alice) == 10 * UNIT
    assert escrow.claimed(first, bob) == 0
    assert escrow.claimed(second, alice) == escrow.vault(second).claimed(alice) == 0
    # ids that belong to no task read as zero
    assert escrow.claimed(first + 2**96, alice) == escrow.claimed(0, alice) == 0
    assert escrow.claimable(first + 2**96, alice, 10 * UNIT) == 0


def test_one_claim_pays_every_epoch_since_the_last(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    task_id = open_task(100 * UNIT)
    first = post_tree(task_id, [(alice, 3 * UNIT), (bob, 1 * UNIT)])
    escrow.claim(task_id, alice, 3 * UNIT, first.proof(alice, 3 * UNIT))
    post_tree(task_id, [(alice, 5 * UNIT), (bob, 2 * UNIT)])
    third = post_tree(task_id, [(alice, 9 * UNIT), (bob, 4 * UNIT)])
    escrow.claim(task_id, alice, 9 * UNIT, third.proof(alice, 9 * UNIT))
    vault = escrow.vault(task_id)
    vault.claim(bob, 4 * UNIT, third.proof(bob, 4 * UNIT))
    amounts = [log.amount for log in events(vault, "Claimed")]
    assert amounts == [4 * UNIT]  # the last call's logs only
    assert (token.balanceOf(alice), token.balanceOf(bob)) == (9 * UNIT, 4 * UNIT)
    task = escrow.tasks(task_id)
    assert (task.epoch, task.total, task.paid) == (3, 13 * UNIT, 13 * UNIT)
    assert_solvent(escrow, token)


def test_a_single_leaf_tree_has_an_empty_proof(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    task_id = open_task()
    post_tree(task_id, [(contributors[0], 7)])
    escrow.claim(task_id, contributors[0], 7, [])
    assert token.balanceOf(contributors[0]) == 7


def test_claiming_twice_reverts(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """RELIABILITY B7: the same (account, amount, proof) again pays nothing and reverts."""
    alice, bob = contributors[:2]
    task_id = open_task()
    tree = post_tree(task_id, [(alice, 10), (bob, 20)])
    escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    with boa.reverts("TaskVault: nothing to claim"):
        escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    assert escrow.claimed(task_id, alice) == 10


def test_a_lower_cumulative_amount_than_claimed_reverts(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    task_id = open_task()
    tree = post_tree(task_id, [(alice, 10), (bob, 20)])
    escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    with boa.reverts("TaskVault: nothing to claim"):
        escrow.claim(task_id, alice, 9, tree.proof(alice, 10))


@pytest.mark.parametrize("alteration", ["amount up", "amount down", "account", "proof element", "proof cut"])
def test_an_altered_claim_reverts(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str], alteration: str
) -> None:
    """RELIABILITY B10: a valid proof with another amount or account, or a damaged proof."""
    alice, bob, carol, dave = contributors[:4]
    task_id = open_task()
    tree = post_tree(task_id, [(alice, 10), (bob, 20), (carol, 30)])
    account, amount, proof = alice, 10, tree.proof(alice, 10)
    if alteration == "amount up":
        amount = 11
    elif alteration == "amount down":
        amount = 9
    elif alteration == "account":
        account = dave
    elif alteration == "proof element":
        proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    else:
        proof = proof[:-1]
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, account, amount, proof)


def test_a_proof_for_another_task_reverts(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    first, second = open_task(), open_task()
    tree = post_tree(first, [(alice, 10), (bob, 20)])
    post_tree(second, [(alice, 5), (bob, 5)])
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(second, alice, 10, tree.proof(alice, 10))


def test_a_proof_against_a_replaced_root_reverts(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """RELIABILITY B10: only the current epoch's root counts (its amounts include the old ones)."""
    alice, bob = contributors[:2]
    task_id = open_task()
    old = post_tree(task_id, [(alice, 10), (bob, 20)])
    post_tree(task_id, [(alice, 15), (bob, 20)])
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, alice, 10, old.proof(alice, 10))


def test_claim_before_any_root_reverts(escrow: Any, open_task: OpenTask, contributors: list[str]) -> None:
    task_id = open_task()
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, contributors[0], 10, [])


def test_an_unknown_task_has_no_vault(escrow: Any, contributors: list[str]) -> None:
    assert escrow.vaultOf(9) == "0x" + "00" * 20
    assert escrow.tasks(9).vault == "0x" + "00" * 20


def test_claims_close_after_deadline_plus_window(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """RELIABILITY B12: the last second of the window still pays; the next one does not."""
    alice, bob = contributors[:2]
    task_id = open_task(deadline_in=DAY, window=DAY)
    tree = post_tree(task_id, [(alice, 10), (bob, 20)])
    boa.env.time_travel(seconds=2 * DAY)
    escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    boa.env.time_travel(seconds=1)
    with boa.reverts("TaskVault: claims closed"):
        escrow.claim(task_id, bob, 20, tree.proof(bob, 20))
    assert token.balanceOf(bob) == 0


def test_an_inner_node_is_not_accepted_as_a_leaf(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """RELIABILITY B9: a 64-byte inner node presented as (account, amount) with a shortened proof."""
    # Prepare: four leaves, so the root's children are inner nodes over two leaves each
    values = [(contributors[i], 10 * (i + 1)) for i in range(4)]
    task_id = open_task()
    tree = post_tree(task_id, values)
    nodes = tree.nodes
    inner, sibling = nodes[1], nodes[2]
    left, right = sorted((nodes[3], nodes[4]))  # the children of node 1, as hashed
    assert hash_pair(left, right) == inner and walk(inner, [sibling]) == tree.root
    # The forged "leaf" abi.encode(account, amount) == left || right needs an account equal
    # to the left child's low 20 bytes and an amount equal to the right child.
    forged_account = "0x" + left[12:].hex()
    forged_amount = int.from_bytes(right, "big")
    # Execute / Assert: with single hashing this leaf would equal `inner` if the upper 12
    # bytes of `left` were zero; double hashing makes it a different value in every case.
    assert leaf(forged_account, forged_amount) != inner
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, forged_account, forged_amount, [sibling])
    # Nor is the pair accepted as raw calldata that puts the 32-byte child in the account word.
    vault = escrow.vault(task_id)
    calldata = vault.claim.prepare_calldata(forged_account, forged_amount, [sibling])
    calldata = calldata[:4] + left + calldata[36:]
    with pytest.raises(Revert):  # the address word is out of range: the ABI decoder refuses it
        boa.env.raw_call(vault.address, data=calldata)
    assert escrow.held(task_id, token) == escrow.tasks(task_id).funded


def test_a_root_paying_more_than_its_budget_cannot_touch_another_task(
    escrow: Any, token: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    """A faulty root (leaves adding up to more than the budget) pays from its task's vault only."""
    alice, bob = contributors[:2]
    task_id = open_task(100 * UNIT)
    other = open_task(100 * UNIT)
    tree = post_tree(task_id, [(alice, 60 * UNIT), (bob, 60 * UNIT)], total=100 * UNIT)
    escrow.claim(task_id, alice, 60 * UNIT, tree.proof(alice, 60 * UNIT))
    with boa.reverts():  # the vault holds 40: the token refuses the transfer of 60
        escrow.claim(task_id, bob, 60 * UNIT, tree.proof(bob, 60 * UNIT))
    assert escrow.claimed(task_id, bob) == 0
    assert escrow.tasks(task_id).paid == 60 * UNIT
    assert (escrow.tasks(other).funded, escrow.held(other, token)) == (100 * UNIT, 100 * UNIT)
    assert_solvent(escrow, token)


@pytest.mark.parametrize("byte", [0, 31])
def test_claims_are_checked_against_every_bit_of_the_root(
    escrow: Any, open_task: OpenTask, operator: str, contributors: list[str], byte: int
) -> None:
    alice, bob = contributors[:2]
    tree = build_tree([(alice, 10), (bob, 20)])
    changed = bytearray(tree.root)
    changed[byte] ^= 1
    task_id = open_task()
    escrow.postRoot(task_id, 1, bytes(changed), 30, sender=operator)
    assert escrow.tasks(task_id).root == bytes(changed)
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, bob, 20, tree.proof(bob, 20))


def test_a_proof_deeper_than_32_is_refused(escrow: Any, open_task: OpenTask, contributors: list[str]) -> None:
    task_id = open_task()
    with boa.reverts():
        escrow.claim(task_id, contributors[0], 1, [b"\1" * 32] * 33)


def test_claimable_reports_what_a_claim_would_pay(
    escrow: Any, open_task: OpenTask, post_tree: PostTree, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    task_id = open_task(deadline_in=DAY, window=DAY)
    tree = post_tree(task_id, [(alice, 10), (bob, 20)])
    assert escrow.claimable(task_id, alice, 10) == 10
    escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    assert escrow.claimable(task_id, alice, 10) == 0
    assert escrow.claimable(task_id, alice, 15) == 5
    boa.env.time_travel(seconds=2 * DAY + 1)
    assert escrow.claimable(task_id, bob, 20) == 0


# ---- refund --------------------------------------------------------------------------------


def test_refund_returns_funded_minus_paid_once(
    escrow: Any,
    token: Any,
    open_task: OpenTask,
    post_tree: PostTree,
    contributors: list[str],
    funded_requester: str,
) -> None:
    """RELIABILITY A5: the budget reaches its terminal state exactly once."""
    # Prepare: 30 entitled, 10 claimed
    alice, bob = contributors[:2]
    task_id = open_task(100 * UNIT, deadline_in=DAY, window=DAY)
    tree = post_tree(task_id, [(alice, 10 * UNIT), (bob, 20 * UNIT)])
    escrow.claim(task_id, alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    before = token.balanceOf(funded_requester)
    boa.env.time_travel(seconds=2 * DAY + 1)
    # Execute
    escrow.refund(task_id, sender=funded_requester)
    (refunded,) = events(escrow, "Refunded")
    # Assert
    assert (refunded.taskId, refunded.requester, refunded.amount) == (task_id, funded_requester, 90 * UNIT)
    assert token.balanceOf(funded_requester) == before + 90 * UNIT
    assert token.balanceOf(escrow.address) == 0
    assert escrow.tasks(task_id).refunded
    with boa.reverts("TaskEscrow: already refunded"):
        escrow.refund(task_id, sender=funded_requester)


def test_after_refund_nothing_more_can_happen(
    escrow: Any,
    token: Any,
    open_task: OpenTask,
    post_tree: PostTree,
    contributors: list[str],
    funded_requester: str,
    operator: str,
) -> None:
    alice, bob = contributors[:2]
    task_id = open_task(100 * UNIT, deadline_in=DAY, window=DAY)
    tree = post_tree(task_id, [(alice, 10 * UNIT), (bob, 20 * UNIT)])
    boa.env.time_travel(seconds=2 * DAY + 1)
    escrow.refund(task_id, sender=funded_requester)
    with boa.reverts("TaskVault: claims closed"):
        escrow.claim(task_id, alice, 10 * UNIT, tree.proof(alice, 10 * UNIT))
    with boa.reverts("TaskEscrow: task refunded"):
        escrow.postRoot(task_id, 2, b"\1" * 32, 30 * UNIT, sender=operator)
    with boa.reverts("TaskEscrow: deadline passed"):
        escrow.topUp(task_id, UNIT, sender=funded_requester)
    assert token.balanceOf(escrow.address) == 0


def test_refund_waits_for_the_end_of_the_claim_window(
    escrow: Any, open_task: OpenTask, funded_requester: str
) -> None:
    """RELIABILITY B12: no withdrawal while contributors may still claim."""
    task_id = open_task(deadline_in=DAY, window=DAY)
    boa.env.time_travel(seconds=2 * DAY)
    with boa.reverts("TaskEscrow: claim window open"):
        escrow.refund(task_id, sender=funded_requester)


def test_refund_is_for_the_requester_only(
    escrow: Any, open_task: OpenTask, admin: str, operator: str
) -> None:
    task_id = open_task(deadline_in=DAY, window=DAY)
    boa.env.time_travel(seconds=3 * DAY)
    for caller in (admin, operator):
        with boa.reverts("TaskEscrow: not the requester"):
            escrow.refund(task_id, sender=caller)


def test_refund_of_a_fully_paid_task_pays_nothing_but_closes_it(
    escrow: Any,
    token: Any,
    open_task: OpenTask,
    post_tree: PostTree,
    contributors: list[str],
    funded_requester: str,
) -> None:
    alice, bob = contributors[:2]
    task_id = open_task(30, deadline_in=DAY, window=DAY)
    tree = post_tree(task_id, [(alice, 10), (bob, 20)])
    escrow.claim(task_id, alice, 10, tree.proof(alice, 10))
    escrow.claim(task_id, bob, 20, tree.proof(bob, 20))
    boa.env.time_travel(seconds=2 * DAY + 1)
    escrow.refund(task_id, sender=funded_requester)
    assert [log.amount for log in events(escrow, "Refunded")] == [0]
    assert not [log for log in escrow.get_logs() if type(log).__name__ == "Transfer"]
    assert escrow.tasks(task_id).refunded


def test_tasks_of_an_unknown_id_are_all_zero(escrow: Any) -> None:
    task = escrow.tasks(42)
    assert (task.requester, task.funded, task.epoch, task.refunded) == ("0x" + "00" * 20, 0, 0, False)
