"""TaskEscrow's limits on the operator and its gasless claims (issue 19): roots capped at accepted
items x reward, challenge windows, disputes by the requester or a staked validator, and claims
signed by the contributor and relayed by anyone for a capped fee."""

from __future__ import annotations

from typing import Any

import boa
from eth_account import Account
from tests.contracts.conftest import DAY, UNIT, Escrow
from tests.contracts.tree import build_tree

from datacoop.chain.gasless import ClaimAuthorisation, SignedClaim

HOUR = 3_600
REWARD = 2 * UNIT


def _open(escrow: Escrow, token: Any, requester: str, challenge: int = HOUR) -> int:
    return int(escrow.openTask(token.address, 100 * UNIT, boa.env.timestamp + 10 * DAY, 2 * DAY, REWARD,
                               challenge, sender=requester))  # fmt: skip


# ---- root caps --------------------------------------------------------------------------------


def test_a_root_may_raise_the_total_by_accepted_items_times_reward(
    escrow: Escrow, token: Any, funded_requester: str, operator: str
) -> None:
    task_id = _open(escrow, token, funded_requester)
    with boa.reverts("TaskEscrow: total above accepted items x reward"):
        escrow.postRoot(task_id, 1, b"\1" * 32, 6 * UNIT + 1, 3, sender=operator)
    escrow.postRoot(task_id, 1, b"\1" * 32, 6 * UNIT, 3, sender=operator)  # exactly 3 x 2
    with boa.reverts("TaskEscrow: total above accepted items x reward"):  # the raise counts, not the total
        escrow.postRoot(task_id, 2, b"\2" * 32, 8 * UNIT + 1, 1, sender=operator)
    escrow.postRoot(task_id, 2, b"\2" * 32, 8 * UNIT, 1, sender=operator)
    posted = [e for e in escrow.factory.get_logs() if type(e).__name__ == "RootPosted"]
    assert (posted[-1].acceptedCount, posted[-1].total) == (1, 8 * UNIT)  # the count, committed on chain
    assert escrow.tasks(task_id).total == 8 * UNIT


def test_the_cap_still_stops_at_the_budget(
    escrow: Escrow, token: Any, funded_requester: str, operator: str
) -> None:
    task_id = _open(escrow, token, funded_requester)
    with boa.reverts("TaskEscrow: total above funded"):
        escrow.postRoot(task_id, 1, b"\1" * 32, 100 * UNIT + 1, 1000, sender=operator)
    escrow.topUp(task_id, UNIT, sender=funded_requester)  # top-ups still work
    escrow.postRoot(task_id, 1, b"\1" * 32, 100 * UNIT + 1, 1000, sender=operator)


# ---- challenge window and disputes -------------------------------------------------------------


