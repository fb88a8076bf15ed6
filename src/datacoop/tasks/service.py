"""Tasks: requesters create them; contributors read them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datacoop.chain.tokens import TokenInfo, TokenReader
from datacoop.clock import Clock, utc_now
from datacoop.db import Database
from datacoop.db.models import Submission, Task
from datacoop.errors import Forbidden, InvalidInput, NotFound, Unavailable, Unprocessable
from datacoop.identity.addresses import consent_hash, normalize_jurisdiction
from datacoop.identity.schemas import Caller
from datacoop.tasks.amounts import parse_units
from datacoop.tasks.rules import Modality, TaskStatus
from datacoop.tasks.schemas import AcceptanceRules, TaskCreate, TaskPublic, TokenPublic

__all__ = ["TaskService", "task_public", "task_token"]


def task_token(task: Task) -> TokenPublic | None:
    """The token a task pays in, as recorded; None where it was never read (a node without a chain)."""
    if task.token is None or task.token_decimals is None:
        return None
    return TokenPublic(address=task.token, symbol=task.token_symbol or "", decimals=task.token_decimals)


def task_public(task: Task, submission_count: int = 0) -> TaskPublic:
    return TaskPublic(
        id=task.id,
        requester=task.requester.address,
        title=task.title,
        description=task.description,
        modality=Modality(task.modality),
        rules=AcceptanceRules.model_validate(task.rules),
        token=task_token(task),
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


def _reward_units(body: TaskCreate, token: TokenInfo | None) -> int:
    """The reward in base units: ``reward_per_item`` as given, or ``reward`` (whole tokens) converted."""
    if (body.reward is None) == (body.reward_per_item is None):
        raise InvalidInput("give exactly one of reward (whole tokens) and reward_per_item (base units)",
                           field="reward_per_item")  # fmt: skip
    if body.reward_per_item is not None:
        return body.reward_per_item
    assert body.reward is not None
    if token is None:
        raise Unprocessable("reward in whole tokens needs the task's token (its decimals): this node has "
                            "no chain; give reward_per_item in base units", field="reward")  # fmt: skip
    return parse_units(body.reward, token.decimals, "reward", allow_zero=True)


class TaskService:
    """Tasks: requesters create them; contributors read them.

    ``tokens`` reads the ERC-20 a task names (None on a node without a chain: its tasks record no token).
    """

    def __init__(self, db: Database, *, tokens: TokenReader | None = None, clock: Clock = utc_now) -> None:
        self._db, self._tokens, self._clock = db, tokens, clock

    def _token(self, body: TaskCreate) -> TokenInfo | None:
        """The task's token read from chain (before any transaction opens); None without a chain."""
        if self._tokens is None:
            if body.token is not None:
                raise Unavailable("this node runs without a chain (chain = 'off'): it cannot check token",
                                  field="token")  # fmt: skip
            return None
        return self._tokens.resolve(body.token, "token")

    def create(self, requester: Caller, body: TaskCreate) -> TaskPublic:
        """Open a task paying in ``body.token`` (read from chain once, here). Its budget goes into
        escrow when the requester funds it (:mod:`datacoop.settlement.funding`)."""
        token = self._token(body)
        reward = _reward_units(body, token)
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
                reward_per_item=reward,
                token=token.address if token else None,
                token_symbol=token.symbol if token else None,
                token_decimals=token.decimals if token else None,
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
        self, *, status: TaskStatus | None = None, after: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[TaskPublic]:
        """At most ``limit`` tasks, newest first, below id ``after`` (a keyset page; or skip ``offset``)."""
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
            if after is not None:
                query = query.where(Task.id < after)
            return [task_public(task, n) for task, n in s.execute(query).all()]

    def close(self, requester: Caller, task_id: int) -> TaskPublic:
        with self._db.transaction() as s:
            task = load_task(s, task_id)
            if task.requester_id != requester.id:
                raise Forbidden("only the task's requester can close it", field="task_id")
            task.status = TaskStatus.CLOSED.value
            return task_public(task)
