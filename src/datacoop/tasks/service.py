"""Tasks: requesters create them; contributors read them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import Submission, Task
from datacoop.errors import Forbidden, InvalidInput, NotFound
from datacoop.identity.addresses import consent_hash, normalize_jurisdiction
from datacoop.identity.schemas import Caller
from datacoop.tasks.rules import Modality, TaskStatus
from datacoop.tasks.schemas import AcceptanceRules, TaskCreate, TaskPublic

__all__ = ["TaskService", "task_public"]


def task_public(task: Task, submission_count: int = 0) -> TaskPublic:
    return TaskPublic(
        id=task.id,
        requester=task.requester.address,
        title=task.title,
        description=task.description,
        modality=Modality(task.modality),
        rules=AcceptanceRules.model_validate(task.rules),
        reward_per_item=str(task.reward_per_item),
        target_count=task.target_count,
        deadline=task.deadline,
        consent_text=task.consent_text,
        consent_hash=task.consent_hash,
        licence=task.licence,
        allowed_jurisdictions=task.allowed_jurisdictions,
        status=TaskStatus(task.status),
        created_at=task.created_at,
        submission_count=submission_count,
    )


def load_task(s: Session, task_id: int) -> Task:
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"there is no task {task_id}", field="task_id")
    return task


class TaskService:
    def __init__(self, db: Database, *, clock: Clock = utc_now) -> None:
        self._db, self._clock = db, clock

    def create(self, requester: Caller, body: TaskCreate) -> TaskPublic:
        """Open a task. Its budget goes into escrow once the chain layer lands."""
        now = self._clock()
        if body.deadline <= now:
            raise InvalidInput("deadline must be in the future", field="deadline", limit=now.isoformat())
        countries = sorted(
            {
                normalize_jurisdiction(c, field=f"allowed_jurisdictions.{i}")
                for i, c in enumerate(body.allowed_jurisdictions)
            }
        )
        with self._db.transaction() as s:
            task = Task(
                requester_id=requester.id,
                title=body.title,
                description=body.description,
                modality=body.modality.value,
                rules=body.rules.model_dump(mode="json"),
                reward_per_item=body.reward_per_item,
                target_count=body.target_count,
                deadline=body.deadline,
                consent_text=body.consent_text,
                consent_hash=consent_hash(body.consent_text),
                licence=body.licence,
                allowed_jurisdictions=countries,
                status=TaskStatus.OPEN.value,
                created_at=now,
            )
            s.add(task)
            s.flush()
            s.refresh(task)
            return task_public(task)

    def get(self, task_id: int) -> TaskPublic:
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            count = s.scalar(
                select(func.count()).select_from(Submission).where(Submission.task_id == task_id)
            )
            return task_public(task, count or 0)

    def list(
        self, *, status: TaskStatus | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskPublic]:
        with self._db.transaction() as s:
            counts = (
                select(Submission.task_id, func.count().label("n")).group_by(Submission.task_id).subquery()
            )
            query = (
                select(Task, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.task_id == Task.id)
                .order_by(Task.id.desc())
                .limit(limit)
                .offset(offset)
            )
            if status is not None:
                query = query.where(Task.status == status.value)
            return [task_public(task, n) for task, n in s.execute(query).all()]

    def close(self, requester: Caller, task_id: int) -> TaskPublic:
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            if task.requester_id != requester.id:
                raise Forbidden("only the task's requester can close it", field="task_id")
            task.status = TaskStatus.CLOSED.value
            return task_public(task)
