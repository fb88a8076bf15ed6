"""One node with a party for every role of the route × role table, built once per module and database.

A real anvil (the operator, licences and their expiry and transfer live on chain), the node's own
services, and the parties reaching it through the real app: a requester with a task in review and
an appealed item, its contributor, two validators (one who unbonded after being handed an item), a
publisher's listing and buyers holding a valid, an expired, a transferred and no licence.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from tests.conftest import make_account
from tests.integration.chain.test_exchange import Market, open_market
from tests.unit.api.conftest import task_body
from tests.unit.review.review_world import STAKE, World

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.clock import utc_now
from datacoop.errors import Forbidden
from datacoop.review.schemas import ReviewItem
from datacoop.review.stakes import InMemoryStakes
from datacoop.tasks.states import SubmissionState

__all__ = ["ALGORITHM", "AuthzWorld", "build_world"]

ALGORITHM = b"def run(data_dir, out_dir):\n    (out_dir / 'result.json').write_text('{}')\n"

ROLE_KEYS = {  # roles that need no ether: keys of their own
    "other_contributor": 0xC0FFEE, "validator": 0x7A11D, "unbonded_validator": 0x0B0ED,
    "other_requester": 0x07E7, "buyer_no_licence": 0xB0B0,
}  # fmt: skip


@dataclass
class AuthzWorld:
    node: Node
    api: TestClient
    market: Market
    clients: dict[str, DataCoopClient]  # role -> signed-in client (anonymous: none)
    accounts: dict[str, LocalAccount]
    ids: dict[str, Any] = field(default_factory=dict)  # what the routes' paths name
    assignments: dict[str, ReviewItem] = field(default_factory=dict)

    def sdk(self, account: LocalAccount) -> DataCoopClient:
        client = DataCoopClient(account=account, http=self.api)
        client.login()
        return client

    def headers(self, role: str) -> dict[str, str]:
        client = self.clients.get(role)
        return {"Authorization": f"Bearer {client._token}"} if client is not None else {}


def build_world(node: Node, api: TestClient, chain_accounts: list[LocalAccount]) -> AuthzWorld:
    """Operator [0], requester and publisher [1], contributors [2] [3], buyers [4] [5] [6], recipient [7]."""
    sdk = _sdk(api)
    market = open_market(node, sdk, chain_accounts)
    roles = ("operator", "requester", "contributor", None, "buyer", "buyer_transferred_licence",
             "buyer_expired_licence")  # fmt: skip
    accounts = {role: account for role, account in zip(roles, chain_accounts, strict=False) if role}
    accounts |= {role: make_account(seed) for role, seed in ROLE_KEYS.items()}
    clients = {role: sdk(account) for role, account in accounts.items()}
    w = AuthzWorld(node, api, market, clients, accounts)
    _review(w)
    _exchange(w, chain_accounts[7])
    return w


def _sdk(api: TestClient) -> Any:
    def signed_in(account: LocalAccount) -> DataCoopClient:
        client = DataCoopClient(account=account, http=api)
        client.login()
        return client

    return signed_in


def _review(w: AuthzWorld) -> None:
    """Task T: item S in review (the validator holds it), an item the unbonded validator was handed
    before unbonding, an item rejected and appealed; the other requester's task T2 with its item."""
    stakes = InMemoryStakes()
    w.node.review.stakes, w.node.review.rng = stakes, random.Random(5)
    review = World(w.node, w.sdk, w.clients["requester"], w.clients["contributor"], stakes)
    task = review.task(k=1)
    w.ids |= {"task": task.id, "other_task": w.clients["other_requester"].create_task(task_body()).id}
    unbonded, validator = w.clients["unbonded_validator"], w.clients["validator"]
    for role in ("unbonded_validator", "validator"):
        stakes.set(w.accounts[role].address, STAKE)
    review.qualify(unbonded)
    w.ids["old_item"] = review.in_review(task, b"an item handed out before the unbonding")
    w.assignments["unbonded_validator"] = _next(unbonded)
    stakes.set(w.accounts["unbonded_validator"].address, 0)  # unbonds: its next request records it
    with pytest.raises(Forbidden):
        unbonded.validator_record()
    review.qualify(validator)
    w.ids["submission"] = review.in_review(task, b"the item under review")
    w.assignments["validator"] = _next(validator)
    w.ids["appealed"] = review.in_review(task, b"an item rejected, then appealed")
    w.node.submissions.transition(w.ids["appealed"], SubmissionState.REJECTED, reason="test: rejected")
    w.clients["contributor"].appeal(w.ids["appealed"], "the mask is plainly visible")
    other = w.clients["other_contributor"]
    w.ids["other_submission"] = other.submit(w.ids["other_task"], other.upload(b"elsewhere").cid, "KE").id


def _next(client: DataCoopClient) -> ReviewItem:
    item = client.next_review()
    assert item is not None
    return item


def _exchange(w: AuthzWorld, recipient: LocalAccount) -> None:
    """Orders: a valid licence, one passed on to ``recipient``, one expired (a one-minute listing)."""
    m = w.market
    listing = m.listing
    for role in ("buyer", "buyer_transferred_licence"):
        w.ids[f"order:{role}"] = w.clients[role].place_order(listing.id, m.buy(w.accounts[role]), "US")
    m.items.add(1, jurisdiction="KE")
    short = m.list_version(m.new_version(), duration_s=60)
    expired = w.accounts["buyer_expired_licence"]
    w.ids["order:buyer_expired_licence"] = w.clients["buyer_expired_licence"].place_order(
        short.id, m.buy(expired, short), "US"
    )
    order = w.ids["order:buyer_transferred_licence"]
    data = m.market.contract.encode_abi(
        "transferFrom", args=[order["buyer"], recipient.address, int(order["licence_id"])]
    )
    m.chain.send(w.accounts["buyer_transferred_licence"], {"to": m.market.address, "data": data})
    m.chain.rpc("evm_increaseTime", [120])
    m.chain.rpc("evm_mine", [])
    w.ids |= {"listing": listing.id, "version": m.version_id, "market_task": m.items.task.id,
              "dataset": w.clients["requester"].dataset_version(m.version_id).dataset_id,
              "accepted": m.items.ids[0], "contributor": w.accounts["contributor"].address,
              "blob": w.clients["requester"].upload(b"a blob anyone may look up").cid}  # fmt: skip
    _compute(w)
    for role in ("buyer", "buyer_transferred_licence", "buyer_expired_licence"):
        w.ids[f"url:{role}"] = w.clients[role].download_url(w.ids[f"order:{role}"]["id"])["url"]


def _compute(w: AuthzWorld) -> None:
    """The buyer's compute job (its output link is signed as the node would sign it)."""
    source = base64.b64encode(ALGORITHM).decode()
    body = {"version_id": w.ids["version"], "filename": "count.py", "source": source}
    made = w.api.post("/v1/compute/jobs", json=body, headers=w.headers("buyer"))
    w.ids["job"] = made.json()["id"] if made.status_code == 201 else 1
    signer = w.node.compute._signer  # a link as output_link would sign it once the output is released
    w.ids["output_query"] = signer.query(w.ids["job"], "result.json", w.accounts["buyer"].address, utc_now())
