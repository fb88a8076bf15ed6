"""Money moves exactly once while the public hammers the node (RELIABILITY.md 45).

Found by attacking a running node: with 16 loops of unauthenticated ``GET /v1/listings``, one listing
was sent on chain twice and a publisher's share forwarded three times, and the outbox then stalled,
because request threads stepped the relay beside the node's own loop. Here a real node serves HTTP on
127.0.0.1 with its chain follower running, 16 threads send 10,000 public reads, and meanwhile 50
listings are made, 50 licences sold (each forwarding the publisher's share and crediting royalties)
and 20 settlement epochs posted (``DATACOOP_HYPOTHESIS_PROFILE=thorough``; CI runs 2,000 reads, 12
listings, 12 sales and 5 epochs). Afterwards every operator transaction on chain is one outbox record,
once, and no record is left unfinished.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from tests.integration.chain.test_exchange import PRICE, ROYALTY_BPS, Market, node, node_url, open_market
from tests.integration.chain.test_settlement import _accept, _fund, _participant, _task

from datacoop.app import Node
from datacoop.chain.client import ChainClient
from datacoop.chain.outbox import FINAL
from datacoop.db.models import ChainTx, Epoch, Listing
from datacoop.exchange.service import ExchangeService

__all__ = ["node", "node_url"]  # the exchange tests' node and its HTTP server, reused here

# The size the race was found at runs under DATACOOP_HYPOTHESIS_PROFILE=thorough (about 5 minutes a
# database on this machine); CI runs a fifth of it, still 16 readers beside every kind of operator work.
THOROUGH = os.environ.get("DATACOOP_HYPOTHESIS_PROFILE") == "thorough"
READS, LISTINGS, SALES, EPOCHS = (10_000, 50, 50, 20) if THOROUGH else (2_000, 12, 12, 5)
READERS = 16
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _operator_calls(chain: ChainClient, sender: str) -> list[str]:
    """The calldata of every transaction ``sender`` got mined, from the genesis block on."""
    calls = []
    for number in range(chain.block_number() + 1):
        for tx in chain.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == sender:  # type: ignore[index]
                calls.append("0x" + bytes(tx["input"]).hex())  # type: ignore[index]
    return calls


class Readers:
    """Threads that send public GETs round the given paths until ``total`` answers came back."""

    def __init__(self, base_url: str, paths: Callable[[], list[str]], total: int) -> None:
        self._base, self._paths, self._left = base_url, paths, itertools.count()
        self.total, self.statuses, self.transport_errors = total, Counter[int](), Counter[str]()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._read) for _ in range(READERS)]

    def start(self) -> Readers:
        for t in self._threads:
            t.start()
        return self

    def join(self) -> None:
        for t in self._threads:
            t.join(600)

    def _read(self) -> None:
        with httpx.Client(base_url=self._base, timeout=60) as http:
            for path in itertools.cycle(self._paths()):
                if next(self._left) >= self.total:
                    return
                code = self._get(http, path)
                with self._lock:
                    self.statuses[code] += 1

    def _get(self, http: httpx.Client, path: str) -> int:
        """One answer's status; a dropped connection (a keep-alive the server closed while this thread
        waited for a core) is retried twice and counted apart, a third in a row fails the test."""
        for attempt in range(3):
            try:
                return http.get(path).status_code
            except httpx.TransportError as exc:
                with self._lock:
                    self.transport_errors[type(exc).__name__] += 1
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _sell_everything(node: Node, m: Market, sdk: Any, buyers: list[LocalAccount]) -> list[int]:
    """49 more listings of the version (enqueued, sent by the follower), then one sale of each."""
    ids = [m.listing.id] + [
        m.publisher.create_listing(m.version_id, price=PRICE, licence="CC-BY-4.0", duration_s=86_400,
                                   royalty_bps=ROYALTY_BPS)["id"]
        for _ in range(LISTINGS - 1)
    ]  # fmt: skip
    listed = [_wait(lambda i=i: node.exchange.listing(i), lambda v: v.status != "pending") for i in ids]
    assert {v.status for v in listed} == {"listed"}, listed
    clients = [sdk(buyer) for buyer in buyers]
    for n, listing in enumerate(listed[:SALES]):
        buyer, client = buyers[n % len(buyers)], clients[n % len(buyers)]
        client.place_order(listing.id, m.buy(buyer, listing), "US")
    return ids


def _post_epochs(node: Node, requester: LocalAccount, contributor: LocalAccount, m: Market) -> int:
    """A funded task; twenty times: one more accepted item, close the epoch, wait until confirmed."""
    task_id = _task(node.db, requester)
    escrow_id = _fund(m.chain, m.token, node.settlement._escrow(), requester, 10**24)
    node.settlement.link_escrow(_participant(node.db, requester.address), task_id, escrow_id)
    for number in range(1, EPOCHS + 1):
        _accept(node.db, task_id, contributor, 1)
        assert node.settlement.close_epoch(task_id) is not None
        node.wake_chain()
        _wait(lambda n=number: node.settlement.epoch(task_id, n, include_failed=True),
              lambda e: e.status in ("confirmed", "failed"), node=node)  # fmt: skip
    return task_id


def _wait(
    read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 300, node: Node | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        assert time.monotonic() < deadline, f"still waiting after {timeout}s: {value}" + (
            _outbox_state(node) if node is not None else ""
        )
        time.sleep(0.1)
    return value


def _outbox_state(node: Node) -> str:
    """What a stalled outbox looks like: its open records and the operator's nonces on chain."""
    assert node.chain is not None
    with node.db.transaction() as s:
        rows = s.scalars(select(ChainTx).where(ChainTx.status.not_in(FINAL)).order_by(ChainTx.id)).all()
        open_ = [(r.id, r.key, r.status, r.nonce, r.attempts, r.error, r.updated_at) for r in rows]
    w3, sender = node.chain.client.w3, node.chain.relay.lease.name.rsplit(":", 1)[1]
    nonces = {tag: w3.eth.get_transaction_count(sender, tag) for tag in ("latest", "pending")}  # type: ignore[arg-type]
    frames = sys._current_frames()
    stacks = [
        f"{t.name}:\n" + "".join(traceback.format_stack(frames[t.ident]))
        for t in threading.enumerate()
        if t.name.startswith("datacoop-worker") and t.ident in frames
    ]  # where the follower (and the other workers) are right now
    return f"\nopen outbox records: {open_}\noperator nonces: {nonces}\n" + "\n".join(stacks)


