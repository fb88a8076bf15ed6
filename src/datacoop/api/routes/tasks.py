"""Tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from datacoop.api.deps import CurrentParticipant, NodeDep
from datacoop.domain.tasks import TaskStatus
from datacoop.schemas import TaskCreate, TaskPublic

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.post("", response_model=TaskPublic, status_code=status.HTTP_201_CREATED)
def create_task(node: NodeDep, who: CurrentParticipant, body: TaskCreate) -> TaskPublic:
    return node.tasks.create(who, body)


@router.get("", response_model=list[TaskPublic])
def list_tasks(
    node: NodeDep,
    status: TaskStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TaskPublic]:
    return node.tasks.list(status=status, limit=limit, offset=offset)


@router.get("/{task_id}", response_model=TaskPublic)
def get_task(node: NodeDep, task_id: int) -> TaskPublic:
    return node.tasks.get(task_id)


@router.post("/{task_id}/close", response_model=TaskPublic)
def close_task(node: NodeDep, who: CurrentParticipant, task_id: int) -> TaskPublic:
    return node.tasks.close(who, task_id)
