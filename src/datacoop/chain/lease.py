"""Who writes the outbox: a lease row in the database, so one process at a time signs and sends.

Every process that may drive the outbox (``datacoop up``'s chain follower, a CLI waiting for its own
transaction, a second API replica) asks :meth:`OutboxLease.hold` before each step. The lease is one
row per (chain, sender); taking it is a single conditional ``UPDATE``, atomic on SQLite and
PostgreSQL alike, and it lasts ``ttl`` unless renewed. A holder whose process is provably gone
(``kill -9`` on this host: :func:`datacoop.holders.is_gone`) is replaced at once, not after ``ttl``.

Inside a process, a lock per sender keeps two threads from stepping at once: the process, not the
thread, is the unit a lease names.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datacoop.db import Database
from datacoop.db.models import ChainLease
from datacoop.holders import holder_name, is_gone

__all__ = ["OutboxLease", "process_lock"]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def process_lock(name: str) -> threading.Lock:
    """The one lock of this process for ``name`` (shared by every relay of the same sender)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())


class OutboxLease:
    """The lease named ``name``, asked for by this process."""

    def __init__(self, db: Database, name: str, *, ttl: timedelta = timedelta(seconds=15)) -> None:
        self._db, self.name, self.ttl, self.holder = db, name, ttl, holder_name()

    def hold(self) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        now = datetime.now(UTC)
        with self._db.transaction() as s:
            free = or_(
                ChainLease.holder == self.holder, ChainLease.holder.is_(None), ChainLease.expires_at < now
            )
            if self._take(s, free, now):
                return True
            row = s.get(ChainLease, self.name)
            current = row.holder if row is not None else None
        if current is None:
            return self._create(now)
        return is_gone(current) and self._replace(current, now)

    def _take(self, s: Session, condition: ColumnElement[bool], now: datetime) -> bool:
        """One conditional UPDATE: atomic on SQLite and PostgreSQL alike."""
        result = s.execute(
            update(ChainLease)
            .where(ChainLease.name == self.name, condition)
            .values(holder=self.holder, expires_at=now + self.ttl)
            .execution_options(synchronize_session=False)
        )
        return bool(cast(CursorResult[Any], result).rowcount)

    def _create(self, now: datetime) -> bool:
        try:
            with self._db.transaction() as s:
                s.add(ChainLease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
        except IntegrityError:  # another process created it first: it holds the lease
            return False
        return True

    def _replace(self, dead: str, now: datetime) -> bool:
        with self._db.transaction() as s:
            return self._take(s, ChainLease.holder == dead, now)

    def release(self) -> None:
        """Give the lease up (on close), so another process need not wait for it to expire."""
        with self._db.transaction() as s:
            s.execute(
                update(ChainLease)
                .where(ChainLease.name == self.name, ChainLease.holder == self.holder)
                .values(holder=None, expires_at=None)
                .execution_options(synchronize_session=False)
            )
