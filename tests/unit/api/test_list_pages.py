"""Every list route comes in keyset pages: ``after`` + ``limit`` (at most 500), X-Next-Cursor while more
follow.

Each route's rows are made as its users make them where that needs no chain (tasks, datasets, gold items,
webhooks), else written to the database as the chain follower would (listings, orders, epochs, webhook
deliveries, slashing proposals). Claims and royalties read the chain: here only their parameters' limits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.unit.api.conftest import task_body

from datacoop.api.deps import _caller_is_operator
from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.clock import utc_now
from datacoop.db.models import (
    DatasetVersion,
    Epoch,
    Listing,
    Order,
    Participant,
    SlashingProposal,
    Validator,
    WebhookDelivery,
    WebhookEvent,
)
from datacoop.tasks.schemas import TaskPublic

ROWS = 5
ADDRESS = "0x" + "ab" * 20


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _follow(api: TestClient, path: str, headers: dict[str, str], limit: int = 2) -> tuple[list[int], int]:
    """Every id of the list, page by page, and how many pages it took; the last page has no cursor."""
    ids: list[int] = []
    after: str | None = None
    for pages in range(1, 50):
        r = api.get(path, params={"limit": limit, **({"after": after} if after else {})}, headers=headers)
        assert r.status_code == 200, r.text
        assert len(r.json()) <= limit
        ids += [row["id"] for row in r.json()]
        after = r.headers.get("x-next-cursor")
        if after is None:
            return ids, pages
        assert after == str(ids[-1])
    raise AssertionError(f"{path}: no last page")


def _participant(node: Node, client: DataCoopClient) -> int:
    assert client.account is not None
    with node.db.transaction() as s:
        return s.scalars(select(Participant.id).where(Participant.address == client.account.address)).one()


def _add(node: Node, rows: list[Any]) -> list[int]:
    with node.db.transaction() as s:
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


# --- making each route's rows: (path, headers, ids in the route's order) ----------------------------


def _tasks(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    ids = [task.id] + [requester.create_task(task_body(title=f"task {i}")).id for i in range(ROWS)]
    return "/v1/tasks", {}, sorted(ids, reverse=True)  # newest first


def _datasets(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    ids = [requester.create_dataset(f"d{i}", {"task_ids": [task.id]}).id for i in range(ROWS)]
    return "/v1/datasets", {}, ids


def _gold(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    cids = [requester.upload(f"gold {i}".encode()).cid for i in range(ROWS)]
    ids = [requester.add_gold(task.id, cid, "accept").id for cid in cids]
    return f"/v1/tasks/{task.id}/gold", _auth(requester), ids


def _webhooks(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    ids = [_subscribe(api, requester) for _ in range(ROWS)]
    return "/v1/webhooks", _auth(requester), ids


def _subscribe(api: TestClient, client: DataCoopClient) -> int:
    body = {"url": "https://hooks.example.com/datacoop", "events": ["submission.decided"]}
    r = api.post("/v1/webhooks", json=body, headers=_auth(client))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _deliveries(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    subscription, now = _subscribe(api, requester), utc_now()
    events = [
        WebhookEvent(
            id=f"evt_{i:032x}", type="submission.decided", source=f"test:{i}", body="{}", created_at=now
        )
        for i in range(ROWS)
    ]
    with node.db.transaction() as s:
        s.add_all(events)
    ids = _add(node, [
        WebhookDelivery(subscription_id=subscription, event_id=e.id, status="delivered", attempts=1,
                        created_at=now)
        for e in events
    ])  # fmt: skip
    return (
        f"/v1/webhooks/{subscription}/deliveries",
        _auth(requester),
        sorted(ids, reverse=True),
    )  # newest first


def _epochs(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    now, zero = utc_now(), "0x" + "00" * 32
    ids = _add(
        node,
        [
            Epoch(
                task_id=task.id,
                number=1 + i // 2,
                status="failed" if i % 2 == 0 else "confirmed",
                root=zero,
                total=i,
                added=1,
                earnings=1,
                shortfall=0,
                tx_key=f"test:epoch:{i}",
                created_at=now,
                updated_at=now,
            )
            for i in range(ROWS)
        ],
    )  # fmt: skip  (a failed attempt's number is reused: the row id is the cursor)
    return f"/v1/tasks/{task.id}/epochs", {}, ids


def _version(node: Node, requester: DataCoopClient, task: TaskPublic) -> int:
    dataset = requester.create_dataset("for sale", {"task_ids": [task.id]})
    manifest = requester.upload(b"a manifest").cid
    return _add(node, [
        DatasetVersion(dataset_id=dataset.id, number=1, manifest_cid=manifest, items_root="0x" + "11" * 32,
                       item_count=3, changes={}, created_at=utc_now(), anchor_status="confirmed")
    ])[0]  # fmt: skip


def _listing(version: int, i: int, **override: Any) -> Listing:
    now = utc_now()
    fields: dict[str, Any] = {
        "version_id": version, "title": f"listing {i}", "modality": "image", "item_count": 3,
        "size_bytes": 100, "origins": ["KE"], "token": ADDRESS, "price": 10**18 + i, "licence": "CC-BY-4.0",
        "terms_text": "",
        "terms_hash": "0x" + "22" * 32, "duration_s": 86_400, "royalty_bps": 0, "access_modes": ["download"],
        "jurisdictions": ["*"], "data_category": "personal", "consent_scope": "general", "status": "listed",
        "tx_key": f"test:listing:{i}", "market_listing_id": i, "created_at": now, "updated_at": now,
    }  # fmt: skip
    return Listing(**fields | override)


def _listings(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    version = _version(node, requester, task)
    ids = _add(node, [_listing(version, i) for i in range(ROWS)])
    return "/v1/listings", {}, sorted(ids, reverse=True)  # newest first


def _orders(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    listing = _add(node, [_listing(_version(node, requester, task), 0)])[0]
    buyer, now = _participant(node, requester), utc_now()
    ids = _add(node, [
        Order(listing_id=listing, buyer_id=buyer, buyer=ADDRESS, tx_hash=f"0x{i:064x}", licence_id=i,
              amount=1, expires=int((now + timedelta(days=1)).timestamp()), royalty=0, publisher_share=1,
              operator_fee=0, jurisdiction="KE", purpose="training", safeguards=[], granted=[], withheld={},
              created_at=now)
        for i in range(ROWS)
    ])  # fmt: skip
    return "/v1/orders", _auth(requester), ids


def _slashing(api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic) -> Any:
    _as_operator(api)
    now = utc_now()
    people = _add(
        node, [Participant(address=f"0x{i:040x}", created_at=now, last_seen_at=now) for i in range(ROWS)]
    )
    validators = _add(node, [
        Validator(participant_id=p, staked=True, qualified=True, excluded=False, reputation=0.0,
                  gold_answered=0, gold_correct=0, decided_votes=0, agreed_votes=0, created_at=now,
                  updated_at=now)
        for p in people
    ])  # fmt: skip
    ids = _add(node, [
        SlashingProposal(validator_id=v, reason="test", reason_hash="0x" + "33" * 32, status="proposed",
                         created_at=now, updated_at=now)
        for v in validators
    ])  # fmt: skip
    return "/v1/reviews/slashing", _auth(requester), ids


def _as_operator(api: TestClient) -> None:
    """The operator is whoever holds the chain's operator role; with no chain here, the check says yes."""
    api.app.dependency_overrides[_caller_is_operator] = lambda: True  # type: ignore[attr-defined]