def _settled(node: Node) -> bool:
    """Nothing left to send: every record final, and no sale waiting for its royalty round."""
    with node.db.transaction() as s:
        open_ = s.scalars(select(ChainTx.key).where(ChainTx.status.not_in(FINAL))).all()
        return not open_ and not ExchangeService._rounds_due(s)


def test_public_reads_beside_listings_sales_and_epochs_send_each_transaction_once(
    node: Node, node_url: str, sdk: Any, accounts: list[LocalAccount]
) -> None:
    # Prepare: a listed version (its first listing sent before the follower starts), the follower, readers
    m = open_market(node, sdk, accounts)
    assert node.chain is not None
    operator, publisher = accounts[0], accounts[1]
    publisher_before = m.token.balance_of(publisher.address)
    node.start_chain_follower()
    paths = [
        "/v1/listings", f"/v1/listings/{m.listing.id}", f"/v1/royalties/{accounts[2].address}",
        "/v1/health", f"/v1/dataset-versions/{m.version_id}", "/v1/listings?include_pending=true",
    ]  # fmt: skip
    readers = Readers(node_url, lambda: paths, READS).start()
    # Execute: the operator's work arrives from request handlers and from the settlement schedule
    epochs: dict[str, int] = {}
    poster = threading.Thread(
        target=lambda: epochs.setdefault("task", _post_epochs(node, accounts[5], accounts[3], m))
    )
    poster.start()
    listing_ids = _sell_everything(node, m, sdk, [accounts[4], accounts[2]])
    poster.join(600)
    readers.join()
    _wait(lambda: _settled(node), bool, timeout=300, node=node)
    # Assert: each outbox record on chain exactly once, none left behind, nothing answered 5xx
    with node.db.transaction() as s:
        records = s.scalars(select(ChainTx)).all()
        listings = s.scalars(select(Listing).where(Listing.id.in_(listing_ids))).all()
        posted = s.scalars(select(Epoch).where(Epoch.task_id == epochs["task"])).all()
    assert {r.status for r in records} == {"confirmed"}, [
        (r.key, r.status, r.error) for r in records if r.status != "confirmed"
    ]
    mined = _operator_calls(m.chain, operator.address)
    assert Counter(mined) == Counter(r.data for r in records)
    assert len(mined) == len({r.nonce for r in records}) == len(records)
    assert sorted(r.market_listing_id for r in listings) == sorted({r.market_listing_id for r in listings})
    assert len(m.market.contract.events.Listed.get_logs(from_block=0)) == LISTINGS
    share = PRICE - PRICE * ROYALTY_BPS // 10_000 - PRICE * 250 // 10_000
    assert m.token.balance_of(publisher.address) - publisher_before == SALES * share
    assert sorted(e.number for e in posted if e.status == "confirmed") == list(range(1, EPOCHS + 1))
    assert sum(readers.statuses.values()) == READS
    assert not [code for code in readers.statuses if code >= 500], readers.statuses
    assert sum(readers.transport_errors.values()) < READS // 100, readers.transport_errors


def test_public_reads_never_sign_or_send(node: Node, sdk: Any, accounts: list[LocalAccount]) -> None:
    # Prepare: a listing enqueued by its publisher, with no chain follower running in this node
    m = open_market(node, sdk, accounts)
    operator_nonce = m.chain.w3.eth.get_transaction_count(accounts[0].address)
    created = m.publisher.create_listing(m.version_id, price=PRICE, licence="CC-BY-4.0", duration_s=86_400)
    reader = m.publisher._http
    # Execute: every read that used to move the outbox along (royalties: the publisher's own)
    codes = [
        reader.get(path, headers=m.publisher._auth_headers()).status_code
        for path in (
            "/v1/listings", "/v1/listings?include_pending=true", f"/v1/listings/{created['id']}",
            f"/v1/royalties/{accounts[1].address}", f"/v1/dataset-versions/{m.version_id}",
            f"/v1/tasks/{m.items.task.id}/epochs",
        )
    ]  # fmt: skip
    # Assert: the record is still only an intent; nothing was signed or reached the chain
    with node.db.transaction() as s:
        record = s.scalars(select(ChainTx).where(ChainTx.status.not_in(FINAL))).one()
    assert set(codes) == {200}, codes
    assert (record.status, record.nonce, record.raw) == ("pending", None, None)
    assert m.chain.w3.eth.get_transaction_count(accounts[0].address) == operator_nonce
    assert node.exchange.listing(created["id"]).status == "pending"
