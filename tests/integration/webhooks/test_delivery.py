"""Webhooks end to end: events written with their changes, POSTed signed to a real receiver on
127.0.0.1, retried with back-off while it is down, each delivered exactly once when it comes back;
only to the participants entitled to them. Time is the node's ManualClock: a minute of it passes in
a few seconds of wall time, and every attempt is a real HTTP request (or a real refused connection).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import ManualClock, make_account
from tests.integration.webhooks.receiver import Receiver
from tests.unit.datasets.conftest import Accepted

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Submission, WebhookEvent
from datacoop.tasks.schemas import TaskPublic
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move
from datacoop.webhooks.sender import DeliveryPolicy
from datacoop.webhooks.service import WebhookService
from datacoop.webhooks.signing import EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

ALL = ["submission.decided", "epoch.posted", "version.frozen", "order.delivered"]


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for r in made:
        r.down()


def _auth(client: DataCoopClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client._token}"}


def _subscribe(api: TestClient, client: DataCoopClient, url: str, events: list[str] = ALL) -> dict[str, Any]:
    answer = api.post("/v1/webhooks", json={"url": url, "events": events}, headers=_auth(client))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _log(api: TestClient, client: DataCoopClient, subscription: dict[str, Any]) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=_auth(client))
    assert answer.status_code == 200, answer.text
    log: list[dict[str, Any]] = answer.json()
    return log


def _drain(webhooks: WebhookService) -> int:
    """Every attempt due now, as the node's workers would make them; how many were made."""
    made = 0
    while webhooks.work_once("test-worker"):
        made += 1
    return made


def _run_for(webhooks: WebhookService, clock: ManualClock, span: timedelta) -> int:
    """Let ``span`` of the node's clock pass, a second at a time, making each attempt when due."""
    made, end = 0, clock.now + span
    while clock.now < end:
        made += _drain(webhooks)
        clock.advance(seconds=1)
    return made


def _decide(node: Node, clock: ManualClock, task: TaskPublic, contributor: DataCoopClient) -> int:
    """Four decided submissions (three accepted, one rejected) and a frozen version: five events."""
    made = Accepted(node, task, contributor, [])
    made.add(3)
    blob = contributor.upload(b"a blurred photo")
    sub = contributor.submit(task_id=task.id, cid=blob.cid, jurisdiction="KE")
    with node.db.transaction() as s:
        row = s.get(Submission, sub.id)
        assert row is not None
        move(s, row, SubmissionState.SCREENING, None, clock())
        move(s, row, SubmissionState.REJECTED, "blurred", clock())
    return 4


def _check(received: Any, secret: str, clock: ManualClock) -> dict[str, Any]:
    """The body of a received delivery, after checking it as a receiver must (raises when it fails)."""
    headers = {k.lower(): v for k, v in received.headers.items()}
    verify(secret, headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()], received.body,
           now=int(clock().timestamp()))  # fmt: skip
    body: dict[str, Any] = json.loads(received.body)
    assert body["id"] == headers[EVENT_HEADER.lower()]
    return body


