"""The webhooks' public shapes: a subscription in and out (its secret once), the delivery log."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from datacoop.schemas import _Model
from datacoop.webhooks.rules import MAX_URL_LENGTH, EventType

__all__ = [
    "AttemptPublic",
    "DeliveryPublic",
    "SubscriptionCreate",
    "SubscriptionCreated",
    "SubscriptionPublic",
]


class SubscriptionCreate(_Model):
    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="where deliveries are POSTed: https (plain http only to loopback on a development node)",
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EventType), description="event types wanted")


class SubscriptionPublic(_Model):
    id: int
    url: str
    events: list[EventType]
    created_at: datetime


class SubscriptionCreated(SubscriptionPublic):
    """What the creation answers: the signing secret, shown this once and never again."""

    secret: str = Field(description="HMAC-SHA256 key of every delivery's signature (see docs/webhooks.md)")


class AttemptPublic(_Model):
    at: datetime
    status_code: int | None = Field(description="the receiver's HTTP status; null when none came")
    error: str | None = Field(description="why the attempt failed, when it did")
    next_attempt_at: datetime | None = Field(description="when the next try is due; null: no more tries")


class DeliveryPublic(_Model):
    """One event to this subscription and every attempt at it, newest first."""

    id: int
    event_id: str = Field(description="the DataCoop-Event-Id header: receivers dedupe by it")
    event_type: EventType
    status: str = Field(description="pending, delivering, delivered, or failed (gave up at max age)")
    attempts: list[AttemptPublic]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
