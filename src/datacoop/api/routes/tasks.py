"""Tasks."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import StreamingResponse

from datacoop.api.deps import CurrentCaller, DashboardDep, NodeDep, TasksDep
from datacoop.api.openapi import binary
from datacoop.api.params import PAGED, After, Id, Offset, Page, page_of
from datacoop.api.streaming import stream_blob
from datacoop.tasks.rules import TaskStatus
from datacoop.tasks.schemas import TaskCreate, TaskDashboard, TaskPublic

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.post("", response_model=TaskPublic, status_code=status.HTTP_201_CREATED)
def create_task(tasks: TasksDep, who: CurrentCaller, body: TaskCreate) -> TaskPublic:
    return tasks.create(who, body)


@router.get("", response_model=list[TaskPublic], responses=PAGED)
def list_tasks(
    tasks: TasksDep,
    response: Response,
    status: TaskStatus | None = None,
    after: After = None,
    limit: Page = 100,
    offset: Offset = 0,
) -> list[TaskPublic]:
    """Tasks, newest first (what contributors browse), a page at a time: X-Next-Cursor is the next page's
    ``after``, which lists the tasks below that id. ``offset`` still skips rows, for old callers."""
    return page_of(response, tasks.list(status=status, after=after, limit=limit + 1, offset=offset), limit)


@router.get("/{task_id}", response_model=TaskPublic)
def get_task(tasks: TasksDep, task_id: Id) -> TaskPublic:
    return tasks.get(task_id)


@router.post("/{task_id}/close", response_model=TaskPublic)
def close_task(tasks: TasksDep, who: CurrentCaller, task_id: Id) -> TaskPublic:
    return tasks.close(who, task_id)


@router.get("/{task_id}/dashboard", response_model=TaskDashboard)
def dashboard(board: DashboardDep, who: CurrentCaller, task_id: Id) -> TaskDashboard:
    """The requester's view: progress, acceptance rate, rejections by cause, latest accepted samples."""
    return board.dashboard(who, task_id)


@router.get(
    "/{task_id}/samples/{submission_id}",
    response_class=StreamingResponse,
    responses={200: binary("application/octet-stream", description="the accepted item's scrubbed bytes")},
)
def sample(node: NodeDep, who: CurrentCaller, task_id: Id, submission_id: Id) -> StreamingResponse:
    """An accepted item's (scrubbed) bytes, shown to the task's requester."""
    return stream_blob(node.store, node.dashboard.sample_cid(who, task_id, submission_id))
