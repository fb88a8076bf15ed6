"""Signed votes: one per validator per assignment, then the consensus acts on them.

:class:`ReviewVotes` is a part of :class:`~datacoop.review.service.ReviewService`, which owns it
and keeps :meth:`~datacoop.review.service.ReviewService.vote`. What a vote leads to (a gold
answer recorded, an appeal settled, an item judged) is :mod:`datacoop.review.outcomes`.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.clock import Clock
from datacoop.db import Database
from datacoop.db.models import (
    Appeal,
    GoldItem,
    ReviewAssignment,
    ReviewVote,
    Submission,
    Task,
    Validator,
)
from datacoop.errors import Conflict, Forbidden, Gone
from datacoop.identity.eip712 import Eip712Domain, VoteMessage, verify_signer
from datacoop.identity.schemas import Caller
from datacoop.review.outcomes import judge, record_gold, settle_appeal
from datacoop.review.queue import ReviewQueue, Tunables, assignment_of
from datacoop.review.rules import AssignmentKind, AssignmentStatus, ReviewAnswer, check_labels
from datacoop.review.schemas import VoteCreate, VotePublic
from datacoop.tasks.schemas import ReviewRules
from datacoop.tasks.service import load_task
from datacoop.tasks.states import SubmissionState

__all__ = ["ReviewVotes", "review_rules_of"]


class ReviewVotes:
    """Record a validator's signed vote on one of their open assignments and act on the consensus."""

    def __init__(
        self, db: Database, domain: Eip712Domain, tunables: Tunables, queue: ReviewQueue, *, clock: Clock
    ) -> None:
        self._db, self._domain, self._tunables, self._queue, self._clock = db, domain, tunables, queue, clock

    def vote(self, who: Caller, assignment_id: int, body: VoteCreate) -> VotePublic:
        """Record a signed vote on one of the caller's open assignments, then act on the consensus."""
        self._queue.enrol(who)
        now = self._clock()
        with self._db.transaction() as s:
            a = assignment_of(s, who, assignment_id)
            task, sub = self._votable(s, who, a)
            labels = check_labels(body.labels, review_rules_of(task).labels)
            message = VoteMessage(
                validator=who.address,
                task_id=task.id,
                assignment_id=a.id,
                decision=body.decision,
                labels=_labels_text(labels),
                nonce=body.nonce,
            )
            digest = verify_signer(self._domain, message, body.signature, expected_signer=who.address)
            row = ReviewVote(
                assignment_id=a.id,
                submission_id=a.submission_id,
                gold_item_id=a.gold_item_id,
                validator_id=a.validator_id,
                kind=a.kind,
                decision=body.decision,
                labels=labels,
                nonce=body.nonce,
                signature=body.signature,
                digest=digest,
                created_at=now,
            )
            _insert_once(s, row)
            a.status = AssignmentStatus.VOTED.value
            self._after_vote(s, a, sub, ReviewAnswer(body.decision))
            s.flush()
            return VotePublic(
                id=row.id,
                assignment_id=a.id,
                decision=body.decision,
                labels=labels,
                digest=digest,
                created_at=now,
            )

    def _votable(self, s: Session, who: Caller, a: ReviewAssignment) -> tuple[Task, Submission | None]:
        now = self._clock()
        if a.status == AssignmentStatus.VOTED.value:
            raise Conflict(f"you already voted on assignment {a.id}", field="assignment_id")
        if a.status == AssignmentStatus.EXPIRED.value or a.expires_at <= now:
            raise Gone(
                f"assignment {a.id} is closed (it expired at {a.expires_at.isoformat()} or the item "
                "needs no more votes); ask for the next item",
                field="assignment_id",
                limit=a.expires_at.isoformat(),
            )
        if a.gold_item_id is not None:
            gold = s.get(GoldItem, a.gold_item_id)
            assert gold is not None
            return load_task(s, gold.task_id), None
        sub = s.get(Submission, a.submission_id, with_for_update={"of": Submission})
        assert sub is not None
        if sub.contributor_id == who.id:
            raise Forbidden("you cannot vote on your own item", field="assignment_id")
        if sub.state != SubmissionState.IN_REVIEW.value:
            raise Gone(f"the review of this item is closed ({sub.state})", field="assignment_id")
        return sub.task, sub

    def _after_vote(
        self, s: Session, a: ReviewAssignment, sub: Submission | None, answer: ReviewAnswer
    ) -> None:
        now = self._clock()
        v = s.get(Validator, a.validator_id)
        assert v is not None
        if sub is None:
            gold = s.get(GoldItem, a.gold_item_id)
            assert gold is not None
            record_gold(s, v, answer.value == gold.answer, self._tunables.qualification, now)
            return
        if a.kind == AssignmentKind.APPEAL.value:
            appeal = s.scalar(select(Appeal).where(Appeal.submission_id == sub.id))
            assert appeal is not None
            settle_appeal(s, sub, appeal, now)
            return
        s.flush()
        judge(s, sub, now)


def review_rules_of(task: Task) -> ReviewRules:
    return ReviewRules.model_validate(task.rules.get("review") or {})


def _labels_text(labels: list[str]) -> str:
    """The labels as the signed message carries them: compact JSON, non-ASCII kept."""
    return json.dumps(labels, separators=(",", ":"), ensure_ascii=False)


def _insert_once(s: Session, row: ReviewVote) -> None:
    try:
        with s.begin_nested():
            s.add(row)
    except SAIntegrityError:
        raise Conflict(
            "this vote was already recorded: one vote per validator per item, each signature once",
            field="assignment_id",
        ) from None
