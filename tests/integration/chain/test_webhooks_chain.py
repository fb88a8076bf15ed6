"""The chain's webhook events on a real anvil: an epoch confirmed, an order delivered, each announced
once, signed, and only to the participant entitled to it (the task's requester, the order's buyer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from tests.conftest import ManualClock
from tests.integration.chain.test_exchange import node, open_market
from tests.integration.chain.test_settlement import (
    UNIT,
    _accept,
    _funded_task,
    _participant,
)
from tests.integration.webhooks.receiver import Receiver

from datacoop.app import Node
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TaskEscrow, TestToken
from datacoop.chain.deploy import Deployment
from datacoop.chain.outbox import Relay
from datacoop.chain.setup import ChainHandle
from datacoop.db import Database
from datacoop.identity.schemas import Caller
from datacoop.settlement.service import SettlementService
from datacoop.webhooks.schemas import SubscriptionCreate
from datacoop.webhooks.service import WebhookService
from datacoop.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

ALL = ["submission.decided", "epoch.posted", "version.frozen", "order.delivered"]

__all__ = ["node"]  # the exchange tests' node on the real chain, reused here


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.down()


def _listen(webhooks: WebhookService, who: Caller, receivers: list[Receiver]) -> tuple[Receiver, str]:
    """A receiver that is up, subscribed to every type for ``who``; it and its secret."""
    receiver = Receiver().up()
    receivers.append(receiver)
    created = webhooks.subscribe(who, SubscriptionCreate.model_validate({"url": receiver.url, "events": ALL}))
    return receiver, created.secret


def _drain(webhooks: WebhookService) -> None:
    while webhooks.work_once("test-worker"):
        pass


def _bodies(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    out = []
    for r in receiver.received:
        h = {k.lower(): v for k, v in r.headers.items()}
        sent = int(h[TIMESTAMP_HEADER.lower()])
        verify(secret, h[TIMESTAMP_HEADER.lower()], h[SIGNATURE_HEADER.lower()], r.body, now=sent)
        out.append(json.loads(r.body))
    return out


@pytest.fixture
def service(
    db: Database, chain: ChainClient, relay: Relay, accounts: list[LocalAccount], deployment: Deployment
) -> SettlementService:
    return SettlementService(db, ChainHandle(chain, relay, accounts[0], deployment))


def test_a_confirmed_epoch_is_announced_once_to_its_requester(
    db: Database,
    service: SettlementService,
    chain: ChainClient,
    token: TestToken,
    escrow: TaskEscrow,
    accounts: list[LocalAccount],
    receivers: list[Receiver],
) -> None:
    # Prepare: the requester and a contributor listen for everything
    webhooks = WebhookService(db, allow_loopback_http=True)
    requester, contributor = accounts[1], accounts[2]
    mine, my_secret = _listen(webhooks, _participant(db, requester.address), receivers)
    theirs, _ = _listen(webhooks, _participant(db, contributor.address), receivers)
    task_id, _escrow_task = _funded_task(db, service, chain, token, escrow, requester, 100 * UNIT)
    _accept(db, task_id, contributor, 2)
    # Execute: an epoch settles; the follower's sync runs again (nothing new is announced)
    first = service.settle(task_id)
    service.sync()
    _drain(webhooks)
    # Assert
    assert first is not None and first.status == "confirmed"
    [event] = _bodies(mine, my_secret)
    assert event["type"] == "epoch.posted"
    assert event["data"] | {"root": first.root} == {
        "task_id": task_id, "epoch": 1, "root": first.root, "total": str(first.total),
        "added": str(first.added), "tx_hash": first.tx_hash,
    }  # fmt: skip
    assert theirs.received == []
    webhooks.close()


def test_an_order_is_announced_to_its_buyer_only(
    node: Node, clock: ManualClock, sdk: Any, accounts: list[LocalAccount], receivers: list[Receiver]
) -> None:
    # Prepare: the publisher (the task's requester) and the buyer listen for everything
    publisher, buyer = sdk(accounts[1]), sdk(accounts[4])
    theirs, their_secret = _listen(node.webhooks, node.auth.resolve(publisher._token), receivers)
    mine, my_secret = _listen(node.webhooks, node.auth.resolve(buyer._token), receivers)
    m = open_market(node, sdk, accounts)
    # Execute
    order = buyer.place_order(m.listing.id, m.buy(accounts[4]), "US")
    # past the accepting transactions, written at the wall clock's time, however slowly the test ran
    clock.now = max(clock.now, datetime.now(UTC)) + timedelta(seconds=5)
    _drain(node.webhooks)
    # Assert: the buyer hears of its order; the publisher of its items and version, never of the order
    [event] = _bodies(mine, my_secret)
    assert event["type"] == "order.delivered"
    assert event["data"] == {
        "order_id": order["id"], "listing_id": m.listing.id, "licence_id": str(order["licence_id"]),
        "granted": len(order["granted"]), "withheld": len(order["withheld"]), "expires": order["expires"],
    }  # fmt: skip
    kinds = sorted(b["type"] for b in _bodies(theirs, their_secret))
    assert kinds == ["submission.decided"] * 3 + ["version.frozen"]