def _post_tree(escrow: Escrow, operator: str, task_id: int, values: list[tuple[str, int]]) -> Any:
    tree = build_tree(values)
    epoch = escrow.tasks(task_id).epoch + 1
    total = sum(v for _, v in values)
    escrow.postRoot(task_id, epoch, tree.root, total, -(-total // REWARD), sender=operator)
    return tree


def test_claims_before_the_window_ends_revert(
    escrow: Escrow, token: Any, funded_requester: str, operator: str, contributors: list[str]
) -> None:
    alice = contributors[0]
    task_id = _open(escrow, token, funded_requester)
    tree = _post_tree(escrow, operator, task_id, [(alice, UNIT)])
    boa.env.time_travel(seconds=HOUR - 1)
    with boa.reverts("TaskVault: invalid proof"):  # the vault still pays the previous root (none)
        escrow.claim(task_id, alice, UNIT, tree.proof(alice, UNIT))
    assert escrow.tasks(task_id).root == b"\0" * 32
    boa.env.time_travel(seconds=1)
    escrow.claim(task_id, alice, UNIT, tree.proof(alice, UNIT))
    assert token.balanceOf(alice) == UNIT


def test_a_disputed_root_never_pays_and_the_next_root_supersedes_it(
    escrow: Escrow, token: Any, funded_requester: str, operator: str, contributors: list[str]
) -> None:
    alice, bob = contributors[:2]
    task_id = _open(escrow, token, funded_requester)
    first = _post_tree(escrow, operator, task_id, [(alice, UNIT)])
    boa.env.time_travel(seconds=HOUR)
    bad = _post_tree(escrow, operator, task_id, [(alice, UNIT), (bob, 3 * UNIT)])
    escrow.disputeRoot(task_id, 2, sender=funded_requester)
    assert escrow.tasks(task_id).total == UNIT  # the disputed raise is void
    boa.env.time_travel(seconds=30 * HOUR)
    with boa.reverts("TaskVault: invalid proof"):
        escrow.claim(task_id, bob, 3 * UNIT, bad.proof(bob, 3 * UNIT))
    escrow.claim(task_id, alice, UNIT, first.proof(alice, UNIT))  # the settled root still pays
    fixed = _post_tree(escrow, operator, task_id, [(alice, UNIT), (bob, 2 * UNIT)])
    boa.env.time_travel(seconds=HOUR)
    escrow.claim(task_id, bob, 2 * UNIT, fixed.proof(bob, 2 * UNIT))
    assert (token.balanceOf(alice), token.balanceOf(bob)) == (UNIT, 2 * UNIT)


def test_who_may_dispute_and_when(
    escrow: Escrow, token: Any, funded_requester: str, operator: str, stranger: str, staking: Any
) -> None:
    task_id = _open(escrow, token, funded_requester)
    _post_tree(escrow, operator, task_id, [(stranger, UNIT)])
    with boa.reverts("TaskEscrow: not the requester or a staked validator"):
        escrow.disputeRoot(task_id, 1, sender=stranger)
    with boa.reverts("TaskEscrow: not the latest epoch"):
        escrow.disputeRoot(task_id, 2, sender=funded_requester)
    validator = boa.env.generate_address("validator")
    token.mint(validator, UNIT)
    token.approve(staking.address, UNIT, sender=validator)
    staking.stake(UNIT, sender=validator)
    escrow.disputeRoot(task_id, 1, sender=validator)
    with boa.reverts("TaskEscrow: already disputed"):
        escrow.disputeRoot(task_id, 1, sender=funded_requester)
    _post_tree(escrow, operator, task_id, [(stranger, UNIT)])
    boa.env.time_travel(seconds=HOUR)
    with boa.reverts("TaskEscrow: challenge window over"):
        escrow.disputeRoot(task_id, 2, sender=funded_requester)


def test_outside_a_local_chain_the_window_is_at_least_an_hour(
    escrow: Escrow, token: Any, funded_requester: str
) -> None:
    boa.env.evm.patch.chain_id = 1  # the escrow fixture's local chain id is restored after the test
    with boa.reverts("TaskEscrow: challenge window too short"):
        _open(escrow, token, funded_requester, challenge=HOUR - 1)
    _open(escrow, token, funded_requester, challenge=HOUR)


# ---- gasless claims ------------------------------------------------------------------------------


def _signed(escrow: Escrow, task_id: int, signer: Any, amount: int, relayer: str, fee: int) -> SignedClaim:
    auth = ClaimAuthorisation(boa.env.evm.patch.chain_id, escrow.vaultOf(task_id), signer.address, amount,
                              relayer, fee, boa.env.timestamp + DAY)  # fmt: skip
    return SignedClaim.sign(signer, auth)


def _relay(escrow: Escrow, task_id: int, signed: SignedClaim, proof: list[bytes], sender: str) -> Any:
    a = signed.auth
    return escrow.vault(task_id).claimWithSig(a.account, a.cumulative, proof, a.relayer, a.fee, a.deadline,
                                              signed.v, signed.r, signed.s, sender=sender)  # fmt: skip


def test_a_gasless_claim_pays_account_and_relayer_exactly_once(
    escrow: Escrow, token: Any, funded_requester: str, operator: str
) -> None:
    signer, relayer = Account.create(), boa.env.generate_address("relayer")
    task_id = _open(escrow, token, funded_requester, challenge=0)
    tree = _post_tree(escrow, operator, task_id, [(signer.address, 10 * UNIT)])
    proof = tree.proof(signer.address, 10 * UNIT)
    signed = _signed(escrow, task_id, signer, 10 * UNIT, relayer, UNIT // 2)
    assert escrow.vault(task_id).claimDigest(signer.address, 10 * UNIT, relayer, UNIT // 2,
                                             signed.auth.deadline) is not None  # fmt: skip
    _relay(escrow, task_id, signed, proof, relayer)
    assert (token.balanceOf(signer.address), token.balanceOf(relayer)) == (10 * UNIT - UNIT // 2, UNIT // 2)
    with boa.reverts("TaskVault: nothing to claim"):  # a replay pays nothing
        _relay(escrow, task_id, signed, proof, relayer)


def test_a_gasless_claim_cannot_be_redirected_or_refeed(
    escrow: Escrow, token: Any, funded_requester: str, operator: str, stranger: str
) -> None:
    signer, relayer = Account.create(), boa.env.generate_address("relayer")
    task_id = _open(escrow, token, funded_requester, challenge=0)
    tree = _post_tree(escrow, operator, task_id, [(signer.address, 10 * UNIT)])
    proof = tree.proof(signer.address, 10 * UNIT)
    signed = _signed(escrow, task_id, signer, 10 * UNIT, relayer, UNIT // 2)
    with boa.reverts("TaskVault: not the signed relayer"):  # a front-runner cannot take the fee
        _relay(escrow, task_id, signed, proof, stranger)
    raised = SignedClaim(
        ClaimAuthorisation(**{**signed.auth.__dict__, "fee": UNIT}), signed.v, signed.r, signed.s
    )
    with boa.reverts("TaskVault: bad signature"):  # nor change it
        _relay(escrow, task_id, raised, proof, relayer)
    greedy = _signed(escrow, task_id, signer, 10 * UNIT, relayer, UNIT + 1)  # above 10 %
    with boa.reverts("TaskVault: fee above cap"):
        _relay(escrow, task_id, greedy, proof, relayer)
    late = _signed(escrow, task_id, signer, 10 * UNIT, relayer, 0)
    boa.env.time_travel(seconds=DAY + 1)
    with boa.reverts("TaskVault: signature expired"):
        _relay(escrow, task_id, late, proof, relayer)
    assert token.balanceOf(signer.address) == 0
