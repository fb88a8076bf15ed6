"""No chain call while a database transaction is open: chain state is read before (or after) one.

A node that asks the chain while it holds a transaction (and, in ``close_epoch``, a row lock) keeps
that transaction open for as long as the RPC node takes to answer, or forever when it does not. Here
the node's real services run against a real anvil, with a watch on one side of each: the Database's
``transaction()`` counts the transactions open in the calling thread, and the chain client's HTTP
provider refuses any request made while that count is above zero. The outbox relay is the one
exception by design (it signs and sends inside its own fenced transactions), so the watch is off
while the relay steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session
from tests.integration.chain.test_exchange import open_market
from tests.integration.chain.test_settlement import UNIT, _accept, _fund, _participant, _task
from tests.unit.compute.world import approve

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.chain.tokens import TokenReader
from datacoop.db import Database
from datacoop.settings import Settings
from datacoop.settlement.service import SettlementService
from datacoop.tasks.schemas import TaskCreate
from datacoop.tasks.service import TaskService


class RpcWatch:
    """Fails any RPC made by ``client`` while the same thread holds a transaction of ``db``."""

    def __init__(
        self, db: Database, client: ChainClient, relay: Relay, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.violations: list[str] = []
        self._local = threading.local()
        real_transaction, provider = db.transaction, client.w3.provider
        real_request, real_step = provider._make_request, relay.step  # type: ignore[attr-defined]

        @contextmanager
        def transaction() -> Iterator[Session]:
            self._local.depth = self._depth() + 1
            try:
                with real_transaction() as s:
                    yield s
            finally:
                self._local.depth = self._depth() - 1

        def make_request(method: str, data: bytes) -> Any:
            if self._depth() > 0 and not getattr(self._local, "relay", False):
                self.violations.append(method)
                raise AssertionError(f"RPC {method} made while a database transaction is open")
            return real_request(method, data)

        def step() -> bool:  # the outbox relay's own I/O is fenced by design: not watched
            self._local.relay = True
            try:
                return bool(real_step())
            finally:
                self._local.relay = False

        monkeypatch.setattr(db, "transaction", transaction)
        monkeypatch.setattr(provider, "_make_request", make_request)
        monkeypatch.setattr(relay, "step", step)

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))


def _guarded(watch: RpcWatch, call: Callable[[], Any]) -> Any:
    """The call's result; AssertionError naming the RPC methods it made inside a transaction."""
    try:
        return call()
    finally:
        assert watch.violations == [], f"RPC inside a database transaction: {watch.violations}"


def test_settlement_reads_the_chain_outside_its_transactions(
    db: Database,
    chain: ChainClient,
    relay: Relay,
    accounts: list[LocalAccount],
    deployment: Deployment,
    token: TestToken,
    escrow: TaskEscrow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prepare: a funded task, linked, with accepted items; the watch on
    service = SettlementService(db, ChainHandle(chain, relay, accounts[0], deployment))
    requester, alice = accounts[1], accounts[2]
    task_id = _task(db, requester)
    escrow_task_id = _fund(chain, token, escrow, requester, 100 * UNIT)
    watch = RpcWatch(db, chain, relay, monkeypatch)
    _guarded(watch, lambda: service.link_escrow(_participant(db, requester.address), task_id, escrow_task_id))
    _accept(db, task_id, alice, 3)
    # Execute: close the epoch (the escrow's funded amount), drive it, read the claims (vault, claimed)
    closed = _guarded(watch, lambda: service.close_epoch(task_id))
    assert closed is not None
    for _ in range(400):
        if service.epoch(task_id, closed.number).status == "confirmed":
            break
        _guarded(watch, service.drive)
        time.sleep(0.05)
    claims = _guarded(watch, lambda: service.claims(alice.address))
    spend = _guarded(watch, lambda: service.spend(_participant(db, requester.address), task_id))
    # Assert: what a user sees is what it was
    [claim] = claims
    assert (claim.escrow_task_id, claim.cumulative, claim.claimed) == (
        escrow_task_id,
        str(6 * UNIT),
        "0",
    )
    assert claim.claimable == str(6 * UNIT)
    assert claim.vault == escrow.vault(escrow_task_id).address
    assert (spend.funded, spend.posted) == (str(100 * UNIT), str(6 * UNIT))


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


def test_the_exchange_and_anchoring_read_the_chain_outside_their_transactions(
    node: Node, sdk: Any, accounts: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: the watch on before the version is anchored and listed
    assert node.chain is not None
    watch = RpcWatch(node.db, node.chain.client, node.chain.relay, monkeypatch)
    # Execute: anchor and list (receipts), sell, open a royalty round (the pool), read royalties (claimed)
    m = _guarded(watch, lambda: open_market(node, sdk, accounts))
    buyer = accounts[4]
    tx_hash = m.buy(buyer)
    order = _guarded(watch, lambda: sdk(buyer).place_order(m.listing.id, tx_hash, "US"))
    node.chain.relay.drive(f"exchange:forward:{m.chain.chain_id}:{m.market.address}:{order['licence_id']}")
    round_ = _guarded(watch, lambda: node.exchange.settle_royalties(m.listing.id, timeout=60))
    owed = _guarded(watch, lambda: sdk(m.contributors[0]).royalties())
    # Assert
    assert m.listing.status == "listed" and round_ is not None and round_.status == "confirmed"
    assert [int(o["claimed"]) for o in owed] == [0] and int(owed[0]["claimable"]) > 0


def test_compute_reads_the_licence_token_outside_its_transaction(
    node: Node, sdk: Any, accounts: list[LocalAccount], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a compute-to-data licence bought on chain; the publisher approves the algorithm
    assert node.chain is not None
    m = open_market(node, sdk, accounts)
    buyer = sdk(accounts[4])
    buyer.place_order(m.listing.id, m.buy(accounts[4]), "US")
    path = tmp_path / "algorithm.py"
    path.write_text("def run(data_dir, out_dir):\n    pass\n")
    approve(node, m.version_id, path)
    watch = RpcWatch(node.db, node.chain.client, node.chain.relay, monkeypatch)
    # Execute: submit a job (the check asks the chain whether the licence token is still the buyer's)
    job = _guarded(watch, lambda: buyer.compute_submit(m.version_id, path))
    # Assert
    assert job.status == "queued"


def test_a_task_reads_its_token_outside_its_transaction(
    db: Database,
    chain: ChainClient,
    relay: Relay,
    accounts: list[LocalAccount],
    deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prepare: the requester's row first (its own transaction), then the watch
    requester = _participant(db, accounts[1].address)
    tasks = TaskService(db, tokens=TokenReader(chain, deployment.token))
    body = TaskCreate.model_validate(
        {"title": "Masks", "description": "d", "modality": "image", "reward": "2", "target_count": 1,
         "deadline": "2030-01-01T00:00:00Z", "consent_text": "ok"}
    )  # fmt: skip
    watch = RpcWatch(db, chain, relay, monkeypatch)
    # Execute: symbol and decimals are read from the chain, then the task is written
    task = _guarded(watch, lambda: tasks.create(requester, body))
    # Assert
    assert task.token is not None and (task.token.symbol, task.token.decimals) == ("DCT", 18)
    assert task.reward_per_item == str(2 * UNIT)
