"""A task's submissions, listed for its requester a page at a time, or streamed whole.

Pages are keyset pages: ``after`` is the last id of the previous page, so a page costs the same at
the millionth row as at the first (an ``OFFSET`` would read and skip every row before it), and rows
added meanwhile neither repeat nor go missing. A row is one join (the contributor's address, and
the scrubbed copy's CID where pre-screening made one): no state history, no signature.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from datacoop.db import Database
from datacoop.db.models import Participant, Prescreen, Submission
from datacoop.errors import Forbidden
from datacoop.identity.schemas import Caller
from datacoop.tasks.schemas import SubmissionRow
from datacoop.tasks.service import load_task
from datacoop.tasks.states import SubmissionState

__all__ = ["EXPORT_BATCH", "stream_task_rows", "task_rows"]

EXPORT_BATCH = 2000  # rows a streamed export reads per transaction
_Rows = Select[int, str, str, str, str | None, str, datetime, datetime]  # id, state, address, cid, copy, ...


def _query(task_id: int, state: SubmissionState | None, after: int | None) -> _Rows:
    query = (
        select(
            Submission.id,
            Submission.state,
            Participant.address,
            Submission.cid,
            Prescreen.scrubbed_cid,
            Submission.jurisdiction,
            Submission.created_at,
            Submission.updated_at,
        )
        .join(Participant, Participant.id == Submission.contributor_id)
        .outerjoin(Prescreen, Prescreen.submission_id == Submission.id)
        .where(Submission.task_id == task_id)
        .order_by(Submission.id)
    )
    if state is not None:
        query = query.where(Submission.state == state.value)
    if after is not None:
        query = query.where(Submission.id > after)
    return query


def _check_viewer(s: Session, task_id: int, viewer: Caller, operator: bool) -> None:
    task = load_task(s, task_id)
    if not operator and task.requester_id != viewer.id:
        raise Forbidden("only the task's requester lists its submissions", field="task_id")


def _rows(
    s: Session, task_id: int, state: SubmissionState | None, after: int | None, limit: int
) -> list[SubmissionRow]:
    found = s.execute(_query(task_id, state, after).limit(limit)).all()
    return [
        SubmissionRow(
            id=r[0],
            state=SubmissionState(r[1]),
            contributor=r[2],
            cid=r[4] or r[3],
            jurisdiction=r[5],
            created_at=r[6],
            updated_at=r[7],
        )
        for r in found
    ]


def task_rows(
    db: Database, viewer: Caller, task_id: int, *, operator: bool, state: SubmissionState | None,
    after: int | None, limit: int,
) -> list[SubmissionRow]:  # fmt: skip
    """Up to ``limit`` of the task's submissions after id ``after``, oldest first; its requester's only."""
    with db.transaction() as s:
        _check_viewer(s, task_id, viewer, operator)
        return _rows(s, task_id, state, after, limit)


def stream_task_rows(
    db: Database, viewer: Caller, task_id: int, *, operator: bool, state: SubmissionState | None
) -> Iterator[SubmissionRow]:
    """Every submission of the task, read :data:`EXPORT_BATCH` at a time (the check runs before the first)."""
    with db.transaction() as s:
        _check_viewer(s, task_id, viewer, operator)

    def rows() -> Iterator[SubmissionRow]:
        after: int | None = None
        while True:
            with db.transaction() as s:
                batch = _rows(s, task_id, state, after, EXPORT_BATCH)
            yield from batch
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].id

    return rows()
