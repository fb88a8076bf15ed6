"""A sale counts at the node's confirmation depth, read by its own watcher: never from the tx hash alone.

A node on a real anvil that waits for 3 confirmations. The buyer's tx hash is only a hint: the order
is recorded when the watcher holds the LicenceSold event 3 blocks deep, and a purchase whose block a
reorg took away is never recorded, so nothing of it is delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from tests.integration.chain.test_exchange import Market, open_market

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.db import Database
from datacoop.db.models import ChainEvent, Order
from datacoop.errors import Conflict, NotFound
from datacoop.settings import Settings


@contextmanager
def blocks_keep_coming(url: str) -> Iterator[None]:
    """Mine a block every 50 ms meanwhile, so the operator's own transactions reach 3 confirmations."""
    client, stop = ChainClient(url), threading.Event()

    def mine() -> None:
        while not stop.wait(0.05):
            client.rpc("evm_mine", [])

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        yield
    finally:
        stop.set()
        miner.join(5)


@pytest.fixture
def node(
    tmp_path: Path, db: Database, clock: Any, anvil: AnvilNode, accounts: list[LocalAccount]
) -> Iterator[Node]:
    """A node that waits for 3 confirmations (the `api` and `sdk` fixtures talk to it)."""
    settings = Settings(
        data_dir=tmp_path / "node", chain="rpc", rpc_url=anvil.url, confirmations=3,
        operator_key="0x" + accounts[0].key.hex(),
    )  # fmt: skip
    with blocks_keep_coming(anvil.url):
        built = build_node(settings, db=db, clock=clock, migrate=False)
    yield built
    built.close()


@pytest.fixture
def market(node: Node, anvil: AnvilNode, sdk: Any, accounts: list[LocalAccount]) -> Market:
    """A listed version; from then on, blocks come only when the test mines them."""
    with blocks_keep_coming(anvil.url):
        return open_market(node, sdk, accounts)


def _step(node: Node) -> None:
    assert node.watcher is not None
    while node.watcher.step():
        pass


def test_an_order_is_recorded_and_delivered_only_at_the_confirmation_depth(
    market: Market, sdk: Any, accounts: list[LocalAccount]
) -> None:
    # Prepare
    m, node = market, market.node
    buyer = sdk(accounts[4])
    tx_hash = m.buy(accounts[4], final=False)
    answers: list[str] = []
    # Execute: ask after each block, the watcher stepping as the chain follower does
    for _ in range(3):
        _step(node)
        try:
            order = buyer.place_order(m.listing.id, tx_hash, "US", wait_s=0)
            answers.append("recorded")
        except Conflict as exc:
            answers.append(f"{exc.field}:{exc.limit}")
            m.chain.rpc("evm_mine", [])
    # Assert: depth 1, depth 2, then recorded at 3 and delivered
    assert answers == ["confirmations:3", "confirmations:3", "recorded"]
    assert int(order["licence_id"]) >= 1 and order["tx_hash"] == tx_hash.lower()
    assert buyer.download(order["id"], Path(node.settings.data_dir) / "order.tar").stat().st_size > 0
    watcher = node.health.check()["chain"]["watcher"]
    assert watcher["processed"] == watcher["head"] == m.chain.block_number() and watcher["lag"] == 0
    assert watcher["final_through"] == watcher["processed"] - 2 and watcher["reorgs"] == 0


def test_a_purchase_reorged_away_is_never_recorded_nor_delivered(
    market: Market, sdk: Any, accounts: list[LocalAccount]
) -> None:
    # Prepare: the purchase is mined and seen by the watcher, one block deep
    m, node = market, market.node
    buyer = sdk(accounts[4])
    before = m.chain.rpc("evm_snapshot", [])["result"]
    tx_hash = m.buy(accounts[4], final=False)
    _step(node)
    with pytest.raises(Conflict) as unconfirmed:
        buyer.place_order(m.listing.id, tx_hash, "US", wait_s=0)
    # Execute: a reorg takes the purchase's block away; a longer chain without it follows
    m.chain.rpc("evm_revert", [before])
    for _ in range(4):
        m.chain.rpc("evm_mine", [])
    _step(node)
    # Assert
    assert unconfirmed.value.field == "confirmations"
    with node.db.transaction() as s:
        assert s.scalars(select(ChainEvent).where(ChainEvent.tx_hash == tx_hash.lower())).all() == []
        assert s.scalars(select(Order)).all() == []
    with pytest.raises(NotFound):
        buyer.place_order(m.listing.id, tx_hash, "US", wait_s=0)
    assert node.health.check()["chain"]["watcher"]["reorgs"] == 1
    assert [e.subject for e in node.audit.entries(action="exchange.download")] == []


def test_a_block_read_while_the_order_is_checked_never_turns_the_purchase_away(
    market: Market, sdk: Any, accounts: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: the purchase is 3 blocks deep on chain, but the watcher has not read its block yet
    m, node = market, market.node
    assert node.watcher is not None
    watcher, buyer = node.watcher, sdk(accounts[4])
    tx_hash = m.buy(accounts[4], final=False)
    for _ in range(2):
        m.chain.rpc("evm_mine", [])
    looked_up = watcher.depth_of

    def watcher_steps_meanwhile(s: Any, tx: str) -> Any:
        found = looked_up(s, tx)
        _step(node)  # the chain follower commits the sale's block right after the node looked for it
        return found

    monkeypatch.setattr(watcher, "depth_of", watcher_steps_meanwhile)
    # Execute
    with pytest.raises(Conflict) as first:
        buyer.place_order(m.listing.id, tx_hash, "US", wait_s=0)
    monkeypatch.undo()
    order = buyer.place_order(m.listing.id, tx_hash, "US", wait_s=0)
    # Assert: asked while the block was being read, the buyer is told to ask again (not "bought
    # nothing", which PostgreSQL's per-statement snapshots used to give); asked again, it is recorded
    assert (first.value.field, first.value.limit) == ("confirmations", 3)
    assert order["tx_hash"] == tx_hash.lower()
