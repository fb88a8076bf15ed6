"""Submissions."""

from __future__ import annotations

from fastapi import APIRouter, status

from datacoop.api.deps import CallerIsOperator, CurrentCaller, SubmissionsDep
from datacoop.api.limits import SUBMISSIONS
from datacoop.api.params import Id, MaybeId
from datacoop.tasks.schemas import SubmissionCreate, SubmissionPublic

router = APIRouter(tags=["submissions"])


@router.post(
    "/tasks/{task_id}/submissions",
    response_model=SubmissionPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[SUBMISSIONS],
)
def commit_submission(
    submissions: SubmissionsDep, who: CurrentCaller, task_id: Id, body: SubmissionCreate
) -> SubmissionPublic:
    """Commit an uploaded blob to a task with an EIP-712 signature (see GET /v1/eip712)."""
    return submissions.commit(who, task_id, body)


@router.get("/submissions", response_model=list[SubmissionPublic])
def my_submissions(
    submissions: SubmissionsDep, who: CurrentCaller, task_id: MaybeId = None
) -> list[SubmissionPublic]:
    return submissions.list_mine(who, task_id=task_id)


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic)
def get_submission(
    submissions: SubmissionsDep, who: CurrentCaller, operator: CallerIsOperator, submission_id: Id
) -> SubmissionPublic:
    """All of it to its contributor and the operator, the shared copy to its requester; 404 to others."""
    return submissions.get(submission_id, who, operator=operator)
