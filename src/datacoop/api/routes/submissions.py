"""Submissions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import StreamingResponse

from datacoop.api.deps import CallerIsOperator, CurrentCaller, SubmissionsDep
from datacoop.api.limits import SUBMISSIONS
from datacoop.api.params import PAGED, After, Id, MaybeId, Page, page_of
from datacoop.tasks.schemas import SubmissionCreate, SubmissionPublic, SubmissionRow
from datacoop.tasks.states import SubmissionState

router = APIRouter(tags=["submissions"])
DeviceFingerprint = Annotated[
    str | None,
    Header(
        alias="X-Device-Fingerprint", min_length=1, max_length=256,
        description="the client's device fingerprint, if it has one; only its SHA-256 is kept, to link "
        "accounts sent from one device for review",
    ),
]  # fmt: skip


@router.post(
    "/tasks/{task_id}/submissions",
    response_model=SubmissionPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[SUBMISSIONS],
)
def commit_submission(
    submissions: SubmissionsDep, who: CurrentCaller, task_id: Id, body: SubmissionCreate,
    device: DeviceFingerprint = None,
) -> SubmissionPublic:  # fmt: skip
    """Commit an uploaded blob to a task with an EIP-712 signature (see GET /v1/eip712).

    A contributor's submissions to one task stop at the task's ``max_submissions_per_contributor``
    (else the node's): past it, a 429 ``quota_exceeded`` names the field and the limit.
    """
    return submissions.commit(who, task_id, body, device=device)


@router.get("/submissions", response_model=list[SubmissionPublic], responses=PAGED)
def my_submissions(
    submissions: SubmissionsDep, who: CurrentCaller, response: Response, task_id: MaybeId = None,
    after: After = None, limit: Page = 100,
) -> list[SubmissionPublic]:  # fmt: skip
    """The caller's own submissions, oldest first, a page at a time (X-Next-Cursor names the next)."""
    return page_of(response, submissions.list_mine(who, task_id=task_id, after=after, limit=limit + 1), limit)


@router.get("/tasks/{task_id}/submissions", response_model=list[SubmissionRow], responses=PAGED)
def task_submissions(
    submissions: SubmissionsDep, who: CurrentCaller, operator: CallerIsOperator, response: Response,
    task_id: Id, state: SubmissionState | None = None, after: After = None, limit: Page = 100,
) -> list[SubmissionRow]:  # fmt: skip
    """The task's submissions for its requester, oldest first, a page at a time (X-Next-Cursor: the next)."""
    rows = submissions.task_rows(who, task_id, operator=operator, state=state, after=after, limit=limit + 1)
    return page_of(response, rows, limit)


@router.get(
    "/tasks/{task_id}/submissions/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one SubmissionRow a line"}},
)
def export_task_submissions(
    submissions: SubmissionsDep, who: CurrentCaller, operator: CallerIsOperator, task_id: Id,
    state: SubmissionState | None = None,
) -> StreamingResponse:  # fmt: skip
    """Every submission of the task (ids, states, decisions' times) for its requester, streamed as NDJSON."""
    rows = submissions.stream_task_rows(who, task_id, operator=operator, state=state)
    return StreamingResponse(
        (row.model_dump_json() + "\n" for row in rows), media_type="application/x-ndjson"
    )


@router.get("/submissions/{submission_id}", response_model=SubmissionPublic)
def get_submission(
    submissions: SubmissionsDep, who: CurrentCaller, operator: CallerIsOperator, submission_id: Id
) -> SubmissionPublic:
    """All of it to its contributor and the operator, the shared copy to its requester; 404 to others."""
    return submissions.get(submission_id, who, operator=operator)