def test_a_receiver_down_for_a_minute_gets_every_event_exactly_once(
    api: TestClient,
    node: Node,
    clock: ManualClock,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    task: TaskPublic,
    receivers: list[Receiver],
) -> None:
    # Prepare: the requester's endpoint is down (nothing listens on its port); five events happen
    receiver = Receiver()
    receivers.append(receiver)
    subscription = _subscribe(api, requester, receiver.url)
    decided = _decide(node, clock, task, contributor)
    dataset = requester.create_dataset("masks", {"task_ids": [task.id]})
    requester.create_dataset_version(dataset.id)
    with node.db.transaction() as s:
        events = {e.id: e.type for e in s.query(WebhookEvent)}
    # Execute: a minute of the node's clock passes while it is down, then it comes up
    failed = _run_for(node.webhooks, clock, timedelta(minutes=1))
    while_down = _log(api, requester, subscription)
    receiver.up()
    _run_for(node.webhooks, clock, timedelta(minutes=3))
    after = _log(api, requester, subscription)
    # Assert: retried with back-off while down, each attempt in the log with its error and next time
    assert Counter(events.values()) == {"submission.decided": decided, "version.frozen": 1}
    assert len(events) * 3 <= failed <= len(events) * 7  # doubling from 5 s: 4 to 5 tries in a minute
    assert {d["status"] for d in while_down} == {"pending"}
    for delivery in while_down:
        tries = delivery["attempts"]
        assert all(t["status_code"] is None and "Connect" in t["error"] for t in tries)
        gaps = [(_at(a["next_attempt_at"]) - _at(a["at"])).total_seconds() for a in reversed(tries)]
        assert gaps == sorted(gaps) and 2.5 <= gaps[0] <= 5  # growing, from base 5 s with jitter
    # ... and once up, every event exactly once, signed with the subscription's secret
    ids = Counter(_check(r, subscription["secret"], clock)["id"] for r in receiver.received)
    assert ids == dict.fromkeys(events, 1)
    bodies = [json.loads(r.body) for r in receiver.received]
    assert {b["type"] for b in bodies} == {"submission.decided", "version.frozen"}
    states = {b["data"]["state"] for b in bodies if b["type"] == "submission.decided"}
    assert states == {"accepted", "rejected"}
    assert {d["status"] for d in after} == {"delivered"}
    assert all(d["attempts"][0]["status_code"] == 200 for d in after)
    assert node.webhooks.sender.pending() == 0


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_nobody_gets_events_it_is_not_entitled_to(
    api: TestClient,
    node: Node,
    clock: ManualClock,
    sdk: Any,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    task: TaskPublic,
    receivers: list[Receiver],
) -> None:
    # Prepare: another requester and the contributor listen for everything; the requester for one type
    other = sdk(make_account(0xC0FFEE))
    mine, theirs, contributors = Receiver().up(), Receiver().up(), Receiver().up()
    receivers.extend([mine, theirs, contributors])
    own = _subscribe(api, requester, mine.url, ["version.frozen"])
    foreign = _subscribe(api, other, theirs.url)
    _subscribe(api, contributor, contributors.url)
    # Execute
    _decide(node, clock, task, contributor)
    dataset = requester.create_dataset("masks", {"task_ids": [task.id]})
    requester.create_dataset_version(dataset.id)
    _run_for(node.webhooks, clock, timedelta(seconds=5))
    # Assert: the requester only the type it asked for; the others nothing; nor may they read its log
    assert [json.loads(r.body)["type"] for r in mine.received] == ["version.frozen"]
    assert theirs.received == [] and contributors.received == []
    assert _log(api, other, foreign) == []
    for method in ("GET", "DELETE"):
        path = f"/v1/webhooks/{own['id']}" + ("/deliveries" if method == "GET" else "")
        assert api.request(method, path, headers=_auth(other)).status_code == 404
    listed = api.get("/v1/webhooks", headers=_auth(other)).json()
    assert [s["id"] for s in listed] == [foreign["id"]] and "secret" not in listed[0]


def test_an_error_and_a_redirect_are_retried_never_followed(
    api: TestClient,
    node: Node,
    clock: ManualClock,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    task: TaskPublic,
    receivers: list[Receiver],
) -> None:
    # Prepare: a receiver that answers 500, then a redirect, then 200
    receiver = Receiver(statuses=[500, 302]).up()
    receivers.append(receiver)
    subscription = _subscribe(api, requester, receiver.url, ["submission.decided"])
    Accepted(node, task, contributor, []).add(1)
    # Execute
    _run_for(node.webhooks, clock, timedelta(minutes=1))
    # Assert: three tries of the same bytes; the log says why the first two failed
    assert len({r.body for r in receiver.received}) == 1 and len(receiver.received) == 3
    (delivery,) = _log(api, requester, subscription)
    codes = [(a["status_code"], (a["error"] or "")[:14]) for a in reversed(delivery["attempts"])]
    assert codes == [(500, "HTTP 500: "), (302, "redirect to ht"), (200, "")]
    assert "not followed" in delivery["attempts"][1]["error"]
    assert delivery["status"] == "delivered"


def test_a_delivery_is_given_up_past_its_maximum_age(
    api: TestClient,
    node: Node,
    clock: ManualClock,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    task: TaskPublic,
    receivers: list[Receiver],
) -> None:
    # Prepare: a worker that gives up after two minutes; the receiver never comes up
    impatient = WebhookService(node.db, policy=DeliveryPolicy(max_age=timedelta(minutes=2)), clock=clock)
    receiver = Receiver()
    receivers.append(receiver)
    subscription = _subscribe(api, requester, receiver.url, ["submission.decided"])
    Accepted(node, task, contributor, []).add(1)
    # Execute
    tries = _run_for(impatient, clock, timedelta(minutes=4))
    # Assert: failed, visibly, with no next try; nothing more is attempted
    (delivery,) = _log(api, requester, subscription)
    assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
    assert delivery["attempts"][0]["next_attempt_at"] is None and len(delivery["attempts"]) == tries
    assert _run_for(impatient, clock, timedelta(minutes=10)) == 0
    impatient.close()


def test_the_nodes_workers_deliver_in_the_background(
    api: TestClient,
    node: Node,
    clock: ManualClock,
    requester: DataCoopClient,
    contributor: DataCoopClient,
    task: TaskPublic,
    receivers: list[Receiver],
) -> None:
    receiver = Receiver().up()
    receivers.append(receiver)
    _subscribe(api, requester, receiver.url, ["submission.decided"])
    pool = node.start_webhook_workers()
    assert pool is not None and node.start_webhook_workers() is pool  # one pool per node
    try:
        Accepted(node, task, contributor, []).add(2)
        # past the accepting transactions, written at the wall clock's time, however slowly the test ran
        clock.now = max(clock.now, datetime.now(UTC)) + timedelta(seconds=5)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pool.stop()
    assert len({json.loads(r.body)["id"] for r in receiver.received}) == 2