ROUTES: dict[str, Callable[..., Any]] = {
    "tasks": _tasks, "datasets": _datasets, "gold": _gold, "webhooks": _webhooks, "deliveries": _deliveries,
    "epochs": _epochs, "listings": _listings, "orders": _orders, "slashing": _slashing,
}  # fmt: skip


@pytest.mark.parametrize("route", ROUTES)
def test_a_list_comes_in_pages_that_chain_by_cursor_to_the_end(
    api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic, route: str
) -> None:
    # Prepare
    path, headers, expected = ROUTES[route](api, node, requester, task)
    # Execute
    ids, pages = _follow(api, path, headers)
    whole = api.get(path, headers=headers)
    # Assert: every id once, in the route's order; the default page holds them all, with no cursor
    assert ids == expected and pages == -(-len(expected) // 2)
    assert [row["id"] for row in whole.json()] == expected and "x-next-cursor" not in whole.headers


def test_listings_filter_before_they_page(
    api: TestClient, node: Node, requester: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: every other listing is too dear; one is offered only in Germany
    version = _version(node, requester, task)
    rows = [_listing(version, i, price=10**18 if i % 2 else 10**30) for i in range(2 * ROWS)]
    rows.append(_listing(version, 99, jurisdictions=["DE"]))
    ids = _add(node, rows)
    cheap = sorted(ids[1 : 2 * ROWS : 2], reverse=True)
    # Execute
    pages, after, seen = 0, None, []
    while True:
        params = {"limit": 2, "max_price": 10**18, "buyer": "KE", **({"after": after} if after else {})}
        r = api.get("/v1/listings", params=params)
        seen += [row["id"] for row in r.json()]
        pages, after = pages + 1, r.headers.get("x-next-cursor")
        if after is None:
            break
    # Assert: full pages of what matches, the last one without a cursor; the SDK reads them all
    assert seen == cheap and pages == 3
    assert [row["id"] for row in requester.listings(max_price=10**18, buyer="KE")] == cheap
    assert requester.listings(min_items=2**62, max_size=2**62) == []  # past the columns' range: none


def test_the_sdk_follows_every_page(api: TestClient, requester: DataCoopClient, task: TaskPublic) -> None:
    # Prepare: more tasks than a page of the SDK's (500) would be slow; the SDK's own limit is what pages
    made = [requester.create_task(task_body(title=f"task {i}")).id for i in range(3)]
    datasets = [requester.create_dataset(f"d{i}", {"task_ids": [task.id]}).id for i in range(3)]
    # Execute
    tasks = [t.id for t in requester.list_tasks()]
    listed = [d.id for d in requester.list_datasets()]
    # Assert
    assert tasks == sorted([task.id, *made], reverse=True) and listed == datasets


PATHS = [
    "/v1/tasks", "/v1/datasets", "/v1/listings", "/v1/orders", f"/v1/royalties/{ADDRESS}", "/v1/tasks/1/gold",
    "/v1/reviews/slashing", "/v1/tasks/1/epochs", f"/v1/claims/{ADDRESS}", "/v1/webhooks",
    "/v1/webhooks/1/deliveries",
]  # fmt: skip


@pytest.mark.parametrize(("param", "value"), [("limit", 501), ("limit", 0), ("after", -1)])
def test_a_page_outside_its_limits_is_refused_naming_the_parameter(
    api: TestClient, requester: DataCoopClient, param: str, value: int
) -> None:
    _as_operator(api)
    for path in PATHS:  # one node for every route: the refusal comes before any row is read
        r = api.get(path, params={param: value}, headers=_auth(requester))
        assert (r.status_code, r.json()["error"]["field"]) == (422, param), path
