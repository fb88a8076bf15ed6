"""Escalated items and appeals: the requester's call, the contributor's one appeal, where review stands.

Functions over the caller's session; :class:`~datacoop.review.service.ReviewService` owns the transactions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from datacoop.db.models import Appeal, ReviewOutcome, Submission
from datacoop.errors import Conflict, Forbidden, InvalidTransition, NotFound
from datacoop.identity.schemas import Caller
from datacoop.review.outcomes import finalize, outcome_of
from datacoop.review.rules import ReviewAnswer
from datacoop.review.schemas import AppealCreate, AppealPublic, RequesterDecision, ReviewStatus
from datacoop.tasks.states import SubmissionState
from datacoop.tasks.transitions import move

__all__ = ["appeal_public", "get_appeal", "open_appeal", "requester_decides", "status", "visible"]


def status(s: Session, submission_id: int, viewer: Caller, *, operator: bool) -> ReviewStatus:
    visible(s, submission_id, viewer, operator=operator)
    row = s.get(ReviewOutcome, submission_id)
    if row is None:
        return ReviewStatus(
            submission_id=submission_id, status="open", answer=None, posterior=None, votes=0, decided_by=None
        )
    return _status_public(row)


def requester_decides(
    s: Session, who: Caller, submission_id: int, body: RequesterDecision, now: datetime
) -> ReviewStatus:
    visible(s, submission_id, who, operator=False)
    sub = _submission(s, submission_id, lock=True)
    if sub.task.requester_id != who.id:
        raise Forbidden("only the task's requester decides escalated items", field="submission_id")
    outcome = s.get(ReviewOutcome, submission_id)
    if outcome is None or outcome.status != "escalated":
        raise Conflict(f"submission {submission_id} is not waiting for the requester", field="submission_id")
    reason = f"requester decided: {body.decision}" + (f" ({body.reason})" if body.reason else "")
    finalize(s, sub, ReviewAnswer(body.decision), now, by="requester", reason=reason)
    return _status_public(outcome)


def open_appeal(
    s: Session, who: Caller, submission_id: int, body: AppealCreate, digest: str, now: datetime
) -> Appeal:
    """Record the appeal (the signature already checked) and send the item back to review."""
    visible(s, submission_id, who, operator=False)
    sub = _submission(s, submission_id, lock=True)
    if sub.contributor_id != who.id:
        raise Forbidden("only the item's contributor can appeal it", field="submission_id")
    if s.scalar(select(Appeal.id).where(Appeal.submission_id == submission_id)) is not None:
        raise Conflict(
            f"submission {submission_id} was already appealed; an appeal is allowed once",
            field="submission_id",
        )
    if sub.state != SubmissionState.REJECTED.value:
        raise InvalidTransition(
            f"only a rejected submission can be appealed (this one is {sub.state})", field="submission_id"
        )
    appeal = Appeal(
        submission_id=submission_id,
        reason=body.reason,
        signature=body.signature,
        digest=digest,
        jury=[],
        status="open",
        outcome=None,
        created_at=now,
    )
    try:
        with s.begin_nested():  # a concurrent appeal loses on the unique submission id
            s.add(appeal)
    except SAIntegrityError:
        raise Conflict(
            f"submission {submission_id} was already appealed; an appeal is allowed once",
            field="submission_id",
        ) from None
    move(s, sub, SubmissionState.IN_REVIEW, f"appealed by the contributor: {body.reason}", now)
    outcome = outcome_of(s, submission_id, now)  # open again until the jury decides
    outcome.status, outcome.answer, outcome.decided_by, outcome.updated_at = "open", None, None, now
    s.flush()
    return appeal


def get_appeal(s: Session, submission_id: int, viewer: Caller, *, operator: bool) -> AppealPublic:
    visible(s, submission_id, viewer, operator=operator)
    appeal = s.scalar(select(Appeal).where(Appeal.submission_id == submission_id))
    if appeal is None:
        raise NotFound(f"submission {submission_id} has no appeal", field="submission_id")
    return appeal_public(appeal, jurors=operator)


def visible(s: Session, submission_id: int, viewer: Caller, *, operator: bool) -> Submission:
    """The submission, if ``viewer`` is its contributor, its task's requester or the operator.

    Anyone else gets the same 404 as for an id that does not exist: ids do not reveal what exists.
    """
    sub = s.get(Submission, submission_id)
    if sub is None or not (operator or viewer.id in (sub.contributor_id, sub.task.requester_id)):
        raise NotFound(f"there is no submission {submission_id}", field="submission_id")
    return sub


def _submission(s: Session, submission_id: int, *, lock: bool = False) -> Submission:
    sub = s.get(Submission, submission_id, with_for_update={"of": Submission} if lock else None)
    if sub is None:
        raise NotFound(f"there is no submission {submission_id}", field="submission_id")
    return sub


def _status_public(row: ReviewOutcome) -> ReviewStatus:
    return ReviewStatus(
        submission_id=row.submission_id,
        status=row.status,
        answer=row.answer,
        posterior=row.posterior,
        votes=row.votes,
        decided_by=row.decided_by,
    )


def appeal_public(a: Appeal, *, jurors: bool = False) -> AppealPublic:
    """The appeal; its jurors' addresses only once it is final (or to the operator, ``jurors``).

    While the jury sits, the parties see how many were drawn, never who: nobody can lobby or
    pressure a juror whose name they do not know.
    """
    return AppealPublic(
        submission_id=a.submission_id,
        status=a.status,
        outcome=a.outcome,
        jury=list(a.jury) if jurors or a.status == "final" else [],
        jury_size=len(a.jury),
        reason=a.reason,
        created_at=a.created_at,
        decided_at=a.decided_at,
    )
