"""A validator's queue: enrolment by stake, the next item (real or gold, alike), and its content.

:class:`ReviewQueue` is a part of :class:`~datacoop.review.service.ReviewService`, which owns it
and keeps the public methods. It reads the tunables (stakes, minimum stake, TTL, randomness) from
the service at every call, because tests and the demo set them on the service after it is built.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.clock import Clock
from datacoop.db import Database
from datacoop.db.models import GoldItem, ItemFeatures, ReviewAssignment, Submission, Task, Validator
from datacoop.errors import Forbidden, NotFound
from datacoop.identity.schemas import Caller
from datacoop.review.draws import fill_slots
from datacoop.review.rules import AssignmentKind, AssignmentStatus, Qualification
from datacoop.review.schemas import ReviewItem, ValidatorPublic
from datacoop.review.stakes import StakeReader
from datacoop.review.triage import TaskModels, triage
from datacoop.screening.schemas import PrescreenReport
from datacoop.tasks.disclosure import shared_cid, shared_report
from datacoop.tasks.rules import TaskStatus
from datacoop.tasks.schemas import ReviewRules
from datacoop.tasks.service import load_task, task_public

__all__ = ["ReviewQueue", "Tunables", "assignment_of"]


class Tunables(Protocol):
    """What review reads live from its service (tests and the demo replace these after it is built)."""

    stakes: StakeReader
    min_stake: int
    ttl: timedelta
    qualification: Qualification
    rng: random.Random


class ReviewQueue:
    """Who may review (:meth:`enrol`), what they review next (:meth:`next_for`) and its bytes' CID."""

    def __init__(
        self, db: Database, tunables: Tunables, *, report: Callable[[int], dict[str, Any]], clock: Clock
    ) -> None:
        self._db, self._tunables, self._report, self._clock = db, tunables, report, clock
        self._models = TaskModels()

    def enrol(self, who: Caller) -> ValidatorPublic:
        """Check the caller's stake and make or refresh their validator record."""
        min_stake = self._tunables.min_stake
        stake = self._tunables.stakes.stake_of(who.address)
        now = self._clock()
        with self._db.transaction() as s:
            v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
            if v is None:
                v = Validator(
                    participant_id=who.id,
                    staked=False,
                    qualified=False,
                    excluded=False,
                    reputation=0.5,
                    gold_answered=0,
                    gold_correct=0,
                    decided_votes=0,
                    agreed_votes=0,
                    created_at=now,
                    updated_at=now,
                )
                try:
                    with s.begin_nested():  # a concurrent first call may win the unique participant
                        s.add(v)
                except SAIntegrityError:
                    v = _validator_of(s, who)
            staked = stake >= min_stake
            if v.staked != staked:  # written only on a change: most calls come from enrolled validators
                v.staked, v.updated_at = staked, now
                s.flush()
            public = _validator_public(v, who.address)
        if not public.staked:
            raise Forbidden(
                f"stake at least {min_stake} token base units in ValidatorStaking to review "
                f"(staked now: {stake})",
                field="stake",
                limit=str(min_stake),
            )
        if public.excluded:
            raise Forbidden("excluded from review: gold accuracy stayed below the floor", field="validator")
        return public

    def next_for(self, who: Caller) -> ReviewItem | None:
        """The caller's next item (real or gold, alike), or None when nothing is waiting for them."""
        self.enrol(who)
        now = self._clock()
        with self._db.transaction() as s:
            v = _validator_of(s, who)
            triage(s, now, self._models)  # the task models score new items and decide what they may
            fill_slots(s, now, ttl=self._tunables.ttl, rng=self._tunables.rng)
            chosen = self._choose(s, v)
            if chosen is None:
                return None
            s.flush()
            task, cid, gold_report, sid = _item_of(s, chosen)
            served = (chosen.id, task_public(task), cid, chosen.expires_at)
        report = PrescreenReport.model_validate(
            gold_report if sid is None else shared_report(self._report(sid))
        )
        assignment_id, task_view, cid, expires_at = served
        return ReviewItem(
            assignment_id=assignment_id,
            task=task_view,
            cid=cid,
            download=f"/v1/reviews/{assignment_id}/content",
            prescreen=report,
            expires_at=expires_at,
        )

    def _choose(self, s: Session, v: Validator) -> ReviewAssignment | None:
        mine = s.scalars(
            select(ReviewAssignment)
            .where(
                ReviewAssignment.validator_id == v.id, ReviewAssignment.status == AssignmentStatus.OPEN.value
            )
            .order_by(ReviewAssignment.id)
        ).all()
        gold = [a for a in mine if a.kind == AssignmentKind.GOLD.value]
        if gold:
            return gold[0]
        if not v.qualified:
            return self._new_gold(s, v, task_id=None)
        real = _likely_off_topic_first(s, [a for a in mine if a.kind != AssignmentKind.GOLD.value])
        if not real:
            return None
        task_id, rules = s.execute(
            select(Task.id, Task.rules)
            .join(Submission, Submission.task_id == Task.id)
            .where(Submission.id == real[0].submission_id)
        ).one()
        gold_rate = ReviewRules.model_validate(rules.get("review") or {}).gold_rate
        if self._tunables.rng.random() < gold_rate:  # mixed in unseen: the item looks the same
            return self._new_gold(s, v, task_id=task_id) or real[0]
        return real[0]

    def _new_gold(self, s: Session, v: Validator, *, task_id: int | None) -> ReviewAssignment | None:
        seen = select(ReviewAssignment.gold_item_id).where(
            ReviewAssignment.validator_id == v.id, ReviewAssignment.gold_item_id.is_not(None)
        )
        query = (
            select(GoldItem.id)
            .join(Task, Task.id == GoldItem.task_id)
            .where(Task.status == TaskStatus.OPEN.value, Task.requester_id != v.participant_id)
            .where(GoldItem.id.not_in(seen))
        )
        if task_id is not None:
            query = query.where(GoldItem.task_id == task_id)
        candidates = list(s.scalars(query.order_by(GoldItem.id)))
        if not candidates:
            return None
        now = self._clock()
        row = ReviewAssignment(
            gold_item_id=self._tunables.rng.choice(candidates),
            validator_id=v.id,
            kind=AssignmentKind.GOLD.value,
            status=AssignmentStatus.OPEN.value,
            created_at=now,
            expires_at=now + self._tunables.ttl,
        )
        s.add(row)
        return row

    def content(self, who: Caller, assignment_id: int) -> str:
        """The CID of an item assigned to the caller (the route streams its bytes).

        The stake is read again now: an assignment outlives neither an unbonding nor an exclusion.
        """
        self.enrol(who)
        with self._db.transaction() as s:
            a = assignment_of(s, who, assignment_id)
            return _item_of(s, a)[1]


