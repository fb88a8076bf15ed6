"""Webhooks as a service: a participant's subscriptions, their delivery log, and the delivery worker.

Services write events with their changes (:mod:`datacoop.webhooks.events`); this one lets a signed-in
participant register endpoints for the types it wants (events reach only those it is entitled to), see
each endpoint's deliveries, and runs the worker that sends them (:mod:`datacoop.webhooks.sender`).
"""

from __future__ import annotations

import httpx
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from datacoop.errors import Conflict, NotFound
from datacoop.identity.schemas import Caller
from datacoop.webhooks.egress import guarded_transport
from datacoop.webhooks.rules import MAX_SUBSCRIPTIONS, EventType, check_url
from datacoop.webhooks.schemas import (
    AttemptPublic,
    DeliveryPublic,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPublic,
)
from datacoop.webhooks.sender import DeliveryPolicy, WebhookSender
from datacoop.webhooks.signing import new_secret

__all__ = ["DeliveryPolicy", "WebhookService"]

MAX_LOG = 501  # a page of 500 and one more, which tells whether another page follows


def _public(row: WebhookSubscription) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=row.id, url=row.url, events=[EventType(e) for e in row.events], created_at=row.created_at
    )


def _attempts(s: Session, delivery_ids: list[int]) -> dict[int, list[AttemptPublic]]:
    """Every attempt at each of ``delivery_ids``, newest first."""
    found: dict[int, list[AttemptPublic]] = {}
    query = select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
    for a in s.scalars(query.order_by(WebhookAttempt.id.desc())):
        found.setdefault(a.delivery_id, []).append(
            AttemptPublic(
                at=a.at, status_code=a.status_code, error=a.error, next_attempt_at=a.next_attempt_at
            )
        )
    return found


def _delivery(row: WebhookDelivery, kind: EventType, attempts: list[AttemptPublic]) -> DeliveryPublic:
    return DeliveryPublic(
        id=row.id, event_id=row.event_id, event_type=kind, status=row.status, attempts=attempts,
        next_attempt_at=row.next_attempt_at, created_at=row.created_at, delivered_at=row.delivered_at,
    )  # fmt: skip


class WebhookService:
    """Webhooks of one node.

    Args:
        allow_loopback_http: plain-http endpoints on this machine are allowed (a development node).
        policy: timeouts, back-off and the maximum age of a delivery.
        transport: the HTTP transport of deliveries (default: the network, through
            :func:`~datacoop.webhooks.egress.guarded_transport`: public addresses only, loopback too
            where ``allow_loopback_http``).
    """

    def __init__(
        self,
        db: Database,
        *,
        allow_loopback_http: bool = False,
        policy: DeliveryPolicy | None = None,
        clock: Clock = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._db, self._loopback, self._clock = db, allow_loopback_http, clock
        transport = transport or guarded_transport(allow_loopback=allow_loopback_http)
        self.sender = WebhookSender(db, policy or DeliveryPolicy(), clock=clock, transport=transport)

    # --- subscriptions ----------------------------------------------------------------------

    def subscribe(self, who: Caller, body: SubscriptionCreate) -> SubscriptionCreated:
        """Register an endpoint of ``who``; the answer holds its secret, shown this once.

        Raises:
            InvalidInput: (``url``) not https, nor plain http to loopback on a development node.
            Conflict: (``subscriptions``) ``who`` has :data:`MAX_SUBSCRIPTIONS` already.
        """
        url = check_url(body.url, allow_loopback_http=self._loopback)
        with self._db.transaction() as s:
            held = s.scalar(
                select(func.count())
                .select_from(WebhookSubscription)
                .where(WebhookSubscription.owner_id == who.id)
            )
            if (held or 0) >= MAX_SUBSCRIPTIONS:
                raise Conflict(
                    f"you have {MAX_SUBSCRIPTIONS} webhooks already: delete one first",
                    field="subscriptions",
                    limit=MAX_SUBSCRIPTIONS,
                )
            row = WebhookSubscription(
                owner_id=who.id,
                url=url,
                events=sorted({e.value for e in body.events}),
                secret=new_secret(),
                created_at=self._clock(),
            )
            s.add(row)
            s.flush()
            return SubscriptionCreated(**_public(row).model_dump(), secret=row.secret)

    def subscriptions(
        self, who: Caller, *, after: int | None = None, limit: int | None = None
    ) -> list[SubscriptionPublic]:
        """``who``'s subscriptions after id ``after`` (a keyset page), oldest first, at most ``limit``."""
        query = (
            select(WebhookSubscription)
            .where(WebhookSubscription.owner_id == who.id)
            .order_by(WebhookSubscription.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(WebhookSubscription.id > after)
        with self._db.transaction() as s:
            return [_public(r) for r in s.scalars(query)]

    def unsubscribe(self, who: Caller, subscription_id: int) -> None:
        """Delete ``who``'s subscription, its pending deliveries and their log."""
        with self._db.transaction() as s:
            # locked first: an event being recorded for it waits, or finishes before its deliveries go
            self._own(s, who, subscription_id, lock=True)
            deliveries = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == subscription_id)
            s.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
            s.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id))
            s.execute(delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id))

    @staticmethod
    def _own(s: Session, who: Caller, subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
        """``who``'s subscription; NotFound for anyone else's (its existence is private)."""
        row = s.get(WebhookSubscription, subscription_id, with_for_update=lock or None)
        if row is None or row.owner_id != who.id:
            raise NotFound(f"you have no webhook {subscription_id}", field="subscription_id")
        return row

    # --- the delivery log -------------------------------------------------------------------

    def deliveries(
        self, who: Caller, subscription_id: int, limit: int = 100, *, before: int | None = None
    ) -> list[DeliveryPublic]:
        """``who``'s subscription's deliveries below id ``before`` (a keyset page), newest first, at most
        ``limit``, each with its attempts."""
        query = (
            select(WebhookDelivery, WebhookEvent.type)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(min(limit, MAX_LOG))
        )
        if before is not None:
            query = query.where(WebhookDelivery.id < before)
        with self._db.transaction() as s:
            self._own(s, who, subscription_id)
            rows = s.execute(query).all()
            attempts = _attempts(s, [d.id for d, _ in rows])
            return [_delivery(d, EventType(kind), attempts.get(d.id, [])) for d, kind in rows]

    # --- the worker -------------------------------------------------------------------------

    def work_once(self, worker: str) -> bool:
        """One attempt at one due delivery (a :class:`~datacoop.screening.workers.WorkerPool` calls it)."""
        return self.sender.work_once(worker)

    def close(self) -> None:
        self.sender.close()
