"""The exchange on a real anvil: a sale pays its split exactly, and contributors claim their royalties.

A node whose chain is a local anvil; the publisher lists an anchored version through the API, the
buyer pays with their own key (approve + buy), tells the node, and downloads what compliance grants.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from tests.unit.datasets.conftest import Accepted

from datacoop.app import Node, build_node
from datacoop.chain.anvil import AnvilNode
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import LicenseMarket, TestToken
from datacoop.client import DataCoopClient
from datacoop.db import Database
from datacoop.exchange.schemas import ListingPublic
from datacoop.settings import Settings

# A price whose royalty (30%) does not split evenly 2:1, so the dust rule is exercised:
# royalty = 1_000_004 * 3000 // 10000 = 300_001; fee = 1_000_004 * 250 // 10000 = 25_000.
PRICE = 1_000_004
ROYALTY_BPS = 3_000


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


@dataclass
class Market:
    """A listed version and the parties around it."""

    node: Node
    chain: ChainClient
    token: TestToken
    market: LicenseMarket
    publisher: DataCoopClient
    contributors: list[LocalAccount]
    version_id: int
    listing: ListingPublic = field(init=False)  # set by open_market, once listed
    items: Accepted

    def buy(self, buyer: LocalAccount, listing: ListingPublic | None = None, *, final: bool = True) -> str:
        """Approve and buy with the buyer's own key, as `datacoop buy` does; the buy's tx hash.

        ``final``: then step the node's chain watcher (the chain follower's work) until it holds the
        sale at the confirmation depth, so the node will record the order."""
        listing = listing or self.listing
        price = int(listing.price)
        self.chain.send(buyer, self.token.mint(buyer.address, price).as_tx())
        self.chain.send(buyer, self.token.approve(self.market.address, price).as_tx())
        assert listing.market_listing_id is not None
        tx_hash = self.chain.send(buyer, self.market.buy(listing.market_listing_id).as_tx()).tx_hash
        if final:
            assert self.node.watcher is not None
            self.node.watcher.wait_final(tx_hash, "LicenceSold")
        return tx_hash

    def list_version(self, version_id: int, **terms: Any) -> ListingPublic:
        fields: dict[str, Any] = {
            "price": PRICE, "licence": "CC-BY-4.0", "duration_s": 30 * 86_400, "royalty_bps": ROYALTY_BPS,
            "access_modes": ["download", "compute_to_data"], "data_category": "personal",
            "consent_scope": "separate",
        }  # fmt: skip
        created = self.publisher.create_listing(version_id, **(fields | terms))
        return self.node.exchange.wait_listed(created["id"], timeout=60)

    def new_version(self) -> int:
        dataset_id = self.publisher.dataset_version(self.version_id).dataset_id
        version = self.publisher.create_dataset_version(dataset_id)
        return self.node.datasets.anchor(version.id, timeout=60).id


def open_market(node: Node, sdk: Any, accounts: list[LocalAccount], **terms: Any) -> Market:
    """Publisher accounts[1]; contributors accounts[2] (two items from KE) and [3] (one from CN)."""
    from tests.unit.api.conftest import task_body

    assert node.chain is not None
    chain = node.chain.client
    publisher = sdk(accounts[1])
    task = publisher.create_task(task_body())
    items = Accepted(node, task, sdk(accounts[2]), [])
    items.add(2, jurisdiction="KE")
    Accepted(node, task, sdk(accounts[3]), items.ids).add(1, jurisdiction="CN")
    dataset = publisher.create_dataset("masks", {"task_ids": [task.id]})
    version = node.datasets.anchor(publisher.create_dataset_version(dataset.id).id, timeout=60)
    assert version.anchor.status == "confirmed"
    deployment = node.chain.deployment
    made = Market(
        node, chain, TestToken(chain, deployment.token), LicenseMarket(chain, deployment.market),
        publisher, accounts[2:4], version.id, items,
    )  # fmt: skip
    made.listing = made.list_version(version.id, **terms)
    assert made.listing.status == "listed", made.listing
    return made


def test_a_sale_pays_the_split_exactly_and_contributors_claim_their_royalties(
    node: Node, sdk: Any, accounts: list[LocalAccount]
) -> None:
    # Prepare
    m = open_market(node, sdk, accounts)
    assert node.chain is not None
    operator, publisher, buyer = accounts[0], accounts[1], accounts[4]
    listing_id = m.listing.market_listing_id
    assert listing_id is not None
    before = {
        "pool": int(m.market.royalty_pool(listing_id)["credited"]),
        "publisher": m.token.balance_of(publisher.address),
        "operator": m.token.balance_of(operator.address),
    }
    # Execute: the buyer pays on chain, then tells the node
    tx_hash = m.buy(buyer)
    order = sdk(buyer).place_order(m.listing.id, tx_hash, "US")
    node.chain.relay.drive(f"exchange:forward:{m.chain.chain_id}:{m.market.address}:{order['licence_id']}")
    round_ = node.exchange.settle_royalties(m.listing.id, timeout=60)
    # Assert: the split, exactly (the publisher's share forwarded by the operator, who keeps its fee)
    royalty, fee = PRICE * ROYALTY_BPS // 10_000, PRICE * 250 // 10_000
    assert (royalty, fee) == (300_001, 25_000)
    assert (int(order["royalty"]), int(order["operator_fee"]), int(order["publisher_share"])) == (
        royalty, fee, PRICE - royalty - fee,
    )  # fmt: skip
    assert int(m.market.royalty_pool(listing_id)["credited"]) - before["pool"] == royalty
    assert m.token.balance_of(publisher.address) - before["publisher"] == PRICE - royalty - fee
    assert m.token.balance_of(operator.address) - before["operator"] == fee
    # the compliant part is granted: KE items allowed; the CN item needs a PIPIA, so compute-to-data only
    assert order["granted"] == [0, 1]
    assert order["withheld"]["2"]["rule"] == "cn.no_impact_assessment"
    assert order["withheld"]["2"]["access"] == "compute_to_data"
    assert order["withheld"]["2"]["legal_basis"]
    check = node.compute.licences.check(node.db, buyer.address, m.version_id, ("job",), datetime.now(UTC))
    with node.db.transaction() as s:  # the compute-to-data offer came with the licence: jobs may run
        licence = node.compute.licences.licence_for(s, check)
    assert licence is not None
    # royalties: 2:1 by items, floors; 1 base unit of dust stays in the pool
    assert round_ is not None and round_.status == "confirmed"
    assert (int(round_.credited), int(round_.total), int(round_.dust)) == (royalty, 300_000, 1)
    expected = {accounts[2].address: royalty * 2 // 3, accounts[3].address: royalty // 3}
    for contributor in m.contributors:
        [owed] = sdk(contributor).royalties()
        assert int(owed["claimable"]) == expected[contributor.address]
        before_claim = m.token.balance_of(contributor.address)
        req = m.market.claim_royalty(listing_id, contributor.address, int(owed["cumulative"]), owed["proof"])
        m.chain.send(contributor, req.as_tx())
        assert m.token.balance_of(contributor.address) - before_claim == expected[contributor.address]
        assert int(sdk(contributor).royalties()[0]["claimable"]) == 0
    pool = m.market.royalty_pool(listing_id)
    assert (int(pool["paid"]), int(pool["credited"]) - int(pool["paid"])) == (300_000, 1)
    # royalties come a page at a time by listing id (tests/unit/api/test_list_pages.py pages the others)
    owner = sdk(m.contributors[0])
    path = f"/royalties/{m.contributors[0].address}"
    first = owner._request("GET", path, params={"limit": 1})
    assert [r["listing_id"] for r in first.json()] == [m.listing.id] and "x-next-cursor" not in first.headers
    assert owner._request("GET", path, params={"after": m.listing.id}).json() == []
    assert owner._request("GET", path, params={"after": m.listing.id - 1, "limit": 1}).json() == first.json()


def test_the_buyer_downloads_the_granted_items_and_resumes_a_cut_download(
    node: Node, sdk: Any, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    # Prepare
    m = open_market(node, sdk, accounts)
    buyer = sdk(accounts[4])
    order = buyer.place_order(m.listing.id, m.buy(accounts[4]), "US")
    # Execute: a first request cut after 700 bytes, then the SDK resumes from the .part file
    url = buyer.download_url(order["id"])
    out = tmp_path / "export.tar"
    first = buyer._http.get(url["url"], headers={"Range": "bytes=0-699", **buyer._auth_headers()})
    (tmp_path / "export.tar.part").write_bytes(first.content)
    buyer.download(order["id"], out)
    # Assert
    assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-699/{url['size']}"
    data = out.read_bytes()
    assert len(data) == url["size"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        blobs = {n: tar.extractfile(n).read() for n in names if not n.endswith(".json")}  # type: ignore[union-attr]
    assert names[0] == "order.json" and sorted(blobs) == ["000000.jpg", "000001.jpg"]
    assert blobs["000001.jpg"] == b"scrubbed photo 2"
    downloads = [e for e in node.audit.entries() if e.action == "exchange.download"]
    assert [e.subject for e in downloads] == [f"order:{order['id']}"] * 2
    grants = [e for e in node.audit.entries() if e.action == "exchange.grant"]
    assert grants[0].details["withheld"] == {"2": "cn.no_impact_assessment"}


@pytest.fixture
def node_url(node: Node) -> Iterator[str]:
    """The node's API over HTTP on a free port (the CLI talks to a running node)."""
    import socket
    import threading
    import time

    import uvicorn

    from datacoop.api.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(node), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_cli_buys_downloads_and_claims_royalties(
    node: Node, node_url: str, sdk: Any, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from datacoop.cli import app

    # Prepare: the node runs its chain follower, as `datacoop up` does (its watcher sees the purchase)
    m = open_market(node, sdk, accounts)
    node.start_chain_follower()
    buyer, contributor = accounts[4], accounts[3]
    m.chain.send(buyer, m.token.mint(buyer.address, PRICE).as_tx())

    def run(account: LocalAccount, *args: str) -> Any:
        env = {"DATACOOP_PRIVATE_KEY": "0x" + account.key.hex()}
        return CliRunner().invoke(app, [*args, "--url", node_url], env=env)

    # Execute
    found = run(buyer, "listings", "--origin", "CN", "--buyer", "US")
    bought = run(buyer, "buy", str(m.listing.id), "--jurisdiction", "US")
    fetched = run(buyer, "download", "1", "--out", str(tmp_path))
    assert node.exchange.settle_royalties(m.listing.id, timeout=60) is not None
    claimed = run(contributor, "royalties", "claim")
    # Assert
    assert found.exit_code == 0 and "CC-BY-4.0" in found.stdout, found.output
    assert bought.exit_code == 0, bought.output
    assert "2 item(s) granted, 1 withheld" in bought.stdout and "cn.no_impact_assessment" in bought.stdout
    assert fetched.exit_code == 0, fetched.output
    with tarfile.open(tmp_path / "order-1.tar") as tar:
        assert tar.getnames()[0] == "order.json"
    assert claimed.exit_code == 0, claimed.output
    assert m.token.balance_of(contributor.address) == PRICE * ROYALTY_BPS // 10_000 // 3
