"""The delivery worker: claims one due delivery, POSTs it signed, and writes what came of it.

A delivery is claimed with a conditional UPDATE (portable: SQLite and PostgreSQL), as the screening
jobs are: a pending one whose time has come, or one whose worker's lease ran out (it died mid-POST).
The POST happens outside any transaction, with a timeout and no redirect followed (a 3xx is a failed
attempt: a signed body never goes where the subscriber did not register). A 2xx delivers it; anything
else schedules the next try after an exponential back-off with jitter, until the event is older than
the maximum age, when the delivery is marked failed. Delivery is at least once: a receiver that
answered after the lease ran out may see an event twice, so it dedupes by event id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from datacoop.webhooks.egress import guarded_transport
from datacoop.webhooks.rules import backoff
from datacoop.webhooks.signing import headers

__all__ = ["DeliveryPolicy", "WebhookSender"]

MAX_ERROR = 500  # characters of an error or a response kept in the log


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard the worker tries (settings ``webhook_*``)."""

    timeout: timedelta = timedelta(seconds=10)
    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    max_age: timedelta = timedelta(days=3)

    @property
    def lease(self) -> timedelta:
        return self.timeout * 2 + timedelta(seconds=5)


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    created_at: datetime


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "delivering", WebhookDelivery.lease_until < now),
    )


def _failure(answer: httpx.Response) -> str:
    """What the log says of a non-2xx answer: a redirect's target, or the status and the body's start."""
    if answer.is_redirect:
        return f"redirect to {answer.headers.get('location', '?')} (not followed)"[:MAX_ERROR]
    start = next(answer.iter_bytes(), b"")[:200].decode("utf-8", "replace")
    return f"HTTP {answer.status_code}: {start}"[:MAX_ERROR]


class WebhookSender:
    def __init__(
        self,
        db: Database,
        policy: DeliveryPolicy,
        *,
        clock: Clock = utc_now,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._db, self._policy, self._clock, self._rng = db, policy, clock, rng or random.Random()
        self._http = httpx.Client(
            timeout=policy.timeout.total_seconds(),
            follow_redirects=False,
            transport=transport or guarded_transport(),  # public addresses only (webhooks/egress.py)
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def work_once(self, worker: str) -> bool:
        """Claim one due delivery and make one attempt at it; False when none is due."""
        job = self._claim(worker)
        if job is None:
            return False
        status, error = self._post(job)
        self._finish(job, worker, status, error)
        return True

    def pending(self) -> int:
        """Deliveries not yet delivered nor given up."""
        with self._db.transaction() as s:
            open_ = WebhookDelivery.status.in_(("pending", "delivering"))
            return int(s.scalar(select(func.count()).select_from(WebhookDelivery).where(open_)) or 0)

    def _claim(self, worker: str) -> _Job | None:
        now = self._clock()
        for _ in range(5):  # another worker may win the race for a candidate: try the next
            with self._db.transaction() as s:
                candidate = s.scalar(
                    select(WebhookDelivery.id)
                    .where(_due(now))
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(1)
                )
            if candidate is None:
                return None
            with self._db.transaction() as s:
                won = s.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == candidate, _due(now))
                    .values(
                        status="delivering",
                        lease_until=now + self._policy.lease,
                        worker=worker,
                        attempts=WebhookDelivery.attempts + 1,
                    )
                    .returning(WebhookDelivery.attempts)
                ).scalar()
                if won is not None:
                    return self._job(s, candidate, int(won))
        return None

    @staticmethod
    def _job(s: Session, delivery_id: int, attempts: int) -> _Job:
        row = s.execute(
            select(WebhookSubscription.url, WebhookSubscription.secret, WebhookEvent)
            .join(WebhookDelivery, WebhookDelivery.subscription_id == WebhookSubscription.id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        ).one()
        url, secret, event = row
        return _Job(
            delivery_id, attempts, url, secret, event.id, event.type, event.body.encode(), event.created_at
        )

    def _post(self, job: _Job) -> tuple[int | None, str | None]:
        """The receiver's status (None when none came) and the error, if the attempt failed.

        The answer's body is streamed and at most its first bytes read (into the log, on a failure):
        a receiver cannot make the worker hold a large answer."""
        sent = int(self._clock().timestamp())
        signed = headers(job.secret, job.event_id, job.event_type, sent, job.body)
        try:
            with self._http.stream("POST", job.url, content=job.body, headers=signed) as answer:
                if answer.is_success:
                    return answer.status_code, None
                return answer.status_code, _failure(answer)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR]

    def _next(self, job: _Job, now: datetime) -> datetime | None:
        """When to try again after a failure; None past the maximum age (the delivery fails)."""
        deadline = job.created_at + self._policy.max_age
        if now >= deadline:
            return None
        wait = backoff(job.attempts, base=self._policy.base, cap=self._policy.cap, rng=self._rng)
        return min(now + wait, deadline)

    def _finish(self, job: _Job, worker: str, status: int | None, error: str | None) -> None:
        now = self._clock()
        after = None if error is None else self._next(job, now)
        state = "delivered" if error is None else ("pending" if after is not None else "failed")
        with self._db.transaction() as s:
            mine = s.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == job.delivery_id,
                    WebhookDelivery.status == "delivering",
                    WebhookDelivery.worker == worker,
                )
                .values(
                    status=state,
                    next_attempt_at=after,
                    lease_until=None,
                    last_status_code=status,
                    last_error=error,
                    delivered_at=now if error is None else None,
                )
            )
            if mine.rowcount:  # type: ignore[attr-defined]
                s.add(
                    WebhookAttempt(
                        delivery_id=job.delivery_id,
                        at=now,
                        status_code=status,
                        error=error,
                        next_attempt_at=after,
                    )
                )
