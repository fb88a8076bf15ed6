"""The one way a submission changes state: along the domain's table, with an event recorded (and a
decision announced to the requester's webhooks, in the same transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from datacoop.db.models import Submission, SubmissionEvent
from datacoop.tasks.states import SubmissionState, check_transition
from datacoop.webhooks import events

__all__ = ["move"]


def move(s: Session, row: Submission, to: SubmissionState, reason: str | None, now: datetime) -> None:
    """Change a submission's state in ``s``'s transaction; InvalidTransition if the table forbids it."""
    current = SubmissionState(row.state)
    check_transition(current, to)
    row.state, row.updated_at = to.value, now
    change = SubmissionEvent(
        submission=row, from_state=current.value, to_state=to.value, reason=reason, at=now
    )
    s.add(change)
    if to in (SubmissionState.ACCEPTED, SubmissionState.REJECTED):  # the requester's webhooks, if any
        events.submission_decided(s, row, change, now)