def assignment_of(s: Session, who: Caller, assignment_id: int) -> ReviewAssignment:
    """The caller's assignment ``assignment_id``; anyone else's is a 404, like one that does not exist."""
    a = s.get(ReviewAssignment, assignment_id)
    v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
    if a is None or v is None or a.validator_id != v.id:  # the same answer either way: nothing leaks
        raise NotFound(f"you have no assignment {assignment_id}", field="assignment_id")
    return a


def _likely_off_topic_first(s: Session, real: list[ReviewAssignment]) -> list[ReviewAssignment]:
    """Open items by their task model's p(acceptable), lowest first; unscored ones after, oldest first."""
    ids = [a.submission_id for a in real if a.submission_id is not None]
    if not ids:
        return real
    rows = s.execute(
        select(ItemFeatures.submission_id, ItemFeatures.p_accept).where(ItemFeatures.submission_id.in_(ids))
    )
    scores = {sid: p for sid, p in rows}

    def key(a: ReviewAssignment) -> tuple[bool, float, int]:
        p = scores.get(a.submission_id) if a.submission_id is not None else None
        return (p is None, p or 0.0, a.id)

    return sorted(real, key=key)


def _item_of(s: Session, a: ReviewAssignment) -> tuple[Task, str, dict[str, Any], int | None]:
    """The assignment's task, CID, gold report, and submission id (None for a gold item)."""
    if a.gold_item_id is not None:
        gold = s.get(GoldItem, a.gold_item_id)
        assert gold is not None
        return load_task(s, gold.task_id), gold.cid, gold.report, None
    sub = s.get(Submission, a.submission_id)
    assert sub is not None
    return sub.task, shared_cid(s, sub.id), {}, sub.id


def _validator_of(s: Session, who: Caller) -> Validator:
    v = s.scalar(select(Validator).where(Validator.participant_id == who.id))
    if v is None:
        raise NotFound("you are not a validator yet: GET /v1/reviews/me enrols you", field="validator")
    return v


def _validator_public(v: Validator, address: str) -> ValidatorPublic:
    return ValidatorPublic(
        address=address,
        staked=v.staked,
        qualified=v.qualified,
        excluded=v.excluded,
        reputation=v.reputation,
        gold_answered=v.gold_answered,
        gold_correct=v.gold_correct,
    )
