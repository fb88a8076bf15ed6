"""The node's memory of what it has already seen: exact CIDs and perceptual hashes.

Exact duplicates are a database query. Near duplicates use the in-memory
Hamming index (``datacoop.neardup``), filled from the ``prescreens`` table at
the first look and topped up with every result committed since; a match is
confirmed against the database, so an item rejected later no longer counts.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from datacoop.db import Database
from datacoop.db.models import Prescreen, Submission
from datacoop.tasks.states import SubmissionState

__all__ = ["DatabaseDuplicates"]

_LIVE = (SubmissionState.REJECTED.value,)
_OVERLAP = timedelta(
    minutes=10
)  # re-read a window before the last sync: workers' clocks and commits interleave


class DatabaseDuplicates:
    """Answers the duplicates stage from the database and a Hamming index kept in step with it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._index: Any = None
        self._indexed: set[int] = set()
        self._synced_to: datetime | None = None

    def exact(self, cid: str, task_id: int, submission_id: int) -> int | None:
        with self._db.transaction() as s:
            other = s.scalar(
                select(Submission.id)
                .where(Submission.cid == cid, Submission.id < submission_id, Submission.state.not_in(_LIVE))
                .order_by(Submission.id)
                .limit(1)
            )
            return int(other) if other is not None else None

    def near(self, phash: int, radius: int, submission_id: int) -> list[tuple[int, int]]:
        with self._lock:
            self._sync()
            matches = [
                (int(i), int(d)) for i, d in self._index.query(phash, radius) if int(i) != submission_id
            ]
        if not matches:
            return []
        with self._db.transaction() as s:
            live = set(
                s.scalars(
                    select(Submission.id).where(
                        Submission.id.in_([i for i, _ in matches]), Submission.state.not_in(_LIVE)
                    )
                )
            )
        return [(i, d) for i, d in matches if i in live]

    def _sync(self) -> None:
        import numpy as np

        from datacoop.neardup import HammingIndex

        if self._index is None:
            self._index = HammingIndex()
        query = select(Prescreen.submission_id, Prescreen.phash, Prescreen.completed_at).where(
            Prescreen.phash.is_not(None), Prescreen.outcome != SubmissionState.REJECTED.value
        )
        if self._synced_to is not None:
            query = query.where(Prescreen.completed_at >= self._synced_to - _OVERLAP)
        with self._db.transaction() as s:
            rows = [r for r in s.execute(query).all() if r.submission_id not in self._indexed]
        if not rows:
            return
        ids = np.fromiter((r.submission_id for r in rows), dtype=np.int64, count=len(rows))
        hashes = np.fromiter((r.phash & (2**64 - 1) for r in rows), dtype=np.uint64, count=len(rows))
        self._index.add(ids, hashes)
        self._indexed.update(int(i) for i in ids)
        newest = max(r.completed_at for r in rows)
        self._synced_to = newest if self._synced_to is None else max(self._synced_to, newest)
