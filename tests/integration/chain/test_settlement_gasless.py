"""Gasless claims and challenge windows through the node (issue 19), on a real anvil.

A contributor who holds no ETH signs an EIP-712 claim; the node checks it, finds the proof and
relays it through its outbox, earning the signed fee. A root still in its challenge window shows
no claim yet.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from tests.integration.chain.test_settlement import REWARD, _accept, _participant, _task

from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment
from datacoop.chain.gasless import ANY_RELAYER, ClaimAuthorisation, SignedClaim
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.errors import Conflict, InvalidInput
from datacoop.settlement.service import SettlementService


@pytest.fixture
def operator(accounts: list[LocalAccount]) -> LocalAccount:
    return accounts[0]


@pytest.fixture
def service(
    db: Database, chain: ChainClient, relay: Relay, operator: LocalAccount, deployment: Deployment
) -> SettlementService:
    return SettlementService(db, ChainHandle(chain, relay, operator, deployment))


def _funded(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    requester: LocalAccount, challenge: int = 0,
) -> tuple[int, int]:  # fmt: skip
    task_id = _task(db, requester)
    chain.send(requester, token.mint(requester.address, 100 * REWARD).as_tx())
    chain.send(requester, token.approve(escrow.address, 100 * REWARD).as_tx())
    now = chain.w3.eth.get_block("latest")["timestamp"]
    opening = escrow.open_task(token.address, 100 * REWARD, now + 3600, 86_400, REWARD, challenge)
    chain.send(requester, opening.as_tx())
    service.link_escrow(_participant(db, requester.address), task_id, escrow.task_count())
    return task_id, escrow.task_count()


def _sign(
    chain: ChainClient, vault: str, who: LocalAccount, cumulative: int, relayer: str, fee: int
) -> SignedClaim:
    now = chain.w3.eth.get_block("latest")["timestamp"]
    return SignedClaim.sign(
        who, ClaimAuthorisation(chain.chain_id, vault, who.address, cumulative, relayer, fee, now + 3600)
    )


def test_a_contributor_without_eth_is_paid_through_the_node(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount], operator: LocalAccount, relay: Relay,
) -> None:  # fmt: skip
    # Prepare: two accepted items for a brand-new account, settled in one epoch
    contributor = Account.create()
    task_id, escrow_task_id = _funded(db, service, chain, token, escrow, accounts[1])
    _accept(db, task_id, contributor, 2)
    epoch = service.settle(task_id)
    assert epoch is not None and epoch.status == "confirmed"
    vault = escrow.vault(escrow_task_id).address
    fee_before = token.balance_of(operator.address)
    # Execute
    signed = _sign(chain, vault, contributor, 2 * REWARD, operator.address, REWARD // 10)
    relayed = service.relay_claim(task_id, signed)
    row = relay.drive(relayed.key)
    # Assert: paid exactly, never holding ETH; the same claim again is the same record
    assert row.status == "confirmed", row.error
    assert token.balance_of(contributor.address) == 2 * REWARD - REWARD // 10
    assert token.balance_of(operator.address) - fee_before == REWARD // 10
    assert chain.w3.eth.get_balance(contributor.address) == 0
    assert service.relay_claim(task_id, signed).key == relayed.key
    assert [c.claimable for c in service.claims(contributor.address)] == ["0"]


def test_the_node_refuses_claims_it_would_not_send(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount], operator: LocalAccount,
) -> None:  # fmt: skip
    contributor, other = Account.create(), Account.create()
    task_id, escrow_task_id = _funded(db, service, chain, token, escrow, accounts[1])
    _accept(db, task_id, contributor, 1)
    service.settle(task_id)
    vault = escrow.vault(escrow_task_id).address
    forged = SignedClaim.sign(other, _sign(chain, vault, contributor, REWARD, ANY_RELAYER, 0).auth)
    cases = [
        (forged, "signature"),
        (_sign(chain, vault, contributor, REWARD, ANY_RELAYER, REWARD // 10 + 1), "fee"),
        (_sign(chain, vault, contributor, REWARD, accounts[3].address, 0), "relayer"),
        (_sign(chain, escrow.address, contributor, REWARD, ANY_RELAYER, 0), "vault"),
    ]
    for signed, field in cases:
        with pytest.raises(InvalidInput) as refused:
            service.relay_claim(task_id, signed)
        assert refused.value.field == field
    with pytest.raises(Conflict) as wrong:
        service.relay_claim(task_id, _sign(chain, vault, contributor, 2 * REWARD, ANY_RELAYER, 0))
    assert wrong.value.field == "cumulative"


def test_a_root_in_its_challenge_window_shows_no_claim(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:  # fmt: skip
    contributor = accounts[4]
    task_id, escrow_task_id = _funded(db, service, chain, token, escrow, accounts[1], challenge=600)
    _accept(db, task_id, contributor, 3)
    assert service.settle(task_id) is not None
    assert service.claims(contributor.address) == []
    chain.rpc("evm_increaseTime", [600])
    chain.rpc("evm_mine", [])
    (claim,) = service.claims(contributor.address)
    assert (claim.cumulative, claim.root) == (str(3 * REWARD), escrow.vault(escrow_task_id).root())


def test_a_disputed_root_never_pays_and_the_next_epoch_pays_its_items(
    db: Database, service: SettlementService, chain: ChainClient, token: TestToken, escrow: TaskEscrow,
    accounts: list[LocalAccount],
) -> None:  # fmt: skip
    # Prepare: epoch 1 posted, then disputed by the requester inside its window
    requester, contributor = accounts[1], accounts[4]
    task_id, escrow_task_id = _funded(db, service, chain, token, escrow, requester, challenge=600)
    _accept(db, task_id, contributor, 2)
    assert service.settle(task_id) is not None
    chain.send(requester, escrow.dispute_root(escrow_task_id, 1).as_tx())
    chain.rpc("evm_increaseTime", [600])
    chain.rpc("evm_mine", [])
    assert service.claims(contributor.address) == []  # frozen: never claimable
    # Execute: one more item; the next epoch pays all three and commits their count
    _accept(db, task_id, contributor, 1)
    second = service.settle(task_id)
    chain.rpc("evm_increaseTime", [600])
    chain.rpc("evm_mine", [])
    # Assert
    assert second is not None and (second.number, second.status, second.total) == (2, "confirmed", 3 * REWARD)
    assert [e.status for e in service.epochs(task_id)] == ["disputed", "confirmed"]
    logs = chain.contract("TaskEscrow", escrow.address).events.RootPosted.get_logs(from_block=0)
    assert [int(e["args"]["acceptedCount"]) for e in logs if e["args"]["taskId"] == escrow_task_id] == [2, 3]
    (claim,) = service.claims(contributor.address)
    assert (claim.epoch, claim.cumulative) == (2, str(3 * REWARD))
