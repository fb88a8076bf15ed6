"""Funding: which TaskEscrow task on chain pays for which task of this node.

A requester opens (and funds) a task on the TaskEscrow contract themselves, then links it here.
The link is checked against the chain (the escrow task exists and was opened by the same
requester, in the token the task pays in) and kept once: a task has one escrow task, and an escrow
task funds one task. Linking the same pair again answers as the first time did. Settlement only
closes epochs of linked tasks. A task made before tasks named their token takes the escrow task's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import EscrowTask, TaskEscrow
from datacoop.chain.tokens import TokenInfo, read_token
from datacoop.db.models import Task, TaskFunding
from datacoop.errors import Conflict, Forbidden, NotFound, Unprocessable
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller
from datacoop.settlement.handles import Handles
from datacoop.settlement.schemas import FundingPublic
from datacoop.tasks.schemas import TokenPublic

__all__ = ["Funding"]


class Funding:
    """Links tasks to their escrow tasks and lists the funded ones."""

    def __init__(self, handles: Handles) -> None:
        self._h = handles

    def funded_tasks(self) -> list[int]:
        """The ids of the tasks linked to an escrow task, in order."""
        with self._h.db.transaction() as s:
            return list(s.scalars(select(TaskFunding.task_id).order_by(TaskFunding.task_id)).all())

    def link_escrow(self, requester: Caller, task_id: int, escrow_task_id: int) -> FundingPublic:
        """Tie a task to the TaskEscrow task its requester opened (and funded) on chain."""
        chain, escrow = self._h.need_chain(), self._h.escrow()
        on_chain, chain_id = _escrow_task(escrow, escrow_task_id), chain.client.chain_id  # chain first
        token = read_token(chain.client, on_chain.token, "escrow_task_id")
        with self._h.db.transaction() as s:
            _check_requester(s, requester, task_id, escrow_task_id, on_chain)
            _check_token(s.get_one(Task, task_id), escrow_task_id, token)
            existing = s.get(TaskFunding, task_id)
            if existing is not None:
                if existing.escrow_task_id == escrow_task_id and existing.escrow == escrow.address:
                    return _funding_public(existing, on_chain.funded, token)
                raise Conflict(
                    f"task {task_id} is already funded by escrow task {existing.escrow_task_id}",
                    field="task_id",
                )
            _refuse_taken(s, chain_id, escrow.address, escrow_task_id)
            row = TaskFunding(
                task_id=task_id,
                chain_id=chain_id,
                escrow=escrow.address,
                escrow_task_id=escrow_task_id,
                token=normalize_address(on_chain.token),
                linked_at=self._h.clock(),
            )
            s.add(row)
            s.flush()
            return _funding_public(row, on_chain.funded, token)


def _escrow_task(escrow: TaskEscrow, escrow_task_id: int) -> EscrowTask:
    """The escrow task as the chain has it; Unprocessable when there is no such task."""
    if not 1 <= escrow_task_id <= escrow.task_count():
        # the body names it, not the URL: the task exists, the request cannot be carried out
        raise Unprocessable(f"escrow task {escrow_task_id} does not exist on chain", field="escrow_task_id")
    return escrow.task(escrow_task_id)


def _check_requester(
    s: Session, requester: Caller, task_id: int, escrow_task_id: int, on_chain: EscrowTask
) -> None:
    """The task exists, ``requester`` is its requester, and they opened the escrow task too."""
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} does not exist", field="task_id")
    if task.requester_id != requester.id:
        raise Forbidden("only the task's requester can fund it", field="task_id")
    if normalize_address(on_chain.requester) != normalize_address(task.requester.address):
        raise Forbidden(
            f"escrow task {escrow_task_id} was opened by {on_chain.requester}, "
            f"not by this task's requester {task.requester.address}",
            field="escrow_task_id",
        )


def _check_token(task: Task, escrow_task_id: int, token: TokenInfo) -> None:
    """The escrow task holds the task's token; a task that recorded none takes this one."""
    if task.token is None:
        task.token, task.token_symbol, task.token_decimals = token.address, token.symbol, token.decimals
    elif normalize_address(task.token) != token.address:
        raise Unprocessable(
            f"escrow task {escrow_task_id} holds {token.symbol or 'a token'} ({token.address}), "
            f"but task {task.id} pays in {task.token_symbol or 'a token'} ({task.token})",
            field="escrow_task_id",
        )


def _refuse_taken(s: Session, chain_id: int, escrow: str, escrow_task_id: int) -> None:
    """Conflict when the escrow task already funds another task."""
    taken = s.scalar(
        select(TaskFunding.task_id).where(
            TaskFunding.chain_id == chain_id,
            TaskFunding.escrow == escrow,
            TaskFunding.escrow_task_id == escrow_task_id,
        )
    )
    if taken is not None:
        raise Conflict(f"escrow task {escrow_task_id} already funds task {taken}", field="escrow_task_id")


def _funding_public(row: TaskFunding, funded: int, token: TokenInfo) -> FundingPublic:
    return FundingPublic(
        task_id=row.task_id,
        escrow=row.escrow,
        escrow_task_id=row.escrow_task_id,
        token=TokenPublic(address=token.address, symbol=token.symbol, decimals=token.decimals),
        funded=str(funded),
    )
