"""A requester's view of one task: progress, outcomes, why items were rejected, a sample gallery.

Read-only. Rejections are grouped by the stage that failed (``decode``, ``quality``,
``duplicates``…) for pre-screen rejections and under ``review`` for the community's,
so a chart can show where a task's submissions go wrong. Samples are the latest
accepted items, served as their scrubbed bytes (never the original upload).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datacoop.db import Database
from datacoop.db.models import Prescreen, StageResultRow, Submission, TaskFunding
from datacoop.errors import Forbidden, NotFound
from datacoop.identity.schemas import Caller
from datacoop.tasks.schemas import DashboardSample, TaskDashboard
from datacoop.tasks.service import load_task
from datacoop.tasks.states import SubmissionState

__all__ = ["SAMPLE_LIMIT", "TaskDashboardService"]

SAMPLE_LIMIT = 12


class TaskDashboardService:
    def __init__(self, db: Database, *, is_operator: Callable[[str], bool] | None = None) -> None:
        self._db = db
        self._is_operator = is_operator or (lambda _address: False)

    def _check(self, who: Caller, requester_id: int) -> None:
        if requester_id != who.id and not self._is_operator(who.address):
            raise Forbidden("only the task's requester sees its dashboard", field="task_id")

    def dashboard(self, who: Caller, task_id: int) -> TaskDashboard:
        """Counts per state, progress toward the target, acceptance rate, rejection causes, samples."""
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            self._check(who, task.requester_id)
            target = task.target_count
            by_state = _counts_by_state(s, task_id)
            screened_out = _screened_out_by_stage(s, task_id)
            prescreen_rejected = _prescreen_rejected(s, task_id)
            funded = s.get(TaskFunding, task_id) is not None
            samples = _latest_samples(s, task_id)
        accepted = by_state.get(SubmissionState.ACCEPTED, 0)
        rejected = by_state.get(SubmissionState.REJECTED, 0)
        decided = accepted + rejected
        return TaskDashboard(
            task_id=task_id,
            target=target,
            funded=funded,
            submissions=sum(by_state.values()),
            by_state={state.value: by_state.get(state, 0) for state in SubmissionState},
            accepted=accepted,
            rejected=rejected,
            progress=round(accepted / target, 4),
            acceptance_rate=round(accepted / decided, 4) if decided else None,
            rejections_by_cause=_rejections_by_cause(screened_out, rejected - prescreen_rejected),
            samples=samples,
        )

    def sample_cid(self, who: Caller, task_id: int, submission_id: int) -> str:
        """The CID whose bytes show an accepted item to the task's requester (scrubbed where it was)."""
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            self._check(who, task.requester_id)
            sub = s.get(Submission, submission_id)
            if sub is None or sub.task_id != task_id or sub.state != SubmissionState.ACCEPTED:
                raise NotFound(
                    f"task {task_id} has no accepted submission {submission_id}", field="submission_id"
                )
            scrubbed = s.scalar(
                select(Prescreen.scrubbed_cid).where(Prescreen.submission_id == submission_id)
            )
            return scrubbed or sub.cid


# --- the steps of a dashboard -------------------------------------------------------------------


def _counts_by_state(s: Session, task_id: int) -> dict[SubmissionState, int]:
    """How many of the task's submissions are in each state (states with none are left out)."""
    rows = s.execute(
        select(Submission.state, func.count()).where(Submission.task_id == task_id).group_by(Submission.state)
    ).all()
    return {SubmissionState(state): int(n) for state, n in rows}


def _screened_out_by_stage(s: Session, task_id: int) -> Counter[str]:
    """The failed stages of the task's submissions that pre-screening rejected, counted by stage."""
    return Counter(
        stage
        for (stage,) in s.execute(
            select(StageResultRow.stage)
            .join(Submission, Submission.id == StageResultRow.submission_id)
            .join(Prescreen, Prescreen.submission_id == Submission.id)
            .where(
                Submission.task_id == task_id,
                Submission.state == SubmissionState.REJECTED,
                Prescreen.outcome == "rejected",
                StageResultRow.verdict == "fail",
            )
        ).all()
    )


def _prescreen_rejected(s: Session, task_id: int) -> int:
    """How many of the task's rejected submissions pre-screening rejected (the rest, review did)."""
    count = s.scalar(
        select(func.count())
        .select_from(Submission)
        .join(Prescreen, Prescreen.submission_id == Submission.id)
        .where(
            Submission.task_id == task_id,
            Submission.state == SubmissionState.REJECTED,
            Prescreen.outcome == "rejected",
        )
    )
    return int(count or 0)


def _latest_samples(s: Session, task_id: int) -> list[DashboardSample]:
    """The task's latest accepted items, newest first, each shown by its scrubbed blob where there is one."""
    rows = s.execute(
        select(Submission.id, Submission.cid, Prescreen.scrubbed_cid)
        .outerjoin(Prescreen, Prescreen.submission_id == Submission.id)
        .where(Submission.task_id == task_id, Submission.state == SubmissionState.ACCEPTED)
        .order_by(Submission.id.desc())
        .limit(SAMPLE_LIMIT)
    ).all()
    return [
        DashboardSample(submission_id=sid, cid=scrubbed or cid, content=f"/v1/tasks/{task_id}/samples/{sid}")
        for sid, cid, scrubbed in rows
    ]


def _rejections_by_cause(screened_out: Counter[str], review_rejected: int) -> dict[str, int]:
    """Pre-screen rejections by failed stage, most frequent first, then the review's (when any)."""
    reasons = dict(screened_out.most_common())
    if review_rejected > 0:
        reasons["review"] = review_rejected
    return reasons
