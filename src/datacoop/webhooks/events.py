"""The outbox: an event and its deliveries, written in the caller's transaction.

A service calls one of these functions in the transaction that makes the change (a submission
decided, an epoch confirmed, a version frozen, an order recorded): the event commits with the change
or not at all, so none is lost and none is invented. Each goes only to the subscriptions of the
participants entitled to it that asked for its type; one with no such subscription writes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.db.models import (
    Dataset,
    DatasetVersion,
    Epoch,
    Order,
    Submission,
    SubmissionEvent,
    Task,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from datacoop.webhooks.rules import EventType

__all__ = ["epoch_posted", "order_delivered", "record", "submission_decided", "version_frozen"]


def _wanting(s: Session, kind: EventType, recipients: Iterable[int]) -> list[int]:
    """The subscriptions of ``recipients`` that asked for ``kind``.

    PostgreSQL: held FOR KEY SHARE until the caller commits, so a subscription deleted at the same
    moment waits (or is not seen): its deletion never fails the change that records the event."""
    rows = s.execute(
        select(WebhookSubscription.id, WebhookSubscription.events)
        .where(WebhookSubscription.owner_id.in_(sorted(set(recipients))))
        .with_for_update(read=True, key_share=True)
    ).all()
    return [sub_id for sub_id, events in rows if kind.value in events]


def record(
    s: Session, kind: EventType, source: str, recipients: Iterable[int], data: dict[str, Any], now: datetime
) -> str | None:
    """Write the event of ``source`` and one pending delivery per subscription that wants it.

    Returns the event id, or None when nobody subscribed (nothing written) or ``source`` was recorded
    before (a change is announced once).
    """
    subscriptions = _wanting(s, kind, recipients)
    if not subscriptions or s.scalar(select(WebhookEvent.id).where(WebhookEvent.source == source)):
        return None
    event_id = f"evt_{uuid.uuid4().hex}"
    created = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": event_id, "type": kind.value, "created_at": created, "data": data}
    s.add(WebhookEvent(id=event_id, type=kind.value, source=source, body=json.dumps(body), created_at=now))
    s.flush()  # the event before the deliveries that name it
    s.add_all(
        WebhookDelivery(
            subscription_id=sub,
            event_id=event_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for sub in subscriptions
    )
    return event_id


def submission_decided(s: Session, sub: Submission, change: SubmissionEvent, now: datetime) -> str | None:
    """A submission was accepted or rejected (``change``: its state change, not yet flushed)."""
    task = s.get(Task, sub.task_id)
    assert task is not None
    if not _wanting(s, EventType.SUBMISSION_DECIDED, [task.requester_id]):
        return None  # the usual case costs one query
    s.flush()  # the change's id names the event: a submission may be decided again after an appeal
    data = {"submission_id": sub.id, "task_id": sub.task_id, "cid": sub.cid, "state": sub.state}
    source = f"submission-event:{change.id}"
    return record(s, EventType.SUBMISSION_DECIDED, source, [task.requester_id], data, now)


def epoch_posted(s: Session, epoch: Epoch, now: datetime) -> str | None:
    """An epoch's root is confirmed on chain: its entitlements can be claimed."""
    task = s.get(Task, epoch.task_id)
    assert task is not None
    data = {
        "task_id": epoch.task_id,
        "epoch": epoch.number,
        "root": epoch.root,
        "total": str(epoch.total),
        "added": str(epoch.added),
        "tx_hash": epoch.tx_hash,
    }
    return record(s, EventType.EPOCH_POSTED, f"epoch:{epoch.id}", [task.requester_id], data, now)


def version_frozen(s: Session, version: DatasetVersion, task_ids: list[int], now: datetime) -> str | None:
    """A dataset version was frozen; its tasks' requesters (and the dataset's owner) are told."""
    requesters = set(s.scalars(select(Task.requester_id).where(Task.id.in_(task_ids))))
    dataset = s.get(Dataset, version.dataset_id)
    if dataset is not None and dataset.owner_id is not None:
        requesters.add(dataset.owner_id)
    data = {
        "dataset_id": version.dataset_id,
        "version_id": version.id,
        "number": version.number,
        "manifest_cid": version.manifest_cid,
        "items_root": version.items_root,
        "item_count": version.item_count,
    }
    return record(s, EventType.VERSION_FROZEN, f"version:{version.id}", requesters, data, now)


def order_delivered(s: Session, order: Order, now: datetime) -> str | None:
    """A buyer's order was recorded and its compliant items granted: the download is open."""
    data = {
        "order_id": order.id,
        "listing_id": order.listing_id,
        "licence_id": str(order.licence_id),
        "granted": len(order.granted),
        "withheld": len(order.withheld),
        "expires": order.expires,
    }
    return record(s, EventType.ORDER_DELIVERED, f"order:{order.id}", [order.buyer_id], data, now)
