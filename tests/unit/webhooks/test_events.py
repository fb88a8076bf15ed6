"""Events are written with the change that causes them: rolled back with it, once per change, and
only for subscriptions that asked for them (an appeal's second decision is a second event)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select
from tests.conftest import ManualClock

from datacoop.app import Node
from datacoop.client import DataCoopClient
from datacoop.db.models import Submission, WebhookDelivery, WebhookEvent
from datacoop.tasks.schemas import TaskPublic
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move
from datacoop.webhooks.schemas import SubscriptionCreate
from datacoop.webhooks.sender import DeliveryPolicy
from datacoop.webhooks.service import WebhookService

HOOK = "https://hooks.example.com/datacoop"


def _subscribe(node: Node, client: DataCoopClient, *events: str) -> None:
    who = node.auth.resolve(client._token or "")
    node.webhooks.subscribe(who, SubscriptionCreate.model_validate({"url": HOOK, "events": list(events)}))


def _submission(contributor: DataCoopClient, task: TaskPublic, data: bytes = b"a photo") -> int:
    return contributor.submit(task_id=task.id, cid=contributor.upload(data).cid, jurisdiction="KE").id


def _moves(node: Node, submission_id: int, *states: SubmissionState) -> None:
    with node.db.transaction() as s:
        row = s.get(Submission, submission_id)
        assert row is not None
        for state in states:
            move(s, row, state, None, row.updated_at)


def _events(node: Node) -> list[dict[str, object]]:
    with node.db.transaction() as s:
        return [json.loads(e.body) for e in s.scalars(select(WebhookEvent).order_by(WebhookEvent.created_at))]


def test_a_decision_and_its_appeal_are_two_events(
    node: Node, requester: DataCoopClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare
    _subscribe(node, requester, "submission.decided")
    sid = _submission(contributor, task)
    # Execute: rejected, appealed, accepted
    _moves(node, sid, SubmissionState.SCREENING, SubmissionState.REJECTED)
    _moves(node, sid, SubmissionState.IN_REVIEW, SubmissionState.ACCEPTED)
    # Assert
    events = _events(node)
    assert [e["data"]["state"] for e in events] == ["rejected", "accepted"]  # type: ignore[index]
    assert len({e["id"] for e in events}) == 2


def test_an_event_is_rolled_back_with_its_change(
    node: Node, requester: DataCoopClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    _subscribe(node, requester, "submission.decided")
    sid = _submission(contributor, task)
    with pytest.raises(RuntimeError), node.db.transaction() as s:
        row = s.get(Submission, sid)
        assert row is not None
        move(s, row, SubmissionState.SCREENING, None, row.updated_at)
        move(s, row, SubmissionState.ACCEPTED, None, row.updated_at)
        raise RuntimeError("the decision's transaction fails after the event was written")
    assert _events(node) == []  # never announced: it did not happen


def test_nothing_is_written_for_a_type_nobody_asked_for(
    node: Node, requester: DataCoopClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    _subscribe(node, requester, "version.frozen")
    _subscribe(node, contributor, "submission.decided")  # not the requester: not entitled
    _moves(node, _submission(contributor, task), SubmissionState.SCREENING, SubmissionState.ACCEPTED)
    assert _events(node) == []


def test_two_workers_never_hold_one_delivery(
    node: Node, clock: ManualClock, requester: DataCoopClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    # Prepare: one due delivery, two workers (two services over one database)
    _subscribe(node, requester, "submission.decided")
    _moves(node, _submission(contributor, task), SubmissionState.SCREENING, SubmissionState.ACCEPTED)
    clock.advance(seconds=1)
    other = WebhookService(node.db, policy=DeliveryPolicy(), clock=clock)
    # Execute: each claims as the first step of work_once does
    first = node.webhooks.sender._claim("worker-a")
    second = other.sender._claim("worker-b")
    # Assert
    assert first is not None and second is None
    with node.db.transaction() as s:
        held = s.scalar(select(func.count()).where(WebhookDelivery.status == "delivering"))
    assert held == 1
    other.close()


def test_deleting_a_subscription_while_its_event_is_written_fails_neither(
    node: Node, requester: DataCoopClient, contributor: DataCoopClient, task: TaskPublic
) -> None:
    if node.db.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the two cannot overlap")
    # Prepare
    _subscribe(node, requester, "submission.decided")
    [subscription] = node.webhooks.subscriptions(node.auth.resolve(requester._token or ""))
    sid = _submission(contributor, task)
    failures: list[BaseException] = []

    def unsubscribe() -> None:
        try:
            node.webhooks.unsubscribe(node.auth.resolve(requester._token or ""), subscription.id)
        except BaseException as exc:  # reported below
            failures.append(exc)

    # Execute: the decision's transaction writes the event; the deletion comes before it commits
    with node.db.transaction() as s:
        row = s.get(Submission, sid)
        assert row is not None
        move(s, row, SubmissionState.SCREENING, None, row.updated_at)
        move(s, row, SubmissionState.ACCEPTED, None, row.updated_at)
        deleting = threading.Thread(target=unsubscribe)
        deleting.start()
        deleting.join(0.5)  # it waits for the decision's lock on the subscription
        assert deleting.is_alive()
    deleting.join(10)
    # Assert: the decision stands; the subscription went, with the delivery just written for it
    assert failures == []
    assert contributor.get_submission(sid).state == "accepted"
    with node.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
