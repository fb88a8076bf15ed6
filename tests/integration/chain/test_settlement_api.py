"""Settlement through the API and the SDK, on a node whose chain is a real local anvil."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from tests.integration.chain.test_settlement import REWARD, UNIT, _accept, _fund

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.gasless import ClaimAuthorisation, SignedClaim
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.errors import Forbidden, InvalidInput, NotAuthenticated, Unprocessable
from datacoop.settings import Settings
from datacoop.tasks.schemas import TaskCreate


@pytest.fixture
def node(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[Node]:
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, operator_key="0x" + accounts[0].key.hex()
    )
    built = build_node(settings, db=db, clock=clock, migrate=False)
    yield built
    built.close()


def _settle(node: Node) -> None:
    assert node.chain is not None
    deadline = time.monotonic() + 120  # by time, not turns: a loaded machine takes more turns
    while time.monotonic() < deadline:
        node.chain.relay.step()  # the chain follower's work: no request handler steps the relay
        node.settlement.tick()
        time.sleep(0.02)
        if all(
            e.status in ("confirmed", "failed")
            for t in node.settlement.funded_tasks()
            for e in node.settlement.epochs(t)
        ):
            return
    raise AssertionError("the epoch did not confirm")


def test_fund_close_claim_through_the_api(
    node: Node, sdk: Any, db: Database, chain: ChainClient, accounts: list[LocalAccount]
) -> None:
    # Prepare: the requester creates and funds a task; two items of a contributor are accepted
    operator, requester, contributor = accounts[0], accounts[1], accounts[2]
    assert node.chain is not None
    token, escrow = (
        TestToken(chain, node.chain.deployment.token),
        TaskEscrow(chain, node.chain.deployment.escrow),
    )
    as_requester = sdk(requester)
    task = as_requester.create_task(
        TaskCreate.model_validate(
            {
                "title": "Masks",
                "description": "photos of protective masks",
                "modality": "image",
                "reward_per_item": REWARD,
                "target_count": 10,
                "deadline": "2030-01-01T00:00:00Z",
                "consent_text": "ok",
            }
        )
    )
    escrow_task_id = _fund(chain, token, escrow, requester, 10 * UNIT)
    linked = as_requester.link_escrow(task.id, escrow_task_id)
    _accept(db, task.id, contributor, 2)
    # Execute
    with pytest.raises(Forbidden):
        sdk(contributor).close_epoch(task.id)  # only the operator closes epochs
    epoch = sdk(operator).close_epoch(task.id)
    _settle(node)
    as_contributor = sdk(contributor)
    owed = as_contributor.claims()
    for c in owed:
        req = escrow.claim(c["escrow_task_id"], contributor.address, int(c["cumulative"]), c["proof"])
        chain.send(contributor, req.as_tx())
    # Assert
    assert linked["escrow_task_id"] == escrow_task_id and int(linked["funded"]) == 10 * UNIT
    assert epoch is not None and epoch["status"] == "pending" and int(epoch["total"]) == 2 * REWARD
    assert [e["status"] for e in as_requester.epochs(task.id)] == ["confirmed"]
    assert [(c["task_id"], int(c["claimable"])) for c in owed] == [(task.id, 2 * REWARD)]
    assert token.balance_of(contributor.address) == 2 * REWARD
    assert int(as_contributor.claims()[0]["claimable"]) == 0
    # claims come a page at a time by task id, epochs by their row id
    path = f"/claims/{contributor.address}"
    first = as_contributor._request("GET", path, params={"limit": 1})
    assert [c["task_id"] for c in first.json()] == [task.id] and "x-next-cursor" not in first.headers
    assert as_contributor._request("GET", path, params={"after": task.id}).json() == []
    [row] = as_requester.epochs(task.id)
    assert as_requester._request("GET", f"/tasks/{task.id}/epochs", params={"after": row["id"]}).json() == []
    # another's entitlements: refused to a stranger, shown to the operator (and to nobody signed out)
    with pytest.raises(Forbidden) as someone_elses:
        as_requester.claims(contributor.address)
    assert someone_elses.value.field == "address"
    assert [c["task_id"] for c in sdk(operator).claims(contributor.address)] == [task.id]
    with pytest.raises(NotAuthenticated):
        DataCoopClient(http=as_contributor._http).claims(contributor.address)
    assert int(as_contributor.statement()["epochs"][0]["total"]) == 2 * REWARD
    spend = as_requester.spend(task.id)
    assert (int(spend["remaining"]), int(spend["paid"])) == (10 * UNIT - 2 * REWARD, 2 * REWARD)
    assert sdk(operator).close_epoch(task.id) is None  # nothing new: 204


def test_refusals_name_the_field(
    node: Node, sdk: Any, accounts: list[LocalAccount], chain: ChainClient
) -> None:
    requester, other = accounts[1], accounts[3]
    task = sdk(requester).create_task(
        TaskCreate.model_validate(
            {
                "title": "Ducts",
                "description": "ventilation ducts",
                "modality": "image",
                "reward_per_item": 1,
                "target_count": 10,
                "deadline": "2030-01-01T00:00:00Z",
                "consent_text": "ok",
            }
        )
    )
    assert node.chain is not None
    token, escrow = (
        TestToken(chain, node.chain.deployment.token),
        TaskEscrow(chain, node.chain.deployment.escrow),
    )
    theirs = _fund(chain, token, escrow, other, 5)
    with pytest.raises(Forbidden) as opened_by_other:
        sdk(requester).link_escrow(task.id, theirs)  # an escrow someone else opened
    with pytest.raises(Forbidden) as not_requester:
        sdk(other).link_escrow(task.id, theirs)
    with pytest.raises(Unprocessable) as no_such_escrow:  # a 422 naming the field, not a 404 of the task
        sdk(requester).link_escrow(task.id, theirs + 1000)
    with pytest.raises(InvalidInput) as bad_address:
        sdk(requester).claims("0x1234")
    with pytest.raises(Forbidden) as someone_elses:
        sdk(requester).statement(other.address)
    assert opened_by_other.value.field == no_such_escrow.value.field == "escrow_task_id"
    assert not_requester.value.field == "task_id"
    assert bad_address.value.field == "address"
    assert someone_elses.value.field == "address"


def test_a_gasless_claim_through_the_api(
    node: Node, sdk: Any, api: Any, db: Database, chain: ChainClient, accounts: list[LocalAccount]
) -> None:
    # Prepare: a contributor that never held ETH has one accepted item, settled in a confirmed epoch
    operator, requester, contributor = accounts[0], accounts[1], Account.create()
    assert node.chain is not None
    token, escrow = (
        TestToken(chain, node.chain.deployment.token),
        TaskEscrow(chain, node.chain.deployment.escrow),
    )
    task = sdk(requester).create_task(
        TaskCreate.model_validate(
            {
                "title": "Masks",
                "description": "photos of protective masks",
                "modality": "image",
                "reward_per_item": REWARD,
                "target_count": 10,
                "deadline": "2030-01-01T00:00:00Z",
                "consent_text": "ok",
            }
        )
    )
    escrow_task_id = _fund(chain, token, escrow, requester, 10 * UNIT)
    sdk(requester).link_escrow(task.id, escrow_task_id)
    _accept(db, task.id, contributor, 1)
    sdk(operator).close_epoch(task.id)
    _settle(node)
    now = chain.w3.eth.get_block("latest")["timestamp"]
    vault = escrow.vault(escrow_task_id).address
    anyone = "0x" + "00" * 20
    auth = ClaimAuthorisation(
        chain.chain_id, vault, contributor.address, REWARD, anyone, REWARD // 20, now + 3600
    )
    signed = SignedClaim.sign(contributor, auth)
    body = {"chain_id": auth.chain_id, "vault": auth.vault, "account": auth.account, "cumulative": REWARD,
            "relayer": auth.relayer, "fee": auth.fee, "deadline": auth.deadline,
            "signature": "0x" + signed.r.hex() + signed.s.hex() + f"{signed.v:02x}"}  # fmt: skip
    # Execute: no session, the signature is the credential; the node's chain follower sends it
    answer = api.post(f"/v1/claims/{task.id}/relay", json=body)
    fee_before = token.balance_of(operator.address)
    row = node.chain.relay.drive(answer.json()["key"])
    # Assert
    assert answer.status_code == 202 and row.status == "confirmed", (answer.text, row.error)
    assert token.balance_of(contributor.address) == REWARD - REWARD // 20
    assert token.balance_of(operator.address) - fee_before == REWARD // 20
    assert chain.w3.eth.get_balance(contributor.address) == 0
    again = api.post(f"/v1/claims/{task.id}/relay", json=body)  # the same claim: the same record, no payment
    assert (again.status_code, again.json()["key"]) == (202, answer.json()["key"])
    raised = api.post(
        f"/v1/claims/{task.id}/relay", json={**body, "fee": REWARD // 10}
    )  # not what was signed
    assert raised.status_code == 400 and raised.json()["error"]["field"] == "signature", raised.text
    assert token.balance_of(contributor.address) == REWARD - REWARD // 20
