"""Contributor activity from the database: the numbers the fraud stage compares accounts by.

Computed for every contributor at once with grouped queries and kept for a minute, so
screening an item costs a dictionary look-up, not a scan. Shared-device counts come from the
hashed device fingerprints stored with submissions; ring counts stay 0 until items'
near-duplicate links are stored per contributor.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import Participant, Prescreen, Submission
from datacoop.screening.stages.fraud import ContributorActivity
from datacoop.tasks.states import SubmissionState

__all__ = ["DatabaseActivity"]


class DatabaseActivity:
    """``(contributor address) -> (this vector, every contributor's vectors)`` for the fraud stage."""

    def __init__(self, db: Database, *, clock: Clock = utc_now, ttl_s: float = 60.0) -> None:
        self._db, self._clock, self._ttl_s = db, clock, ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, list[float]] = {}
        self._loaded_at = -float("inf")

    def __call__(self, contributor: str) -> tuple[list[float], list[list[float]]]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl_s or contributor not in self._cache:
                self._cache = self._load()
                self._loaded_at = time.monotonic()
            this = self._cache.get(contributor) or ContributorActivity(0, 0.0, 0, 0).vector()
            return this, list(self._cache.values())

    def _load(self) -> dict[str, list[float]]:
        hour_ago = self._clock() - timedelta(hours=1)
        recent = func.sum(case((Submission.created_at > hour_ago, 1), else_=0))
        rejected = func.sum(case((Prescreen.outcome == SubmissionState.REJECTED.value, 1), else_=0))
        query = (
            select(Participant.address, recent, func.count(Prescreen.submission_id), rejected)
            .join(Submission, Submission.contributor_id == Participant.id)
            .outerjoin(Prescreen, Prescreen.submission_id == Submission.id)
            .group_by(Participant.address)
        )
        with self._db.transaction() as s:
            rows = s.execute(query).all()
            sharing = _shared_devices(s)
        return {
            address: ContributorActivity(
                submissions_last_hour=int(last_hour or 0),
                rejected_share=ContributorActivity.rejected_share_of(
                    int(n_rejected or 0), int(screened or 0)
                ),
                ring_accounts=0,
                shared_device_accounts=sharing.get(address, 0),
            ).vector()
            for address, last_hour, screened, n_rejected in rows
        }


def _shared_devices(s: Session) -> dict[str, int]:
    """Per address: how many other accounts sent a submission with one of its device hashes."""
    other = aliased(Submission)
    query = (
        select(Participant.address, func.count(func.distinct(other.contributor_id)))
        .join(Submission, Submission.contributor_id == Participant.id)
        .join(
            other,
            (other.device_hash == Submission.device_hash)
            & (other.contributor_id != Submission.contributor_id),
        )
        .group_by(Participant.address)
    )
    return {address: int(n) for address, n in s.execute(query).all()}
