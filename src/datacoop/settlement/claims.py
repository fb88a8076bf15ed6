"""Claims, statements and spending: what settlement owes each account and what a task has cost.

A claim uses the confirmed epoch whose root the task's vault pays now (a root becomes claimable
after its challenge window, never if disputed): its Merkle tree is rebuilt from the stored
entitlements and checked against the stored root before a proof is handed out; the claimable root
and the amount already claimed are read from the chain between database transactions. A statement
lists, per task and epoch, the items and votes that earned an account what (earnings no epoch has taken
yet show as ``waiting``). Spending is the requester's view of one task: funded, posted, paid and
remaining, and the cost per paid item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from datacoop.chain.contracts import TaskEscrow
from datacoop.db.models import Earning, Epoch, EpochEntitlement, Task, TaskFunding
from datacoop.errors import Conflict, Forbidden, NotFound
from datacoop.identity.addresses import normalize_address
from datacoop.identity.schemas import Caller
from datacoop.settlement.cumulative import Entitlement, entitlement
from datacoop.settlement.epochs import entitlements, last_confirmed
from datacoop.settlement.handles import Handles
from datacoop.settlement.schemas import (
    ClaimPublic,
    SpendPublic,
    StatementEpoch,
    StatementItem,
    StatementPublic,
)
from datacoop.tasks.schemas import TokenPublic
from datacoop.tasks.service import task_token

__all__ = ["Claims"]


class Claims:
    """Reads what is owed and what was spent; writes nothing."""

    def __init__(self, handles: Handles) -> None:
        self._h = handles

    def claims(
        self, address: str, *, after: int | None = None, limit: int | None = None
    ) -> list[ClaimPublic]:
        """Per task owing ``address`` (task ids after ``after``, a keyset page, at most ``limit``): the
        cumulative amount, its proof and what is claimed on chain."""
        account = normalize_address(address)
        found: list[ClaimPublic] = []
        while True:  # a task whose root is not claimable yet shows nothing: read on until the page is full
            task_ids = self._owing(account, after, limit)
            found += self._claims(account, task_ids)
            if limit is None or len(task_ids) < limit or len(found) >= limit:
                return found[:limit]
            after = task_ids[-1]

    def _owing(self, account: str, after: int | None, limit: int | None) -> Sequence[int]:
        query = (
            select(Epoch.task_id)
            .join(EpochEntitlement, EpochEntitlement.epoch_id == Epoch.id)
            .where(EpochEntitlement.account == account, Epoch.status == "confirmed")
            .distinct()
            .order_by(Epoch.task_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(Epoch.task_id > after)
        with self._h.db.transaction() as s:
            return s.scalars(query).all()

    def _claims(self, account: str, task_ids: Sequence[int]) -> list[ClaimPublic]:
        escrow = self._h.escrow()
        with self._h.db.transaction() as s:
            funding = {t: s.get_one(TaskFunding, t).escrow_task_id for t in task_ids}
        # The chain is read between transactions: the root each vault pays now. A root still in its
        # challenge window, or disputed, is not claimable: its epoch shows no claim yet.
        roots = {t: escrow.vault(escrow_task).root() for t, escrow_task in funding.items()}
        with self._h.db.transaction() as s:
            owed = [o for o in (_owed(s, t, account, roots[t]) for t in task_ids) if o is not None]
        # then each task's vault and what is claimed there so far
        return [_claim(escrow, o) for o in owed]

    def statement(self, address: str) -> StatementPublic:
        """Per task and epoch, which items and votes earned ``address`` what (and what still waits)."""
        account = normalize_address(address)
        with self._h.db.transaction() as s:
            rows = s.execute(
                select(Earning, Epoch.number, Epoch.status)
                .outerjoin(Epoch, Epoch.id == Earning.epoch_id)
                .where(Earning.account == account)
                .order_by(Earning.task_id, Earning.id)
            ).all()
            tasks = s.scalars(select(Task).where(Task.id.in_({r[0].task_id for r in rows}))).all()
            token_of = {t.id: task_token(t) for t in tasks}
        return StatementPublic(account=account, epochs=_statement_groups(rows, token_of))

    def spend(self, requester: Caller, task_id: int) -> SpendPublic:
        """The requester's view: funded, posted, paid, remaining and cost per accepted item."""
        escrow = self._h.escrow()
        with self._h.db.transaction() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist", field="task_id")
            if task.requester_id != requester.id and not self._h.is_operator(requester.address):
                raise Forbidden("only the task's requester sees its spending", field="task_id")
            funding = s.get(TaskFunding, task_id)
            if funding is None:
                raise Conflict(f"task {task_id} is not funded on chain yet", field="task_id")
            last = last_confirmed(s, task_id)
            items, waiting = _items_paid(s, task_id), _earnings_waiting(s, task_id)
            token = task_token(task)
        on_chain = escrow.task(funding.escrow_task_id)
        posted = last.total if last else 0
        return SpendPublic(
            task_id=task_id,
            escrow_task_id=funding.escrow_task_id,
            funded=str(on_chain.funded),
            posted=str(posted),
            paid=str(on_chain.paid),
            remaining=str(on_chain.funded - posted),
            accepted_items_paid=items,
            cost_per_item=str(posted // items) if items else None,
            earnings_waiting=waiting,
            top_up_needed=str(last.shortfall) if last and last.shortfall else "0",
            token=token,
        )


@dataclass(frozen=True)
class _Owed:
    """What the database says ``account`` is owed on one task: the newest confirmed epoch's proof."""

    task_id: int
    escrow: str
    escrow_task_id: int
    epoch: int
    entitlement: Entitlement
    token: TokenPublic | None


def _owed(s: Session, task_id: int, account: str, claimable_root: str) -> _Owed | None:
    """``account``'s entitlement on one task from the confirmed epoch whose root the vault pays now
    (``claimable_root``), with the proof; None while no epoch of the task is claimable."""
    epoch = s.scalar(
        select(Epoch)
        .where(Epoch.task_id == task_id, Epoch.status == "confirmed", Epoch.root == claimable_root)
        .order_by(Epoch.number.desc())
        .limit(1)
    )
    funding = s.get(TaskFunding, task_id)
    if epoch is None or funding is None:
        return None
    mismatch = f"task {task_id} epoch {epoch.number}: the stored entitlements do not rebuild the posted root"
    found = entitlement(entitlements(s, epoch.id), epoch.root, account, mismatch=mismatch, field="epoch")
    if found is None:  # pragma: no cover - entitlements only grow
        return None
    token = task_token(s.get_one(Task, task_id))
    return _Owed(task_id, funding.escrow, funding.escrow_task_id, epoch.number, found, token)


def _claim(escrow: TaskEscrow, owed: _Owed) -> ClaimPublic:
    """The claim of ``owed``, with the vault and the amount already claimed read from the chain."""
    claimed = escrow.claimed(owed.escrow_task_id, owed.entitlement.account)
    return ClaimPublic(
        task_id=owed.task_id,
        escrow=owed.escrow,
        escrow_task_id=owed.escrow_task_id,
        vault=escrow.vault(owed.escrow_task_id).address,  # where claims go
        epoch=owed.epoch,
        token=owed.token,
        **owed.entitlement.claim_json(claimed),
    )


def _statement_groups(
    rows: Sequence[Row[Earning, int, str]], token_of: dict[int, TokenPublic | None]
) -> list[StatementEpoch]:
    """The earnings grouped by task and epoch, in order, each group with its total and its task's token.

    A row is (earning, epoch number, epoch status); both are None while the earning waits (outer join).
    """
    groups: dict[tuple[int, int | None], tuple[str, list[Earning]]] = {}
    for earning, number, status in rows:
        groups.setdefault((earning.task_id, number), (status or "waiting", []))[1].append(earning)
    return [
        StatementEpoch(
            task_id=task_id,
            epoch=number,
            status=status,
            total=str(sum(e.amount for e in earnings)),
            items=[StatementItem(kind=e.kind, id=e.source_id, amount=str(e.amount)) for e in earnings],
            token=token_of.get(task_id),
        )
        for (task_id, number), (status, earnings) in groups.items()
    ]


def _items_paid(s: Session, task_id: int) -> int:
    """How many accepted items of the task a confirmed epoch has paid."""
    count = s.scalar(
        select(func.count())
        .select_from(Earning)
        .join(Epoch, Epoch.id == Earning.epoch_id)
        .where(Earning.task_id == task_id, Earning.kind == "item", Epoch.status == "confirmed")
    )
    return int(count or 0)


def _earnings_waiting(s: Session, task_id: int) -> int:
    """How many of the task's earnings no epoch has taken yet."""
    count = s.scalar(
        select(func.count())
        .select_from(Earning)
        .where(Earning.task_id == task_id, Earning.epoch_id.is_(None))
    )
    return int(count or 0)
