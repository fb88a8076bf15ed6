"""Rate limits kept in the database, so every API process behind a load balancer shares them.

A limit allows ``limit`` requests per fixed window of ``window_s`` seconds to one caller,
counted separately per signed-in address and per client (IP address). One request is one
UPSERT that adds a hit to each of its counters and returns their new values; a caller past
a limit gets :class:`~datacoop.errors.RateLimited` with the seconds until the window ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import RateLimitCounter
from datacoop.errors import RateLimited
from datacoop.settings import Settings

__all__ = ["Limit", "RateLimits", "limits_from"]


@dataclass(frozen=True)
class Limit:
    """``per_address`` and ``per_client`` requests per ``window_s`` seconds; 0 switches that counter off."""

    name: str
    per_address: int
    per_client: int
    window_s: int = 60


class RateLimits:
    """Counts requests against named limits (see :class:`Limit`)."""

    def __init__(self, db: Database, limits: Mapping[str, Limit], *, clock: Clock = utc_now) -> None:
        self._db, self.limits, self.clock = db, dict(limits), clock

    def hit(self, name: str, *, client: str | None, address: str | None = None) -> None:
        """Count one request under limit ``name``; RateLimited if the caller went past it."""
        limit = self.limits[name]
        now = self.clock().timestamp()
        window = int(now // limit.window_s)
        counted = {}
        if address and limit.per_address:
            counted[f"{name}:address:{address.lower()}"] = limit.per_address
        if client and limit.per_client:
            counted[f"{name}:client:{client}"] = limit.per_client
        if not counted:
            return
        hits = self._count(sorted(counted), window)  # one order everywhere: no deadlock on PostgreSQL
        for key, cap in counted.items():
            if hits[key] > cap:
                retry_after = max(1, math.ceil((window + 1) * limit.window_s - now))
                who = key.split(":", 1)[1].replace(":", " ", 1)
                raise RateLimited(name, who, cap, limit.window_s, retry_after)

    def _count(self, keys: list[str], window: int) -> dict[str, int]:
        with self._db.transaction() as s:
            hits = _upsert(s, keys, window)
            if any(count == 1 for count in hits.values()):  # a new window began: drop the finished ones
                s.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < window - 1))
            return hits


def _upsert(s: Session, keys: list[str], window: int) -> dict[str, int]:
    """Add one hit to each counter of ``window`` in one statement; their counts after it."""
    table = RateLimitCounter.__table__
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    rows = [{"key": key, "window_start": window, "hits": 1} for key in keys]
    insert = dialect.insert(table).values(rows)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.key, table.c.window_start], set_={"hits": table.c.hits + 1}
    ).returning(table.c.key, table.c.hits)
    return {key: int(count) for key, count in s.execute(statement).all()}


def limits_from(settings: Settings) -> dict[str, Limit]:
    """The node's limits: ``sign_in``, ``uploads`` and ``submissions``, from its settings."""
    window = settings.rate_limit_window_seconds
    return {
        "sign_in": Limit(
            "sign_in", settings.rate_limit_sign_in_per_address, settings.rate_limit_sign_in_per_client, window
        ),
        "uploads": Limit(
            "uploads", settings.rate_limit_uploads_per_address, settings.rate_limit_uploads_per_client, window
        ),
        "submissions": Limit(
            "submissions",
            settings.rate_limit_submissions_per_address,
            settings.rate_limit_submissions_per_client,
            window,
        ),
    }
