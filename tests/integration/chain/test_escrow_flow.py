"""A task's whole money path on a real node, through the Python chain layer.

Requester funds (the escrow deploys the task's own vault); the operator posts cumulative
roots through the outbox; contributors claim with proofs from the task's vault; the
requester takes back what is left. At every step: paid ≤ total ≤ funded (the roots here are
honest), the vault holds funded - paid, and nobody is paid past their latest cumulative
entitlement.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from datacoop import merkle
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import EscrowTask, TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment, ensure_deployed, load_deployment
from datacoop.chain.outbox import Relay
from datacoop.errors import Conflict, NotFound

UNIT = 10**18
REWARD = 5 * UNIT  # the most a root may add per item accepted since the previous one


def _invariants(task: EscrowTask, token: TestToken) -> None:
    assert task.paid <= task.total <= task.funded
    assert token.balance_of(task.vault) == (0 if task.refunded else task.funded - task.paid)


def _open(
    chain: ChainClient, token: TestToken, escrow: TaskEscrow, requester: LocalAccount, budget: int
) -> int:
    chain.send(requester, token.mint(requester.address, budget).as_tx())
    chain.send(requester, token.approve(escrow.address, budget).as_tx())
    now = chain.w3.eth.get_block("latest")["timestamp"]
    opening = escrow.open_task(token.address, budget, now + 3600, 86_400, reward_per_item=REWARD)
    chain.send(requester, opening.as_tx())
    return escrow.task_count()


def _post(
    relay: Relay, escrow: TaskEscrow, task_id: int, epoch: int, tree: merkle.MerkleTree, total: int
) -> None:
    req = escrow.post_root(task_id, epoch, tree.root, total, -(-total // REWARD))  # enough accepted items
    row = relay.drive(relay.submit(f"root:{task_id}:{epoch}", to=req.to, data=req.data).key)
    assert row.status == "confirmed", row.error


def test_epochs_claims_and_refund(
    chain: ChainClient, relay: Relay, token: TestToken, escrow: TaskEscrow, accounts: list[LocalAccount]
) -> None:
    # Prepare
    requester, alice, bob, carol = accounts[1], accounts[2], accounts[3], accounts[4]
    task_id = _open(chain, token, escrow, requester, 100 * UNIT)
    epoch1 = [(alice.address, 10 * UNIT), (bob.address, 5 * UNIT)]
    tree1 = merkle.build(epoch1)
    _post(relay, escrow, task_id, 1, tree1, 15 * UNIT)
    # Execute: alice claims epoch 1; epoch 2 raises alice and adds carol; one claim pays both epochs' worth
    first = escrow.claim(task_id, alice.address, 10 * UNIT, tree1.proof(0))
    assert first.to == escrow.task(task_id).vault == escrow.vault(task_id).address != escrow.address
    receipt = chain.send(alice, first.as_tx())
    assert receipt.gas_used < 101_000  # a fresh holder, through the vault's minimal proxy
    epoch2 = [(alice.address, 25 * UNIT), (bob.address, 5 * UNIT), (carol.address, 7 * UNIT)]
    tree2 = merkle.build(epoch2)
    _post(relay, escrow, task_id, 2, tree2, 37 * UNIT)
    for acct, (_, amount) in zip((alice, bob, carol), epoch2, strict=True):
        chain.send(
            acct, escrow.claim(task_id, acct.address, amount, tree2.proofs_by_account()[acct.address]).as_tx()
        )
    # Assert
    task = escrow.task(task_id)
    _invariants(task, token)
    assert token.balance_of(escrow.address) == 0
    assert (task.funded, task.total, task.paid, task.epoch) == (100 * UNIT, 37 * UNIT, 37 * UNIT, 2)
    assert token.balance_of(alice.address) == 25 * UNIT
    assert escrow.claimed(task_id, carol.address) == 7 * UNIT


def test_wrong_claims_revert_before_sending(
    chain: ChainClient, relay: Relay, token: TestToken, escrow: TaskEscrow, accounts: list[LocalAccount]
) -> None:
    requester, alice, bob = accounts[1], accounts[2], accounts[3]
    task_id = _open(chain, token, escrow, requester, 50 * UNIT)
    tree = merkle.build([(alice.address, 10 * UNIT), (bob.address, 5 * UNIT)])
    _post(relay, escrow, task_id, 1, tree, 15 * UNIT)
    bad = [
        escrow.claim(task_id, alice.address, 11 * UNIT, tree.proof(0)),  # altered amount
        escrow.claim(task_id, bob.address, 10 * UNIT, tree.proof(0)),  # altered account
        escrow.claim(task_id, alice.address, 10 * UNIT, tree.proof(1)),  # someone else's proof
    ]
    for req in bad:
        with pytest.raises(Conflict):
            chain.send(alice, req.as_tx())
    chain.send(alice, escrow.claim(task_id, alice.address, 10 * UNIT, tree.proof(0)).as_tx())
    with pytest.raises(Conflict):  # claiming again pays nothing more
        chain.send(alice, escrow.claim(task_id, alice.address, 10 * UNIT, tree.proof(0)).as_tx())
    _invariants(escrow.task(task_id), token)


def test_roots_cannot_exceed_the_budget_and_refund_is_final(
    chain: ChainClient, relay: Relay, token: TestToken, escrow: TaskEscrow, accounts: list[LocalAccount]
) -> None:
    requester, alice = accounts[1], accounts[2]
    task_id = _open(chain, token, escrow, requester, 20 * UNIT)
    too_much = merkle.build([(alice.address, 21 * UNIT)])
    for total, accepted, why in ((21 * UNIT, 5, "over"), (8 * UNIT, 1, "cap")):  # above funded; above 1 x 5
        req = escrow.post_root(task_id, 1, too_much.root, total, accepted)
        row = relay.drive(relay.submit(f"root:{task_id}:1:{why}", to=req.to, data=req.data).key)
        assert row.status == "failed" and row.nonce is None  # refused at estimate: no nonce burnt
    tree = merkle.build([(alice.address, 8 * UNIT)])
    _post(relay, escrow, task_id, 1, tree, 8 * UNIT)
    chain.rpc("evm_increaseTime", [3600 + 86_400 + 1])
    chain.rpc("evm_mine", [])
    before = token.balance_of(requester.address)
    chain.send(requester, escrow.refund(task_id).as_tx())
    assert token.balance_of(requester.address) - before == 20 * UNIT  # unclaimed entitlement forfeited
    with pytest.raises(Conflict):
        chain.send(alice, escrow.claim(task_id, alice.address, 8 * UNIT, tree.proof(0)).as_tx())
    with pytest.raises(Conflict):
        chain.send(requester, escrow.refund(task_id).as_tx())
    task = escrow.task(task_id)
    assert task.refunded and task.paid == 0
    _invariants(task, token)
    with pytest.raises(NotFound):
        escrow.claim(task_id + 1, alice.address, 8 * UNIT, tree.proof(0))


def test_a_deployment_file_from_before_task_vaults_is_redeployed(
    chain: ChainClient, relay: Relay, deployment: Deployment, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    """A ``deployment.json`` without ``vault_blueprint`` names the older many-task escrow."""
    path = tmp_path / "deployment.json"
    assert deployment.vault_blueprint and chain.code_at(deployment.vault_blueprint)[:3] == b"\xfe\x71\x00"
    old = {k: v for k, v in json.loads(path.read_text()).items() if k != "vault_blueprint"}
    path.write_text(json.dumps(old))
    fresh = ensure_deployed(chain, relay, accounts[0], path)
    assert fresh.escrow != deployment.escrow and fresh.vault_blueprint
    assert load_deployment(path) == fresh
    assert ensure_deployed(chain, relay, accounts[0], path) == fresh  # and found again after that
