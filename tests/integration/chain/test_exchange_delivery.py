"""No licence, an expired licence, a licence of another version: not a single byte is delivered.

Each refusal is asserted on the raw HTTP answer: its error code, its field, and an empty body of
export bytes (the error JSON is all there is). Real anvil, real LicenseMarket.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.integration.chain.test_exchange import node, open_market  # noqa: F401 - the node fixture

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Order
from datacoop.exchange.delivery import DeliveryClaim, sign_token


def _secret(on: Node) -> str:
    return (on.settings.data_dir / "download_secret").read_text().strip()


def _refused(response: Response, status: int, code: str, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert b"ustar" not in response.content and b"scrubbed photo" not in response.content  # 0 export bytes
    assert response.json()["error"]["code"] == code and response.json()["error"]["field"] == field


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _token(on: Node, order_id: int, buyer: str, licence_id: int) -> str:
    expires = int(on.exchange._clock().timestamp()) + 600
    return sign_token(_secret(on), DeliveryClaim(order_id, buyer, licence_id, expires))


def test_without_a_licence_nothing_is_delivered(
    node: Node,  # noqa: F811
    sdk: Any,
    api: TestClient,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: accounts[4] buys; accounts[5] never does
    m = open_market(node, sdk, accounts)
    buyer, stranger = accounts[4], accounts[5]
    tx_hash = m.buy(buyer)
    order = sdk(buyer).place_order(m.listing.id, tx_hash, "US")
    as_stranger = sdk(stranger)
    auth = {"Authorization": f"Bearer {as_stranger._token}"}
    # Execute
    claim_theirs = api.post(
        "/v1/orders",
        json={"listing_id": m.listing.id, "tx_hash": tx_hash, "jurisdiction": "US"},
        headers=auth,
    )
    their_url = api.get(f"/v1/orders/{order['id']}/download-url", headers=auth)
    forged = sign_token("not-the-node-secret" * 2, DeliveryClaim(order["id"], buyer.address, 1, 2**40))
    with_forged = api.get(f"/v1/deliveries/{forged}", headers=auth)
    # a link signed by the node but naming the stranger (as if one leaked and were edited)
    renamed = api.get(
        f"/v1/deliveries/{_token(node, order['id'], stranger.address, int(order['licence_id']))}",
        headers=auth,
    )
    # Assert
    _refused(claim_theirs, 409, "conflict", "tx_hash")  # already the buyer's order: never the stranger's
    _refused(their_url, 403, "forbidden", "order_id")
    _refused(with_forged, 403, "forbidden", "token")
    _refused(renamed, 403, "forbidden", "token")
    assert [e.subject for e in node.audit.entries(action="exchange.download")] == []


def test_an_expired_licence_stops_the_download(
    node: Node,  # noqa: F811
    sdk: Any,
    api: TestClient,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: a one-hour licence, bought and granted; its link works
    m = open_market(node, sdk, accounts, duration_s=3600)
    buyer = sdk(accounts[4])
    order = buyer.place_order(m.listing.id, m.buy(accounts[4]), "US")
    url = buyer.download_url(order["id"])["url"]
    assert api.get(url, headers={"Range": "bytes=0-9", **_auth(buyer)}).status_code == 206
    # Execute: chain time passes the licence's expiry; the same (still unexpired) link is used again
    m.chain.rpc("evm_increaseTime", [3601])
    m.chain.rpc("evm_mine", [])
    after = api.get(url, headers=_auth(buyer))
    # Assert
    _refused(after, 410, "gone", "licence")
    assert len(node.audit.entries(action="exchange.download")) == 1  # only the request before expiry


def test_a_licence_for_another_version_gets_nothing_of_this_one(
    node: Node,  # noqa: F811
    sdk: Any,
    api: TestClient,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: version 1 and version 2 listed; the buyer holds a licence of version 1 only
    m = open_market(node, sdk, accounts)
    m.items.add(1, jurisdiction="KE")
    v2_listing = m.list_version(m.new_version())
    buyer = sdk(accounts[4])
    tx_v1 = m.buy(accounts[4])
    auth = {"Authorization": f"Bearer {buyer._token}"}
    # Execute: the version-1 purchase presented as one of version 2
    as_v2 = api.post(
        "/v1/orders",
        json={"listing_id": v2_listing.id, "tx_hash": tx_v1, "jurisdiction": "US"},
        headers=auth,
    )
    order_v1 = buyer.place_order(m.listing.id, tx_v1, "US")
    # and the version-1 order re-pointed at version 2 in the database: its own signed link must still fail
    with node.db.transaction() as s:
        row = s.get(Order, order_v1["id"])
        assert row is not None
        row.listing_id = v2_listing.id
    tampered = api.get(buyer.download_url(order_v1["id"])["url"], headers=auth)
    # Assert
    _refused(as_v2, 403, "forbidden", "tx_hash")
    _refused(tampered, 403, "forbidden", "licence")
    assert node.audit.entries(action="exchange.download") == []


def test_a_transferred_licence_stops_working_for_its_old_holder(
    node: Node,  # noqa: F811
    sdk: Any,
    api: TestClient,
    accounts: list[LocalAccount],
) -> None:
    # Prepare
    m = open_market(node, sdk, accounts)
    buyer, new_holder = accounts[4], accounts[5]
    order = sdk(buyer).place_order(m.listing.id, m.buy(buyer), "US")
    as_buyer = sdk(buyer)
    url = as_buyer.download_url(order["id"])["url"]
    # Execute: the buyer passes the licence token on
    data = m.market.contract.encode_abi(
        "transferFrom", args=[buyer.address, new_holder.address, int(order["licence_id"])]
    )
    m.chain.send(buyer, {"to": m.market.address, "data": data})
    # Assert
    _refused(api.get(url, headers=_auth(as_buyer)), 403, "forbidden", "licence")


def test_a_download_link_opens_only_in_its_buyers_session(
    node: Node,  # noqa: F811
    sdk: Any,
    api: TestClient,
    accounts: list[LocalAccount],
) -> None:
    # Prepare: the buyer's own, valid link
    m = open_market(node, sdk, accounts)
    buyer = sdk(accounts[4])
    order = buyer.place_order(m.listing.id, m.buy(accounts[4]), "US")
    url = buyer.download_url(order["id"])["url"]
    # Execute: the link alone, the link in another wallet's session, the link in the buyer's session
    alone = api.get(url)
    elsewhere = api.get(url, headers=_auth(sdk(accounts[5])))
    mine = api.get(url, headers=_auth(buyer))
    # Assert: the link is a second factor, never a credential on its own
    _refused(alone, 401, "not_authenticated", "authorization")
    _refused(elsewhere, 403, "forbidden", "token")
    assert mine.status_code == 200 and mine.content.startswith(b"order.json")
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert mine.headers["content-disposition"] == f'attachment; filename="order-{order["id"]}.tar"'
    assert len(node.audit.entries(action="exchange.download")) == 1
